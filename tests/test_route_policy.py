"""The route audit: every page and API operation declares its policy, and answers by it.

Each HTML view and API operation is wrapped by ``policy.requires(module, action)`` (or marked
``policy.public(reason)``). The first two tests walk the URL resolver and the API's routers: a
new route without a declaration fails them. The matrices then call every route as each persona
(five members of Acme Treasury, an administrator of another organisation, an anonymous visitor)
and compute the expected answer from the declaration and ``policy.can``:

- anonymous: redirected to sign-in (pages), 401 (API);
- a member the policy refuses: 403;
- the other organisation's administrator naming one of our objects: 404; elsewhere they get
  their own organisation's page, with no trace of ours;
- a member the policy allows: the page (200), the action (POST-only views), the API answer.

An empty form is also posted to every other page: writing may need more than reading
(``WRITES_NEED``), and a refused member must get 403 there too. Public pages must never fail.

A route that takes URL arguments needs a sample in ``SAMPLE_KWARGS`` (pages) or
``API_SAMPLE_PATH_PARAMS`` (API); an API write needs a valid body in ``API_SAMPLE_BODIES``.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.contrib import admin as django_admin
from django.contrib.auth.tokens import default_token_generator
from django.contrib.staticfiles import views as staticfiles_views
from django.core.cache import cache
from django.http import HttpResponse
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.views import static
from ninja.operation import Operation, PathView
from ninja.utils import normalize_path

from moulin.accounts import services
from moulin.accounts.audit import CLI
from moulin.accounts.models import Department, Invitation, Member, Organisation, Squad
from moulin.config.api import api
from moulin.core import policy
from moulin.customers import services as customer_services
from moulin.feedback import services as feedback_services
from moulin.feedback.models import Feedback, ImportJob
from moulin.integrations import services as integration_services
from moulin.integrations.models import DeliveryStatus, Integration, WebhookDelivery
from moulin.triage.models import EmergingCluster, JobStatus, TriageJob
from tests.builders import department, make_squad

FIX = "decorate it with policy.requires(module, action) or policy.public(reason)"

# --- Every route the project serves ---------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # "accounts:member_edit"; empty for an unnamed pattern
    route: str  # "members/<int:pk>/"
    namespace: str
    view: Callable

    @property
    def label(self) -> str:
        return self.name or f"/{self.route}"

    @property
    def declared_policy(self) -> tuple[str, str] | None:
        return getattr(self.view, "moulin_policy", None)

    @property
    def public_reason(self) -> str | None:
        return getattr(self.view, "moulin_public", None)


def url_routes(resolver: URLResolver | None = None, prefix: str = "",
               namespace: str = "") -> Iterator[Route]:
    """Every URL pattern under the root resolver, with its full route and namespace."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(part for part in (namespace, entry.namespace) if part)
            yield from url_routes(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = ":".join(part for part in (namespace, entry.name) if part) if entry.name \
                else ""
            yield Route(name=name, route=prefix + str(entry.pattern), namespace=namespace,
                        view=entry.callback)


# Not audited here, and why:
ADMIN_NAMESPACE = django_admin.site.name  # superusers only, behind the admin's own staff checks
FILE_SERVERS = {static.serve, staticfiles_views.serve}  # static and media files (dev only)
API_NAMESPACE = api.urls_namespace  # its operations are audited one by one further down

# The pages ninja serves next to the operations: public by design.
API_PUBLIC_PAGES = {
    "api:openapi-json": "the API schema: it describes the routes, never any organisation's data",
    "api:openapi-view": "the API documentation page, rendered from that schema",
    "api:api-root": "ninja's root marker: it always answers 404 and only lets ninja reverse "
                    "its URLs",
}


def in_namespace(route: Route, namespace: str) -> bool:
    return route.namespace == namespace or route.namespace.startswith(f"{namespace}:")


def path_view_of(route: Route) -> PathView | None:
    """The ninja PathView a URL pattern dispatches to (operations read from its closure)."""
    for cell in getattr(route.view, "__closure__", None) or ():
        try:
            contents = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(contents, PathView):
            return contents
    return None


ALL_ROUTES = list(url_routes())
SITE_ROUTES = [r for r in ALL_ROUTES if not in_namespace(r, ADMIN_NAMESPACE)
               and not in_namespace(r, API_NAMESPACE) and r.view not in FILE_SERVERS]
GUARDED_PAGES = {r.label: r for r in SITE_ROUTES if r.declared_policy}
PUBLIC_PAGES = {r.label: r for r in SITE_ROUTES if r.public_reason and not r.declared_policy}
PUBLIC_PAGES |= {r.label: r for r in ALL_ROUTES if r.name in API_PUBLIC_PAGES}


# --- Every API operation --------------------------------------------------------------------


@dataclass(frozen=True)
class ApiOperation:
    method: str
    path: str  # "members/{member_id}", relative to the API root
    operation: Operation

    @property
    def label(self) -> str:
        return f"{self.method} {API_ROOT}{self.path}"

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{(?:\w+:)?(\w+)\}", self.path)


API_ROOT = reverse("api:api-root")


def api_path_views() -> Iterator[tuple[str, PathView]]:
    # The bound routers are what the API serves: every router, nested ones included, with the
    # operations as mounted (router decorators applied).
    for router in api._get_bound_routers():
        for path, path_view in router.path_operations.items():
            yield normalize_path("/".join([router.prefix, path])).lstrip("/"), path_view


API_OPERATIONS = {
    op.label: op
    for path, path_view in api_path_views()
    for operation in path_view.operations
    for op in [ApiOperation(method, path, operation) for method in operation.methods]
}


# --- 1 and 2: declarations ------------------------------------------------------------------


def test_every_url_declares_a_policy():
    served_by_audited_operations = {id(path_view) for _path, path_view in api_path_views()}
    undeclared = []
    for route in ALL_ROUTES:
        if in_namespace(route, ADMIN_NAMESPACE) or route.view in FILE_SERVERS:
            continue
        if in_namespace(route, API_NAMESPACE):
            path_view = path_view_of(route)
            if route.name in API_PUBLIC_PAGES or (
                    path_view is not None and id(path_view) in served_by_audited_operations):
                continue
            undeclared.append(f"{route.label} (/{route.route}): an API URL that is neither an "
                              "operation of moulin.config.api.api nor in API_PUBLIC_PAGES")
            continue
        if route.declared_policy or route.public_reason:
            continue
        undeclared.append(f"{route.label} (/{route.route}) → {route.view.__module__}."
                          f"{route.view.__qualname__}: {FIX}")
    assert not undeclared, "Routes without a permission policy:\n" + "\n".join(undeclared)

    api_names = {r.name for r in ALL_ROUTES if in_namespace(r, API_NAMESPACE)}
    assert set(API_PUBLIC_PAGES) <= api_names, "Remove stale API_PUBLIC_PAGES entries: " \
        f"{sorted(set(API_PUBLIC_PAGES) - api_names)}"


def test_every_api_operation_declares_a_policy():
    assert API_OPERATIONS, "No API operation found: has the router discovery changed?"
    undeclared = [
        f"{op.label} → {op.operation.view_func.__module__}."
        f"{op.operation.view_func.__qualname__}: decorate it with "
        "policy.requires(module, action) (API operations are never public)"
        for op in API_OPERATIONS.values()
        if not getattr(op.operation.view_func, "moulin_policy", None)
    ]
    assert not undeclared, "API operations without a permission policy:\n" + "\n".join(undeclared)


def test_matrix_samples_name_real_routes():
    stale = (set(SAMPLE_KWARGS) | POST_ONLY | set(WRITES_NEED)) - {r.name for r in SITE_ROUTES}
    assert not stale, f"SAMPLE_KWARGS, POST_ONLY or WRITES_NEED name routes that no longer " \
                      f"exist: {stale}"
    api_params = {param for op in API_OPERATIONS.values() for param in op.path_params}
    assert set(API_SAMPLE_PATH_PARAMS) <= api_params, "Stale API_SAMPLE_PATH_PARAMS entries"
    assert set(API_SAMPLE_BODIES) <= set(API_OPERATIONS), "Stale API_SAMPLE_BODIES entries"
    without_body = API_BODIES_NAMING_OUR_OBJECTS - set(API_SAMPLE_BODIES)
    assert not without_body, f"API_BODIES_NAMING_OUR_OBJECTS without a sample: {without_body}"


# --- What the routes point at ---------------------------------------------------------------

PERSONAS = ["admin", "product_ops", "pm", "cs_contributor", "sales_viewer", "outsider",
            "anonymous"]


@dataclass
class Acme:
    """Objects of the main organisation that sample URLs and bodies point at."""

    organisation: Organisation
    admin: Member
    pm: Member
    cs_contributor: Member
    squad: Squad
    empty_department: Department
    invitation: Invitation  # pending, with its raw_token

    def owns(self, member: Member | None) -> bool:
        return member is not None and member.organisation_id == self.organisation.pk

    def token_of(self, actor: Member | None) -> int:
        """A token of the actor; the outsider is handed one of ours (never theirs to revoke)."""
        owner = actor if self.owns(actor) else self.admin
        token, _secret = services.api_token_create(actor=owner, origin=CLI, name="sample",
                                                   scope="read")
        return token.pk

    def traces(self) -> list[str]:
        """Strings that must never show on another organisation's pages or API answers."""
        members = [self.admin, self.pm, self.cs_contributor]
        return [self.organisation.name, self.squad.name, self.invitation.email,
                *(m.user.email for m in members), *(m.user.full_name for m in members)]


@pytest.fixture
def acme(organisation, admin, pm, cs_contributor) -> Acme:
    invitation = services.invitation_send(
        actor=admin, origin=CLI, email="invitee@acme.test", full_name="Ivy Invitee",
        role=policy.Role.CONTRIBUTOR, department=department(organisation, "sales"), squads=[],
        base_url="http://testserver/")
    return Acme(organisation=organisation, admin=admin, pm=pm, cs_contributor=cs_contributor,
                squad=make_squad(organisation, "Acme Payments Squad"),
                empty_department=department(organisation, "marketing"), invitation=invitation)


def password_reset_kwargs(member: Member) -> dict:
    user = member.user
    return {"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user)}


def acme_integration(acme: Acme) -> Integration:
    return integration_services.integration_create(
        actor=acme.admin, origin=CLI, vendor="zendesk", name="Acme Zendesk",
        signing_secret="zendesk-secret")


def acme_failed_delivery(acme: Acme) -> int:
    return WebhookDelivery.objects.create(
        integration=acme_integration(acme), status=DeliveryStatus.FAILED, body="{}",
        error="Nothing could be imported.").pk


# URL arguments per route name, built for the acting persona (None when anonymous). They
# always name objects of Acme Treasury, so the outsider must get 404 on these routes.
SAMPLE_KWARGS: dict[str, Callable[[Acme, Member | None], dict]] = {
    "accounts:member_edit": lambda acme, actor: {"pk": acme.cs_contributor.pk},
    "accounts:member_set_active": lambda acme, actor: {"pk": acme.cs_contributor.pk},
    "accounts:invitation_revoke": lambda acme, actor: {"pk": acme.invitation.pk},
    "accounts:department_edit": lambda acme, actor: {"pk": acme.empty_department.pk},
    "accounts:department_delete": lambda acme, actor: {"pk": acme.empty_department.pk},
    "accounts:squad_edit": lambda acme, actor: {"pk": acme.squad.pk},
    "accounts:squad_delete": lambda acme, actor: {"pk": acme.squad.pk},
    "accounts:token_revoke": lambda acme, actor: {"pk": acme.token_of(actor)},
    "accounts:invitation_accept": lambda acme, actor: {"token": acme.invitation.raw_token},
    "accounts:password_reset_confirm": lambda acme, actor: password_reset_kwargs(
        acme.cs_contributor),
    "feedback:import_mapping": lambda acme, actor: {"pk": acme_import_job(acme)},
    "feedback:import_detail": lambda acme, actor: {"pk": acme_import_job(acme)},
    "feedback:import_progress": lambda acme, actor: {"pk": acme_import_job(acme)},
    "feedback:import_cancel": lambda acme, actor: {"pk": acme_import_job(acme)},
    "feedback:import_rerun": lambda acme, actor: {"pk": acme_import_job(acme)},
    "feedback:import_errors_csv": lambda acme, actor: {"pk": acme_import_job(acme)},
    "customers:customer_detail": lambda acme, actor: {"pk": acme_customer(acme)},
    "feedback:contact_erase": lambda acme, actor: {"pk": acme_contact(acme)},
    "integrations:hook_receive": lambda acme, actor: {"url_key": acme_integration(acme).url_key},
    "integrations:hook_receive_mime": lambda acme, actor: {
        "url_key": acme_integration(acme).url_key},
    "integrations:integration_detail": lambda acme, actor: {"pk": acme_integration(acme).pk},
    "integrations:integration_set_enabled": lambda acme, actor: {
        "pk": acme_integration(acme).pk},
    "integrations:integration_rotate_url_key": lambda acme, actor: {
        "pk": acme_integration(acme).pk},
    "integrations:delivery_retry": lambda acme, actor: {"pk": acme_failed_delivery(acme)},
    "feedback:detail": lambda acme, actor: {"pk": acme_feedback(acme)},
    "feedback:triage": lambda acme, actor: {"pk": acme_feedback(acme)},
    "feedback:saved_view_delete": lambda acme, actor: {"pk": acme_saved_view(acme, actor)},
    "triage:similar_panel": lambda acme, actor: {"pk": acme_feedback(acme)},
    "triage:theme_edit": lambda acme, actor: {"pk": acme_theme(acme)},
    "triage:theme_archive": lambda acme, actor: {"pk": acme_theme(acme)},
    "triage:theme_restore": lambda acme, actor: {"pk": acme_theme(acme)},
    "triage:theme_merge": lambda acme, actor: {"pk": acme_theme(acme)},
    "triage:feedback_themes": lambda acme, actor: {"pk": acme_feedback(acme)},
    "triage:feedback_theme_decide": lambda acme, actor: {"pk": acme_feedback(acme)},
    "triage:model_version_detail": lambda acme, actor: {"pk": acme_model_version(acme)},
    "triage:model_version_progress": lambda acme, actor: {"pk": acme_model_version(acme)},
    "triage:model_activate": lambda acme, actor: {"pk": acme_model_version(acme)},
    "triage:feedback_merge": lambda acme, actor: {"pk": acme_feedback(acme)},
    "triage:feedback_unmerge": lambda acme, actor: {"pk": acme_merged_feedback(acme)},
    "triage:emerging_progress": lambda acme, actor: {"pk": acme_cluster(acme).job_id},
    "triage:emerging_convert": lambda acme, actor: {"pk": acme_cluster(acme).pk},
    "triage:emerging_dismiss": lambda acme, actor: {"pk": acme_cluster(acme).pk},
    "triage:emerging_assign": lambda acme, actor: {"pk": acme_cluster(acme).pk},
    "features:feature_detail": lambda acme, actor: {"pk": acme_feature(acme)},
    "features:feature_edit": lambda acme, actor: {"pk": acme_feature(acme)},
    "features:feature_delete": lambda acme, actor: {"pk": acme_feature(acme)},
    "features:feature_why": lambda acme, actor: {"pk": acme_feature(acme)},
    "features:link_search": lambda acme, actor: {"pk": acme_feature(acme)},
    "features:link_add": lambda acme, actor: {"pk": acme_feature(acme)},
    "features:link_group": lambda acme, actor: {"pk": acme_feature(acme)},
    "features:link_importance": lambda acme, actor: acme_feature_link(acme),
    "features:link_remove": lambda acme, actor: acme_feature_link(acme),
    "features:feedback_panel": lambda acme, actor: {"feedback_pk": acme_feedback(acme)},
    "features:feedback_link": lambda acme, actor: {"feedback_pk": acme_feedback(acme)},
    "features:feedback_unlink": lambda acme, actor: {"feedback_pk": acme_feedback(acme),
                                                     "feature_pk": acme_feature(acme)},
    "features:board_unpin": lambda acme, actor: {"pk": acme_feature(acme)},
    "features:framework_edit": lambda acme, actor: {"pk": acme_framework(acme)},
    "features:framework_set_standard": lambda acme, actor: {"pk": acme_framework(acme)},
    "features:framework_delete": lambda acme, actor: {"pk": acme_framework(acme)},
    "features:currency_rate_delete": lambda acme, actor: {"pk": acme_currency_rate(acme)},
}

# Views that only accept POST (``require_POST``): the matrix posts an empty form to them.
POST_ONLY = {
    "accounts:member_set_active", "accounts:invitation_revoke", "accounts:department_delete",
    "accounts:squad_delete", "accounts:token_revoke", "accounts:permissions_reset",
    "feedback:import_cancel", "feedback:import_rerun", "feedback:contact_erase",
    "integrations:integration_set_enabled", "integrations:integration_rotate_url_key",
    "integrations:delivery_retry",
    "feedback:bulk_action", "feedback:undo", "feedback:triage", "feedback:saved_view_save",
    "feedback:saved_view_delete",
    "triage:feedback_merge", "triage:feedback_unmerge", "triage:emerging_run",
    "triage:theme_create", "triage:theme_archive", "triage:theme_restore", "triage:theme_merge",
    "triage:feedback_theme_decide", "triage:model_retrain", "triage:model_activate",
    "triage:triage_settings", "triage:backfill",
    "triage:emerging_convert", "triage:emerging_dismiss", "triage:emerging_assign",
    "features:feature_delete", "features:link_add", "features:link_group",
    "features:link_importance", "features:link_remove", "features:feedback_link",
    "features:feedback_unlink", "features:inbox_link", "features:board_move",
    "features:board_unpin", "features:framework_check", "features:framework_set_standard",
    "features:framework_delete", "features:currency_rate_save", "features:currency_rate_delete",
}
# What an allowed POST may answer: done (redirect), re-rendered, or a validation error.
ACTION_TAKEN = {200, 302, 422}


def url_for(route: Route, acme: Acme, actor: Member | None) -> str:
    if not route.name:
        pytest.fail(f"/{route.route} has no name: give it one so the permission matrix can "
                    "reverse it.")
    build = SAMPLE_KWARGS.get(route.name)
    if build is not None:
        return reverse(route.name, kwargs=build(acme, actor))
    try:
        return reverse(route.name)
    except NoReverseMatch:
        pass
    pytest.fail(f"{route.name} (/{route.route}) takes URL arguments: add a sample to "
                "SAMPLE_KWARGS in tests/test_route_policy.py, built from the acme fixture.")


def persona_member(request: pytest.FixtureRequest, persona: str) -> Member | None:
    return None if persona == "anonymous" else request.getfixturevalue(persona)


def body_of(response: HttpResponse) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def assert_nothing_of_acme(body: str, acme: Acme, what: str) -> None:
    leaked = [trace for trace in acme.traces() if trace in body]
    assert not leaked, f"{what} shows another organisation's data to the outsider: {leaked}"


# --- 3: pages -------------------------------------------------------------------------------


def refusal(actor: Member, acme: Acme, route: Route,
            needed: tuple[str, str] | None = None) -> int | None:
    """403 or 404 when ``actor`` must be turned away from ``route``; None when allowed."""
    if not policy.can(actor, *route.declared_policy):
        return 403  # the route's own guard answers before any lookup
    if route.name in SAMPLE_KWARGS and not acme.owns(actor):
        return 404  # the sample names an object of Acme Treasury
    if needed and not policy.can(actor, *needed):
        return 403
    return None


def assert_sent_to_sign_in(response: HttpResponse, url: str, what: str) -> None:
    assert response.status_code == 302, what
    assert response.url == f"{reverse('accounts:login')}?{urlencode({'next': url})}", what


@pytest.mark.parametrize("route_name", sorted(GUARDED_PAGES))
@pytest.mark.parametrize("persona", PERSONAS)
def test_page_answers_each_persona_as_its_policy_says(persona, route_name, request, client,
                                                      acme):
    route = GUARDED_PAGES[route_name]
    actor = persona_member(request, persona)
    url = url_for(route, acme, actor)
    post_only = route.name in POST_ONLY
    send = client.post if post_only else client.get
    what = f"{persona} → {'POST' if post_only else 'GET'} {url} ({route.name}, policy " \
           f"{':'.join(route.declared_policy)})"

    if actor is None:
        assert_sent_to_sign_in(send(url), url, what)
        return

    client.force_login(actor.user)
    expected_refusal = refusal(actor, acme, route)
    if post_only and expected_refusal is None:
        assert client.get(url).status_code == 405, f"{what}: answers GET; remove it from " \
                                                   "POST_ONLY"
    response = send(url)

    if expected_refusal:
        assert response.status_code == expected_refusal, what
    elif post_only:
        assert response.status_code in ACTION_TAKEN, f"{what}: the policy allows it"
    else:
        assert response.status_code != 405, f"{what}: GET refused; add it to POST_ONLY"
        assert response.status_code == 200, f"{what}: the policy allows it"
        body = body_of(response)  # a streamed page fails only while it is read
        if not acme.owns(actor):
            assert_nothing_of_acme(body, acme, what)


# Pages that show with one right and write on POST with a higher one. Every other page's POST
# needs what its GET needs (its own guard) — or the page does not write at all.
WRITES_NEED: dict[str, tuple[str, str]] = {
    "accounts:department_list": ("organisation", policy.Action.CHANGE),
    "accounts:squad_list": ("organisation", policy.Action.CHANGE),
    "feedback:import_detail": ("feedback", policy.Action.CREATE),  # POST starts the import
    "customers:customer_detail": ("customers", policy.Action.CHANGE),  # POST edits the card
}
# What an allowed empty form may answer: saved (redirect), re-rendered with errors, or refused
# because the page takes no form at all.
FORM_ANSWERS = {200, 302, 405, 422}


@pytest.mark.parametrize("route_name", sorted(set(GUARDED_PAGES) - POST_ONLY))
@pytest.mark.parametrize("persona", PERSONAS)
def test_form_submission_answers_each_persona_as_its_policy_says(persona, route_name, request,
                                                                 client, acme):
    route = GUARDED_PAGES[route_name]
    needed = WRITES_NEED.get(route.name, route.declared_policy)
    actor = persona_member(request, persona)
    url = url_for(route, acme, actor)
    what = f"{persona} → POST {url} ({route.name}, writes need {':'.join(needed)})"

    if actor is None:
        assert_sent_to_sign_in(client.post(url), url, what)
        return

    client.force_login(actor.user)
    response = client.post(url)
    expected_refusal = refusal(actor, acme, route, needed)
    if expected_refusal:
        assert response.status_code == expected_refusal, what
    else:
        assert response.status_code in FORM_ANSWERS, f"{what}: the policy allows it"
        if not acme.owns(actor):
            assert_nothing_of_acme(body_of(response), acme, what)


@pytest.mark.parametrize("route_name", sorted(PUBLIC_PAGES))
@pytest.mark.parametrize("persona", PERSONAS)
def test_public_page_never_fails_for_anyone(persona, route_name, request, client, acme):
    route = PUBLIC_PAGES[route_name]
    actor = persona_member(request, persona)
    if actor is not None:
        client.force_login(actor.user)
    url = url_for(route, acme, actor)
    response = client.get(url)
    reason = route.public_reason or API_PUBLIC_PAGES[route.name]
    assert response.status_code < 500, f"{persona} → GET {url} ({route.name}, public: {reason})"


# --- 4: the API -----------------------------------------------------------------------------

def acme_customer(acme: Acme) -> int:
    customer, _created = customer_services.customer_upsert(
        organisation=acme.organisation, raw={"external_id": "crm-0001", "name": "Initech"})
    return customer.pk


def acme_import_job(acme: Acme) -> int:
    """A feedback import of Acme Treasury waiting for its column mapping (no file stored)."""
    return ImportJob.objects.create(organisation=acme.organisation, created_by=acme.admin,
                                    kind="feedback", file_name="acme-import.csv",
                                    file_format="csv", columns=["Verbatim"]).pk


def acme_contact(acme: Acme) -> int:
    return customer_services.contact_upsert(organisation=acme.organisation,
                                            email="marie@initech.test", name="Marie Curie").pk


def acme_feedback(acme: Acme) -> int:
    feedback, _created = feedback_services.feedback_create(
        organisation=acme.organisation, actor=acme.cs_contributor,
        raw={"text": "Exports time out on large workspaces."})
    return feedback.pk


def acme_saved_view(acme: Acme, actor: Member | None) -> int:
    """An inbox view of the actor's (the outsider is handed the admin's: never theirs)."""
    owner = actor if acme.owns(actor) else acme.admin
    return feedback_services.saved_view_save(actor=owner, name="Critical", query="status=new"
                                             "&importance=critical").pk


_theme_numbers = itertools.count(1)


def acme_theme(acme: Acme) -> int:
    """A theme of Acme Treasury's taxonomy (a new one at each call)."""
    from moulin.triage.models import Theme

    n = next(_theme_numbers)
    return Theme.objects.create(organisation=acme.organisation, name_en=f"Acme theme {n}",
                                name_fr=f"Thème Acme {n}").pk


def acme_model_version(acme: Acme) -> int:
    """A trained (finished) triage model version of Acme Treasury."""
    from moulin.triage.services import model_train_now

    acme_theme(acme)
    return model_train_now(organisation_id=acme.organisation.pk, trigger="sample",
                           refresh=False).pk


def acme_merged_feedback(acme: Acme) -> int:
    """A duplicate of Acme Treasury merged into another item (so it can be unmerged)."""
    from moulin.triage.services.duplicates import feedback_merge

    kept = Feedback.objects.get(pk=acme_feedback(acme))
    duplicate = Feedback.objects.get(pk=acme_feedback(acme))
    return feedback_merge(actor=acme.admin, duplicate=duplicate, kept=kept).pk


def acme_cluster(acme: Acme) -> EmergingCluster:
    """An open emerging theme of Acme Treasury, with one item."""
    job = TriageJob.objects.create(organisation=acme.organisation, kind=TriageJob.Kind.CLUSTER,
                                   status=JobStatus.DONE)
    cluster = EmergingCluster.objects.create(organisation=acme.organisation, job=job,
                                             label="Acme dark mode", keywords=["dark", "mode"],
                                             size=1)
    cluster.items.set([acme_feedback(acme)])
    return cluster


def acme_feature(acme: Acme) -> int:
    """A feature of Acme Treasury (created by its admin)."""
    from moulin.features import services as feature_services

    return feature_services.feature_create(actor=acme.admin, title="Acme scheduled exports").pk


def acme_framework(acme: Acme) -> int:
    """A custom scoring framework of Acme Treasury that is not the standard."""
    from moulin.features import services as feature_services

    return feature_services.framework_create(
        actor=acme.admin, kind="custom", name="Acme formula",
        drivers=[{"key": "fit", "source": "manual", "default": 1}], formula="fit * 2").pk


def acme_feature_link(acme: Acme) -> dict:
    """A feature of Acme Treasury with one linked feedback item: the page's link ids."""
    from moulin.features import services as feature_services
    from moulin.features.models import Feature, FeedbackLink

    feature = Feature.objects.get(pk=acme_feature(acme))
    feedback = Feedback.objects.get(pk=acme_feedback(acme))
    feature_services.feature_link_feedback(actor=acme.admin, feature=feature,
                                           feedback_items=[feedback])
    return {"pk": feature.pk, "link_pk": FeedbackLink.objects.get(feature=feature).pk}


def acme_currency_rate(acme: Acme) -> int:
    """A currency rate of Acme Treasury, by id (the pages name rates by id)."""
    from moulin.features import services as feature_services

    return feature_services.currency_rate_set(actor=acme.admin, currency="GBP", rate="1.17").pk


def acme_currency(acme: Acme) -> str:
    """A currency with a rate in Acme Treasury (the path names the rate by its code)."""
    from moulin.features import services as feature_services

    feature_services.currency_rate_set(actor=acme.admin, currency="USD", rate="0.9")
    return "USD"


# Path parameters by name: they name objects of Acme Treasury.
API_SAMPLE_PATH_PARAMS: dict[str, Callable[[Acme], int | str]] = {
    "feature_id": acme_feature,
    "framework_id": acme_framework,
    "currency": acme_currency,
    "member_id": lambda acme: acme.cs_contributor.pk,
    "customer_id": acme_customer,
    "feedback_id": acme_feedback,
    "duplicate_id": acme_merged_feedback,
    "cluster_id": lambda acme: acme_cluster(acme).pk,
    "job_id": lambda acme: acme_cluster(acme).job_id,
    "theme_id": acme_theme,
    "version_id": acme_model_version,
}

# A valid body per write operation: ninja validates the body before the policy check runs, so
# an invalid one would answer 422 and hide a missing check.
API_SAMPLE_BODIES: dict[str, Callable[[Acme], dict]] = {
    f"PATCH {API_ROOT}members/{{member_id}}": lambda acme: {"job_title": "Renewals lead"},
    f"POST {API_ROOT}departments": lambda acme: {"name": "Partnerships"},
    f"POST {API_ROOT}squads": lambda acme: {"name": "Checkout", "lead_id": acme.pm.pk},
    f"POST {API_ROOT}invitations": lambda acme: {
        "email": "newcomer@acme.test", "role": policy.Role.CONTRIBUTOR,
        "department_id": acme.empty_department.pk},
    f"PUT {API_ROOT}customers": lambda acme: {"external_id": "crm-0002", "name": "Hooli"},
    f"POST {API_ROOT}customers/bulk": lambda acme: {
        "items": [{"external_id": "crm-0003", "name": "Vandelay Industries"}]},
    f"POST {API_ROOT}feedback": lambda acme: {"text": "Let us filter the roadmap by squad."},
    f"POST {API_ROOT}feedback/bulk": lambda acme: {
        "items": [{"text": "The weekly digest arrives twice."}]},
    f"POST {API_ROOT}feedback/{{feedback_id}}/merge": lambda acme: {
        "into": acme_feedback(acme)},
    f"POST {API_ROOT}feedback/{{duplicate_id}}/unmerge": lambda acme: {},
    f"POST {API_ROOT}triage/similar": lambda acme: {"text": "Exports time out on big files."},
    f"POST {API_ROOT}triage/emerging/run": lambda acme: {"weeks": 12},
    f"POST {API_ROOT}triage/emerging/{{cluster_id}}/convert": lambda acme: {
        "name_en": "Dark mode"},
    f"POST {API_ROOT}triage/emerging/{{cluster_id}}/dismiss": lambda acme: {},
    f"POST {API_ROOT}triage/emerging/{{cluster_id}}/assign": lambda acme: {
        "theme_id": acme_theme(acme)},
    f"POST {API_ROOT}features": lambda acme: {"title": "Scheduled exports"},
    f"PATCH {API_ROOT}features/{{feature_id}}": lambda acme: {"status": "planned"},
    f"DELETE {API_ROOT}features/{{feature_id}}": lambda acme: {},
    f"POST {API_ROOT}features/{{feature_id}}/links": lambda acme: {
        "feedback_ids": [acme_feedback(acme)], "importance": "critical"},
    f"POST {API_ROOT}features/{{feature_id}}/links/bulk": lambda acme: {
        "cluster_id": acme_cluster(acme).pk},
    f"DELETE {API_ROOT}features/{{feature_id}}/links/{{feedback_id}}": lambda acme: {},
    f"POST {API_ROOT}features/{{feature_id}}/rank": lambda acme: {
        "to_position": 1, "reason": "Promised to a key account"},
    f"DELETE {API_ROOT}features/{{feature_id}}/rank": lambda acme: {},
    f"POST {API_ROOT}frameworks": lambda acme: {"kind": "ice", "name": "ICE"},
    f"POST {API_ROOT}frameworks/validate": lambda acme: {
        "kind": "custom", "drivers": [{"key": "fit"}], "formula": "fit * 2"},
    f"PATCH {API_ROOT}frameworks/{{framework_id}}": lambda acme: {"name": "Acme formula v2"},
    f"POST {API_ROOT}frameworks/{{framework_id}}/standard": lambda acme: {},
    f"DELETE {API_ROOT}frameworks/{{framework_id}}": lambda acme: {},
    f"PUT {API_ROOT}currency-rates": lambda acme: {"currency": "CHF", "rate": "1.05"},
    f"DELETE {API_ROOT}currency-rates/{{currency}}": lambda acme: {},
    f"POST {API_ROOT}themes": lambda acme: {"name_en": "Bank synchronisation",
                                            "name_fr": "Synchronisation bancaire"},
    f"PATCH {API_ROOT}themes/{{theme_id}}": lambda acme: {"description": "Bank feeds."},
    f"POST {API_ROOT}themes/{{theme_id}}/archive": lambda acme: {},
    f"POST {API_ROOT}themes/{{theme_id}}/restore": lambda acme: {},
    f"POST {API_ROOT}themes/{{theme_id}}/merge": lambda acme: {"into_id": acme_theme(acme)},
    f"POST {API_ROOT}feedback/{{feedback_id}}/themes": lambda acme: {
        "theme_id": acme_theme(acme)},
    f"DELETE {API_ROOT}feedback/{{feedback_id}}/themes/{{theme_id}}": lambda acme: {},
    f"POST {API_ROOT}feedback/{{feedback_id}}/triage/review": lambda acme: {
        "decision": "dismiss"},
    f"POST {API_ROOT}triage/models/retrain": lambda acme: {},
    f"POST {API_ROOT}triage/models/{{version_id}}/activate": lambda acme: {},
    f"PATCH {API_ROOT}triage/settings": lambda acme: {"retrain_after": 30},
}

# The sample bodies that name an object of Acme Treasury by its id: the outsider must get 404.
API_BODIES_NAMING_OUR_OBJECTS = {f"POST {API_ROOT}squads", f"POST {API_ROOT}invitations"}

ERROR_FIELDS = {"status", "code", "message", "errors"}


def api_request(op: ApiOperation, acme: Acme) -> tuple[str, dict | None, bool]:
    """The URL, the body and whether the request names one of Acme's objects."""
    params = {}
    for name in op.path_params:
        if name not in API_SAMPLE_PATH_PARAMS:
            pytest.fail(f"{op.label} takes {{{name}}}: add a sample to API_SAMPLE_PATH_PARAMS "
                        "in tests/test_route_policy.py.")
        params[name] = API_SAMPLE_PATH_PARAMS[name](acme)
    path = re.sub(r"\{(?:\w+:)?(\w+)\}", lambda match: str(params[match.group(1)]), op.path)
    body = None
    if op.method != "GET":
        if op.label not in API_SAMPLE_BODIES:
            pytest.fail(f"{op.label} needs a valid sample body: add it to API_SAMPLE_BODIES "
                        "in tests/test_route_policy.py.")
        body = API_SAMPLE_BODIES[op.label](acme)
    names_ours = bool(params) or op.label in API_BODIES_NAMING_OUR_OBJECTS
    return f"{API_ROOT}{path}", body, names_ours


def assert_api_error(response: HttpResponse, status: int, code: str, what: str) -> None:
    assert response.status_code == status, f"{what}: expected {status}, got " \
        f"{response.status_code} {response.content[:200]!r}"
    body = response.json()
    assert set(body) == ERROR_FIELDS, f"{what}: not the API error format: {body}"
    assert (body["status"], body["code"]) == (status, code), what


@pytest.mark.parametrize("operation_label", sorted(API_OPERATIONS))
@pytest.mark.parametrize("persona", PERSONAS)
def test_api_operation_answers_each_persona_as_its_policy_says(persona, operation_label,
                                                               request, client, api_client,
                                                               acme):
    op = API_OPERATIONS[operation_label]
    module, action = op.operation.view_func.moulin_policy
    actor = persona_member(request, persona)
    url, body, names_ours = api_request(op, acme)
    what = f"{persona} → {op.method} {url} (policy {module}:{action})"

    # The rate limit counts per token id, and ids come back after each rolled-back test.
    cache.clear()
    # Any method (PUT, DELETE…), with the member's bearer token or none at all.
    headers = api_client(actor).headers if actor else {}
    response = client.generic(op.method, url, data="" if body is None else json.dumps(body),
                              content_type="application/json", headers=headers)

    if actor is None:
        assert_api_error(response, 401, "unauthenticated", f"{what}, without a token")
        assert response["WWW-Authenticate"].startswith("Bearer"), what
        return

    if not policy.can(actor, module, action):
        assert_api_error(response, 403, "forbidden", f"{what}: the policy refuses it")
    elif names_ours and not acme.owns(actor):
        assert_api_error(response, 404, "not_found", f"{what}: another organisation's object")
    else:
        assert 200 <= response.status_code < 300, f"{what}: the policy allows it, got " \
            f"{response.status_code} {response.content[:300]!r}"
        if not acme.owns(actor):
            assert_nothing_of_acme(body_of(response), acme, what)
