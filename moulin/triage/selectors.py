"""Read queries of the triage intelligence; every one goes through the permission policy
(triage belongs to the "feedback" module)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet
from django.shortcuts import get_object_or_404

from moulin.accounts.models import Member
from moulin.core import policy
from moulin.core.policy import Action
from moulin.feedback.models import Feedback, ProductArea
from moulin.triage.models import (
    FeedbackAnalysis,
    FeedbackTheme,
    JobStatus,
    ModelVersion,
    Outcome,
    Theme,
    TriageJob,
    TriageSettings,
)
from moulin.triage.services.settings import triage_settings_get
from moulin.triage.services.taxonomy import suggestions_shown, themes_by_id

MODULE = "feedback"


def theme_list(*, member: Member, include_archived: bool = False, q: str = "",
               product_area: int | None = None) -> QuerySet[Theme]:
    """The organisation's themes with how many items each holds (active ones by default)."""
    qs = policy.scope(Theme.objects.all(), member, MODULE)
    if not include_archived:
        qs = qs.filter(archived_at=None)
    if q:
        qs = qs.filter(Q(name_en__icontains=q) | Q(name_fr__icontains=q))
    if product_area:
        qs = qs.filter(product_area_id=product_area)
    return (qs.select_related("product_area", "merged_into")
            .order_by("product_area__name", "name_en", "id"))


def theme_item_counts(*, organisation_id: int, theme_ids: list[int] | None = None
                      ) -> dict[int, int]:
    """{theme id: its items}, counted as the insights count them: a duplicate merged into
    another item counts under the kept item's themes, not under its own links.

    Three grouped queries on the link table (an item has a theme once, and duplicates are
    merged one level deep, so no DISTINCT is needed): the theme's links, minus the links of
    merged items, plus the items merged into a linked one. One grouped query joining each link
    to its item took 10 times as long (benchmarks/triage_discovery.py)."""
    links = FeedbackTheme.objects.filter(organisation_id=organisation_id)
    if theme_ids is not None:
        links = links.filter(theme_id__in=theme_ids)
    counts = dict(links.values("theme_id").annotate(n=Count("pk"))
                  .values_list("theme_id", "n").order_by())
    # merged items: their own links leave, and they count where the item they went into is
    for path, sign in (("theme_links__theme_id", -1), ("merged_into__theme_links__theme_id", 1)):
        merged = Feedback.objects.filter(merged_into__isnull=False)
        if theme_ids is None:
            merged = merged.filter(organisation_id=organisation_id, **{f"{path}__isnull": False})
        else:  # themes of the organisation: its filter would steer SQLite to a full scan
            merged = merged.filter(**{f"{path}__in": theme_ids})
        for theme_id, n in (merged.values(path).annotate(n=Count("pk"))
                            .values_list(path, "n").order_by()):
            counts[theme_id] = counts.get(theme_id, 0) + sign * n
    return counts


def theme_item_count(*, theme: Theme) -> int:
    """How many items a theme holds, counted as on the taxonomy page (``theme_item_counts``)."""
    return theme_item_counts(organisation_id=theme.organisation_id,
                             theme_ids=[theme.pk]).get(theme.pk, 0)


def theme_get(*, member: Member, pk: int, action: str = Action.VIEW) -> Theme:
    """One theme of the member's organisation (404 outside it, 403 without the right)."""
    theme = get_object_or_404(Theme.objects.select_related("product_area", "merged_into"),
                              pk=pk, organisation_id=member.organisation_id)
    policy.check(member, MODULE, action, theme)
    return theme


@dataclass
class AreaThemes:
    area: ProductArea | None
    themes: list[Theme]


def taxonomy_tree(*, member: Member, include_archived: bool = False) -> list[AreaThemes]:
    """Themes grouped by product area (themes without one last), each with its
    ``item_count`` (``theme_item_counts``)."""
    groups: dict[int | None, AreaThemes] = {}
    for area in policy.scope(ProductArea.objects.all(), member, MODULE).order_by("name"):
        groups[area.pk] = AreaThemes(area, [])
    groups[None] = AreaThemes(None, [])
    counts = theme_item_counts(organisation_id=member.organisation_id)
    for theme in theme_list(member=member, include_archived=include_archived):
        theme.item_count = counts.get(theme.pk, 0)
        groups.setdefault(theme.product_area_id, AreaThemes(theme.product_area, [])) \
            .themes.append(theme)
    return [g for g in groups.values() if g.themes or g.area is not None]


def theme_choices(*, member: Member, include_archived: bool = False) -> list[Theme]:
    """Themes for a picker or a filter, by name."""
    qs = policy.scope(Theme.objects.all(), member, MODULE)
    if not include_archived:
        qs = qs.filter(archived_at=None)
    return list(qs.select_related("product_area").order_by("name_en", "id"))


@dataclass
class Suggestion:
    rank: int
    theme: Theme
    confidence: float

    @property
    def percent(self) -> int:
        return round(100 * self.confidence)


@dataclass
class FeedbackTriage:
    """What the feedback page and an inbox row show of an item's triage."""

    feedback: Feedback
    analysis: FeedbackAnalysis | None
    suggestions: list[Suggestion] = field(default_factory=list)
    applied: list[tuple[FeedbackTheme, Theme]] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        return self.analysis.outcome if self.analysis else Outcome.PENDING

    @property
    def outcome_label(self) -> str:
        return str(Outcome(self.outcome).label)

    @property
    def waiting(self) -> bool:
        return self.outcome in (Outcome.SUGGESTED, Outcome.UNKNOWN, Outcome.PENDING) and \
            not (self.analysis and self.analysis.reviewed_at)


