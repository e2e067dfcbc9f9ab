"""Scoring frameworks: the organisation's standard (exactly one), custom formulas defined by
Product Ops, and the recompute that keeps every feature's score and its history current."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from moulin.accounts.audit import Origin, audit_record
from moulin.accounts.models import Member, Organisation
from moulin.core import parsing
from moulin.core.errors import Conflict, DomainError
from moulin.features import scoring
from moulin.features.models import (
    Feature,
    FrameworkKind,
    ScoreSnapshot,
    ScoringFramework,
)

DEFAULT_NAME = "RICE"
_FACT_FIELDS = ("pk", "effort", "score_inputs", "arr_total", "customer_count", "feedback_count",
                "feedback_recent", "feedback_previous", "renewal_arr_90d", "at_risk_arr",
                "score", "score_error", "score_breakdown")


def framework_standard(*, organisation_id: int) -> ScoringFramework:
    """The organisation's standard framework; a RICE standard is created on first use."""
    framework = ScoringFramework.objects.filter(organisation_id=organisation_id,
                                                is_standard=True).first()
    if framework is not None:
        return framework
    try:
        with transaction.atomic():
            existing = ScoringFramework.objects.filter(organisation_id=organisation_id,
                                                       name=DEFAULT_NAME).first()
            if existing is not None:
                existing.is_standard = True
                existing.save(update_fields=["is_standard", "updated_at"])
                return existing
            return ScoringFramework.objects.create(
                organisation_id=organisation_id, kind=FrameworkKind.RICE, name=DEFAULT_NAME,
                is_standard=True)
    except IntegrityError:  # created meanwhile by a concurrent request
        return ScoringFramework.objects.get(organisation_id=organisation_id, is_standard=True)


def compiled(framework: ScoringFramework) -> scoring.Framework:
    """The framework ready to score (a stored custom formula that no longer parses raises)."""
    return scoring.compile_framework(framework.kind, framework.drivers, framework.formula,
                                     name=framework.name, pk=framework.pk)


def scores_in_reader_language(*, organisation_id: int, features: Iterable[Feature],
                              standard: ScoringFramework | None = None) -> None:
    """Word the stored score breakdowns and errors of these features in the active language,
    for display (the instances must not be saved afterwards).

    Scores are stored in the organisation's language (``scores_recompute``); a member may read
    Moulin in another one. The numbers stay the stored ones; the labels of the standard
    framework's drivers, and an error's message, are those of the reader's language.
    Pass ``standard`` when the caller has already read the standard framework.
    """
    features = list(features)
    if not features:
        return
    standard = standard or framework_standard(organisation_id=organisation_id)
    try:
        framework = compiled(standard)
    except scoring.FormulaError as error:
        problem = _("The standard framework is invalid: %s") % error.message
        for feature in features:
            if feature.score_error:
                feature.score_error = problem[:300]
        return
    labels = {driver["key"]: driver["label"] for driver in framework.drivers}
    for feature in features:
        breakdown = feature.score_breakdown or {}
        if breakdown.get("framework_id") != standard.pk:
            continue  # computed with an earlier standard: left as it was
        if breakdown.get("drivers"):
            feature.score_breakdown = {**breakdown, "drivers": [
                {**driver, "label": labels.get(driver.get("key"), driver.get("label"))}
                for driver in breakdown["drivers"]]}
        if feature.score_error:
            feature.score_error = (scoring.score_feature(framework, facts_of(feature)).error
                                   or feature.score_error)


def facts_of(feature: Feature) -> scoring.FeatureFacts:
    """What the scoring frameworks read of a feature (its stored demand and inputs)."""
    return scoring.FeatureFacts(
        arr_total=float(feature.arr_total), customer_count=feature.customer_count,
        feedback_count=feature.feedback_count, trend=feature.trend,
        renewal_arr_90d=float(feature.renewal_arr_90d), at_risk_arr=float(feature.at_risk_arr),
        effort=float(feature.effort) if feature.effort is not None else None,
        inputs=feature.score_inputs or {})


