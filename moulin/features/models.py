"""Features and prioritisation: the feature tree, feedback linked to features, the business
demand behind each feature, and the organisation's scoring standard."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from moulin.accounts.models import Member, Organisation, Squad
from moulin.core.models import TenantModel
from moulin.customers.models import Segment
from moulin.feedback.models import Feedback, Importance, ProductArea


class FeatureStatus(models.TextChoices):
    IDEA = "idea", _("Idea")
    DISCOVERY = "discovery", _("Discovery")
    PLANNED = "planned", _("Planned")
    IN_PROGRESS = "in_progress", _("In progress")
    SHIPPED = "shipped", _("Shipped")
    RELEASED = "released", _("Released")
    WONT_DO = "wont_do", _("Won’t do")


class Feature(TenantModel):
    """A feature (or sub-feature) of the product tree, owned by a squad."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="features")
    product_area = models.ForeignKey(ProductArea, verbose_name=_("product area"), null=True,
                                     blank=True, on_delete=models.SET_NULL,
                                     related_name="features")
    parent = models.ForeignKey("self", verbose_name=_("parent feature"), null=True, blank=True,
                               on_delete=models.CASCADE, related_name="children")
    squad = models.ForeignKey(Squad, verbose_name=_("squad"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="features")
    owner = models.ForeignKey(Member, verbose_name=pgettext_lazy("feature", "owner"), null=True,
                              blank=True,
                              on_delete=models.SET_NULL, related_name="owned_features")
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=FeatureStatus.choices,
                              default=FeatureStatus.IDEA)
    target_quarter = models.CharField(_("target quarter"), max_length=7, blank=True,
                                      help_text=_("For example 2027-Q1."))
    effort = models.DecimalField(_("effort (person-weeks)"), max_digits=8, decimal_places=2,
                                 null=True, blank=True)
    delivery_url = models.URLField(_("delivery link"), max_length=500, blank=True,
                                   help_text=_("Jira, Linear or GitHub issue."))
    # Hand-entered scoring inputs, by driver key: {"reach": 800, "impact": 2, "strategic_fit": 4}
    score_inputs = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    # Demand, kept up to date by the services whenever links or customers change (the board
    # reads these columns, never aggregates in Python).
    feedback_count = models.PositiveIntegerField(default=0, editable=False)
    customer_count = models.PositiveIntegerField(default=0, editable=False)
    arr_total = models.DecimalField(max_digits=16, decimal_places=2, default=0, editable=False)
    # ARR (organisation currency) of the requesting customers renewing in the next 90 days,
    # and of those at risk (low health score); moved by time as well as data, so the periodic
    # ``recompute_demand`` command refreshes them daily.
    renewal_arr_90d = models.DecimalField(max_digits=16, decimal_places=2, default=0,
                                          editable=False)
    at_risk_arr = models.DecimalField(max_digits=16, decimal_places=2, default=0,
                                      editable=False)
    # Feedback received in the last 30 days and in the 30 days before (the trend driver).
    feedback_recent = models.PositiveIntegerField(default=0, editable=False)
    feedback_previous = models.PositiveIntegerField(default=0, editable=False)
    # ARR of requesting customers whose currency has no organisation rate: {"USD": "1200.00"},
    # reported apart and never added to ``arr_total``.
    unconverted_arr = models.JSONField(default=dict, blank=True, editable=False)
    demand_updated_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set by database triggers (migration 0003) when a linked item's customer, a requesting
    # customer's ARR/currency/segment… or a merge changes; cleared by the demand recompute.
    demand_stale = models.BooleanField(default=False, editable=False)

    # The organisation standard framework's latest score, and the board's manual order.
    score = models.DecimalField(max_digits=16, decimal_places=4, null=True, blank=True,
                                editable=False)
    score_breakdown = models.JSONField(default=dict, blank=True, editable=False)
    score_error = models.CharField(max_length=300, blank=True, editable=False)
    manual_rank = models.PositiveIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["title", "id"]
        verbose_name = _("feature")
        verbose_name_plural = _("features")
        indexes = [
            models.Index(fields=["organisation", "status"]),
            models.Index(fields=["organisation", "squad"]),
            models.Index(fields=["organisation", "-score"]),
            models.Index(fields=["organisation", "manual_rank"]),
            models.Index(fields=["organisation", "demand_stale"]),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def trend(self) -> int:
        """Feedback of the last 30 days minus the 30 days before (positive: growing)."""
        return self.feedback_recent - self.feedback_previous




# The board's order, in one place: pinned features first (manual rank 1, 2, 3…), then by
# score, highest first (features that cannot be scored last), then oldest first. The two keys
# are annotations with constant fallbacks so that keyset pagination can compare them.
UNPINNED = 2**31 - 1
NO_SCORE = Decimal("-999999999999")
BOARD_ORDERING = ("pin_order", "-score_order", "id")


def with_board_keys(features: QuerySet[Feature]) -> QuerySet[Feature]:
    """The features with the two sort keys of BOARD_ORDERING (no join: cheap to sort)."""
    return features.annotate(pin_order=Coalesce("manual_rank", Value(UNPINNED)),
                             score_order=Coalesce("score", Value(NO_SCORE)))

class FeatureSegment(models.Model):
    """A feature's demand from one customer segment (distinct customers, converted ARR); kept
    with the feature's demand so the board can filter by segment without touching links."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="segments")
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="+")
    customer_count = models.PositiveIntegerField(default=0)
    arr_total = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["feature", "segment"],
                                               name="feature_segment_unique")]
        indexes = [models.Index(fields=["organisation", "segment", "feature"])]

    def __str__(self) -> str:
        return f"{self.feature_id} / {self.segment_id}"


class FeatureEvent(models.Model):
    """One change in a feature's history (fields, status, links, scores, rank overrides)."""

    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    kind = models.CharField(max_length=32)  # created, updated, status, linked, unlinked, rank…
    changes = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.feature_id}"


