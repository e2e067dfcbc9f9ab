"""Emerging themes: cluster the recent items no theme covers, and turn a cluster into a theme.

A clustering run is a ``TriageJob`` (kind "cluster") done by a background task: it reads the
stored vectors of recent items whose analysis is unknown, suggested or pending and that have no
theme, groups them (``engine.clustering.find_clusters``), and stores each group as an
``EmergingCluster`` with its keywords, size, weekly trend, representative verbatims and the
customers (and ARR) behind it. The open clusters of the previous run are replaced; converted
and dismissed ones stay, and a new group that mostly repeats a dismissed one is not proposed
again. Runs are started from the page (a button), by ``manage.py find_emerging_themes``
(cron), or by the API; a failed run keeps its message and can be started again.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
from django.db import transaction
from django.db.models import Count, OuterRef, Prefetch, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncWeek
from django.shortcuts import get_object_or_404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from moulin.accounts.audit import CLI, Origin, audit_record
from moulin.accounts.models import Member
from moulin.accounts.selectors import organisation_language
from moulin.core import parsing
from moulin.core.errors import Conflict, DomainError
from moulin.customers.models import Customer
from moulin.feedback.models import Feedback, Status
from moulin.feedback.services import ERASED, personal_data_pattern
from moulin.triage import vector_store
from moulin.triage.engine.text import without_accents
from moulin.triage.models import (
    EmergingCluster,
    FeedbackAnalysis,
    FeedbackTheme,
    JobStatus,
    Outcome,
    Theme,
    TriageJob,
)
from moulin.triage.models import Origin as LinkOrigin
from moulin.triage.services.currency import Rates, ReportedArr, arr_reported, currency_rates
from moulin.triage.services.jobs import job_active, job_report, jobs_close_stalled
from moulin.triage.services.training import labels_counted

logger = logging.getLogger(__name__)

# Items considered: received in the last WEEKS weeks, at most MAX_ITEMS of the most recent.
WEEKS = 12
MAX_ITEMS = 5000
MIN_CLUSTER_SIZE = 5
REPRESENTATIVES = 5
# A new group sharing this share of its items with a dismissed cluster is not proposed again.
DISMISSED_OVERLAP = 0.5
OPEN_OUTCOMES = (Outcome.UNKNOWN, Outcome.SUGGESTED, Outcome.PENDING)
# Statuses of items that left the inbox: never clustered, and no longer a group's once the
# search has run (a merged duplicate counts for the item kept; an archived item is closed).
CLOSED_STATUSES = (Status.ARCHIVED, Status.MERGED)
# A cluster is shown as "mostly an existing theme" when at least this share of its items have
# that theme as their top suggestion (items below the auto-apply threshold are candidates too,
# so a group can be a known theme the model was not sure enough about).
EXISTING_THEME_SHARE = 0.5
OVERLAP_MIN_CONFIDENCE = 0.5
# Contact details a verbatim may carry, masked when it becomes a theme's example phrase: the
# copy outlives the item's own erasure otherwise, and they teach the model nothing. A phone
# number is + or 0 then 8 to 14 digits (not "500 rows", not "2024-01-15").
EMAIL_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
PHONE_NUMBER = re.compile(r"(?<![\w+])(?:\+|0)\d(?:[\s.()/-]{0,2}\d){7,13}(?!\w)")


# --- Starting a run ------------------------------------------------------------------------------

def _enqueue(job: TriageJob) -> None:
    # Imported here: the task module imports this one.
    from moulin.triage.tasks_discovery import emerging_themes_find

    job_id = job.pk
    transaction.on_commit(lambda: emerging_themes_find.enqueue(job_id))


def cluster_job_request(*, organisation_id: int, actor: Member | None,
                        origin: Origin = CLI, weeks: int = WEEKS) -> TriageJob:
    """Queue a clustering run (or return the one already queued or running; a run whose
    worker stopped is closed as failed and a new one queued)."""
    running = job_active(organisation_id=organisation_id, kind=TriageJob.Kind.CLUSTER)
    if running is not None:
        return running
    weeks = max(1, min(int(weeks), 104))
    job = TriageJob.objects.create(organisation_id=organisation_id, kind=TriageJob.Kind.CLUSTER,
                                   requested_by=actor, parameters={"weeks": weeks})
    if actor is not None:
        audit_record(organisation=actor.organisation, actor=actor,
                     action="triage.clustering_requested", origin=origin, target=job,
                     target_label=str(job.get_kind_display()), changes={"weeks": weeks})
    _enqueue(job)
    return job


def cluster_job_claim(*, job_id: int) -> TriageJob | None:
    """Take a queued run (a conditional UPDATE: a duplicated task finds it taken)."""
    taken = TriageJob.objects.filter(pk=job_id, kind=TriageJob.Kind.CLUSTER,
                                     status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=timezone.now(), updated_at=timezone.now(),
        message="")
    return TriageJob.objects.get(pk=job_id) if taken else None


# --- The run (background task) -----------------------------------------------------------------

@dataclass
class _Candidates:
    ids: list[int]
    texts: list[str]
    vectors: np.ndarray


def _week_starts(weeks: int) -> list[date]:
    """The Mondays of the ``weeks`` weeks searched: this week and the ones before, oldest
    first (in the server's time zone, as the insights count them)."""
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]


