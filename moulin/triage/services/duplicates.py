"""Duplicates and similar feedback: the items closest to one item (or to a text being typed),
and merging a duplicate into the item that is kept.

A merged duplicate keeps its row: status "merged", ``merged_into`` the kept item. Its customer,
contact and date still count as demand of the kept item (``feedback_demand``); the merge is
written to both items' history and to the audit log, and ``feedback_unmerge`` puts it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _

from moulin.accounts.audit import CLI, Origin, audit_record
from moulin.accounts.models import Member
from moulin.core import policy
from moulin.core.errors import Conflict, DomainError
from moulin.customers.models import Customer
from moulin.feedback.models import Feedback, FeedbackEvent, Status
from moulin.triage import vector_store
from moulin.triage.engine.embedders import similarity_levels
from moulin.triage.engine.index import exact_duplicate_key, normalise_for_duplicates
from moulin.triage.models import FeedbackAnalysis
from moulin.triage.services.currency import arr_reported, currency_rates

MODULE = "feedback"
# Candidates read from the index per item shown: merged items and items the member may not
# see are dropped after the search.
_OVERFETCH = 4
# A text needs this many letters or digits before it is compared (an emoji or "ok" is not
# a request anyone else made).
MIN_COMPARABLE_CHARACTERS = 8
_EXACT_SCAN = 500  # rows read per exact-duplicate lookup (all organisations together)


@dataclass
class SimilarItem:
    """One item close to the one being looked at."""

    feedback: Feedback
    similarity: float
    exact: bool  # same text once case, accents and punctuation are ignored
    same_customer: bool
    near_level: float  # the organisation's embedder's near-duplicate cosine

    @property
    def near_duplicate(self) -> bool:
        return self.exact or self.similarity >= self.near_level

    @property
    def percent(self) -> int:
        return round(100 * self.similarity)


def comparable(text: str) -> bool:
    """True when a text has enough words to be compared with others."""
    normalised = normalise_for_duplicates(text[:vector_store.MAX_EMBEDDED_CHARACTERS])
    return sum(ch.isalnum() for ch in normalised) >= MIN_COMPARABLE_CHARACTERS


def _neighbours(organisation_id: int, embedder: str, vector: np.ndarray | None, k: int,
                exclude: list[int]) -> dict[int, float]:
    if vector is None:
        return {}
    index = vector_store.organisation_index(organisation_id, embedder)
    if index.dim is not None and vector.size != index.dim:
        return {}
    _near, similar = similarity_levels(embedder)
    found = index.search(vector[None, :], k=k, exclude=exclude, min_similarity=similar)[0]
    return dict(found)


def _rank(*, member: Member, scores: dict[int, float], exact_ids: set[int],
          customer_id: int | None, limit: int, near: float) -> list[SimilarItem]:
    """Load the candidates the member may see (merged ones left out), same customer first."""
    for pk in exact_ids:
        scores[pk] = max(scores.get(pk, 0.0), 1.0)
    if not scores:
        return []
    rows = (policy.scope(Feedback.objects.all(), member, MODULE)
            .filter(pk__in=list(scores), merged_into__isnull=True)
            .select_related("customer", "contact"))
    items = [SimilarItem(feedback=row, similarity=min(scores[row.pk], 1.0),
                         exact=row.pk in exact_ids,
                         same_customer=customer_id is not None and row.customer_id == customer_id,
                         near_level=near)
             for row in rows]
    items.sort(key=lambda s: (not s.same_customer, -s.similarity, -s.feedback.pk))
    return items[:limit]


def _exact_duplicates(organisation_id: int, text_key: str, exclude: list[int],
                      limit: int) -> set[int]:
    """Items of the organisation whose text has this duplicate key. Filtered on the key alone
    so the database uses its index (with the organisation too, SQLite may pick the
    organisation's index and read every row); the organisation is checked on the few rows."""
    rows = (FeedbackAnalysis.objects.filter(text_key=text_key)
            .values_list("feedback_id", "organisation_id")[:_EXACT_SCAN])
    skip = set(exclude)
    found = [pk for pk, org in rows if org == organisation_id and pk not in skip]
    return set(found[:limit])


def feedback_similar(*, member: Member, feedback: Feedback, limit: int = 8) -> list[SimilarItem]:
    """The items most similar to ``feedback`` (its customer's first), exact duplicates included."""
    analysis = FeedbackAnalysis.objects.filter(feedback=feedback).only(
        "vector", "text_key", "embedder").first()
    text_key = analysis.text_key if analysis else exact_duplicate_key(
        f"{feedback.title}\n{feedback.text}" if feedback.title else feedback.text)
    vector = None
    embedder = vector_store.embedder_name(feedback.organisation_id)
    if analysis is not None and analysis.embedder == embedder:
        vector = vector_store.vector_from_bytes(analysis.vector)
    if vector is None and comparable(feedback.text):
        vector = vector_store.embed_texts(feedback.organisation_id, [feedback.text], embedder)[0]
    merged_here = list(feedback.merged_duplicates.values_list("pk", flat=True))
    exclude = [feedback.pk, *merged_here]
    scores = _neighbours(feedback.organisation_id, embedder, vector, limit * _OVERFETCH,
                         exclude)
    exact_ids = set()
    if comparable(feedback.text):
        exact_ids = _exact_duplicates(feedback.organisation_id, text_key, exclude, limit)
    return _rank(member=member, scores=scores, exact_ids=exact_ids,
                 customer_id=feedback.customer_id, limit=limit,
                 near=similarity_levels(embedder)[0])


def text_similar(*, member: Member, text: str, customer_id: int | None = None,
                 limit: int = 3) -> list[SimilarItem]:
    """Recorded items close to a text that is not saved yet (the intake form's warning)."""
    text = (text or "").replace("\x00", "")
    if not comparable(text):
        return []
    organisation_id = member.organisation_id
    embedder = vector_store.embedder_name(organisation_id)
    vector = vector_store.embed_texts(organisation_id, [text], embedder)[0]
    scores = _neighbours(organisation_id, embedder, vector, limit * _OVERFETCH, [])
    exact_ids = _exact_duplicates(organisation_id, exact_duplicate_key(text), [], limit)
    return _rank(member=member, scores=scores, exact_ids=exact_ids, customer_id=customer_id,
                 limit=limit, near=similarity_levels(embedder)[0])


@dataclass
class Demand:
    """Who asked for an item: the kept item's customer plus its merged duplicates'."""

    items: int
    customers: int
    arr: Decimal  # in ``currency``, the organisation's reporting currency
    customer_names: list[str]
    currency: str = ""
    arr_unconverted: dict[str, Decimal] = field(default_factory=dict)  # no rate: kept apart


def feedback_demand(*, feedback: Feedback) -> Demand:
    """Items, distinct customers and their ARR (each customer once, in the organisation's
    reporting currency) behind a kept item."""
    scope = Q(pk=feedback.pk) | Q(merged_into_id=feedback.pk)
    items = Feedback.objects.filter(scope, organisation_id=feedback.organisation_id)
    customers = Customer.objects.filter(
        organisation_id=feedback.organisation_id,
        pk__in=items.exclude(customer_id=None).values("customer_id"))
    per_currency = list(customers.values_list("currency").annotate(n=Count("pk"),
                                                                     arr=Sum("arr"))
                        .values_list("currency", "n", "arr").order_by())
    arr = arr_reported(((code, total) for code, _n, total in per_currency),
                       rates=currency_rates(feedback.organisation_id))
    names = list(customers.order_by("-arr", "name").values_list("name", flat=True)[:10])
    return Demand(items=items.count(), customers=sum(n for _code, n, _arr in per_currency),
                  arr=arr.total, customer_names=names, currency=arr.currency,
                  arr_unconverted=arr.unconverted)


def _event(feedback: Feedback, actor: Member | None, kind: str, changes: dict) -> None:
    FeedbackEvent.objects.create(feedback=feedback, actor=actor, kind=kind, changes=changes)


@transaction.atomic
def feedback_merge(*, actor: Member, duplicate: Feedback, kept: Feedback,
                   origin: Origin = CLI) -> Feedback:
    """Merge ``duplicate`` into ``kept``: the duplicate keeps its row, its customer and votes
    count for the kept item, and the items already merged into it move along."""
    if actor.organisation_id != duplicate.organisation_id or \
            actor.organisation_id != kept.organisation_id:
        raise DomainError(_("Both items must belong to your organisation."))
    if duplicate.pk == kept.pk:
        raise DomainError(_("An item cannot be merged into itself."), field="into")
    duplicate = Feedback.objects.select_for_update().get(pk=duplicate.pk)
    kept = Feedback.objects.select_for_update().get(pk=kept.pk)
    if duplicate.merged_into_id is not None:
        raise Conflict(_("This item is already merged into #%(pk)s.")
                       % {"pk": duplicate.merged_into_id})
    if kept.merged_into_id is not None:
        raise Conflict(_("#%(pk)s is itself merged into #%(into)s: merge into that one.")
                       % {"pk": kept.pk, "into": kept.merged_into_id}, field="into")
    moved = list(duplicate.merged_duplicates.values_list("pk", flat=True))
    if moved:
        Feedback.objects.filter(pk__in=moved).update(merged_into=kept)
    previous_status = duplicate.status
    duplicate.merged_into = kept
    duplicate.status = Status.MERGED
    duplicate.save(update_fields=["merged_into", "status", "updated_at"])
    changes: dict = {"merged_into": kept.pk, "status": [previous_status, Status.MERGED]}
    if moved:
        changes["moved"] = moved
    _event(duplicate, actor, "merged", changes)
    _event(kept, actor, "merged", {"merged_from": duplicate.pk})
    audit_record(organisation=actor.organisation, actor=actor, action="feedback.merged",
                 origin=origin, target=duplicate,
                 changes={"merged_into": kept.pk, "previous_status": previous_status,
                          "moved": moved})
    return duplicate


@transaction.atomic
def feedback_unmerge(*, actor: Member, duplicate: Feedback, origin: Origin = CLI) -> Feedback:
    """Undo a merge: the duplicate gets back its own status and leaves the kept item."""
    duplicate = Feedback.objects.select_for_update().get(pk=duplicate.pk)
    if duplicate.organisation_id != actor.organisation_id:
        raise DomainError(_("This feedback is not in your organisation."))
    if duplicate.merged_into_id is None:
        raise Conflict(_("This item is not merged into another one."))
    kept_id = duplicate.merged_into_id
    # The latest merge of this item as the duplicate (the kept side's event has "merged_from"):
    # it holds the status to give back. Its target may not be ``kept_id`` any more: merging the
    # item it went into moves it along (A into B, then B into C: A points at C) and writes no
    # event on it. An item is merged again only after an undo, so the latest one is the merge
    # being undone.
    merge = (duplicate.events.filter(kind="merged", changes__has_key="merged_into")
             .order_by("-created_at", "-id").first())
    previous = Status.NEW
    if merge is not None:
        pair = merge.changes.get("status") if isinstance(merge.changes, dict) else None
        if isinstance(pair, list) and pair and pair[0] in Status.values \
                and pair[0] != Status.MERGED:
            previous = pair[0]
    duplicate.merged_into = None
    duplicate.status = previous
    duplicate.save(update_fields=["merged_into", "status", "updated_at"])
    _event(duplicate, actor, "unmerged", {"merged_into": [kept_id, None],
                                          "status": [Status.MERGED, previous]})
    kept = Feedback.objects.filter(pk=kept_id).first()
    if kept is not None:
        _event(kept, actor, "unmerged", {"unmerged": duplicate.pk})
    audit_record(organisation=actor.organisation, actor=actor, action="feedback.unmerged",
                 origin=origin, target=duplicate, changes={"merged_into": kept_id,
                                                           "status": previous})
    return duplicate
