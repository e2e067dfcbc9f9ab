"""Form helpers shared by every domain app."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _

from moulin.core import parsing


def clean_selected_ids(form: forms.Form, field: str = "ids", *, limit: int) -> list[int]:
    """The ids ticked in a list (one value per checkbox, or comma-separated), de-duplicated in
    order; a clear error for a forged id, an empty selection or more than ``limit``."""
    raw = (form.data.getlist(field) if hasattr(form.data, "getlist")
           else [form.cleaned_data[field]])
    ids = []
    for part in ",".join(raw).split(","):
        if not part.strip():
            continue
        number = parsing.parse_id(part)
        if number is None:
            raise forms.ValidationError(_("The selection is not valid: reload the page."))
        ids.append(number)
    if not ids:
        raise forms.ValidationError(_("Select at least one item."))
    if len(ids) > limit:
        raise forms.ValidationError(_("At most %d items at once.") % limit)
    return list(dict.fromkeys(ids))


def select_options(choices, selected, empty: str | None = None) -> list[dict]:
    """A select's options; several chosen values (from a saved view or a link) show as one
    extra option, e.g. "New, Triaged" = ``new,triaged``."""
    values = [str(v) for v in selected] if isinstance(selected, list | tuple) else \
        ([] if selected in (None, "") else [str(selected)])
    labels = {str(value): label for value, label in choices}
    options = [] if empty is None else [{"value": "", "label": empty, "selected": not values}]
    options += [{"value": value, "label": label, "selected": values == [value]}
                for value, label in labels.items()]
    if len(values) > 1 or (values and values[0] not in labels):
        options.append({"value": ",".join(values), "selected": True,
                        "label": ", ".join(str(labels.get(v, v)) for v in values)})
    return options