def _window_start(weeks: int) -> datetime:
    """Midnight of the first Monday searched: the search covers whole weeks, so every item
    found falls on one of the trend's bars."""
    return datetime.combine(_week_starts(weeks)[0], time.min, timezone.get_current_timezone())


def _candidates(organisation_id: int, weeks: int) -> _Candidates:
    """Recent items without a theme whose analysis left them unknown, suggested or pending."""
    since = _window_start(weeks)
    embedder = vector_store.embedder_name(organisation_id)
    rows = (FeedbackAnalysis.objects
            .filter(organisation_id=organisation_id, embedder=embedder,
                    outcome__in=OPEN_OUTCOMES, feedback__received_at__gte=since,
                    feedback__merged_into__isnull=True, feedback__theme_links__isnull=True)
            .exclude(feedback__status__in=CLOSED_STATUSES)
            .order_by("-feedback__received_at", "-feedback_id")
            .values_list("feedback_id", "feedback__title", "feedback__text", "vector")
            [:MAX_ITEMS])
    ids, texts, vectors = [], [], []
    dim = None
    for feedback_id, title, text, raw in rows:
        vector = vector_store.vector_from_bytes(raw)
        if vector is None or (dim is not None and vector.size != dim):
            continue
        dim = vector.size
        ids.append(feedback_id)
        texts.append(f"{title}. {text}"[:vector_store.MAX_EMBEDDED_CHARACTERS] if title
                     else text[:vector_store.MAX_EMBEDDED_CHARACTERS])
        vectors.append(vector)
    matrix = np.vstack(vectors) if vectors else np.empty((0, 0), dtype=np.float32)
    return _Candidates(ids=ids, texts=texts, vectors=matrix)


def _progress(job: TriageJob):
    def report(done: int, total: int) -> None:
        if not job_report(job.pk, progress_done=int(done), progress_total=int(total)):
            raise _Abandoned
    return report


class _Abandoned(Exception):
    """The run was closed as stalled while it worked (it was only slow): it stops, and leaves
    the newer run's groups alone."""


def _weekly_counts(item_ids: list[int], weeks: int) -> list[dict]:
    """Items per ISO week over the run's window, zeros included (oldest first)."""
    starts = _week_starts(weeks)
    counts = {
        row["week"].date() if hasattr(row["week"], "date") else row["week"]: row["n"]
        for row in (Feedback.objects.filter(pk__in=item_ids)
                    .annotate(week=TruncWeek("received_at")).values("week")
                    .annotate(n=Count("id")).order_by())
    }
    out = []
    for start in starts:
        year, week, _day = start.isocalendar()
        out.append({"week": f"{year}-W{week:02d}", "start": start.isoformat(),
                    "count": counts.get(start, 0)})
    return out


