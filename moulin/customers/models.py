"""Customers (accounts) and the people who work there, with the business data that weighs
their feedback: ARR, plan, segment, lifecycle, health, renewal."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from moulin.accounts.models import Member, Organisation
from moulin.core.models import TenantModel


class Segment(TenantModel):
    """A market segment the organisation defines (SMB, mid-market, enterprise…)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="segments")
    name = models.CharField(_("name"), max_length=80)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"],
                                               name="segment_unique_name")]

    def __str__(self) -> str:
        return self.name


class Lifecycle(models.TextChoices):
    TRIAL = "trial", _("Trial")
    CUSTOMER = "customer", _("Customer")
    CHURNED = "churned", _("Churned")


class Customer(TenantModel):
    """An account: a company that buys (or tries) the product."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="customers")
    name = models.CharField(_("name"), max_length=200)
    # The CRM's id: the key for imports and API upserts.
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)  # noqa: DJ001 - NULLs never collide in the unique constraint
    domains = models.JSONField(_("domains"), default=list, blank=True)
    plan = models.CharField(_("plan"), max_length=80, blank=True)
    segment = models.ForeignKey(Segment, verbose_name=_("segment"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="customers")
    industry = models.CharField(_("industry"), max_length=120, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True,
                               help_text=_("ISO 3166 code, e.g. FR."))
    lifecycle = models.CharField(_("lifecycle"), max_length=16, choices=Lifecycle.choices,
                                 default=Lifecycle.CUSTOMER)
    arr = models.DecimalField(_("ARR"), max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    renewal_date = models.DateField(_("renewal date"), null=True, blank=True)
    owner = models.ForeignKey(Member, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="owned_customers")
    health_score = models.PositiveSmallIntegerField(_("health score"), null=True, blank=True,
                                                    help_text=_("0 (at risk) to 100 (healthy)."))
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "external_id"],
                                    name="customer_unique_external_id"),
            models.CheckConstraint(condition=models.Q(health_score__lte=100),
                                   name="customer_health_score_0_100"),
            models.CheckConstraint(condition=models.Q(arr__gte=0) | models.Q(arr__isnull=True),
                                   name="customer_arr_not_negative"),
        ]
        indexes = [
            models.Index(fields=["organisation", "name"]),
            models.Index(fields=["organisation", "segment"]),
            models.Index(fields=["organisation", "arr"]),
            models.Index(fields=["organisation", "lifecycle"]),
            models.Index(fields=["organisation", "plan"]),
        ]

    def __str__(self) -> str:
        return self.name


class CustomerDomain(models.Model):
    """One email domain of a customer, to link feedback from an address to its account."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="domain_rows")
    domain = models.CharField(max_length=253)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "domain"],
                                               name="customer_domain_unique")]

    def __str__(self) -> str:
        return self.domain


class Contact(TenantModel):
    """A person at a customer who gives feedback."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE,
                                     related_name="contacts")
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="contacts")
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("email"), null=True, blank=True)  # noqa: DJ001 - NULLs never collide in the unique constraint
    role = models.CharField(_("role"), max_length=120, blank=True)
    # Set when the person was erased (GDPR): the row stays so feedback keeps its customer.
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "email"],
                                               name="contact_unique_email")]

    def __str__(self) -> str:
        return self.name or self.email or _("Anonymous contact")