class LinkOrigin(models.TextChoices):
    MANUAL = "manual", _("Linked by hand")
    SUGGESTION = "suggestion", _("Suggestion accepted")
    BULK = "bulk", _("Bulk link")


class FeedbackLink(models.Model):
    """Feedback attached to a feature, with how important it is to that customer."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="feedback_links")
    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="feature_links")
    importance = models.CharField(_("importance"), max_length=16, choices=Importance.choices,
                                  default=Importance.IMPORTANT)
    origin = models.CharField(max_length=16, choices=LinkOrigin.choices,
                              default=LinkOrigin.MANUAL)
    created_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["feature", "feedback"],
                                               name="feedback_link_unique")]
        indexes = [models.Index(fields=["feedback"]),
                   models.Index(fields=["organisation", "feature", "created_at"])]

    def __str__(self) -> str:
        return f"{self.feedback_id} → {self.feature_id}"


class FrameworkKind(models.TextChoices):
    RICE = "rice", "RICE"
    ICE = "ice", "ICE"
    WSJF = "wsjf", "WSJF"
    VALUE_EFFORT = "value_effort", _("Value / effort")
    CUSTOM = "custom", _("Custom formula")


class ScoringFramework(TenantModel):
    """A scoring framework; exactly one per organisation is the standard the board uses."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="scoring_frameworks")
    kind = models.CharField(_("framework"), max_length=16, choices=FrameworkKind.choices)
    name = models.CharField(_("name"), max_length=100)
    # Custom frameworks: [{"key": "strategic_fit", "label": "Strategic fit", "weight": 2,
    #                      "source": "manual" | "arr_total" | "customer_count" | …}, …]
    drivers = models.JSONField(default=list, blank=True)
    formula = models.TextField(_("formula"), blank=True)
    is_standard = models.BooleanField(_("organisation standard"), default=False)
    created_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"],
                                    name="scoring_framework_unique_name"),
            models.UniqueConstraint(fields=["organisation"],
                                    condition=models.Q(is_standard=True),
                                    name="scoring_framework_one_standard"),
        ]

    def __str__(self) -> str:
        return self.name


class ScoreSnapshot(models.Model):
    """A feature's score at a point in time (the score history)."""

    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="score_history")
    framework = models.ForeignKey(ScoringFramework, null=True, on_delete=models.SET_NULL,
                                  related_name="+")
    score = models.DecimalField(max_digits=16, decimal_places=4, null=True)
    breakdown = models.JSONField(default=dict)
    computed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-computed_at", "-id"]
        indexes = [models.Index(fields=["feature", "-computed_at"])]

    def __str__(self) -> str:
        return f"{self.feature_id}: {self.score}"


class RankOverride(models.Model):
    """A manual move on the prioritisation board, with the reason given."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="rank_overrides")
    from_position = models.PositiveIntegerField(null=True)
    to_position = models.PositiveIntegerField()
    reason = models.CharField(_("reason"), max_length=500)
    actor = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.feature_id} → {self.to_position}"


class CurrencyRate(TenantModel):
    """How many units of the organisation's reporting currency one unit of ``currency`` is."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="currency_rates")
    currency = models.CharField(_("currency"), max_length=3)
    rate = models.DecimalField(_("rate"), max_digits=14, decimal_places=6)

    class Meta:
        ordering = ["currency"]
        constraints = [models.UniqueConstraint(fields=["organisation", "currency"],
                                               name="currency_rate_unique")]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate}"