def feature_score_with(*, framework: ScoringFramework, feature: Feature) -> scoring.ScoreResult:
    """One feature scored with any framework (the standard's score is the stored one)."""
    try:
        return scoring.score_feature(compiled(framework), facts_of(feature))
    except scoring.FormulaError as error:
        return scoring.ScoreResult(None, error.message, {"error": error.message})


def scores_recompute(*, organisation_id: int, feature_ids: Iterable[int] | None = None) -> int:
    """Score features with the standard framework; store the score, its breakdown or its
    error, and add a ScoreSnapshot for each feature whose score changed. Returns that count."""
    framework = framework_standard(organisation_id=organisation_id)
    features = Feature.objects.filter(organisation_id=organisation_id).only(*_FACT_FIELDS)
    if feature_ids is not None:
        ids = list(feature_ids)
        if not ids:
            return 0
        features = features.filter(pk__in=ids) if len(ids) <= 2000 else features
    # Stored in the organisation's language whoever triggers the recompute (readers see them in
    # theirs: scores_in_reader_language), so a recompute in another language changes nothing.
    language = Organisation.objects.filter(pk=organisation_id).values_list(
        "language", flat=True).first() or settings.LANGUAGE_CODE
    changed, snapshots = [], []
    with translation.override(language):
        try:
            ready = compiled(framework)
        except scoring.FormulaError as error:
            ready, problem = None, _("The standard framework is invalid: %s") % error.message
        for feature in features.iterator(chunk_size=2000):
            if ready is None:
                result = scoring.ScoreResult(None, problem[:300], {"error": problem})
            else:
                result = scoring.score_feature(ready, facts_of(feature))
            if (result.score != feature.score or result.error != feature.score_error
                    or result.breakdown != feature.score_breakdown):
                moved = result.score != feature.score or result.error != feature.score_error
                feature.score, feature.score_error = result.score, result.error
                feature.score_breakdown = result.breakdown
                changed.append(feature)
                if moved:
                    snapshots.append(ScoreSnapshot(feature_id=feature.pk, framework=framework,
                                                   score=result.score,
                                                   breakdown=result.breakdown))
    Feature.objects.bulk_update(changed, ["score", "score_error", "score_breakdown"],
                                batch_size=500)
    ScoreSnapshot.objects.bulk_create(snapshots, batch_size=1000)
    return len(snapshots)


def _name(value: object) -> str:
    try:
        name = parsing.clean_text(value, max_length=100, field=_("Name"))
    except ValueError as error:
        raise DomainError(str(error), field="name") from error
    if not name:
        raise DomainError(_("Give the framework a name."), field="name")
    return name


def _kind(value: str) -> str:
    if value not in FrameworkKind.values:
        raise DomainError(_("Unknown framework “%(kind)s”; use one of: %(all)s.")
                          % {"kind": str(value)[:40], "all": ", ".join(FrameworkKind.values)},
                          field="kind")
    return value


def framework_create(*, actor: Member, kind: str, name: str, drivers: list | None = None,
                     formula: str = "", make_standard: bool = False,
                     origin: Origin | None = None) -> ScoringFramework:
    """Create a framework (a custom one needs drivers and a formula that check out)."""
    kind, name = _kind(kind), _name(name)
    ready = scoring.check_formula(kind, drivers, formula)
    if ScoringFramework.objects.filter(organisation_id=actor.organisation_id,
                                       name__iexact=name).exists():
        raise Conflict(_("A framework named “%s” already exists.") % name, field="name")
    custom = kind == FrameworkKind.CUSTOM
    framework = ScoringFramework.objects.create(
        organisation_id=actor.organisation_id, kind=kind, name=name,
        drivers=ready.drivers if custom else [],
        formula=ready.formula.source if custom else "", created_by=actor)
    if make_standard:
        framework_set_standard(actor=actor, framework=framework, origin=origin)
    return framework


