"""Forms of the import wizard (views/imports.py): the upload, and the column mapping."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from moulin.feedback.import_columns import TARGET_FIELDS
from moulin.feedback.models import ImportJob, ImportKind


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("The file lists"), choices=ImportKind.choices,
                             widget=forms.RadioSelect)
    source_name = forms.CharField(
        label=_("Source"), max_length=100, required=False,
        help_text=_("Where the file comes from, e.g. “Zendesk export”. The column mapping is "
                    "remembered for the next file from the same source."),
        widget=forms.TextInput(attrs={"list": "import-sources", "autocomplete": "off"}))
    file = forms.FileField(label=_("File"), allow_empty_file=True,
                           widget=forms.ClearableFileInput(attrs={
                               "accept": ".csv,.tsv,.txt,.xlsx,text/csv,application/vnd."
                                         "openxmlformats-officedocument.spreadsheetml.sheet"}))

    def __init__(self, *args, kinds: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        # Only the kinds the member may import are offered; another one posted anyway is
        # refused by the service (403), not silently ignored.
        self.fields["kind"].widget.choices = [(key, label) for key, label in
                                              ImportKind.choices if key in kinds]
        self.fields["file"].help_text = _(
            "CSV (comma, semicolon, tab or pipe; UTF-8, UTF-16 or Windows encodings) or "
            "Excel .xlsx (first sheet), up to %s. The first row holds the column names."
        ) % filesizeformat(settings.IMPORT_MAX_BYTES)


class ImportMappingForm(forms.Form):
    """One select per field the import can fill, listing the file's columns."""

    def __init__(self, *args, job: ImportJob, mapping: dict[str, str],
                 samples: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        samples = samples or {}
        choices = [("", _("— not imported —")),
                   *[(c, f"{c} — {samples[c]}" if c in samples else c) for c in job.columns]]
        self.targets = TARGET_FIELDS[job.kind]
        for target in self.targets:
            self.fields[target.key] = forms.ChoiceField(
                label=target.label, choices=choices, required=target.required,
                initial=mapping.get(target.key, ""),
                error_messages={"required": _("Choose the column that holds this field.")})

    def current_mapping(self) -> dict[str, str]:
        """The mapping as submitted (valid or not) or as offered."""
        if self.is_bound:
            return {t.key: self.data.get(t.key, "") for t in self.targets}
        return {t.key: self.initial.get(t.key, self.fields[t.key].initial) or ""
                for t in self.targets}

    def mapping(self) -> dict[str, str]:
        return {t.key: self.cleaned_data.get(t.key, "") for t in self.targets}
