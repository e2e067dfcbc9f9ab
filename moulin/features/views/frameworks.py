"""Scoring frameworks: the list (and which one is the organisation's standard), the editor of
a framework with its drivers table and formula, checked live as Product Ops type (htmx posts
the form to ``framework_check``, which answers the backend's verdict), and currency rates."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from moulin.accounts.audit import Origin
from moulin.core import policy
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.core.views import render_form
from moulin.features import selectors, services
from moulin.features.forms import CurrencyRateForm, FrameworkForm, drivers_from_post
from moulin.features.models import FrameworkKind, ScoringFramework
from moulin.features.scoring import DATA_SOURCES, MANUAL, builtin

MODULE = "features"
BLANK_ROWS = 1


def _sources() -> list[tuple[str, str]]:
    return [(MANUAL, _("Entered by hand")),
            *[(key, str(label)) for key, label in DATA_SOURCES.items()]]


def _drivers_of(framework: ScoringFramework) -> list[dict]:
    if framework.kind == FrameworkKind.CUSTOM:
        return framework.drivers
    return builtin(framework.kind)[0]


def _formula_of(framework: ScoringFramework) -> str:
    if framework.kind == FrameworkKind.CUSTOM:
        return framework.formula
    return builtin(framework.kind)[1]


@policy.requires(MODULE, Action.VIEW)
def framework_list(request: HttpRequest) -> HttpResponse:
    """The frameworks, the standard first; Product Ops choose the standard here."""
    member = request.member
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    services.framework_standard(organisation_id=member.organisation_id)  # RICE on first use
    sources = dict(_sources())
    frameworks = [{"framework": f, "formula": _formula_of(f), "drivers": [
        {**d, "source_label": sources.get(d.get("source"), d.get("source"))}
        for d in _drivers_of(f)]} for f in selectors.framework_list(member=member)]
    return render(request, "features/framework_list.html", {
        "frameworks": frameworks, "can_change": policy.can(member, MODULE, Action.CHANGE),
        "rates": selectors.currency_rate_list(member=member),
        "currency": member.organisation.currency, "rate_form": CurrencyRateForm()})


def check_context(check, formula: str) -> dict:
    """The editor's verdict, with the formula split around the faulty character."""
    context = {"check": check, "formula": formula}
    if check is not None and not check.ok and check.position:
        at = max(0, min(len(formula), check.position - 1))
        context.update({"formula_before": formula[:at], "formula_at": formula[at:at + 1],
                        "formula_after": formula[at + 1:]})
    return context


def _editor_context(form: FrameworkForm, drivers: list[dict], framework=None,
                    check=None, formula: str = "") -> dict:
    rows = [{"key": d.get("key", ""), "label": d.get("label", ""),
             "weight": d.get("weight", 1), "source": d.get("source", MANUAL),
             "default": d.get("default", "")} for d in drivers]
    rows += [{"key": "", "label": "", "weight": 1, "source": MANUAL, "default": ""}
             for _blank in range(BLANK_ROWS)]
    return {"form": form, "drivers": rows, "framework": framework,
            **check_context(check, formula.strip()), "sources": _sources(),
            "builtin": {kind: {"formula": builtin(kind)[1], "drivers": builtin(kind)[0]}
                        for kind in ("rice", "ice", "wsjf", "value_effort")}}