def feedback_triage(*, member: Member, feedback: Feedback,
                    themes: dict[int, Theme] | None = None,
                    analysis: FeedbackAnalysis | None | bool = False,
                    links: list[FeedbackTheme] | None = None) -> FeedbackTriage:
    """An item's suggestions (today's themes, archived ones left out) and applied themes.
    Pass what was prefetched for a list to avoid a query per item."""
    policy.check(member, MODULE, Action.VIEW, feedback)
    if themes is None:
        themes = themes_by_id(organisation_id=feedback.organisation_id)
    if analysis is False:
        analysis = FeedbackAnalysis.objects.filter(feedback=feedback).defer("vector").first()
    if links is None:
        links = list(FeedbackTheme.objects.filter(feedback=feedback).order_by("created_at"))
    applied = [(link, themes[link.theme_id]) for link in links if link.theme_id in themes]
    suggestions = [Suggestion(rank=rank, theme=theme, confidence=confidence)
                   for rank, (theme, confidence) in enumerate(
                       suggestions_shown(analysis.suggestions if analysis else None, themes),
                       start=1)]
    return FeedbackTriage(feedback=feedback, analysis=analysis, suggestions=suggestions,
                          applied=applied)


def _with_model_kept(versions: QuerySet[ModelVersion]) -> QuerySet[ModelVersion]:
    """``model_kept``: whether the trained model is still stored (a personal-data erasure
    deletes the older ones), read without loading it."""
    return versions.defer("artefact").annotate(model_kept=ExpressionWrapper(
        Q(artefact__isnull=False), output_field=BooleanField()))


def model_version_list(*, member: Member) -> QuerySet[ModelVersion]:
    """Every trained (or failed, or queued) version, newest first; artefacts not loaded."""
    return (_with_model_kept(policy.scope(ModelVersion.objects.all(), member, MODULE))
            .select_related("trained_by__user").order_by("-number"))


def model_version_get(*, member: Member, pk: int, action: str = Action.VIEW) -> ModelVersion:
    version = get_object_or_404(_with_model_kept(ModelVersion.objects.all())
                                .select_related("trained_by__user"),
                                pk=pk, organisation_id=member.organisation_id)
    policy.check(member, MODULE, action, version)
    return version


def model_version_in_progress(*, member: Member) -> ModelVersion | None:
    return model_version_list(member=member).filter(
        status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).first()


def triage_settings(*, member: Member) -> TriageSettings:
    policy.check(member, MODULE, Action.VIEW)
    return triage_settings_get(organisation_id=member.organisation_id)


def backfill_job_latest(*, member: Member) -> TriageJob | None:
    return (policy.scope(TriageJob.objects.all(), member, MODULE)
            .filter(kind=TriageJob.Kind.BACKFILL).order_by("-created_at", "-id").first())


@dataclass
class TriageCounts:
    analysed: int
    not_analysed: int
    # analysed by an embedding model the organisation no longer uses: the backfill redoes them
    other_model: int
    to_review: int
    unknown: int
    automatic: int


def triage_counts(*, member: Member) -> TriageCounts:
    """How much feedback is analysed, waiting for review, unknown, applied automatically."""
    analyses = policy.scope(FeedbackAnalysis.objects.all(), member, MODULE)
    by_outcome = dict(analyses.values_list("outcome").annotate(n=Count("pk")).order_by())
    total = policy.scope(Feedback.objects.all(), member, MODULE).count()
    analysed = sum(by_outcome.values())
    embedder = triage_settings_get(organisation_id=member.organisation_id).embedder
    return TriageCounts(analysed=analysed, not_analysed=max(0, total - analysed),
                        other_model=analyses.exclude(embedder=embedder).count(),
                        to_review=by_outcome.get(Outcome.SUGGESTED, 0),
                        unknown=by_outcome.get(Outcome.UNKNOWN, 0),
                        automatic=by_outcome.get(Outcome.AUTOMATIC, 0))


@dataclass
class EmbedderAdvice:
    """What the organisation's feedback languages say about its embedding model choice."""

    items: int  # feedback items of the last year with a detected language
    english_share: float  # 0..1 of those
    french_share: float
    suggested: str | None  # an embedder name worth switching to, or None

    @property
    def english_percent(self) -> int:
        return round(100 * self.english_share)

    @property
    def french_percent(self) -> int:
        return round(100 * self.french_share)


# An organisation whose recent feedback is this English is told about "usem3+minilm"; one on a
# MiniLM model with this much French is told to go back to the multilingual model.
ENGLISH_HEAVY = 0.9
FRENCH_PRESENT = 0.2
ADVICE_MIN_ITEMS = 50


def embedder_advice(*, member: Member) -> EmbedderAdvice:
    """Languages of the last year's feedback, and the embedding model they point to."""
    from datetime import timedelta

    from django.utils import timezone

    policy.check(member, MODULE, Action.VIEW)
    since = timezone.now() - timedelta(days=365)
    counts = dict(Feedback.objects.filter(organisation_id=member.organisation_id,
                                          received_at__gte=since)
                  .exclude(language="").values_list("language").annotate(n=Count("id"))
                  .values_list("language", "n"))
    total = sum(counts.values())
    english = counts.get("en", 0) / total if total else 0.0
    french = counts.get("fr", 0) / total if total else 0.0
    current = triage_settings_get(organisation_id=member.organisation_id).embedder
    suggested = None
    if total >= ADVICE_MIN_ITEMS:
        if current == "usem3" and english >= ENGLISH_HEAVY:
            suggested = "usem3+minilm"
        elif current == "minilm" and french >= FRENCH_PRESENT:
            suggested = "usem3"
    return EmbedderAdvice(items=total, english_share=english, french_share=french,
                          suggested=suggested)