def _customers(organisation_id: int, item_ids: list[int], rates: Rates
               ) -> tuple[int, ReportedArr]:
    """Distinct customers behind the items (their merged duplicates included), ARR once each,
    in the reporting currency."""
    items = Feedback.objects.filter(Q(pk__in=item_ids) | Q(merged_into_id__in=item_ids),
                                    organisation_id=organisation_id)
    found = Customer.objects.filter(organisation_id=organisation_id,
                                    pk__in=items.exclude(customer_id=None).values("customer_id"))
    per_currency = list(found.values_list("currency").annotate(n=Count("pk"), arr=Sum("arr"))
                        .values_list("currency", "n", "arr").order_by())
    arr = arr_reported(((code, total) for code, _n, total in per_currency), rates=rates)
    return sum(n for _code, n, _total in per_currency), arr


def _dismissed_item_sets(organisation_id: int) -> list[set[int]]:
    dismissed = EmergingCluster.objects.filter(organisation_id=organisation_id,
                                               state=EmergingCluster.State.DISMISSED)
    sets: dict[int, set[int]] = {}
    for cluster_id, feedback_id in (EmergingCluster.items.through.objects
                                    .filter(emergingcluster__in=dismissed)
                                    .values_list("emergingcluster_id", "feedback_id")):
        sets.setdefault(cluster_id, set()).add(feedback_id)
    return list(sets.values())


def cluster_job_run(*, job: TriageJob) -> TriageJob:
    """Cluster the candidates and store the groups; a failure is recorded on the job. The
    job's message and the groups' fallback names are stored in the organisation's language,
    whoever runs it (the task, the demo, a shell)."""
    with translation.override(organisation_language(job.organisation_id)):
        return _cluster_job_run(job)


def _cluster_job_run(job: TriageJob) -> TriageJob:
    from moulin.triage.engine.clustering import find_clusters  # scikit-learn: loaded on use

    try:
        weeks = int((job.parameters or {}).get("weeks", WEEKS))
        candidates = _candidates(job.organisation_id, weeks)
        if not job_report(job.pk, progress_total=max(len(candidates.ids), 1)):
            raise _Abandoned
        clusters = []
        if len(candidates.ids) >= MIN_CLUSTER_SIZE:
            clusters = find_clusters(candidates.texts, candidates.vectors,
                                     min_size=MIN_CLUSTER_SIZE, random_state=0,
                                     progress=_progress(job))
        created = _store_clusters(job, candidates, clusters, weeks)
    except _Abandoned:
        logger.warning("Clustering job %s ended after it was closed as stalled", job.pk)
    except Exception as exc:  # any failure must reach the page, never leave "running"
        logger.exception("Clustering job %s failed", job.pk)
        job_report(job.pk, status=JobStatus.FAILED, finished_at=timezone.now(),
                   message=(_("The clustering failed: %s") % exc)[:500])
    else:
        job_report(
            job.pk, status=JobStatus.DONE, finished_at=timezone.now(),
            progress_done=max(len(candidates.ids), 1),
            progress_total=max(len(candidates.ids), 1),
            message=_found_message(created, len(candidates.ids)))
    job.refresh_from_db()
    return job


def _found_message(clusters: int, items: int) -> str:
    """“3 emerging themes found. 120 items were analysed.”: two sentences, one count each."""
    return " ".join([
        ngettext("%(n)d emerging theme found.", "%(n)d emerging themes found.",
                 clusters) % {"n": clusters},
        ngettext("%(n)d item was analysed.", "%(n)d items were analysed.", items) % {"n": items},
    ])


