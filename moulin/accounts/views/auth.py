"""Sign-in, sign-out, password reset and invitations: the pages reachable without a member."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from moulin.accounts import services
from moulin.accounts.audit import Origin
from moulin.accounts.forms import InvitationAcceptForm, SignInForm
from moulin.core import policy
from moulin.core.errors import DomainError

sign_in = policy.public("the sign-in page")(auth_views.LoginView.as_view(
    template_name="accounts/sign_in.html", authentication_form=SignInForm,
    redirect_authenticated_user=True,
))
sign_out = policy.public("signing out needs no permission")(auth_views.LogoutView.as_view())
class AuditedPasswordResetView(auth_views.PasswordResetView):
    def form_valid(self, form):
        services.user_password_event(email=form.cleaned_data["email"],
                                     action="auth.password_reset_requested",
                                     origin=Origin.from_request(self.request))
        return super().form_valid(form)


class AuditedPasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    def form_valid(self, form):
        response = super().form_valid(form)
        services.user_password_event(email=form.user.email, action="auth.password_changed",
                                     origin=Origin.from_request(self.request))
        return response


password_reset = policy.public("a forgotten password")(AuditedPasswordResetView.as_view(
    template_name="accounts/password_reset.html",
    email_template_name="accounts/email/password_reset.txt",
    subject_template_name="accounts/email/password_reset_subject.txt",
    success_url=reverse_lazy("accounts:password_reset_done"),
))
password_reset_done = policy.public("a forgotten password")(
    auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"))
password_reset_confirm = policy.public("a forgotten password")(
    AuditedPasswordResetConfirmView.as_view(
        template_name="accounts/password_reset_confirm.html",
        success_url=reverse_lazy("accounts:password_reset_complete"),
    ))
password_reset_complete = policy.public("a forgotten password")(
    auth_views.PasswordResetCompleteView.as_view(
        template_name="accounts/password_reset_complete.html"))


@policy.public("the invited person has no account yet")
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Join an organisation from an invitation link: choose a name and a password."""
    invitation = services.invitation_find(token)
    if invitation is None or invitation.status != "pending":
        return render(request, "accounts/invitation_invalid.html",
                      {"invitation": invitation}, status=410 if invitation else 404)
    form = InvitationAcceptForm(request.POST or None, email=invitation.email,
                                initial={"full_name": invitation.full_name})
    if request.method == "POST" and form.is_valid():
        try:
            member = services.invitation_accept(
                invitation=invitation, full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"], origin=Origin.from_request(request))
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            login(request, member.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome to %s!") % invitation.organisation.name)
            return redirect("accounts:home")
    return render(request, "accounts/invitation_accept.html",
                  {"form": form, "invitation": invitation},
                  status=422 if form.errors else 200)


@policy.public("anyone may choose the interface language")
@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Switch the interface language; a signed-in person's choice is saved to their profile."""
    language = request.POST.get("language", "")
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = "/"
    response = redirect(next_url)
    try:
        if request.user.is_authenticated:
            services.user_set_language(user=request.user, language=language)
        elif language not in dict(settings.LANGUAGES):
            raise DomainError(_("Unknown language."))
    except DomainError as error:
        messages.error(request, error.message)
        return response
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600,
                        samesite="Lax")
    return response
