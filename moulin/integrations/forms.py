"""Forms of the integration settings pages. Business rules (a secret for signing vendors,
unique names) are checked by the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from moulin.integrations.models import Vendor

SECRET_HELP = _("The secret the vendor signs its requests with: Intercom's app client secret, "
                "the Zendesk webhook's signing secret, the HubSpot app's client secret, or "
                "Slack's signing secret. Optional for inbound email (a shared secret).")


class IntegrationCreateForm(forms.Form):
    vendor = forms.ChoiceField(label=_("Tool"), choices=Vendor.choices,
                               widget=forms.RadioSelect)
    name = forms.CharField(label=_("Name"), max_length=100,
                           help_text=_("For you, e.g. “Support Intercom” or “Sales Slack”."))
    signing_secret = forms.CharField(
        label=_("Signing secret"), max_length=200, required=False, help_text=SECRET_HELP,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}))


class IntegrationUpdateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    signing_secret = forms.CharField(
        label=_("New signing secret"), max_length=200, required=False,
        help_text=_("Leave empty to keep the current secret."),
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}))