@transaction.atomic
def _store_clusters(job: TriageJob, candidates: _Candidates, clusters: list, weeks: int) -> int:
    organisation_id = job.organisation_id
    # Still this run's turn? (locked: a newer run cannot start and store in between)
    if not TriageJob.objects.select_for_update().filter(pk=job.pk,
                                                       status=JobStatus.RUNNING).exists():
        raise _Abandoned
    EmergingCluster.objects.filter(organisation_id=organisation_id,
                                   state=EmergingCluster.State.OPEN).exclude(job=job).delete()
    dismissed = _dismissed_item_sets(organisation_id)
    rates = currency_rates(organisation_id)
    created = 0
    for found in clusters:
        item_ids = [candidates.ids[i] for i in found.indices]
        members = set(item_ids)
        if any(len(members & old) >= DISMISSED_OVERLAP * len(members) for old in dismissed):
            continue
        representatives = [candidates.ids[i] for i in list(found.representatives)
                           [:REPRESENTATIVES]]
        customer_count, arr = _customers(organisation_id, item_ids, rates)
        cluster = EmergingCluster.objects.create(
            organisation_id=organisation_id, job=job,
            label=(found.label or ", ".join(found.keywords[:3]) or _("Unnamed group"))[:200],
            keywords=list(found.keywords)[:10], size=len(item_ids),
            cohesion=float(found.cohesion), weekly_counts=_weekly_counts(item_ids, weeks),
            representative_ids=representatives, customer_count=customer_count,
            arr_total=arr.total,
            arr_unconverted={code: str(value) for code, value in arr.unconverted.items()})
        cluster.items.set(item_ids)
        created += 1
    return created


# --- Acting on a cluster -----------------------------------------------------------------------

def _open(cluster: EmergingCluster) -> EmergingCluster:
    locked = EmergingCluster.objects.select_for_update().get(pk=cluster.pk)
    if locked.state != EmergingCluster.State.OPEN:
        raise Conflict(_("This emerging theme was already %(state)s.")
                       % {"state": locked.get_state_display().lower()})
    return locked


def _still_waiting(prefix: str = "") -> Q:
    """Items of a group that are still its own: not merged into another item nor archived
    since the search (``prefix`` reaches Feedback from another model, e.g. "feedback__")."""
    return Q(**{f"{prefix}merged_into__isnull": True}) & \
        ~Q(**{f"{prefix}status__in": CLOSED_STATUSES})


def cluster_size_now(cluster: EmergingCluster) -> int:
    """How many items ``cluster`` holds today (see ``clusters_sizes``); read from the
    ``size_now`` annotation of ``cluster_list`` when there is one."""
    if hasattr(cluster, "size_now"):
        return cluster.size_now
    return clusters_sizes(clusters=[cluster]).get(cluster.pk, 0)


def clusters_sizes(*, clusters: list[EmergingCluster]) -> dict[int, int]:
    """How many items each cluster holds today (merged or archived since the search left out),
    in one query for all."""
    if not clusters:
        return {}
    return dict(EmergingCluster.items.through.objects
                .filter(_still_waiting("feedback__"),
                        emergingcluster_id__in=[cluster.pk for cluster in clusters])
                .values_list("emergingcluster_id").annotate(n=Count("id"))
                .values_list("emergingcluster_id", "n").order_by())


def cluster_representatives(*, cluster: EmergingCluster) -> list[Feedback]:
    """The verbatims closest to the cluster's centre, in that order."""
    return clusters_representatives(clusters=[cluster])[cluster.pk]


def clusters_representatives(*, clusters: list[EmergingCluster]) -> dict[int, list[Feedback]]:
    """Each cluster's verbatims closest to its centre, in that order (one query for all)."""
    wanted = {c.pk: [pk for pk in c.representative_ids if isinstance(pk, int)] for c in clusters}
    ids = {pk for pks in wanted.values() for pk in pks}
    organisations = {c.organisation_id for c in clusters}
    found = ({f.pk: f for f in Feedback.objects.filter(organisation_id__in=organisations,
                                                       pk__in=ids).select_related("customer")}
             if ids else {})
    return {cluster_pk: [found[pk] for pk in pks if pk in found]
            for cluster_pk, pks in wanted.items()}


