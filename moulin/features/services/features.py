"""Creating, changing and deleting features; every change lands in the feature's history."""

from __future__ import annotations

import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils.translation import gettext as _

from moulin.accounts.audit import Origin, audit_record
from moulin.accounts.models import Member, Squad
from moulin.core import parsing, policy
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.features import scoring
from moulin.features.models import Feature, FeatureEvent, FeatureStatus
from moulin.feedback.models import ProductArea

QUARTER = re.compile(r"^\d{4}-Q[1-4]$")
MAX_EFFORT = Decimal("999999")
# Fields feature_update accepts, in the order the history shows them.
EDITABLE = ("title", "description", "status", "product_area", "parent", "squad", "owner",
            "target_quarter", "effort", "delivery_url", "score_inputs")
_UNSET = object()


def _same_org(actor: Member, obj: object, field: str, label: str) -> None:
    if obj is not None and obj.organisation_id != actor.organisation_id:
        raise DomainError(_("Choose a %s of your organisation.") % label, field=field)


def _clean(actor: Member, feature: Feature | None, values: dict) -> dict:
    """Validate the given fields (only those present) into model values; raises DomainError."""
    out = {}
    if "title" in values:
        try:
            title = parsing.clean_text(values["title"], max_length=200, field=_("Title"))
        except ValueError as error:
            raise DomainError(str(error), field="title") from error
        if not title:
            raise DomainError(_("Give the feature a title."), field="title")
        out["title"] = title
    if "description" in values:
        out["description"] = parsing.clean_text(values["description"] or "")[:20_000]
    if "status" in values:
        if values["status"] not in FeatureStatus.values:
            raise DomainError(_("Unknown status “%(s)s”; use one of: %(all)s.")
                              % {"s": str(values["status"])[:40],
                                 "all": ", ".join(FeatureStatus.values)}, field="status")
        out["status"] = values["status"]
    if "target_quarter" in values:
        quarter = parsing.clean_text(values["target_quarter"] or "").upper()
        if quarter and not QUARTER.match(quarter):
            raise DomainError(_("Write the target quarter as YYYY-QN, for example 2027-Q1."),
                              field="target_quarter")
        out["target_quarter"] = quarter
    if "effort" in values:
        try:
            effort = parsing.parse_decimal(values["effort"])
        except ValueError as error:
            raise DomainError(_("Effort must be a number of person-weeks."),
                              field="effort") from error
        if effort is not None and not Decimal(0) <= effort <= MAX_EFFORT:
            raise DomainError(_("Effort must be between 0 and 999,999 person-weeks."),
                              field="effort")
        out["effort"] = effort.quantize(Decimal("0.01")) if effort is not None else None
    if "delivery_url" in values:
        url = parsing.clean_text(values["delivery_url"] or "")
        if url:
            try:
                URLValidator(schemes=["http", "https"])(url)
            except ValidationError as error:
                raise DomainError(_("The delivery link must be a web address (Jira, Linear or "
                                    "GitHub issue URL)."), field="delivery_url") from error
            if len(url) > 500:
                raise DomainError(_("The delivery link is longer than 500 characters."),
                                  field="delivery_url")
        out["delivery_url"] = url
    for name, label in (("product_area", _("product area")), ("squad", _("squad")),
                        ("owner", _("member")), ("parent", _("feature"))):
        if name in values:
            _same_org(actor, values[name], name, label)
            out[name] = values[name]
    if out.get("parent") is not None and feature is not None:
        node = out["parent"]
        while node is not None:
            if node.pk == feature.pk:
                raise DomainError(_("A feature cannot be its own parent or sit under one of "
                                    "its sub-features."), field="parent")
            node = node.parent
    if "score_inputs" in values:
        out["score_inputs"] = scoring.clean_inputs(values["score_inputs"])
    return out


