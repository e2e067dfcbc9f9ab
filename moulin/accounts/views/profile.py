"""A member's own page: name, language, password, personal API tokens."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from moulin.accounts import selectors, services
from moulin.accounts.audit import Origin
from moulin.accounts.forms import ApiTokenForm, ProfileForm
from moulin.core import policy
from moulin.core.errors import DomainError
from moulin.core.views import render_form

# Every member may see the organisation directory, so "organisation: view" is the floor for
# the pages about oneself.
SELF = ("organisation", policy.Action.VIEW)


@policy.requires(*SELF)
def profile(request: HttpRequest) -> HttpResponse:
    """Change one's name and interface language."""
    user = request.user
    form = ProfileForm(request.POST or None,
                       initial={"full_name": user.full_name, "language": user.language})
    if request.method == "POST" and form.is_valid():
        user.full_name = form.cleaned_data["full_name"]
        user.language = form.cleaned_data["language"]
        user.save(update_fields=["full_name", "language"])
        messages.success(request, _("Your profile is saved."))
        return redirect("accounts:profile")
    return render_form(request, "accounts/profile.html", {"form": form},
                       invalid=bool(form.errors))


class AuditedPasswordChangeView(auth_views.PasswordChangeView):
    def form_valid(self, form):
        response = super().form_valid(form)
        services.user_password_event(email=form.user.email, action="auth.password_changed",
                                     origin=Origin.from_request(self.request))
        return response


password_change = policy.requires(*SELF)(AuditedPasswordChangeView.as_view(
    template_name="accounts/password_change.html",
    success_url=reverse_lazy("accounts:password_change_done"),
))
password_change_done = policy.requires(*SELF)(auth_views.PasswordChangeDoneView.as_view(
    template_name="accounts/password_change_done.html"))


@policy.requires(*SELF)
def token_list(request: HttpRequest) -> HttpResponse:
    """List one's API tokens and create a new one (its secret is shown once)."""
    member = request.member
    form = ApiTokenForm(request.POST or None)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        try:
            token, new_secret = services.api_token_create(
                actor=member, origin=Origin.from_request(request), **form.cleaned_data)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            form = ApiTokenForm()
            messages.success(request, _("Token “%s” created. Copy it now: it will not be shown "
                                        "again.") % token.name)
    context = {"form": form, "tokens": selectors.api_token_list(member=member),
               "new_secret": new_secret}
    return render_form(request, "accounts/token_list.html", context, invalid=bool(form.errors))


@policy.requires(*SELF)
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of one's tokens."""
    token = selectors.api_token_get(member=request.member, pk=pk)
    services.api_token_revoke(actor=request.member, origin=Origin.from_request(request),
                              token=token)
    messages.success(request, _("Token “%s” revoked.") % token.name)
    return redirect("accounts:token_list")
