"""The organisation's triage knobs: suggestions on or off, auto-apply threshold, retraining,
embedding model."""

from __future__ import annotations

from django.utils.translation import gettext as _

from moulin.accounts.audit import Origin, audit_record
from moulin.accounts.models import Member
from moulin.core.errors import DomainError
from moulin.triage.models import TriageSettings

MAX_RETRAIN_AFTER = 100_000


def triage_settings_get(*, organisation_id: int) -> TriageSettings:
    """The organisation's settings row (created with the defaults on first use)."""
    settings, _created = TriageSettings.objects.get_or_create(organisation_id=organisation_id)
    return settings


def triage_settings_update(*, actor: Member, origin: Origin, enabled: bool | None = None,
                           auto_apply_threshold: float | None = None,
                           retrain_after: int | None = None,
                           embedder: str | None = None) -> TriageSettings:
    """Change the knobs; out-of-range values are refused with what to type instead.

    A new embedding model re-embeds every item in the background (a backfill job; until it
    reaches an item, that item keeps its suggestions but is left out of similarity searches)
    and queues a retraining in the new model's space."""
    from moulin.triage.engine.embedders import embedder_names

    settings = triage_settings_get(organisation_id=actor.organisation_id)
    before = {"enabled": settings.enabled, "auto_apply_threshold": settings.auto_apply_threshold,
              "retrain_after": settings.retrain_after, "embedder": settings.embedder}
    if embedder is not None:
        if embedder not in embedder_names():
            raise DomainError(_("Unknown embedding model “%(name)s”: choose one of %(names)s.")
                              % {"name": embedder, "names": ", ".join(embedder_names())},
                              field="embedder")
        settings.embedder = embedder
    if auto_apply_threshold is not None:
        try:
            threshold = float(auto_apply_threshold)
        except (TypeError, ValueError):
            threshold = -1.0
        # 1.0 is allowed: it means "never apply automatically" (confidence never reaches it).
        if not 0.5 <= threshold <= 1.0 or threshold != threshold:
            raise DomainError(_("The threshold is a confidence between 0.5 and 1 (1 = never "
                                "apply automatically)."), field="auto_apply_threshold")
        settings.auto_apply_threshold = round(threshold, 3)
    if retrain_after is not None:
        if isinstance(retrain_after, bool) or not isinstance(retrain_after, int) or \
                not 1 <= retrain_after <= MAX_RETRAIN_AFTER:
            raise DomainError(_("Retrain after between 1 and %d new labels.") % MAX_RETRAIN_AFTER,
                              field="retrain_after")
        settings.retrain_after = retrain_after
    if enabled is not None:
        settings.enabled = bool(enabled)
    settings.save()
    after = {"enabled": settings.enabled, "auto_apply_threshold": settings.auto_apply_threshold,
             "retrain_after": settings.retrain_after, "embedder": settings.embedder}
    changes = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
    if "embedder" in changes:
        from moulin.triage.services.analysis import backfill_request
        from moulin.triage.services.training import model_retrain_request

        backfill_request(organisation_id=actor.organisation_id, actor=actor)
        model_retrain_request(organisation_id=actor.organisation_id, actor=actor,
                              trigger="embedding model")
    if changes:
        audit_record(organisation=actor.organisation, actor=actor, action="triage.settings",
                     origin=origin, target_label=str(_("Triage settings")), changes=changes)
    return settings
