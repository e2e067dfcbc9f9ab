"""Forms of the features pages. Business rules stay in services; forms shape what people type."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from moulin.accounts.models import Member, Squad
from moulin.core import parsing
from moulin.core.forms import clean_selected_ids
from moulin.features.models import Feature, FeatureStatus, FrameworkKind
from moulin.feedback.forms import MAX_BULK_ITEMS
from moulin.feedback.models import Importance, ProductArea

# --- Feature tree and feature form (views/tree.py) ----------------------------------------------


class FeatureFilterForm(forms.Form):
    """Filters of the feature tree and the board (all optional; bad values are reported)."""

    q = forms.CharField(label=_("Search"), max_length=200, required=False,
                        widget=forms.TextInput(attrs={"type": "search",
                                                      "placeholder": _("Title or description")}))
    squad = forms.ModelChoiceField(label=_("Squad"), queryset=Squad.objects.none(),
                                   required=False, empty_label=_("All squads"))
    area = forms.ModelChoiceField(label=_("Product area"), queryset=ProductArea.objects.none(),
                                  required=False, empty_label=_("All product areas"))
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("Any status")), ("open", _("Not shipped yet")),
                                        *FeatureStatus.choices])

    def __init__(self, *args, organisation_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["squad"].queryset = Squad.objects.filter(organisation_id=organisation_id)
        self.fields["area"].queryset = ProductArea.objects.filter(
            organisation_id=organisation_id)

    def values(self) -> dict:
        """The valid filters (an invalid one is left out; its error stays on the form)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {name: data.get(name) for name in self.fields if data.get(name)}


def quarter_choices() -> list[str]:
    """The next quarters, for the target quarter suggestions."""
    from django.utils import timezone

    today = timezone.localdate()
    year, quarter = today.year, (today.month - 1) // 3 + 1
    out = []
    for _step in range(6):
        out.append(f"{year}-Q{quarter}")
        quarter += 1
        if quarter > 4:
            year, quarter = year + 1, 1
    return out


