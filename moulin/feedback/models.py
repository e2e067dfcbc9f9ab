"""Customer feedback: the verbatim, who it came from, through which channel, and its triage."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from moulin.accounts.models import Member, Organisation
from moulin.core.models import TenantModel
from moulin.customers.models import Contact, Customer


class Source(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    API = "api", _("API")
    CSV_IMPORT = "csv_import", _("CSV / XLSX import")
    EMAIL = "email", _("Email")
    INTERCOM = "intercom", "Intercom"
    ZENDESK = "zendesk", "Zendesk"
    HUBSPOT = "hubspot", "HubSpot"
    SALESFORCE = "salesforce", "Salesforce"
    SLACK = "slack", "Slack"
    SURVEY = "survey", _("Survey")


class Importance(models.TextChoices):
    NICE_TO_HAVE = "nice_to_have", _("Nice to have")
    IMPORTANT = "important", _("Important")
    CRITICAL = "critical", _("Critical")


class Status(models.TextChoices):
    NEW = "new", _("New")
    TRIAGED = "triaged", _("Triaged")
    LINKED = "linked", _("Linked")
    CLOSED = "closed", _("Closed")
    ARCHIVED = "archived", _("Archived")
    MERGED = "merged", _("Merged")


class Language(models.TextChoices):
    FRENCH = "fr", _("French")
    ENGLISH = "en", _("English")
    OTHER = "other", _("Other")


class ProductArea(TenantModel):
    """A part of the product (Payments, Forecasting…); feedback, themes and features hang on it."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="product_areas")
    name = models.CharField(_("name"), max_length=120)
    description = models.CharField(_("description"), max_length=300, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"],
                                               name="product_area_unique_name")]

    def __str__(self) -> str:
        return self.name


class Tag(TenantModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(_("name"), max_length=60)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"],
                                               name="tag_unique_name")]

    def __str__(self) -> str:
        return self.name


class Feedback(TenantModel):
    """One piece of customer feedback, verbatim, with its origin and triage state."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="feedback")
    title = models.CharField(_("title"), max_length=300, blank=True)
    text = models.TextField(_("verbatim"))
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    # With ``source``, the sender's own id: a retried delivery updates instead of duplicating.
    external_id = models.CharField(_("external id"), max_length=200, null=True, blank=True)  # noqa: DJ001 - NULLs never collide in the unique constraint
    submitted_by = models.ForeignKey(Member, verbose_name=_("submitted by"), null=True,
                                     blank=True, on_delete=models.SET_NULL,
                                     related_name="submitted_feedback")
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="feedback")
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="feedback")
    received_at = models.DateTimeField(_("date"), db_index=True,
                                       help_text=_("When the customer said it."))
    importance = models.CharField(_("importance"), max_length=16, choices=Importance.choices,
                                  default=Importance.IMPORTANT)
    product_area = models.ForeignKey(ProductArea, verbose_name=_("product area"), null=True,
                                     blank=True, on_delete=models.SET_NULL,
                                     related_name="feedback")
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True,
                                  related_name="feedback")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices,
                              default=Status.NEW)
    triaged_at = models.DateTimeField(null=True, blank=True)
    language = models.CharField(_("language"), max_length=8, choices=Language.choices,
                                default=Language.OTHER)
    links = models.JSONField(_("links"), default=list, blank=True)
    attachments = models.JSONField(_("attachments"), default=list, blank=True)
    # The customer's ARR (0 when unknown), copied here so the inbox can sort and filter by it
    # without a join. Kept in step by database triggers (migration 0003) whatever changes the
    # customer's ARR or moves the item to another customer.
    customer_arr = models.DecimalField(max_digits=14, decimal_places=2, default=0,
                                       editable=False)
    # A duplicate merged into another item keeps its row (its customer, contact and date still
    # count as demand for the kept item) and points here.
    merged_into = models.ForeignKey("self", verbose_name=_("merged into"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="merged_duplicates")

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "source", "external_id"],
                                    name="feedback_unique_external_id"),
        ]
        indexes = [
            models.Index(fields=["organisation", "status", "-received_at"]),
            models.Index(fields=["organisation", "-received_at", "-id"]),
            models.Index(fields=["organisation", "source", "-received_at"]),
            models.Index(fields=["organisation", "customer", "-received_at"]),
            models.Index(fields=["organisation", "importance", "-received_at"]),
            models.Index(fields=["organisation", "product_area", "-received_at"]),
            models.Index(fields=["organisation", "language", "-received_at"]),
            models.Index(fields=["organisation", "submitted_by", "-received_at"]),
            models.Index(fields=["organisation", "-customer_arr", "-received_at"],
                         name="feedback_org_arr_received"),
            # Covers the triage insights' scans over a period (moulin/triage/selectors_insights):
            # no feedback row (text, payload) is read. 52 weeks at 100k items: 2.6 → 1.1 s.
            models.Index(fields=["organisation", "received_at", "merged_into", "customer"],
                         name="feedback_period_mentions"),
        ]

    def __str__(self) -> str:
        return self.title or self.text[:80]


class FeedbackEvent(models.Model):
    """The history of a feedback item: each change, who made it and when."""

    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    kind = models.CharField(max_length=32)  # created, updated, status, merged, erased…
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.feedback_id}"


class SavedView(TenantModel):
    """A named set of inbox filters, personal or shared with the organisation."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="saved_views")
    owner = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(max_length=2000, help_text="The inbox query string.")
    shared = models.BooleanField(_("shared with the organisation"), default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportKind(models.TextChoices):
    FEEDBACK = "feedback", _("Feedback")
    CUSTOMERS = "customers", _("Customers and contacts")


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded")  # file stored, columns read, waiting for the mapping
    VALIDATED = "validated", _("Validated")  # mapping set, preview and errors computed
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Finished")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class ImportJob(TenantModel):
    """One CSV/XLSX file going through the import wizard, and the background job that loads it.

    Progress counters are written by the worker and polled by the page. A row is either
    imported whole or reported in ``ImportRowError``; re-running a job only retries those rows.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="import_jobs")
    created_by = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    source_name = models.CharField(_("source"), max_length=100, blank=True,
                                   help_text=_("Where the file comes from, e.g. “Zendesk "
                                               "export”: the column mapping is remembered "
                                               "for it."))
    file = models.FileField(upload_to="imports/%Y/%m/")
    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=8)  # csv, xlsx
    encoding = models.CharField(max_length=32, blank=True)
    delimiter = models.CharField(max_length=4, blank=True)
    columns = models.JSONField(default=list)
    mapping = models.JSONField(default=dict, blank=True)  # target field -> column name
    status = models.CharField(max_length=16, choices=ImportStatus.choices,
                              default=ImportStatus.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    message = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.file_name

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == ImportStatus.SUCCEEDED else 0
        return min(100, round(100 * self.processed_rows / self.total_rows))


class ImportRowError(models.Model):
    """A row the import could not load, with what to fix (downloadable as a report)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row_number = models.PositiveIntegerField()  # as the spreadsheet shows it (header = 1)
    field = models.CharField(max_length=64, blank=True)
    message = models.CharField(max_length=500)
    values = models.JSONField(default=dict)  # the raw row, so it can be fixed and re-run
    resolved = models.BooleanField(default=False)

    class Meta:
        ordering = ["row_number", "id"]
        indexes = [models.Index(fields=["job", "resolved", "row_number"])]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.message}"


class ImportMapping(TenantModel):
    """The column mapping last used for a source, offered again on the next import."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    source_name = models.CharField(max_length=100)
    mapping = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "kind", "source_name"],
                                               name="import_mapping_unique_source")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.source_name}"