def _shown(value: object) -> object:
    """A value as the history stores it (names for related objects, text for numbers)."""
    if value is None or isinstance(value, str | int | float | bool | dict | list):
        return value
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def feature_create(*, actor: Member, title: str, description: str = "",
                   status: str = FeatureStatus.IDEA, product_area: ProductArea | None = None,
                   parent: Feature | None = None, squad: Squad | None = None,
                   owner: Member | None = None, target_quarter: str = "",
                   effort: Decimal | str | None = None, delivery_url: str = "",
                   score_inputs: dict | None = None) -> Feature:
    """Create a feature (or a sub-feature under ``parent``) and score it with the standard.
    Scoring inputs and effort place it on the board: only members who may change features
    (manage priorities) give them; contributors propose a feature without them."""
    from moulin.features.services.frameworks import scores_recompute

    if (any(v not in (None, "") for v in (score_inputs or {}).values())
            or effort not in (None, "")) and not policy.can(actor, "features", Action.CHANGE):
        raise DomainError(_("Scoring inputs and effort are given by the people who manage "
                            "priorities: leave them empty, they will score the feature."),
                          field="score_inputs" if score_inputs else "effort")

    values = _clean(actor, None, {
        "title": title, "description": description, "status": status,
        "product_area": product_area, "parent": parent, "squad": squad, "owner": owner,
        "target_quarter": target_quarter, "effort": effort, "delivery_url": delivery_url,
        "score_inputs": score_inputs or {}})
    if values.get("parent") is not None and values.get("product_area") is None:
        values["product_area"] = values["parent"].product_area
    feature = Feature.objects.create(organisation_id=actor.organisation_id, created_by=actor,
                                     **values)
    FeatureEvent.objects.create(feature=feature, actor=actor, kind="created",
                                changes={k: _shown(v) for k, v in values.items()
                                         if v not in (None, "", {})})
    scores_recompute(organisation_id=actor.organisation_id, feature_ids=[feature.pk])
    feature.refresh_from_db()
    return feature


def feature_update(*, actor: Member, feature: Feature, **changes: object) -> FeatureEvent | None:
    """Change any of ``EDITABLE`` (only the keywords given); records one history event
    (kind ``status`` when only the status moved) and rescores when effort or inputs change."""
    from moulin.features.services.frameworks import scores_recompute

    if feature.organisation_id != actor.organisation_id:
        raise DomainError(_("This feature is not in your organisation."))
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise DomainError(_("Unknown field “%s”.") % sorted(unknown)[0], field=sorted(unknown)[0])
    values = _clean(actor, feature, changes)
    diff = {}
    for name, value in values.items():
        before = getattr(feature, name)
        if before != value:
            diff[name] = [_shown(before), _shown(value)]
            setattr(feature, name, value)
    if not diff:
        return None
    with transaction.atomic():
        # Only what changed: demand and score columns are kept current by triggers and
        # recomputes meanwhile, and this instance may hold older values of them.
        feature.save(update_fields=[*diff, "updated_at"])
        kind = "status" if set(diff) == {"status"} else "updated"
        event = FeatureEvent.objects.create(feature=feature, actor=actor, kind=kind,
                                            changes=diff)
        if {"effort", "score_inputs"} & set(diff):
            scores_recompute(organisation_id=feature.organisation_id, feature_ids=[feature.pk])
            feature.refresh_from_db()
    return event


def feature_delete(*, actor: Member, feature: Feature, origin: Origin | None = None) -> None:
    """Delete a feature with its links and history; audited. Refused while it has
    sub-features (move or delete them first)."""
    if feature.organisation_id != actor.organisation_id:
        raise DomainError(_("This feature is not in your organisation."))
    if feature.children.exists():
        raise DomainError(_("This feature has sub-features: move or delete them first."),
                          code="has_children")
    links = feature.feedback_links.count()
    audit_record(organisation=actor.organisation, actor=actor, action="feature.deleted",
                 origin=origin or Origin(), target=feature,
                 changes={"title": feature.title, "status": feature.status,
                          "feedback_links": links,
                          "score": str(feature.score) if feature.score is not None else None})
    feature.delete()
