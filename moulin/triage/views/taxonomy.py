"""Triage pages: the taxonomy (product areas → themes), editing, archiving and merging themes."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from moulin.accounts.audit import Origin
from moulin.core import policy
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.core.views import render_form
from moulin.triage import selectors, services
from moulin.triage.forms import MergeForm, ThemeForm

MODULE = "feedback"


def _taxonomy_context(request: HttpRequest, form: ThemeForm | None = None) -> dict:
    member = request.member
    archived = request.GET.get("archived") == "1"
    can_manage = policy.can(member, MODULE, Action.CHANGE)
    # a training whose worker stopped is not announced as "retraining" for ever
    services.model_versions_close_stalled(organisation_id=member.organisation_id)
    return {
        "tree": selectors.taxonomy_tree(member=member, include_archived=archived),
        "show_archived": archived,
        "can_manage": can_manage,
        "form": form or (ThemeForm(organisation_id=member.organisation_id) if can_manage
                         else None),
        "version": selectors.model_version_list(member=member).filter(is_active=True).first(),
        "in_progress": selectors.model_version_in_progress(member=member),
    }


@policy.requires(MODULE, Action.VIEW)
@require_GET
def taxonomy(request: HttpRequest) -> HttpResponse:
    """Product areas and their themes, with how much feedback each holds."""
    return render_form(request, "triage/taxonomy.html", _taxonomy_context(request))


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def theme_create(request: HttpRequest) -> HttpResponse:
    """Add a theme (names, description, examples); the model retrains in the background."""
    member = request.member
    form = ThemeForm(request.POST, organisation_id=member.organisation_id)
    if form.is_valid():
        try:
            theme = services.theme_create(actor=member, origin=Origin.from_request(request),
                                          data=form.to_input())
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("Theme “%s” added: suggestions include it once the "
                                        "model has retrained (a few seconds).") % theme.name)
            return redirect("triage:taxonomy")
    return render_form(request, "triage/taxonomy.html", _taxonomy_context(request, form),
                       invalid=True)


def _edit_context(request: HttpRequest, theme, form=None, merge_form=None) -> dict:
    member = request.member
    return {
        "theme": theme,
        "form": form or ThemeForm(initial=ThemeForm.initial_for(theme),
                                  organisation_id=member.organisation_id),
        "merge_form": merge_form or MergeForm(theme=theme),
        "merged_themes": theme.merged_themes.order_by("name_en"),
        "item_count": selectors.theme_item_count(theme=theme),
    }


@policy.requires(MODULE, Action.CHANGE)
@require_http_methods(["GET", "HEAD", "POST"])
def theme_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a theme's names, area, description and examples; archive, restore or merge it."""
    member = request.member
    theme = selectors.theme_get(member=member, pk=pk, action=Action.CHANGE)
    if request.method != "POST":
        return render_form(request, "triage/theme_edit.html", _edit_context(request, theme))
    form = ThemeForm(request.POST, organisation_id=member.organisation_id)
    if form.is_valid():
        try:
            services.theme_update(actor=member, origin=Origin.from_request(request),
                                  theme=theme, data=form.to_input())
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("Theme “%s” saved.") % theme.name)
            return redirect("triage:taxonomy")
    return render_form(request, "triage/theme_edit.html", _edit_context(request, theme, form),
                       invalid=True)


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def theme_archive(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop suggesting a theme; it stays in filters and history."""
    theme = selectors.theme_get(member=request.member, pk=pk, action=Action.CHANGE)
    services.theme_archive(actor=request.member, origin=Origin.from_request(request),
                           theme=theme)
    messages.success(request, _("Theme “%s” archived: it is no longer suggested.") % theme.name)
    return redirect("triage:taxonomy")


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def theme_restore(request: HttpRequest, pk: int) -> HttpResponse:
    """Suggest an archived theme again."""
    theme = selectors.theme_get(member=request.member, pk=pk, action=Action.CHANGE)
    try:
        services.theme_restore(actor=request.member, origin=Origin.from_request(request),
                               theme=theme)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("triage:theme_edit", pk=theme.pk)
    messages.success(request, _("Theme “%s” restored.") % theme.name)
    return redirect("triage:taxonomy")


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def theme_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge a theme into another: its feedback moves over, it is kept as history."""
    member = request.member
    theme = selectors.theme_get(member=member, pk=pk, action=Action.CHANGE)
    form = MergeForm(request.POST, theme=theme)
    if form.is_valid():
        into = form.cleaned_data["into"]
        try:
            services.theme_merge(actor=member, origin=Origin.from_request(request), theme=theme,
                                 into=into)
        except DomainError as error:
            form.add_error("into", error.message)
        else:
            messages.success(request, _("“%(theme)s” merged into “%(into)s”.")
                             % {"theme": theme.name, "into": into.name})
            return redirect("triage:taxonomy")
    return render_form(request, "triage/theme_edit.html",
                       _edit_context(request, theme, merge_form=form), invalid=True)
