"""Forms of the customers pages: the list's filters and a customer's business data."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from moulin.accounts.models import Member
from moulin.customers.models import Customer, Lifecycle, Segment
from moulin.customers.selectors import CUSTOMER_SORTS


class CustomerFilterForm(forms.Form):
    """The customer list's filters; an unknown value is ignored rather than refused."""

    q = forms.CharField(label=_("Search"), max_length=100, required=False)
    segment = forms.ModelChoiceField(label=_("Segment"), queryset=Segment.objects.none(),
                                     required=False, empty_label=_("All segments"))
    lifecycle = forms.ChoiceField(label=_("Lifecycle"), required=False,
                                  choices=[("", _("All stages")), *Lifecycle.choices])
    plan = forms.ChoiceField(label=_("Plan"), required=False)
    sort = forms.ChoiceField(label=_("Sort by"), required=False, choices=[
        ("name", _("Name")), ("arr", _("ARR, highest first")),
        ("renewal", _("Renewal, soonest first"))])

    def __init__(self, *args, organisation_id: int, plans: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = Segment.objects.filter(organisation_id=organisation_id)
        self.fields["plan"].choices = [("", _("All plans")), *((p, p) for p in plans)]
        self.fields["q"].widget.attrs.update(type="search", placeholder=_("Name, domain, CRM id"))

    def filters(self) -> dict:
        """Keyword arguments for ``selectors.customer_list`` (defaults when invalid)."""
        data = self.cleaned_data if self.is_valid() else {}
        segment = data.get("segment")
        sort = data.get("sort") or "name"
        return {"search": (data.get("q") or "").strip(),
                "segment_id": segment.pk if segment else None,
                "lifecycle": data.get("lifecycle") or "", "plan": data.get("plan") or "",
                "sort": sort if sort in CUSTOMER_SORTS else "name"}


class CustomerForm(forms.Form):
    """A customer's business data, as admins and Product Ops correct it by hand."""

    name = forms.CharField(label=_("Name"), max_length=200)
    external_id = forms.CharField(label=_("CRM id"), max_length=100, required=False,
                                  help_text=_("The id in your CRM: imports and the API update "
                                              "the customer by it."))
    domains = forms.CharField(label=_("Email domains"), max_length=2000, required=False,
                              help_text=_("Separated by commas: feedback from these addresses "
                                          "is linked to this customer."))
    segment = forms.CharField(label=_("Segment"), max_length=80, required=False)
    plan = forms.CharField(label=_("Plan"), max_length=80, required=False)
    lifecycle = forms.ChoiceField(label=_("Lifecycle"), choices=Lifecycle.choices)
    arr = forms.CharField(label=_("ARR"), max_length=40, required=False,
                          help_text=_("Annual recurring revenue, e.g. 12 500,50."))
    currency = forms.CharField(label=_("Currency"), max_length=3, required=False)
    renewal_date = forms.DateField(label=_("Renewal date"), required=False,
                                   # ISO: a localised value leaves the date input empty
                                   widget=forms.DateInput(attrs={"type": "date"},
                                                          format="%Y-%m-%d"))
    health_score = forms.IntegerField(label=_("Health score"), min_value=0, max_value=100,
                                      required=False, help_text=_("0 (at risk) to 100 (healthy)."))
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=Member.objects.none(),
                                   required=False, empty_label=_("Nobody"))
    industry = forms.CharField(label=_("Industry"), max_length=120, required=False)
    country = forms.CharField(label=_("Country"), max_length=60, required=False,
                              help_text=_("ISO code, e.g. FR."))
    custom_fields = forms.CharField(
        label=_("Custom fields"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One per line, as name: value."))

    def __init__(self, *args, customer: Customer, **kwargs):
        self.customer = customer
        initial = {
            "name": customer.name, "external_id": customer.external_id or "",
            "domains": ", ".join(customer.domains),
            "segment": customer.segment.name if customer.segment_id else "",
            "plan": customer.plan, "lifecycle": customer.lifecycle,
            "arr": "" if customer.arr is None else str(customer.arr),
            "currency": customer.currency, "renewal_date": customer.renewal_date,
            "health_score": customer.health_score, "owner": customer.owner_id,
            "industry": customer.industry, "country": customer.country,
            "custom_fields": "\n".join(f"{k}: {v}" for k, v in customer.custom_fields.items()),
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["owner"].queryset = (Member.objects.filter(
            organisation_id=customer.organisation_id, is_active=True)
            .select_related("user").order_by("user__full_name"))
        self.fields["owner"].label_from_instance = lambda m: m.user.full_name or m.user.email
        self.fields["segment"].widget.attrs["list"] = "segment-names"

    def clean_custom_fields(self) -> dict:
        fields: dict = {}
        for number, line in enumerate(self.cleaned_data["custom_fields"].splitlines(), start=1):
            if not line.strip():
                continue
            name, colon, value = line.partition(":")
            if not colon or not name.strip():
                raise forms.ValidationError(
                    _("Line %d: write name: value.") % number)
            name, value = name.strip()[:60], value.strip()
            old = self.customer.custom_fields.get(name)
            # An unchanged value keeps its type (a number from the CRM stays a number).
            fields[name] = old if old is not None and str(old) == value else value
        return fields

    def to_raw(self) -> dict:
        """The form as the raw mapping the customer services clean (same rules as the API)."""
        data = self.cleaned_data
        owner = data["owner"]
        return {
            "name": data["name"], "external_id": data["external_id"],
            "domains": data["domains"], "segment": data["segment"], "plan": data["plan"],
            "lifecycle": data["lifecycle"], "arr": data["arr"], "currency": data["currency"],
            "renewal_date": data["renewal_date"], "health_score": data["health_score"],
            "owner_email": owner.user.email if owner else "", "industry": data["industry"],
            "country": data["country"], "custom_fields": data["custom_fields"],
        }
