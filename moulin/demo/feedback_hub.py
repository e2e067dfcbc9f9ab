"""Demo customers and feedback for Liquidia: ~300 accounts with business data and a few
thousand realistic verbatims in French and English, spread over the last twelve months.

Deterministic (fixed seed): every demo looks the same, and tests can rely on it.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from moulin.accounts.models import Member, Organisation
from moulin.customers.models import Customer, CustomerDomain, Segment
from moulin.customers.services import CustomerWriter, customer_input
from moulin.feedback.models import Feedback, FeedbackEvent, ProductArea, Status
from moulin.feedback.services import FeedbackWriter, feedback_input

SEED = 2026
CUSTOMER_COUNT = 300
FEEDBACK_COUNT = 3000

PREFIXES = ["Groupe", "Transports", "Boulangeries", "Laboratoires", "Cabinet", "Maison",
            "Ateliers", "Compagnie", "Établissements", "Société", "Hôtels", "Pharmacies",
            "Clinique", "Garages", "Imprimerie", "Brasserie"]
FAMILY = ["Martin", "Bernard", "Durand", "Lefèvre", "Moreau", "Garnier", "Chevalier", "Roux",
          "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent",
          "Muller", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier", "Perrin"]
BRANDS = ["Horizon", "Atlantique", "Alpina", "Nordica", "Solvéo", "Kalipso", "Veridis", "Optima",
          "Lumen", "Arcadia", "Vega", "Oriel", "Nexa", "Terra", "Ciel", "Delta", "Hexa", "Sirius",
          "Azur", "Quartz", "Boreal", "Cobalt", "Everest", "Figaro", "Iris"]
SUFFIXES = ["SAS", "SA", "SARL", "Group", "Logistics", "Retail", "Industrie", "Santé",
            "Distribution", "Services", "Energy", "Foods", "Tech", "Conseil"]
INDUSTRIES = ["Retail", "Logistics", "Manufacturing", "Healthcare", "Hospitality",
              "Construction", "Food & beverage", "Professional services", "Software", "Energy"]
COUNTRIES = ["FR"] * 14 + ["BE", "CH", "LU", "ES", "DE", "GB", "IT", "NL"]
SEGMENTS = [("SMB", 0.55, (6_000, 30_000), "Starter"),
            ("Mid-market", 0.33, (30_000, 120_000), "Business"),
            ("Enterprise", 0.12, (120_000, 600_000), "Enterprise")]
AREAS = {
    "Encaissements": "Dunning, payment links, cash application",
    "Prévisions": "13-week cash forecasting and scenarios",
    "Connecteurs bancaires": "Bank and ERP connections, synchronisation",
    "Paiements fournisseurs": "Supplier payment runs and approvals",
    "Reporting": "Dashboards, exports, consolidated views",
    "Plateforme": "Users, permissions, SSO, API",
}
FIRST_NAMES = ["Claire", "Julien", "Sophie", "Nicolas", "Camille", "Thomas", "Marie", "Pierre",
               "Laura", "Antoine", "Emma", "Lucas", "Chloé", "Hugo", "Inès", "Paul", "Sarah",
               "Mathieu", "Anna", "David", "Olivia", "James", "Elena", "Marco"]

# (product area, French verbatims, English verbatims, tags)
TOPICS = [
    ("Encaissements",
     ["Les relances clients partent parfois deux fois, nos clients se plaignent.",
      "Il faudrait pouvoir personnaliser le modèle d'email de relance par client.",
      "Le lettrage automatique rate les virements groupés, on perd une heure par jour.",
      "Nous aimerions un lien de paiement par carte directement dans la relance.",
      "Impossible de mettre en pause les relances pour un client en litige."],
     ["Dunning emails are sometimes sent twice and customers complain.",
      "We need to customise the reminder template per customer.",
      "Automatic cash application misses grouped transfers.",
      "A card payment link inside the reminder would speed up collections.",
      "There is no way to pause reminders for a disputed invoice."],
     ["relances", "lettrage", "dunning"]),
    ("Prévisions",
     ["La prévision à 13 semaines ne prend pas en compte les échéances fiscales.",
      "On voudrait comparer plusieurs scénarios de trésorerie côte à côte.",
      "Les catégories de flux ne sont pas assez fines pour notre groupe.",
      "Le recalcul de la prévision est trop lent avec nos 40 entités."],
     ["The 13-week forecast ignores tax payment dates.",
      "We would like to compare several cash scenarios side by side.",
      "Cash flow categories are not granular enough for our group.",
      "Recomputing the forecast is too slow with our 40 entities."],
     ["prévisions", "scénarios", "forecast"]),
    ("Connecteurs bancaires",
     ["La synchronisation avec notre banque échoue tous les lundis matin.",
      "Il nous faut un connecteur EBICS pour la Société Générale.",
      "Les relevés arrivent avec un jour de retard depuis la mise à jour.",
      "Pouvez-vous ajouter la synchronisation avec Sage 100 ?"],
     ["Bank sync fails every Monday morning.",
      "We need an EBICS connector for our French banks.",
      "Statements arrive one day late since the last update.",
      "Please add a NetSuite connector, it is a blocker for our renewal."],
     ["banque", "ebics", "sync", "erp"]),
    ("Paiements fournisseurs",
     ["Le circuit de validation des paiements devrait gérer deux signataires.",
      "Nous voulons programmer les virements fournisseurs à date d'échéance.",
      "L'export SEPA n'accepte pas les caractères accentués dans les libellés."],
     ["Payment approvals should support two signatories.",
      "We want to schedule supplier transfers on their due date.",
      "The SEPA export rejects accented characters in references."],
     ["paiements", "sepa", "validation"]),
    ("Reporting",
     ["L'export PDF du tableau de bord coupe les graphiques.",
      "Il manque une vue consolidée multi-devises pour le comité de direction.",
      "Nous aimerions recevoir le rapport de trésorerie par email chaque lundi.",
      "Le filtre par entité ne se retient pas d'une session à l'autre."],
     ["The dashboard PDF export cuts the charts.",
      "We miss a consolidated multi-currency view for the board.",
      "We would like the cash report emailed every Monday.",
      "The entity filter is not remembered between sessions."],
     ["export", "pdf", "multi-devises", "reporting"]),
    ("Plateforme",
     ["Le SSO avec Azure AD est indispensable pour notre DSI.",
      "Il faudrait des droits en lecture seule pour nos auditeurs.",
      "L'API devrait permettre de créer des écritures en masse."],
     ["SSO with Azure AD is mandatory for our IT team.",
      "We need read-only access for our auditors.",
      "The API should let us create entries in bulk."],
     ["sso", "droits", "api"]),
]
OPENERS_FR = ["", "Bonjour, ", "Suite à notre échange, ", "Retour du client : ", "Important : "]
CLOSERS_FR = ["", " Merci !", " C'est bloquant pour le renouvellement.",
              " Plusieurs utilisateurs l'ont remonté.", " Merci de nous tenir informés."]
OPENERS_EN = ["", "Hi team, ", "Following our QBR, ", "Customer says: ", "Heads up: "]
CLOSERS_EN = ["", " Thanks!", " This is blocking their renewal.",
              " Several users raised it.", " Please keep us posted."]
# What customers add around their request: context a model has to read past.
CONTEXT_FR = ["Nous avons 14 entités dans 4 pays.", "Notre DAF en parle à chaque point mensuel.",
              "On a contourné avec un fichier Excel pour l'instant.",
              "Ça arrive surtout en fin de mois.", "Le sujet remonte aussi chez nos filiales.",
              "Nous sommes passés sur la nouvelle version la semaine dernière."]
CONTEXT_EN = ["We run 14 entities in 4 countries.", "Our CFO brings it up at every monthly review.",
              "We work around it with a spreadsheet for now.",
              "It mostly happens at month end.", "Our subsidiaries raise it too.",
              "We moved to the new version last week."]
# Requests often mention a second subject: the triage model must pick the main one.
ALSO_FR = [" Par ailleurs, ", " Autre point : ", " Et aussi : "]
ALSO_EN = [" Also, ", " Another thing: ", " On a side note, "]
MIXED_SHARE = 0.22
CONTEXT_SHARE = 0.35
# Bank synchronisation broke after a recent release: a theme on the rise in the insights.
RISING_SENTENCES = {"La synchronisation avec notre banque échoue tous les lundis matin.",
                    "Bank sync fails every Monday morning.",
                    "Les relevés arrivent avec un jour de retard depuis la mise à jour.",
                    "Statements arrive one day late since the last update."}
SOURCES = [("web_form", 30), ("email", 18), ("intercom", 16), ("zendesk", 14),
           ("hubspot", 8), ("salesforce", 5), ("slack", 6), ("survey", 3)]


def _company(rng: random.Random, used: set[str]) -> str:
    while True:
        pattern = rng.random()
        if pattern < 0.35:
            name = f"{rng.choice(PREFIXES)} {rng.choice(FAMILY)}"
        elif pattern < 0.75:
            name = f"{rng.choice(BRANDS)} {rng.choice(SUFFIXES)}"
        else:
            name = f"{rng.choice(FAMILY)} & {rng.choice(FAMILY)}"
        if name not in used:
            used.add(name)
            return name


def _slug(name: str) -> str:
    table = str.maketrans("éèêëàâäîïôöûüçÉ", "eeeeaaaiioouucE")
    return "".join(c for c in name.lower().translate(table) if c.isalnum())[:24]


def demo_customers(organisation: Organisation, rng: random.Random,
                   count: int = CUSTOMER_COUNT) -> list[Customer]:
    """Create the demo customers with segments, plans, ARR, renewal dates and contacts."""
    owners = list(Member.objects.filter(organisation=organisation,
                                        department__key__in=["customer_success", "sales"])
                  .select_related("user"))
    writer = CustomerWriter(organisation)
    for position, (name, _share, _arr, _plan) in enumerate(SEGMENTS):
        Segment.objects.get_or_create(organisation=organisation, name=name,
                                      defaults={"position": position})
    used: set[str] = set()
    today = timezone.localdate()
    for n in range(count):
        roll, acc = rng.random(), 0.0
        segment_name, _share, (low, high), plan = SEGMENTS[-1]
        for candidate in SEGMENTS:
            acc += candidate[1]
            if roll <= acc:
                segment_name, _share, (low, high), plan = candidate
                break
        name = _company(rng, used)
        lifecycle = rng.choices(["customer", "trial", "churned"], [85, 8, 7])[0]
        arr = Decimal(rng.randrange(low, high, 500)) if lifecycle != "trial" else None
        raw = {
            "name": name, "external_id": f"SF-{10000 + n}", "domains": [f"{_slug(name)}.fr"],
            "plan": plan, "segment": segment_name, "industry": rng.choice(INDUSTRIES),
            "country": rng.choice(COUNTRIES), "lifecycle": lifecycle,
            "arr": arr, "currency": "EUR" if rng.random() < 0.9 else rng.choice(["CHF", "GBP"]),
            "renewal_date": (today + timedelta(days=rng.randrange(-30, 365))).isoformat(),
            "owner_email": rng.choice(owners).user.email if owners else "",
            "health_score": rng.randrange(20, 100) if lifecycle == "customer" else None,
        }
        writer.upsert(customer_input(raw))
    return list(Customer.objects.filter(organisation=organisation))


def demo_feedback(organisation: Organisation, customers: list[Customer],
                  rng: random.Random, count: int = FEEDBACK_COUNT) -> int:
    """Create a year of feedback across sources, customers, languages and triage states."""
    submitters = list(Member.objects.filter(
        organisation=organisation,
        department__key__in=["customer_success", "sales", "product"]))
    for area, description in AREAS.items():
        ProductArea.objects.get_or_create(organisation=organisation, name=area,
                                          defaults={"description": description})
    domains = dict(CustomerDomain.objects.filter(organisation=organisation)
                   .values_list("customer_id", "domain"))
    # Bigger customers talk more: weight by ARR.
    weights = [float(c.arr or 3000) ** 0.5 for c in customers]
    now = timezone.now()
    sources, source_weights = zip(*SOURCES, strict=True)
    raw_items = []
    variety = random.Random(SEED + 1)
    for n in range(count):
        customer = rng.choices(customers, weights)[0]
        area, french, english, tags = rng.choice(TOPICS)
        is_french = rng.random() < (0.8 if customer.country in {"FR", "BE", "CH", "LU"}
                                    else 0.25)
        sentences, openers, closers, context, also = (
            (french, OPENERS_FR, CLOSERS_FR, CONTEXT_FR, ALSO_FR) if is_french
            else (english, OPENERS_EN, CLOSERS_EN, CONTEXT_EN, ALSO_EN))
        text = rng.choice(openers)
        main = rng.choice(sentences)
        text += main
        # The variety draws from its own generator: the rest of the demo (customers, dates,
        # submitters) stays what tests expect.
        if variety.random() < CONTEXT_SHARE:
            text += " " + variety.choice(context)
        if variety.random() < MIXED_SHARE:
            other = variety.choice([t for t in TOPICS if t[0] != area])
            second = variety.choice(other[1] if is_french else other[2])
            if second[1:2].islower():  # "SSO …" and "L'API …" keep their capitals
                second = second[0].lower() + second[1:]
            text += variety.choice(also) + second
        text += rng.choice(closers)
        first = rng.choice(FIRST_NAMES)
        days_ago = int(rng.triangular(0, 365, 20))
        if main in RISING_SENTENCES and variety.random() < 0.45:
            days_ago = int(variety.triangular(0, 35, 5))
        raw_items.append({
            "external_id": f"demo-{n}", "text": text,
            "source": rng.choices(sources, source_weights)[0],
            "customer_id": customer.pk,
            "contact_email": f"{_slug(first)}@{domains.get(customer.pk, 'example.org')}",
            "contact_name": f"{first} {rng.choice(FAMILY)}",
            "created_at": (now - timedelta(days=days_ago, minutes=rng.randrange(1440)))
            .isoformat(),
            "importance": rng.choices(["nice_to_have", "important", "critical"],
                                      [30, 50, 20])[0],
            "product_area": area if rng.random() < 0.6 else "",
            "tags": rng.sample(tags, k=rng.randrange(0, 3)),
        })
    created = 0
    for start in range(0, len(raw_items), 1000):
        writer = FeedbackWriter(organisation, rng.choice(submitters) if submitters else None)
        results = writer.write([feedback_input(raw) for raw in raw_items[start:start + 1000]])
        created += sum(r.status == "created" for r in results)
    _triage_history(organisation, rng)
    return created


def _triage_history(organisation: Organisation, rng: random.Random) -> None:
    """Older items were triaged: give them statuses and realistic triage delays."""
    rows = list(Feedback.objects.filter(organisation=organisation)
                .only("id", "received_at", "created_at", "status"))
    cutoff = timezone.now() - timedelta(days=10)
    changed = []
    for row in rows:
        if row.received_at > cutoff and rng.random() < 0.7:
            continue  # recent items wait in the inbox
        row.status = rng.choices([Status.TRIAGED, Status.LINKED, Status.CLOSED,
                                  Status.ARCHIVED], [40, 35, 15, 10])[0]
        row.created_at = row.received_at
        row.triaged_at = row.received_at + timedelta(hours=rng.uniform(2, 24 * 9))
        changed.append(row)
    Feedback.objects.bulk_update(changed, ["status", "created_at", "triaged_at"], batch_size=1000)
    FeedbackEvent.objects.bulk_create(
        [FeedbackEvent(feedback=row, kind="updated", changes={"status": ["new", row.status]})
         for row in changed], batch_size=1000)


def demo_feedback_hub(organisation: Organisation, *, customers: int = CUSTOMER_COUNT,
                      feedback: int = FEEDBACK_COUNT) -> None:
    """Customers then feedback, once (the caller checks it has not run before). Tests pass
    smaller numbers to keep the same shape at a fraction of the time."""
    rng = random.Random(SEED)
    rows = demo_customers(organisation, rng, customers)
    demo_feedback(organisation, rows, rng, feedback)