def cluster_items_prefetch(limit: int) -> Prefetch:
    """The ``limit`` most recent items of each cluster still its own, with their customer, for
    a list of clusters in one query (``cluster.recent_items``)."""
    recent = (Feedback.objects.filter(_still_waiting()).select_related("customer")
              .order_by("-received_at", "-id"))
    return Prefetch("items", queryset=recent[:limit], to_attr="recent_items")


@dataclass
class ClusterConverted:
    """A cluster turned into a theme, or added to an existing one."""

    theme: Theme
    items: int  # items that got the theme (not those merged or archived since the search)


@transaction.atomic
def cluster_convert(*, actor: Member, cluster: EmergingCluster, name_en: str,
                    name_fr: str = "", description: str = "",
                    product_area_id: int | None = None, origin: Origin = CLI
                    ) -> ClusterConverted:
    """Turn a cluster into a theme: its verbatims become the examples, its items get it."""
    from moulin.triage.services.taxonomy import ThemeInput, theme_create

    if cluster.organisation_id != actor.organisation_id:
        raise DomainError(_("This emerging theme is not in your organisation."))
    cluster = _open(cluster)
    examples = []
    for item in cluster_representatives(cluster=cluster):
        text = _without_contact_details(parsing.clean_text(item.text))
        if text:
            examples.append(text[:297] + "…" if len(text) > 300 else text)
    theme = theme_create(actor=actor, origin=origin, data=ThemeInput(
        name_en=name_en, name_fr=name_fr, description=description, examples=examples,
        product_area_id=product_area_id))
    added = _give_items_the_theme(actor, cluster, theme)
    audit_record(organisation=actor.organisation, actor=actor,
                 action="triage.cluster_converted", origin=origin, target=cluster,
                 target_label=cluster.label, changes={"theme": theme.pk, "items": added})
    return ClusterConverted(theme=theme, items=added)


def _without_contact_details(text: str) -> str:
    """The text with its email addresses and phone numbers masked (as an erasure would)."""
    return PHONE_NUMBER.sub(ERASED, EMAIL_ADDRESS.sub(ERASED, text))


def _give_items_the_theme(actor: Member, cluster: EmergingCluster, theme: Theme) -> int:
    """Apply ``theme`` to the cluster's items and close the cluster as converted into it;
    returns how many items got it. Each is a label, as when a person applies it item by item.
    Items merged into another since the search are left out (the kept item stands for them,
    with its own themes), and so are archived ones (closed: not relabelled)."""
    item_ids = list(cluster.items.filter(_still_waiting(),
                                         organisation_id=actor.organisation_id)
                    .values_list("pk", flat=True))
    already = set(FeedbackTheme.objects.filter(theme=theme, feedback_id__in=item_ids)
                  .values_list("feedback_id", flat=True))
    new_links = [FeedbackTheme(organisation_id=actor.organisation_id, feedback_id=pk,
                               theme=theme, origin=LinkOrigin.CLUSTER, applied_by=actor)
                 for pk in item_ids if pk not in already]
    FeedbackTheme.objects.bulk_create(new_links, ignore_conflicts=True)
    if new_links:
        labels_counted(organisation=actor.organisation_id, actor=actor, n=len(new_links))
    # A person decided for these items: the suggestions queue no longer offers them.
    FeedbackAnalysis.objects.filter(feedback_id__in=item_ids, outcome__in=OPEN_OUTCOMES).update(
        outcome=Outcome.REVIEWED, reviewed_at=timezone.now(), reviewed_by=actor)
    cluster.state = EmergingCluster.State.CONVERTED
    cluster.theme = theme
    cluster.save(update_fields=["state", "theme", "updated_at"])
    return len(new_links)