class FeatureForm(forms.Form):
    """A feature's fields, plus one input per hand-entered scoring driver."""

    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    product_area = forms.ModelChoiceField(label=_("Product area"),
                                          queryset=ProductArea.objects.none(), required=False,
                                          empty_label=_("No product area"))
    parent = forms.ModelChoiceField(label=_("Parent feature"), queryset=Feature.objects.none(),
                                    required=False, empty_label=_("None (top level)"),
                                    help_text=_("Makes it a sub-feature."))
    squad = forms.ModelChoiceField(label=_("Squad"), queryset=Squad.objects.none(),
                                   required=False, empty_label=_("No squad"))
    owner = forms.ModelChoiceField(label=pgettext_lazy("feature", "Owner"),
                                   queryset=Member.objects.none(),
                                   required=False, empty_label=_("Nobody"))
    status = forms.ChoiceField(label=_("Status"), choices=FeatureStatus.choices)
    target_quarter = forms.CharField(
        label=_("Target quarter"), max_length=20, required=False,
        help_text=_("For example 2027-Q1."),
        widget=forms.TextInput(attrs={"list": "quarters", "placeholder": "2027-Q1"}))
    effort = forms.CharField(label=_("Effort (person-weeks)"), max_length=20, required=False,
                             widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    delivery_url = forms.CharField(label=_("Delivery link"), max_length=500, required=False,
                                   help_text=_("Jira, Linear or GitHub issue."),
                                   widget=forms.URLInput())

    def __init__(self, *args, organisation_id: int, feature: Feature | None = None,
                 drivers: list[dict] | None = None, with_effort: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not with_effort:  # a contributor proposing a feature: priorities set it later
            del self.fields["effort"]
        self.fields["product_area"].queryset = ProductArea.objects.filter(
            organisation_id=organisation_id)
        parents = Feature.objects.filter(organisation_id=organisation_id).order_by("title")
        if feature is not None:
            parents = parents.exclude(pk=feature.pk)
        self.fields["parent"].queryset = parents
        self.fields["squad"].queryset = Squad.objects.filter(organisation_id=organisation_id)
        self.fields["owner"].queryset = Member.objects.filter(
            organisation_id=organisation_id, is_active=True).select_related("user").order_by(
            "user__full_name")
        self.fields["owner"].label_from_instance = lambda member: member.name
        self.driver_keys = []
        for driver in drivers or []:
            name = f"input_{driver['key']}"
            help_text = driver.get("help") or ""
            if driver.get("fallback"):
                help_text = f"{help_text} {_('Empty: computed from data.')}".strip()
            self.fields[name] = forms.CharField(
                label=driver["label"], required=False, max_length=30, help_text=help_text,
                widget=forms.TextInput(attrs={"inputmode": "decimal"}))
            self.driver_keys.append(driver["key"])

    def clean_effort(self) -> str:
        value = self.cleaned_data["effort"]
        try:
            parsing.parse_decimal(value)
        except ValueError as error:
            raise forms.ValidationError(_("Effort must be a number of person-weeks, e.g. 3 or "
                                          "2.5.")) from error
        return value

    def clean(self) -> dict:
        cleaned = super().clean()
        inputs = {}
        for key in self.driver_keys:
            raw = (cleaned.get(f"input_{key}") or "").strip()
            if not raw:
                continue
            try:
                number = parsing.parse_decimal(raw)
            except ValueError:
                self.add_error(f"input_{key}", _("Enter a number, e.g. 3 or 0.5."))
                continue
            inputs[key] = float(number)
        cleaned["score_inputs"] = inputs
        return cleaned

    def driver_fields(self) -> list:
        return [self[f"input_{key}"] for key in self.driver_keys]

    def service_values(self) -> dict:
        """The keyword arguments of ``feature_create`` / ``feature_update``."""
        data = self.cleaned_data
        return {name: data[name] for name in (
            "title", "description", "product_area", "parent", "squad", "owner", "status",
            "target_quarter", "effort", "delivery_url", "score_inputs") if name in data}


# --- Linking feedback (views/feature_page.py) -------------------------------------------------


class LinkForm(forms.Form):
    """Link one item (by id) to one feature, with its importance for that feature."""

    feedback = forms.CharField(required=False, widget=forms.HiddenInput)
    feature = forms.CharField(required=False, widget=forms.HiddenInput)
    importance = forms.ChoiceField(label=_("Importance"), choices=Importance.choices,
                                   initial=Importance.IMPORTANT)

    def clean_feedback(self) -> int | None:
        return parsing.parse_id(self.cleaned_data["feedback"])

    def clean_feature(self) -> int | None:
        return parsing.parse_id(self.cleaned_data["feature"])


class ImportanceForm(forms.Form):
    importance = forms.ChoiceField(label=_("Importance"), choices=Importance.choices)


class BulkLinkForm(forms.Form):
    """Link several inbox items to one feature."""

    ids = forms.CharField(error_messages={"required": _("Select at least one item.")})
    feature = forms.CharField(error_messages={"required": _("Choose a feature.")})
    importance = forms.ChoiceField(choices=[("", _("Their own importance")),
                                            *Importance.choices], required=False)

    def clean_ids(self) -> list[int]:
        return clean_selected_ids(self, limit=MAX_BULK_ITEMS)

    def clean_feature(self) -> int:
        number = parsing.parse_id(self.cleaned_data["feature"])
        if number is None:
            raise forms.ValidationError(_("Choose a feature."))
        return number


# --- Board (views/board.py) ---------------------------------------------------------------------


class MoveForm(forms.Form):
    """A manual move on the board: which feature, to which place, and why."""

    feature = forms.CharField(widget=forms.HiddenInput)
    position = forms.IntegerField(label=_("New place"), min_value=1, max_value=100_000)
    reason = forms.CharField(
        label=_("Why this place?"), max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _(
            "e.g. Blocking the renewal of our three largest accounts")}),
        error_messages={"required": _("Give the reason for this move: the team sees it on "
                                      "the board and in the feature's history.")})

    def clean_feature(self) -> int:
        number = parsing.parse_id(self.cleaned_data["feature"])
        if number is None:
            raise forms.ValidationError(_("Choose a feature."))
        return number

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if len(reason) < 3:
            raise forms.ValidationError(_("Give the reason for this move in a few words."))
        return reason


# --- Scoring frameworks (views/frameworks.py) ---------------------------------------------------


class FrameworkForm(forms.Form):
    """A framework: its name and kind; custom ones also have drivers and a formula."""

    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Framework"), choices=FrameworkKind.choices)
    formula = forms.CharField(
        label=_("Formula"), required=False, max_length=500,
        widget=forms.TextInput(attrs={"class": "formula", "autocomplete": "off",
                                      "spellcheck": "false"}),
        help_text=_("Driver names, numbers, + - * / **, parentheses, min, max, log, sqrt, abs. "
                    "A driver's name stands for its value times its weight."))


def drivers_from_post(data) -> list[dict]:
    """The drivers table of the editor (parallel lists of inputs), empty rows left out."""
    keys = data.getlist("driver_key")
    labels = data.getlist("driver_label")
    weights = data.getlist("driver_weight")
    sources = data.getlist("driver_source")
    defaults = data.getlist("driver_default")
    drivers = []
    for index, key in enumerate(keys[:50]):
        def at(values: list, i: int = index) -> str:
            return values[i].strip() if i < len(values) else ""
        if not (key.strip() or at(labels)):
            continue
        driver = {"key": key.strip(), "label": at(labels) or key.strip(),
                  "weight": at(weights) or "1", "source": at(sources) or "manual"}
        if at(defaults):
            driver["default"] = at(defaults)
        drivers.append(driver)
    return drivers


class CurrencyRateForm(forms.Form):
    currency = forms.CharField(label=_("Currency"), max_length=3)
    rate = forms.CharField(label=_("Rate"), max_length=30)
