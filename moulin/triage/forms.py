"""Forms of the triage pages. Business rules stay in services; forms shape what people type."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from moulin.core import parsing
from moulin.feedback.models import ProductArea
from moulin.triage.models import Theme
from moulin.triage.services.taxonomy import MAX_DESCRIPTION, MAX_NAME, ThemeInput


class ThemeForm(forms.Form):
    name_en = forms.CharField(label=_("Name (English)"), max_length=MAX_NAME, required=False)
    name_fr = forms.CharField(label=_("Name (French)"), max_length=MAX_NAME, required=False)
    product_area = forms.ModelChoiceField(label=_("Product area"), required=False,
                                          queryset=ProductArea.objects.none(),
                                          empty_label=_("No product area"))
    description = forms.CharField(label=_("Description"), max_length=MAX_DESCRIPTION,
                                  required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                  help_text=_("What belongs here, in a sentence: the model "
                                              "reads it."))
    examples = forms.CharField(label=_("Example phrases"), required=False,
                               max_length=20_000,  # 20 phrases of 300 characters, and room
                               widget=forms.Textarea(attrs={"rows": 4}),
                               help_text=_("One per line, in either language: how customers "
                                           "say it. A few are enough to start."))

    def __init__(self, *args, organisation_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product_area"].queryset = ProductArea.objects.filter(
            organisation_id=organisation_id).order_by("name")

    def clean(self) -> dict:
        cleaned = super().clean()
        if not parsing.clean_text(cleaned.get("name_en")) and \
                not parsing.clean_text(cleaned.get("name_fr")):
            self.add_error("name_en", _("Give the theme a name (in English, French or both)."))
        return cleaned

    def to_input(self) -> ThemeInput:
        data = self.cleaned_data
        area = data.get("product_area")
        return ThemeInput(name_en=data.get("name_en", ""), name_fr=data.get("name_fr", ""),
                          description=data.get("description", ""),
                          examples=data.get("examples", ""),
                          product_area_id=area.pk if area else None)

    @classmethod
    def initial_for(cls, theme: Theme) -> dict:
        return {"name_en": theme.name_en, "name_fr": theme.name_fr,
                "product_area": theme.product_area_id, "description": theme.description,
                "examples": "\n".join(theme.examples or [])}


class MergeForm(forms.Form):
    into = forms.ModelChoiceField(label=_("Merge into"), queryset=Theme.objects.none(),
                                  empty_label=_("Choose a theme…"))

    def __init__(self, *args, theme: Theme, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["into"].queryset = Theme.objects.filter(
            organisation_id=theme.organisation_id, archived_at=None).exclude(
            pk=theme.pk).order_by("name_en")


# The embedding models an organisation can choose (moulin/triage/engine/embedders.py).
EMBEDDER_CHOICES = [
    ("usem3", _("Multilingual (Universal Sentence Encoder): French, English and 14 other "
                "languages, fastest. Recommended.")),
    ("usem3+minilm", _("Multilingual + English MiniLM: more accurate on English feedback "
                       "(+3 points with few labels), about 4 times slower to embed.")),
    ("minilm", _("English only (MiniLM): for teams whose feedback is all in English.")),
]


class TriageSettingsForm(forms.Form):
    enabled = forms.BooleanField(label=_("Suggest themes for incoming feedback"),
                                 required=False)
    # Typed as a percentage, like the confidences shown beside each suggestion ("87 %");
    # the service, the database and the API keep a fraction (0.87).
    auto_apply_threshold = forms.DecimalField(
        label=_("Apply automatically from (confidence, %)"), min_value=50, max_value=100,
        max_digits=4, decimal_places=1,
        help_text=_("A confidence between 50% and 100%. At 100% nothing is applied "
                    "without review."),
        widget=forms.NumberInput(attrs={"step": "1", "inputmode": "decimal"}))

    def clean_auto_apply_threshold(self) -> float:
        """The percentage typed, as the fraction the service stores: 85 -> 0.85."""
        return float(self.cleaned_data["auto_apply_threshold"]) / 100

    @staticmethod
    def percent(threshold: float) -> float | int:
        """A stored fraction as the form shows it: 0.85 -> 85, 0.925 -> 92.5."""
        value = round(threshold * 100, 1)
        return int(value) if value == int(value) else value
    retrain_after = forms.IntegerField(
        label=_("Retrain after this many new labels"), min_value=1, max_value=100_000)
    embedder = forms.ChoiceField(
        label=_("Embedding model"), choices=EMBEDDER_CHOICES, required=False,
        help_text=_("Changing it re-embeds every item and retrains the model in the "
                    "background; similar-feedback lists are partial until that is done."))