@transaction.atomic
def cluster_assign(*, actor: Member, cluster: EmergingCluster, theme_id: int,
                   origin: Origin = CLI) -> ClusterConverted:
    """Not a new theme after all: give the cluster's items an existing theme of the taxonomy."""
    from moulin.triage.services.taxonomy import theme_resolve, themes_by_id

    if cluster.organisation_id != actor.organisation_id:
        raise DomainError(_("This emerging theme is not in your organisation."))
    themes = themes_by_id(organisation_id=actor.organisation_id)
    theme = theme_resolve(theme_id, themes) if isinstance(theme_id, int) else None
    if theme is None or theme.archived_at is not None:
        raise DomainError(_("Choose a theme of your taxonomy that is not archived."),
                          field="theme")
    cluster = _open(cluster)
    added = _give_items_the_theme(actor, cluster, theme)
    audit_record(organisation=actor.organisation, actor=actor,
                 action="triage.cluster_assigned", origin=origin, target=cluster,
                 target_label=cluster.label, changes={"theme": theme.pk, "items": added})
    return ClusterConverted(theme=theme, items=added)


@dataclass
class ThemeOverlap:
    """An existing theme most of a cluster's items were suggested."""

    theme: Theme
    items: int  # items whose top suggestion is this theme
    size: int  # items in the cluster today (see `clusters_sizes`)


def cluster_theme_overlap(*, cluster: EmergingCluster) -> ThemeOverlap | None:
    """The existing theme that is the confident top suggestion (≥ 0.5) of at least half of the
    cluster's items (None when there is none): such a group is a known theme, not a new one."""
    return cluster_theme_overlaps(clusters=[cluster]).get(cluster.pk)


def cluster_theme_overlaps(*, clusters: list[EmergingCluster]) -> dict[int, ThemeOverlap]:
    """`cluster_theme_overlap` for several clusters of one organisation, in three queries."""
    from moulin.triage.services.taxonomy import theme_resolve, themes_by_id

    if not clusters:
        return {}
    ids = [cluster.pk for cluster in clusters]
    sizes = clusters_sizes(clusters=clusters)
    themes = themes_by_id(organisation_id=clusters[0].organisation_id)
    # Only items the model suggested a theme for, with some confidence: an "unknown" item's
    # ranked list, or a cold-start model's weak guess, says nothing about the group. Each
    # suggestion counts for the theme as it stands today: a theme and the one it was merged
    # into are one theme.
    tops: dict[int, Counter] = {pk: Counter() for pk in ids}
    for cluster_id, entry in FeedbackAnalysis.objects.filter(
            _still_waiting("feedback__"), feedback__emerging_clusters__in=ids,
            outcome=Outcome.SUGGESTED).values_list("feedback__emerging_clusters",
                                                   "suggestions"):
        if (isinstance(entry, list) and entry and isinstance(entry[0], dict)
                and isinstance(entry[0].get("theme"), int)
                and float(entry[0].get("confidence") or 0) >= OVERLAP_MIN_CONFIDENCE):
            theme = theme_resolve(entry[0]["theme"], themes)
            if theme is not None and theme.archived_at is None:
                tops[cluster_id][theme.pk] += 1
    found = {}
    for cluster_id, counts in tops.items():
        size = sizes.get(cluster_id, 0)
        if not counts or not size:
            continue
        theme_id, count = counts.most_common(1)[0]
        if count >= EXISTING_THEME_SHARE * size:
            found[cluster_id] = ThemeOverlap(theme=themes[theme_id], items=count, size=size)
    return found


@transaction.atomic
def cluster_dismiss(*, actor: Member, cluster: EmergingCluster,
                    origin: Origin = CLI) -> EmergingCluster:
    """Not a theme: hide the cluster (a later run will not propose the same group again)."""
    if cluster.organisation_id != actor.organisation_id:
        raise DomainError(_("This emerging theme is not in your organisation."))
    cluster = _open(cluster)
    cluster.state = EmergingCluster.State.DISMISSED
    cluster.save(update_fields=["state", "updated_at"])
    audit_record(organisation=actor.organisation, actor=actor,
                 action="triage.cluster_dismissed", origin=origin, target=cluster,
                 target_label=cluster.label, changes={"size": cluster.size})
    return cluster


