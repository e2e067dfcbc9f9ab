"""Forms of the back-office. Validation of business rules stays in services."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from moulin.accounts.audit import ACTION_GROUPS, ACTIONS
from moulin.accounts.models import ApiToken, Department, Member, Squad
from moulin.core import policy


class SignInForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("Email address"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        "invalid_login": _("That email address and password do not match. Check both, or "
                           "reset your password."),
        "inactive": _("This account is deactivated. Ask your administrator."),
    }


class OrganisationForm(forms.Form):
    name = forms.CharField(label=_("Organisation name"), max_length=200)
    language = forms.ChoiceField(label=_("Default language"), choices=settings.LANGUAGES)
    timezone_name = forms.ChoiceField(label=_("Time zone"))
    currency = forms.RegexField(
        label=_("Reporting currency"), regex=r"^[A-Za-z]{3}$", max_length=3,
        help_text=_("ISO 4217 code, e.g. EUR, USD, GBP. Every feature's ARR is converted "
                    "into it: after a change, check the currency rates (Scoring frameworks → "
                    "Currency rates), which are written in this currency."),
        error_messages={"invalid": _("Enter a three-letter ISO currency code such as EUR.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone_name"].choices = [
            (z, z) for z in sorted(zoneinfo.available_timezones()) if "/" in z]


class MemberForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=policy.Role.CHOICES)
    department = forms.ModelChoiceField(label=_("Department"), queryset=Department.objects.none())
    squads = forms.ModelMultipleChoiceField(label=_("Squads"), queryset=Squad.objects.none(),
                                            required=False,
                                            widget=forms.CheckboxSelectMultiple)
    job_title = forms.CharField(label=_("Job title"), max_length=120, required=False)

    def __init__(self, *args, organisation_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.filter(
            organisation_id=organisation_id)
        self.fields["squads"].queryset = Squad.objects.filter(organisation_id=organisation_id)


class InvitationForm(MemberForm):
    email = forms.EmailField(label=_("Email address"))
    full_name = forms.CharField(label=_("Full name"), max_length=150, required=False)
    field_order = ["email", "full_name", "role", "department", "squads"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["job_title"]


class InvitationAcceptForm(forms.Form):
    full_name = forms.CharField(label=_("Your full name"), max_length=150)
    password1 = forms.CharField(label=_("Choose a password"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                help_text=password_validation.password_validators_help_text_html)
    password2 = forms.CharField(label=_("Password again"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords differ. Type the same one twice."))
        elif p1:
            from moulin.accounts.models import User

            probe = User(email=self.email, full_name=data.get("full_name", ""))
            try:
                password_validation.validate_password(p1, probe)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


class DepartmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(label=_("Description"), max_length=300, required=False)


class SquadForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    mission = forms.CharField(label=_("Mission"), max_length=300, required=False)
    lead = forms.ModelChoiceField(label=_("Lead"), queryset=Member.objects.none(), required=False)

    def __init__(self, *args, organisation_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lead"].queryset = Member.objects.filter(
            organisation_id=organisation_id, is_active=True).select_related("user").order_by(
            "user__full_name")


class ProfileForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=150)
    language = forms.ChoiceField(
        label=_("Interface language"),
        choices=[("", _("Organisation default"))] + list(settings.LANGUAGES), required=False)


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=100,
                           help_text=_("What will use it, e.g. “Salesforce sync”."))
    scope = forms.ChoiceField(label=_("Scope"), choices=ApiToken.SCOPES, initial=ApiToken.READ)
    expires_in_days = forms.IntegerField(label=_("Expires after (days)"), required=False,
                                         min_value=1, max_value=3650,
                                         help_text=_("Leave empty for a token that does not "
                                                     "expire."))


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False)
    actor = forms.ModelChoiceField(label=_("Who"), queryset=Member.objects.none(),
                                   required=False)
    search = forms.CharField(label=_("Search"), required=False, max_length=100)
    date_from = forms.DateField(label=_("From"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, organisation_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        groups = sorted({key.split(".")[0] for key in ACTIONS})
        self.fields["action"].choices = [("", _("All actions"))] + [
            (group, f"{ACTION_GROUPS.get(group, group)} …") for group in groups
        ] + [(key, label) for key, label in ACTIONS.items()]
        self.fields["actor"].queryset = Member.objects.filter(
            organisation_id=organisation_id).select_related("user").order_by("user__full_name")

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return data
