"""Forms of the feedback hub. Business rules stay in services; forms shape what people type."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from moulin.accounts.models import Member
from moulin.core import parsing
from moulin.core.forms import clean_selected_ids
from moulin.customers import selectors as customer_selectors
from moulin.customers.models import Customer
from moulin.feedback.models import Importance, ProductArea, Source, Status

# --- Inbox and feedback page (views/inbox.py, views/feedback_page.py) ---------------------------

BULK_ACTION_CHOICES = [
    ("triage", _("Mark triaged")), ("archive", _("Archive")), ("close", _("Close")),
    ("reopen", _("Reopen")), ("importance", _("Set importance")), ("tag", _("Add tag")),
    ("area", _("Set product area")),
]
# Actions that need a value (the importance, the tag, the product area id).
BULK_ACTIONS_WITH_VALUE = {"importance", "tag", "area"}
MAX_BULK_ITEMS = 500


class BulkActionForm(forms.Form):
    """One triage action on the selected inbox items."""

    ids = forms.CharField(error_messages={"required": _("Select at least one item.")})
    action = forms.ChoiceField(choices=BULK_ACTION_CHOICES)
    value = forms.CharField(max_length=100, required=False)

    def clean_ids(self) -> list[int]:
        return clean_selected_ids(self, limit=MAX_BULK_ITEMS)

    def clean(self) -> dict:
        cleaned = super().clean()
        action, value = cleaned.get("action"), (cleaned.get("value") or "").strip()
        if action in BULK_ACTIONS_WITH_VALUE and not value:
            # The toolbar (also without JavaScript) names the value after its action:
            # importance=critical, tag=billing, area=12.
            value = str(self.data.get(action, ""))[:100].strip()
        if action in BULK_ACTIONS_WITH_VALUE and not value:
            self.add_error("value", _("Choose a value for this action."))
        if action == "importance" and value and value not in Importance.values:
            self.add_error("value", _("Unknown importance “%s”.") % value[:40])
        if action == "area" and value and parsing.parse_id(value) is None:
            # The toolbar sends a product area's id: anything else is a forged or stale value.
            self.add_error("value", _("Choose a product area of your organisation."))
        cleaned["value"] = value
        return cleaned


class SavedViewForm(forms.Form):
    """The inbox's current filters saved under a name."""

    name = forms.CharField(label=_("Name"), max_length=100)
    query = forms.CharField(max_length=2000, required=False, widget=forms.HiddenInput)
    shared = forms.BooleanField(label=_("Share with the organisation"), required=False)


class FeedbackTriageForm(forms.Form):
    """The triage fields of one feedback item, on its page."""

    title = forms.CharField(label=_("Title"), max_length=300, required=False)
    status = forms.ChoiceField(label=_("Status"), choices=Status.choices)
    importance = forms.ChoiceField(label=_("Importance"), choices=Importance.choices)
    product_area = forms.ModelChoiceField(label=_("Product area"),
                                          queryset=ProductArea.objects.none(), required=False,
                                          empty_label=_("No product area"))
    tags = forms.CharField(label=_("Tags"), max_length=1000, required=False,
                           help_text=_("Separated by commas."))

    def __init__(self, *args, organisation_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product_area"].queryset = ProductArea.objects.filter(
            organisation_id=organisation_id)


# --- Intake form (views/intake.py) ---------------------------------------------------------------

# The channels a person may pick when they type feedback in: machine channels (API, imports)
# record themselves.
INTAKE_SOURCES = [(value, label) for value, label in Source.choices
                  if value not in {Source.API, Source.CSV_IMPORT}]