# --- Personal data -----------------------------------------------------------------------------

_WORD_SEPARATORS = re.compile(r"[\W_]+")
_LABEL_PARTS = re.compile(r"\s*[·,]\s*")


def _words(text: str) -> set[str]:
    return {word for word in _WORD_SEPARATORS.split(without_accents(text.lower()))
            if len(word) >= 3}


def clusters_scrub_personal_data(*, organisation_id: int, needles: list[str],
                                 replacement: str) -> int:
    """GDPR erasure: drop the keywords of the organisation's emerging themes that name the
    person (their name, or a word of it or of their address), and rebuild the labels made of
    them; returns the count of clusters changed."""
    from moulin.triage.engine.keywords import keyword_label  # scikit-learn: loaded on use

    if not needles:
        return 0
    pattern = personal_data_pattern(needles)
    # Keywords are single words or pairs ("dupont", "jeanne dupont"): the whole name or address
    # rarely matches one, a word of it does (the domain of the address is not the person's).
    person = set().union(*(_words(needle.split("@")[0]) for needle in needles))

    def names_them(text: str) -> bool:
        return pattern.search(text) is not None or bool(person & _words(text))

    changed = []
    for cluster in EmergingCluster.objects.filter(organisation_id=organisation_id).only(
            "pk", "label", "keywords"):
        keywords = [str(k) for k in cluster.keywords or []]
        kept = [k for k in keywords if not names_them(k)]
        label = cluster.label
        if names_them(label):
            parts = [part for part in _LABEL_PARTS.split(label) if part and not names_them(part)]
            label = keyword_label(parts, size=len(parts)) or keyword_label(kept) \
                or _("Unnamed group")
            label = pattern.sub(replacement, label)[:200]  # a label written some other way
        if kept != keywords or label != cluster.label:
            cluster.keywords, cluster.label, cluster.updated_at = kept, label, timezone.now()
            changed.append(cluster)
    EmergingCluster.objects.bulk_update(changed, ["keywords", "label", "updated_at"])
    return len(changed)


# --- Reading -----------------------------------------------------------------------------------

def cluster_list(*, member: Member, state: str = EmergingCluster.State.OPEN):
    """The organisation's clusters in a state, biggest at the search first, each with
    ``size_now``: its items today (merged or archived since the search left out)."""
    still = (EmergingCluster.items.through.objects
             .filter(_still_waiting("feedback__"), emergingcluster_id=OuterRef("pk"))
             .values("emergingcluster_id").annotate(n=Count("id")).values("n"))
    return (EmergingCluster.objects.filter(organisation_id=member.organisation_id, state=state)
            .select_related("theme")
            .annotate(size_now=Coalesce(Subquery(still), Value(0)))
            .order_by("-size", "id"))


def cluster_get(*, member: Member, pk: int) -> EmergingCluster:
    """One cluster of the member's organisation (404 otherwise)."""
    return get_object_or_404(EmergingCluster, pk=pk, organisation_id=member.organisation_id)


def cluster_job_latest(*, member: Member) -> TriageJob | None:
    """The organisation's most recent clustering run."""
    return (TriageJob.objects.filter(organisation_id=member.organisation_id,
                                     kind=TriageJob.Kind.CLUSTER)
            .order_by("-created_at", "-id").first())


def cluster_job_get(*, member: Member, pk: int) -> TriageJob:
    """One clustering run of the member's organisation (404 otherwise), as it stands: a run
    whose worker stopped reporting is closed as failed first (``jobs_close_stalled``), so that
    a page or a client polling it sees it end and can run it again."""
    job = get_object_or_404(TriageJob, pk=pk, organisation_id=member.organisation_id,
                            kind=TriageJob.Kind.CLUSTER)
    if job.status == JobStatus.RUNNING and jobs_close_stalled(
            organisation_id=member.organisation_id, kind=TriageJob.Kind.CLUSTER):
        job.refresh_from_db()
    return job
