"""The demo organisation: Liquidia, a French B2B cash-management SaaS of about 120 people.

One place for all demo data; later modules extend ``demo_load`` with their own generator
functions. Loading is idempotent: a second run finds the organisation and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from moulin.accounts import services
from moulin.accounts.audit import CLI, audit_record
from moulin.accounts.models import Department, Member, Organisation, Squad
from moulin.core.policy import Role
from moulin.demo.features import demo_features
from moulin.demo.feedback_hub import demo_feedback_hub
from moulin.demo.triage import demo_triage

DEMO_SLUG = "liquidia"
DEMO_NAME = "Liquidia"
# Demo data only: never used by production settings. Printed by `make run`.
DEMO_PASSWORD = "moulin-demo-2026"

SQUADS = [
    ("Encaissements", "Get paid faster: dunning, payment links, cash application."),
    ("Prévisions", "Cash forecasting that finance teams trust, 13 weeks ahead."),
    ("Connecteurs bancaires", "Every bank and ERP connected, reliably, in real time."),
    ("Paiements fournisseurs", "Supplier payments approved and paid without spreadsheets."),
    ("Plateforme & Reporting", "Dashboards, exports, permissions and the public API."),
]


@dataclass(frozen=True)
class DemoPerson:
    email: str
    full_name: str
    role: str
    department: str  # department key
    job_title: str
    squads: tuple[str, ...] = ()
    language: str = ""


PEOPLE = [
    DemoPerson("admin@example.com", "Camille Laurent", Role.ADMIN, "operations",
               "Head of Product Operations", ("Plateforme & Reporting",)),
    DemoPerson("productops@example.com", "Hugo Martin", Role.PRODUCT_OPS, "product",
               "Product Ops Manager", ("Encaissements", "Prévisions")),
    DemoPerson("pm@example.com", "Léa Dubois", Role.PRODUCT_MANAGER, "product",
               "Senior Product Manager", ("Encaissements",)),
    DemoPerson("pm.forecast@example.com", "Thomas Bernard", Role.PRODUCT_MANAGER, "product",
               "Product Manager", ("Prévisions",)),
    DemoPerson("pm.banking@example.com", "Sarah Cohen", Role.PRODUCT_MANAGER, "product",
               "Product Manager", ("Connecteurs bancaires",), "en"),
    DemoPerson("pm.payables@example.com", "Julien Moreau", Role.PRODUCT_MANAGER, "product",
               "Product Manager", ("Paiements fournisseurs",)),
    DemoPerson("designer@example.com", "Chloé Petit", Role.CONTRIBUTOR, "product",
               "Product Designer", ("Encaissements", "Paiements fournisseurs")),
    DemoPerson("researcher@example.com", "Emma Wilson", Role.CONTRIBUTOR, "product",
               "User Researcher", ("Prévisions",), "en"),
    DemoPerson("cto@example.com", "Nicolas Roux", Role.CONTRIBUTOR, "tech", "CTO",
               ("Plateforme & Reporting",)),
    DemoPerson("dev@example.com", "Karim Benali", Role.CONTRIBUTOR, "tech",
               "Staff Engineer", ("Connecteurs bancaires",)),
    DemoPerson("cs@example.com", "Manon Lefèvre", Role.CONTRIBUTOR, "customer_success",
               "Customer Success Manager"),
    DemoPerson("cs.lead@example.com", "Antoine Girard", Role.PRODUCT_OPS, "customer_success",
               "Head of Customer Success"),
    DemoPerson("support@example.com", "Inès Fontaine", Role.CONTRIBUTOR, "customer_success",
               "Support Lead"),
    DemoPerson("sales@example.com", "Maxime Lambert", Role.VIEWER, "sales",
               "Account Executive"),
    DemoPerson("sales.lead@example.com", "Olivia Smith", Role.CONTRIBUTOR, "sales",
               "VP Sales", (), "en"),
    DemoPerson("marketing@example.com", "Pauline Garnier", Role.CONTRIBUTOR, "marketing",
               "Product Marketing Manager"),
    DemoPerson("ops@example.com", "Lucas Faure", Role.VIEWER, "operations",
               "Revenue Operations Analyst"),
    DemoPerson("ceo@example.com", "Isabelle Mercier", Role.VIEWER, "operations", "CEO"),
]

SQUAD_LEADS = {
    "Encaissements": "pm@example.com",
    "Prévisions": "pm.forecast@example.com",
    "Connecteurs bancaires": "pm.banking@example.com",
    "Paiements fournisseurs": "pm.payables@example.com",
    "Plateforme & Reporting": "cto@example.com",
}


def demo_load(*, customers: int = 300, feedback: int = 3000) -> tuple[Organisation, bool]:
    """Create the demo organisation if it is missing; returns it and whether it was created.

    ``customers`` and ``feedback`` size the feedback hub's demo data (tests use small ones)."""
    existing = Organisation.objects.filter(slug=DEMO_SLUG).first()
    if existing is not None:
        return existing, False
    with transaction.atomic():
        organisation = services.organisation_create(name=DEMO_NAME, slug=DEMO_SLUG,
                                                    language="fr")
        organisation.currency = "EUR"
        organisation.save(update_fields=["currency"])
        departments = {d.key: d for d in Department.objects.filter(organisation=organisation)}
        squads = {name: Squad.objects.create(organisation=organisation, name=name,
                                             mission=mission)
                  for name, mission in SQUADS}
        members: dict[str, Member] = {}
        for person in PEOPLE:
            members[person.email] = services.member_create(
                organisation=organisation, email=person.email, full_name=person.full_name,
                role=person.role, department=departments[person.department],
                password=DEMO_PASSWORD, squads=[squads[name] for name in person.squads],
                job_title=person.job_title, language=person.language,
            )
        for name, email in SQUAD_LEADS.items():
            squads[name].lead = members[email]
            squads[name].save(update_fields=["lead"])
        admin = members["admin@example.com"]
        # A realistic matrix change: Marketing does not see customer business data.
        services.permission_set(actor=admin, origin=CLI, subject_type="department",
                                subject=str(departments["marketing"].pk), module="customers",
                                level=0)
        demo_feedback_hub(organisation, customers=customers, feedback=feedback)
        demo_triage(organisation)
        demo_features(organisation)
        audit_record(organisation=organisation, actor=admin, action="organisation.updated",
                     origin=CLI, target=organisation, changes={"demo": "loaded"})
    return organisation, True