class FeedbackIntakeForm(forms.Form):
    """What Customer Success and Sales fill in when a customer tells them something."""

    text = forms.CharField(
        label=_("What did the customer say?"), strip=True,
        widget=forms.Textarea(attrs={"rows": 6, "autofocus": True}),
        help_text=_("Their words, verbatim, in any language."))
    title = forms.CharField(label=_("Title"), max_length=300, required=False,
                            help_text=_("Optional: a short summary for the inbox."))
    # The combobox: people type in ``customer_search``; picking a suggestion fills ``customer``.
    # Without JavaScript the typed name, domain or CRM id is enough (resolved in clean()).
    customer = forms.ModelChoiceField(queryset=Customer.objects.none(), required=False,
                                      widget=forms.HiddenInput)
    customer_search = forms.CharField(
        label=_("Customer"), max_length=200, required=False,
        help_text=_("Type a name, email domain or CRM id, then pick from the list."))
    # "On behalf of": the person who said it (the template explains it once for both fields).
    contact_email = forms.EmailField(label=_("Contact's email"), required=False)
    contact_name = forms.CharField(label=_("Contact's name"), max_length=200, required=False)
    importance = forms.ChoiceField(label=_("Importance for the customer"),
                                   choices=Importance.choices, initial=Importance.IMPORTANT,
                                   widget=forms.RadioSelect)
    product_area = forms.ModelChoiceField(label=_("Product area"),
                                          queryset=ProductArea.objects.none(), required=False,
                                          empty_label=_("I don't know"))
    tags = forms.CharField(label=_("Tags"), max_length=1000, required=False,
                           help_text=_("Separated by commas, e.g. export, billing."))
    source = forms.ChoiceField(label=_("Heard through"), choices=INTAKE_SOURCES,
                               initial=Source.WEB_FORM)
    # ISO format: a localised value ("25/11/2026") leaves a type="date" input empty in French.
    received_on = forms.DateField(label=_("Date"),
                                  widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                                  help_text=_("When the customer said it."))

    def __init__(self, *args, member: Member, **kwargs):
        super().__init__(*args, **kwargs)
        self.member = member
        organisation_id = member.organisation_id
        self.fields["customer"].queryset = Customer.objects.filter(
            organisation_id=organisation_id).select_related("segment")
        self.fields["product_area"].queryset = ProductArea.objects.filter(
            organisation_id=organisation_id)
        self.fields["received_on"].initial = timezone.localdate
        # The combobox's attributes (aria-combobox pattern, htmx suggestions) are set by the
        # template, which knows the URL; the field itself must not fight the browser's autofill.
        self.fields["customer_search"].widget.attrs["autocomplete"] = "off"
        self.fields["contact_email"].widget.attrs.update(
            autocomplete="off", placeholder=_("Their email address"))
        self.fields["contact_name"].widget.attrs.update(
            autocomplete="off", placeholder=_("Their name"))

    @property
    def contact_fields(self) -> list:
        """The two "on behalf of" fields, shown side by side under one legend."""
        return [self["contact_email"], self["contact_name"]]

    def clean_received_on(self) -> date:
        day = self.cleaned_data["received_on"]
        # One day of slack: the member's evening may already be tomorrow on the server.
        if day > timezone.localdate() + timedelta(days=1):
            raise forms.ValidationError(_("This date is in the future."))
        return day

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors.get("customer"):
            # A forged or deleted id in the hidden field: ask to pick the customer again.
            self.errors.pop("customer")
            self.add_error("customer_search", _("Pick the customer again from the list."))
            return cleaned
        text = (cleaned.get("customer_search") or "").strip()
        chosen = cleaned.get("customer")
        if not text:
            cleaned["customer"] = None  # the box was emptied: no customer
        elif chosen is None or chosen.name.casefold() != text.casefold():
            cleaned["customer"] = self._customer_named(text)
        return cleaned

    def _customer_named(self, text: str) -> Customer | None:
        """The one customer ``text`` names (name, domain or CRM id), or a field error."""
        found = customer_selectors.customer_autocomplete(member=self.member, text=text, limit=6)
        wanted = text.casefold()
        exact = [c for c in found if wanted in {c.name.casefold(), (c.external_id or "").casefold(),
                                                *(d.casefold() for d in c.domains)}]
        if len(exact) == 1:
            return exact[0]
        if len(found) == 1 and not exact:
            return found[0]
        if not found:
            self.add_error("customer_search", _("No customer matches “%s”. Check the spelling, "
                                                "or leave it empty.") % text)
        else:
            names = ", ".join(c.name for c in (exact or found)[:5])
            self.add_error("customer_search", _("Several customers match “%(text)s”: "
                                                "%(names)s. Pick one from the list.")
                           % {"text": text, "names": names})
        return None

    def to_raw(self) -> dict:
        """The cleaned form as the intake service's raw item."""
        data = self.cleaned_data
        day = data["received_on"]
        return {
            "text": data["text"], "title": data["title"],
            "customer_id": data["customer"].pk if data.get("customer") else None,
            "contact_email": data["contact_email"], "contact_name": data["contact_name"],
            "importance": data["importance"],
            "product_area": data["product_area"].name if data["product_area"] else "",
            "tags": data["tags"], "source": data["source"],
            # Today means "now" (exact time); an earlier day is taken at noon, local time.
            "created_at": None if day == timezone.localdate() else day.isoformat(),
        }
