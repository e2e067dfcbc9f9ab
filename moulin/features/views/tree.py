"""The feature tree: product areas → features → sub-features, with filters; the create and edit
forms. Each view: check access → validate → one service call → render."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from moulin.accounts.audit import Origin
from moulin.core import parsing, policy
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.core.views import render_form
from moulin.features import selectors, services
from moulin.features.forms import FeatureFilterForm, FeatureForm, quarter_choices
from moulin.features.models import Feature, FeatureStatus, FrameworkKind
from moulin.features.scoring import MANUAL, builtin

MODULE = "features"
OPEN_STATUSES = [FeatureStatus.IDEA, FeatureStatus.DISCOVERY, FeatureStatus.PLANNED,
                 FeatureStatus.IN_PROGRESS]


def tree_filters(form: FeatureFilterForm) -> selectors.FeatureFilters:
    """The selectors' filters from the filter form (invalid values stay as form errors)."""
    values = form.values()
    query = QueryDict(mutable=True)
    if values.get("q"):
        query["q"] = values["q"]
    if values.get("squad"):
        query["squad"] = str(values["squad"].pk)
    if values.get("area"):
        query["product_area"] = str(values["area"].pk)
    status = values.get("status")
    if status == "open":
        query.setlist("status", OPEN_STATUSES)
    elif status:
        query["status"] = status
    return selectors.FeatureFilters.from_query(query)


def manual_drivers(member) -> list[dict]:
    """The hand-entered drivers of the organisation's frameworks (standard first), once each."""
    drivers, seen = [], set()
    for framework in selectors.framework_list(member=member):
        own = framework.drivers if framework.kind == FrameworkKind.CUSTOM else \
            builtin(framework.kind)[0]
        for driver in own:
            if driver.get("source") == MANUAL and driver["key"] not in seen:
                seen.add(driver["key"])
                drivers.append(driver)
    return drivers


@policy.requires(MODULE, Action.VIEW)
def feature_list(request: HttpRequest) -> HttpResponse:
    """Every feature, grouped by product area, sub-features under their parent."""
    member = request.member
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    form = FeatureFilterForm(request.GET or None, organisation_id=member.organisation_id)
    services.demand_refresh_stale(organisation_id=member.organisation_id)
    areas = selectors.feature_tree(member=member, filters=tree_filters(form))
    services.scores_in_reader_language(organisation_id=member.organisation_id, features=[
        feature for area in areas for top in area.features
        for feature in (top, *top.sub_features)])
    context = {
        "form": form, "areas": areas,
        "total": sum(len(a.features) + sum(len(f.sub_features) for f in a.features)
                     for a in areas),
        "can_create": policy.can(member, MODULE, Action.CREATE),
        "currency": member.organisation.currency,
    }
    status = 422 if form.errors else 200
    if request.htmx and request.htmx.target == "feature-tree":
        return render(request, "features/_feature_tree.html", context, status=status)
    return render(request, "features/feature_list.html", context, status=status)


def _form_context(request: HttpRequest, form: FeatureForm, feature: Feature | None) -> dict:
    return {"form": form, "feature": feature, "quarters": quarter_choices()}


def _initial(feature: Feature) -> dict:
    initial = {name: getattr(feature, name) for name in (
        "title", "description", "status", "target_quarter", "delivery_url")}
    initial.update({"product_area": feature.product_area_id, "parent": feature.parent_id,
                    "squad": feature.squad_id, "owner": feature.owner_id,
                    "effort": "" if feature.effort is None else
                    f"{feature.effort.normalize():f}"})
    for key, value in (feature.score_inputs or {}).items():
        initial[f"input_{key}"] = f"{value:g}" if isinstance(value, float) else value
    return initial


@policy.requires(MODULE, Action.CREATE)
def feature_create(request: HttpRequest) -> HttpResponse:
    """A new feature (or sub-feature with ``?parent=<id>``). Members who may not change
    features (contributors) propose one without effort or scoring inputs."""
    member = request.member
    can_score = policy.can(member, MODULE, Action.CHANGE)
    drivers = manual_drivers(member) if can_score else []
    if request.method == "POST":
        form = FeatureForm(request.POST, organisation_id=member.organisation_id,
                           drivers=drivers, with_effort=can_score)
        if form.is_valid():
            try:
                feature = services.feature_create(actor=member, **form.service_values())
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None,
                               error.message)
            else:
                messages.success(request, _("Feature “%s” created.") % feature.title)
                return redirect("features:feature_detail", pk=feature.pk)
        return render_form(request, "features/feature_form.html",
                           _form_context(request, form, None), invalid=True)
    initial = {"status": FeatureStatus.IDEA}
    parent_id = parsing.parse_id(request.GET.get("parent", ""))
    if parent_id is not None:
        parent = selectors.feature_get(member=member, pk=parent_id)
        initial.update({"parent": parent.pk, "product_area": parent.product_area_id,
                        "squad": parent.squad_id})
    form = FeatureForm(initial=initial, organisation_id=member.organisation_id,
                       drivers=drivers, with_effort=can_score)
    return render(request, "features/feature_form.html", _form_context(request, form, None))


@policy.requires(MODULE, Action.CHANGE)
def feature_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a feature's fields and scoring inputs."""
    member = request.member
    feature = selectors.feature_get(member=member, pk=pk, action=Action.CHANGE)
    drivers = manual_drivers(member)
    if request.method == "POST":
        form = FeatureForm(request.POST, organisation_id=member.organisation_id,
                           feature=feature, drivers=drivers)
        if form.is_valid():
            values = form.service_values()
            # Inputs of drivers the form does not show (a deleted framework) are kept.
            values["score_inputs"] = {**{k: v for k, v in (feature.score_inputs or {}).items()
                                         if k not in form.driver_keys},
                                      **values["score_inputs"]}
            try:
                event = services.feature_update(actor=member, feature=feature, **values)
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None,
                               error.message)
            else:
                messages.success(request, _("Saved.") if event else _("Nothing changed."))
                return redirect("features:feature_detail", pk=feature.pk)
        return render_form(request, "features/feature_form.html",
                           _form_context(request, form, feature), invalid=True)
    form = FeatureForm(initial=_initial(feature), organisation_id=member.organisation_id,
                       feature=feature, drivers=drivers)
    return render(request, "features/feature_form.html", _form_context(request, form, feature))


@policy.requires(MODULE, Action.DELETE)
@require_POST
def feature_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete a feature with its links (refused while it has sub-features)."""
    member = request.member
    feature = selectors.feature_get(member=member, pk=pk, action=Action.DELETE)
    try:
        services.feature_delete(actor=member, feature=feature,
                                origin=Origin.from_request(request))
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("features:feature_detail", pk=feature.pk)
    messages.success(request, _("Feature “%s” deleted.") % feature.title)
    return redirect("features:feature_list")