def _save(request: HttpRequest, framework: ScoringFramework | None) -> HttpResponse:
    member = request.member
    form = FrameworkForm(request.POST)
    drivers = drivers_from_post(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        custom = data["kind"] == FrameworkKind.CUSTOM
        try:
            if framework is None:
                framework = services.framework_create(
                    actor=member, kind=data["kind"], name=data["name"],
                    drivers=drivers if custom else None,
                    formula=data["formula"] if custom else "",
                    make_standard=bool(request.POST.get("make_standard")),
                    origin=Origin.from_request(request))
            else:
                services.framework_update(
                    actor=member, framework=framework, name=data["name"],
                    drivers=drivers if framework.kind == FrameworkKind.CUSTOM else None,
                    formula=data["formula"] if framework.kind == FrameworkKind.CUSTOM
                    else None, origin=Origin.from_request(request))
        except DomainError as error:
            field = error.field if error.field in form.fields else None
            if error.field == "drivers":
                field = None
            form.add_error(field, error.message)
        else:
            messages.success(request, _("Framework “%s” saved.") % framework.name)
            return redirect("features:framework_list")
    check = services.framework_check(organisation_id=member.organisation_id,
                                     kind=request.POST.get("kind", ""), drivers=drivers,
                                     formula=request.POST.get("formula", ""))
    return render_form(request, "features/framework_form.html",
                       _editor_context(form, drivers, framework, check,
                                       request.POST.get("formula", "")), invalid=True)


@policy.requires(MODULE, Action.CHANGE)
def framework_create(request: HttpRequest) -> HttpResponse:
    """A new framework: a built-in one, or a custom formula with its drivers."""
    if request.method == "POST":
        return _save(request, None)
    kind = request.GET.get("kind", FrameworkKind.CUSTOM)
    if kind not in FrameworkKind.values:
        kind = FrameworkKind.CUSTOM
    form = FrameworkForm(initial={"kind": kind})
    return render(request, "features/framework_form.html", _editor_context(form, []))


@policy.requires(MODULE, Action.CHANGE)
def framework_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Rename a framework; change a custom one's drivers and formula."""
    framework = selectors.framework_get(member=request.member, pk=pk, action=Action.CHANGE)
    if request.method == "POST":
        return _save(request, framework)
    form = FrameworkForm(initial={"name": framework.name, "kind": framework.kind,
                                  "formula": _formula_of(framework)})
    check = services.framework_check(organisation_id=framework.organisation_id,
                                     kind=framework.kind, drivers=framework.drivers,
                                     formula=framework.formula)
    return render(request, "features/framework_form.html",
                  _editor_context(form, _drivers_of(framework), framework, check,
                                  framework.formula))


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def framework_check(request: HttpRequest) -> HttpResponse:
    """The live verdict on the formula being typed: the error and where it is, or how the
    organisation's features would score."""
    formula = request.POST.get("formula", "")
    check = services.framework_check(organisation_id=request.member.organisation_id,
                                     kind=request.POST.get("kind", ""),
                                     drivers=drivers_from_post(request.POST), formula=formula)
    return render(request, "features/_formula_check.html", check_context(check, formula.strip()))


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def framework_set_standard(request: HttpRequest, pk: int) -> HttpResponse:
    """Make a framework the organisation's standard (every feature is rescored)."""
    member = request.member
    framework = selectors.framework_get(member=member, pk=pk, action=Action.CHANGE)
    try:
        services.framework_set_standard(actor=member, framework=framework,
                                        origin=Origin.from_request(request))
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("“%s” is now the organisation's standard: every feature "
                                    "was rescored.") % framework.name)
    return redirect("features:framework_list")


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def framework_delete(request: HttpRequest, pk: int) -> HttpResponse:
    member = request.member
    framework = selectors.framework_get(member=member, pk=pk, action=Action.CHANGE)
    try:
        services.framework_delete(actor=member, framework=framework,
                                  origin=Origin.from_request(request))
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Framework “%s” deleted.") % framework.name)
    return redirect("features:framework_list")


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def currency_rate_save(request: HttpRequest) -> HttpResponse:
    """Set the rate of a currency into the organisation's reporting currency."""
    member = request.member
    form = CurrencyRateForm(request.POST)
    if form.is_valid():
        try:
            rate = services.currency_rate_set(actor=member, currency=form.cleaned_data["currency"],
                                              rate=form.cleaned_data["rate"],
                                              origin=Origin.from_request(request))
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("1 %(currency)s = %(rate)s %(base)s: demand recomputed.")
                             % {"currency": rate.currency, "rate": rate.rate.normalize(),
                                "base": member.organisation.currency})
    else:
        messages.error(request, _("Give a currency code (e.g. USD) and its rate (e.g. 0.92)."))
    return redirect("features:framework_list")


@policy.requires(MODULE, Action.CHANGE)
@require_POST
def currency_rate_delete(request: HttpRequest, pk: int) -> HttpResponse:
    member = request.member
    rate = selectors.currency_rate_list(member=member).filter(pk=pk).first()
    if rate is None:
        raise Http404
    services.currency_rate_delete(actor=member, rate=rate, origin=Origin.from_request(request))
    messages.success(request, _("Rate of %s removed.") % rate.currency)
    return redirect("features:framework_list")