def framework_update(*, actor: Member, framework: ScoringFramework, name: str | None = None,
                     drivers: list | None = None, formula: str | None = None,
                     origin: Origin | None = None) -> ScoringFramework:
    """Rename a framework or change a custom one's drivers and formula; when it is the
    standard, every feature is rescored (and the change is audited)."""
    if framework.organisation_id != actor.organisation_id:
        raise DomainError(_("This framework is not in your organisation."))
    if name is not None:
        name = _name(name)
        if ScoringFramework.objects.filter(organisation_id=actor.organisation_id,
                                           name__iexact=name).exclude(pk=framework.pk).exists():
            raise Conflict(_("A framework named “%s” already exists.") % name, field="name")
        framework.name = name
    before = {"drivers": framework.drivers, "formula": framework.formula}
    if framework.kind == FrameworkKind.CUSTOM and (drivers is not None or formula is not None):
        ready = scoring.check_formula(
            framework.kind, framework.drivers if drivers is None else drivers,
            framework.formula if formula is None else formula)
        framework.drivers, framework.formula = ready.drivers, ready.formula.source
    elif drivers is not None or formula is not None:
        raise DomainError(_("Only a custom framework has editable drivers and formula."),
                          field="formula")
    framework.save()
    if framework.is_standard:
        if before != {"drivers": framework.drivers, "formula": framework.formula}:
            audit_record(organisation=actor.organisation, actor=actor,
                         action="framework.changed", origin=origin or Origin(),
                         target=framework, changes={"before": before,
                                                    "after": {"drivers": framework.drivers,
                                                              "formula": framework.formula}})
        scores_recompute(organisation_id=framework.organisation_id)
    return framework


def framework_set_standard(*, actor: Member, framework: ScoringFramework,
                           origin: Origin | None = None) -> ScoringFramework:
    """Make ``framework`` the organisation's standard and rescore every feature with it."""
    if framework.organisation_id != actor.organisation_id:
        raise DomainError(_("This framework is not in your organisation."))
    compiled(framework)  # refuse a framework that cannot score
    with transaction.atomic():
        previous = ScoringFramework.objects.filter(
            organisation_id=actor.organisation_id, is_standard=True).exclude(pk=framework.pk)
        old = previous.first()
        previous.update(is_standard=False)
        if not framework.is_standard:
            framework.is_standard = True
            framework.save(update_fields=["is_standard", "updated_at"])
            audit_record(organisation=actor.organisation, actor=actor,
                         action="framework.standard_changed", origin=origin or Origin(),
                         target=framework,
                         changes={"from": old.name if old else None, "to": framework.name})
        scores_recompute(organisation_id=actor.organisation_id)
    return framework


def framework_delete(*, actor: Member, framework: ScoringFramework,
                     origin: Origin | None = None) -> None:
    """Delete a framework that is not the standard (choose another standard first)."""
    if framework.organisation_id != actor.organisation_id:
        raise DomainError(_("This framework is not in your organisation."))
    if framework.is_standard:
        raise Conflict(_("This is the organisation's standard framework: make another one the "
                         "standard before deleting it."))
    audit_record(organisation=actor.organisation, actor=actor, action="framework.deleted",
                 origin=origin or Origin(), target=framework,
                 changes={"kind": framework.kind, "formula": framework.formula})
    framework.delete()


@dataclass
class FormulaCheck:
    """What the formula editor shows: an error with its position, or a preview on the
    organisation's features (how many score, how many would show an error, and why)."""

    ok: bool
    message: str = ""
    position: int | None = None
    field: str | None = None
    scored: int = 0
    failing: int = 0
    examples: list[dict] = dataclass_field(default_factory=list)  # [{"feature": title, "error": …}]


def framework_check(*, organisation_id: int, kind: str, drivers: list | None = None,
                    formula: str = "", preview_limit: int = 5000) -> FormulaCheck:
    """Validate a framework without saving it, and preview it on real features."""
    try:
        ready = scoring.check_formula(_kind(kind), drivers, formula)
    except scoring.FormulaError as error:
        return FormulaCheck(ok=False, message=error.message, position=error.position,
                            field=error.field)
    except DomainError as error:
        return FormulaCheck(ok=False, message=error.message, field=error.field)
    check = FormulaCheck(ok=True)
    features = (Feature.objects.filter(organisation_id=organisation_id)
                .only("title", *_FACT_FIELDS)[:preview_limit])
    for feature in features:
        result = scoring.score_feature(ready, facts_of(feature))
        if result.error:
            check.failing += 1
            if len(check.examples) < 5:
                check.examples.append({"feature": feature.title, "error": result.error})
        else:
            check.scored += 1
    return check
