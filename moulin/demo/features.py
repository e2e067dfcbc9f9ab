"""Demo product tree for Liquidia: ~80 features across the five squads, with statuses, target
quarters, efforts and scoring inputs, feedback linked by what the verbatims talk about, the
organisation's custom scoring standard (plus RICE and ICE), and a few manual moves on the board
with their reasons.

Deterministic (fixed seed), and built through the features services so the history, demand and
scores are the ones the product computes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Q
from django.utils import timezone

from moulin.accounts.models import Member, Organisation, Squad
from moulin.features import services
from moulin.features.models import Feature, FeatureStatus, FrameworkKind
from moulin.feedback.models import Feedback, ProductArea

SEED = 2027
MAX_LINKS_PER_FEATURE = 60

IDEA, D, P, G, S, R, W = (FeatureStatus.IDEA, FeatureStatus.DISCOVERY, FeatureStatus.PLANNED,
                       FeatureStatus.IN_PROGRESS, FeatureStatus.SHIPPED, FeatureStatus.RELEASED,
                       FeatureStatus.WONT_DO)


@dataclass(frozen=True)
class DemoFeature:
    title: str
    status: str
    quarter: int | None  # quarters from the current one (-2 = two quarters ago); None: unset
    effort: float
    fit: int  # strategic fit, 1–5
    confidence: int  # %
    keywords: tuple[str, ...] = ()  # words of the verbatims this feature answers
    parent: str = ""
    description: str = ""


# Squad → (product area, features). Keywords match the demo verbatims (moulin/demo/feedback_hub).
CATALOGUE: dict[str, list[tuple[str, list[DemoFeature]]]] = {
    "Encaissements": [("Encaissements", [
        DemoFeature("Relances sans doublon", G, 0, 3, 5, 90, ("deux fois", "sent twice"),
                    description="Never send the same reminder twice, whatever the retries."),
        DemoFeature("Modèles de relance par client", P, 1, 4, 3, 70,
                    ("modèle d'email", "reminder template")),
        DemoFeature("Lettrage automatique 2.0", D, 2, 12, 4, 60,
                    description="Cash application that matches what finance teams match."),
        DemoFeature("Lettrage des virements groupés", D, 2, 6, 4, 60,
                    ("virements groupés", "grouped transfers", "cash application"),
                    parent="Lettrage automatique 2.0"),
        DemoFeature("Règles de lettrage personnalisées", IDEA, None, 5, 3, 40,
                    parent="Lettrage automatique 2.0"),
        DemoFeature("Lettrage par référence de facture", R, -1, 3, 3, 90,
                    parent="Lettrage automatique 2.0"),
        DemoFeature("Lien de paiement par carte dans la relance", P, 1, 5, 4, 80,
                    ("lien de paiement", "payment link")),
        DemoFeature("Pause des relances en cas de litige", IDEA, None, 2, 3, 70,
                    ("en pause", "pause reminders")),
        DemoFeature("Relances par SMS", IDEA, None, 4, 2, 30),
        DemoFeature("Portail client de paiement", D, 3, 10, 4, 50),
        DemoFeature("Prélèvement SEPA B2B", IDEA, None, 8, 3, 40),
        DemoFeature("Tableau de bord DSO", R, -2, 3, 3, 90),
        DemoFeature("Relevé de compte client automatique", S, 0, 2, 2, 90),
        DemoFeature("Transmission au recouvrement externe", W, None, 6, 1, 30),
        DemoFeature("Promesses de paiement", IDEA, None, 3, 3, 50),
        DemoFeature("Score de risque client", D, 2, 7, 4, 40),
    ])],
    "Prévisions": [("Prévisions", [
        DemoFeature("Échéances fiscales dans la prévision", P, 1, 4, 4, 80,
                    ("échéances fiscales", "tax payment")),
        DemoFeature("Scénarios de trésorerie", D, 2, 9, 5, 60,
                    description="Build, compare and share cash scenarios."),
        DemoFeature("Comparaison de scénarios côte à côte", D, 2, 5, 4, 60,
                    ("scénarios", "scenarios"), parent="Scénarios de trésorerie"),
        DemoFeature("Scénario pessimiste automatique", IDEA, None, 4, 3, 40,
                    parent="Scénarios de trésorerie"),
        DemoFeature("Catégories de flux personnalisables", P, 1, 4, 3, 70,
                    ("catégories de flux", "categories")),
        DemoFeature("Recalcul rapide multi-entités", G, 0, 6, 4, 80,
                    ("trop lent", "too slow")),
        DemoFeature("Prévision à 12 mois", IDEA, None, 8, 3, 40),
        DemoFeature("Écarts prévu / réalisé", R, -1, 3, 4, 90),
        DemoFeature("Import du budget depuis Excel", S, 0, 2, 2, 90),
        DemoFeature("Prévision par IA des encaissements", D, 3, 12, 4, 30),
        DemoFeature("Alertes de seuil de trésorerie", P, 1, 2, 3, 80),
        DemoFeature("Commentaires sur la prévision", IDEA, None, 2, 2, 60),
        DemoFeature("Verrouillage des versions de prévision", IDEA, None, 3, 2, 50),
        DemoFeature("Prévision en devise de reporting", W, None, 6, 1, 40),
        DemoFeature("Partage de la prévision au comité", R, -2, 2, 3, 90),
        DemoFeature("Historique des hypothèses", IDEA, None, 3, 2, 50),
    ])],
    "Connecteurs bancaires": [("Connecteurs bancaires", [
        DemoFeature("Synchronisation bancaire fiable", G, 0, 5, 5, 90,
                    ("échoue tous les lundis", "sync fails")),
        DemoFeature("Connecteur EBICS", P, 1, 8, 5, 80, ("EBICS",)),
        DemoFeature("Relevés en temps réel", D, 2, 10, 4, 50,
                    ("jour de retard", "one day late")),
        DemoFeature("Connecteurs ERP", D, 2, 14, 4, 60,
                    description="Two-way synchronisation with the ERPs our customers run."),
        DemoFeature("Connecteur Sage 100", P, 1, 5, 3, 70, ("Sage 100",),
                    parent="Connecteurs ERP"),
        DemoFeature("Connecteur NetSuite", D, 2, 6, 4, 60, ("NetSuite",),
                    parent="Connecteurs ERP"),
        DemoFeature("Connecteur SAP Business One", IDEA, None, 8, 3, 40, parent="Connecteurs ERP"),
        DemoFeature("Connecteur Cegid", R, -1, 4, 2, 90, parent="Connecteurs ERP"),
        DemoFeature("Agrégation DSP2 pour banques étrangères", IDEA, None, 9, 3, 40),
        DemoFeature("Tableau de santé des connexions", S, 0, 2, 3, 90),
        DemoFeature("Renouvellement automatique des consentements", P, 1, 3, 3, 80),
        DemoFeature("Connecteur SWIFT MT940", IDEA, None, 6, 2, 40),
        DemoFeature("Catégorisation automatique des opérations", D, 3, 7, 4, 50),
        DemoFeature("Rapprochement bancaire assisté", IDEA, None, 6, 3, 40),
        DemoFeature("Connecteur banque en ligne néo-banques", W, None, 5, 1, 30),
        DemoFeature("Import manuel de relevés CAMT.053", R, -2, 2, 2, 90),
    ])],
    "Paiements fournisseurs": [("Paiements fournisseurs", [
        DemoFeature("Double signature des paiements", G, 0, 4, 5, 90,
                    ("deux signataires", "two signatories")),
        DemoFeature("Virements programmés à échéance", P, 1, 4, 4, 80,
                    ("date d'échéance", "due date")),
        DemoFeature("Export SEPA avec caractères accentués", S, 0, 1, 3, 100,
                    ("caractères accentués", "accented characters")),
        DemoFeature("Circuit de validation configurable", D, 2, 9, 4, 60,
                    description="Approval chains by amount, entity and supplier."),
        DemoFeature("Seuils de validation par montant", D, 2, 4, 4, 60,
                    parent="Circuit de validation configurable"),
        DemoFeature("Délégation de signature pendant les congés", IDEA, None, 3, 3, 50,
                    parent="Circuit de validation configurable"),
        DemoFeature("Validation mobile", IDEA, None, 5, 3, 40,
                    parent="Circuit de validation configurable"),
        DemoFeature("Paiements internationaux SWIFT", IDEA, None, 10, 3, 30),
        DemoFeature("Vérification des IBAN fournisseurs", P, 1, 3, 4, 80),
        DemoFeature("Portail fournisseur", IDEA, None, 12, 2, 30),
        DemoFeature("Escompte pour paiement anticipé", D, 3, 6, 3, 40),
        DemoFeature("Import des factures depuis l'ERP", R, -1, 4, 3, 90),
        DemoFeature("Détection des doublons de factures", S, 0, 3, 3, 90),
        DemoFeature("Paiement par carte virtuelle", W, None, 8, 1, 30),
        DemoFeature("Avis de paiement aux fournisseurs", R, -2, 2, 2, 90),
        DemoFeature("Calendrier des décaissements", IDEA, None, 3, 3, 50),
    ])],
    "Plateforme & Reporting": [
        ("Reporting", [
            DemoFeature("Export PDF fidèle du tableau de bord", G, 0, 3, 3, 90, ("PDF",)),
            DemoFeature("Vue consolidée multi-devises", P, 1, 8, 5, 70,
                        ("multi-devises", "multi-currency")),
            DemoFeature("Rapport de trésorerie hebdomadaire par email", P, 1, 2, 3, 90,
                        ("rapport de trésorerie", "cash report")),
            DemoFeature("Filtres mémorisés", S, 0, 1, 2, 100,
                        ("filtre par entité", "entity filter")),
            DemoFeature("Tableaux de bord personnalisables", D, 3, 10, 4, 50),
            DemoFeature("Connecteur Power BI", IDEA, None, 5, 3, 40),
            DemoFeature("Rapports planifiés", R, -1, 3, 3, 90),
            DemoFeature("Indicateurs de BFR", IDEA, None, 4, 3, 50),
        ]),
        ("Plateforme", [
            DemoFeature("SSO Azure AD", P, 1, 4, 5, 90, ("SSO",)),
            DemoFeature("Rôle auditeur en lecture seule", P, 1, 2, 4, 90,
                        ("lecture seule", "read-only")),
            DemoFeature("API d'écritures en masse", D, 2, 5, 4, 70, ("en masse", "in bulk")),
            DemoFeature("Journal d'audit exportable", R, -2, 2, 3, 90),
            DemoFeature("Authentification à deux facteurs obligatoire", S, 0, 2, 4, 100),
            DemoFeature("Provisionnement SCIM", IDEA, None, 5, 3, 40),
            DemoFeature("Webhooks sortants", D, 3, 4, 3, 60),
            DemoFeature("Hébergement des données en Suisse", W, None, 15, 1, 20),
        ]),
    ],
}

FRAMEWORK_NAME = "Score Liquidia"
FRAMEWORK_DRIVERS = [
    {"key": "strategic_fit", "label": "Alignement stratégique (1–5)", "source": "manual",
     "weight": 1, "default": 3},
    {"key": "arr", "label": "ARR demandeur (€)", "source": "arr_total", "weight": 0.001},
    {"key": "customers", "label": "Clients demandeurs", "source": "customer_count", "weight": 1},
    {"key": "renewals", "label": "ARR en renouvellement sous 90 jours (€)",
     "source": "renewal_arr_90d", "weight": 0.001},
    {"key": "confidence", "label": "Confiance (%)", "source": "manual", "weight": 0.01,
     "default": 50},
    {"key": "effort", "label": "Effort (semaines)", "source": "effort", "weight": 1},
]
FRAMEWORK_FORMULA = ("(strategic_fit * 20 + sqrt(arr) * 5 + customers + renewals) * confidence"
                     " / max(effort, 1)")

# Manual moves on the board by the Product Ops manager: (feature, position, reason).
MOVES = [
    ("Connecteur EBICS", 1, "Engagement contractuel pris avec trois comptes Enterprise pour "
                            "leur renouvellement du premier trimestre."),
    ("SSO Azure AD", 2, "Prérequis de sécurité de deux deals Enterprise en cours de signature."),
    ("Pause des relances en cas de litige", 5, "Risque juridique remonté par le support : des "
                                               "clients en litige reçoivent des relances."),
]


def _quarter(offset: int | None) -> str:
    if offset is None:
        return ""
    today = timezone.localdate()
    index = today.year * 4 + (today.month - 1) // 3 + offset
    return f"{index // 4}-Q{index % 4 + 1}"


def demo_features(organisation: Organisation) -> int:
    """The product tree, frameworks, links and board moves; returns the number of features."""
    rng = random.Random(SEED)
    members = {m.user.email: m for m in Member.objects.filter(organisation=organisation)
               .select_related("user", "organisation")}
    ops = members.get("productops@example.com") or next(iter(members.values()))
    squads = {s.name: s for s in Squad.objects.filter(organisation=organisation)
              .select_related("lead__user", "lead__organisation")}
    areas = {a.name: a for a in ProductArea.objects.filter(organisation=organisation)}

    services.framework_create(actor=ops, kind=FrameworkKind.RICE, name="RICE")
    services.framework_create(actor=ops, kind=FrameworkKind.ICE, name="ICE")
    services.framework_create(actor=ops, kind=FrameworkKind.CUSTOM, name=FRAMEWORK_NAME,
                              drivers=FRAMEWORK_DRIVERS, formula=FRAMEWORK_FORMULA,
                              make_standard=True)

    created: dict[str, Feature] = {}
    keywords: dict[int, tuple[str, ...]] = {}
    for squad_name, groups in CATALOGUE.items():
        squad = squads.get(squad_name)
        owner = squad.lead if squad is not None and squad.lead_id else ops
        for area_name, features in groups:
            for demo in features:
                # Product Ops scores the catalogue; the squad lead owns each feature
                feature = services.feature_create(
                    actor=ops, title=demo.title, description=demo.description,
                    status=demo.status, product_area=areas.get(area_name),
                    parent=created.get(demo.parent), squad=squad, owner=owner,
                    target_quarter=_quarter(demo.quarter), effort=str(demo.effort),
                    score_inputs={"strategic_fit": demo.fit, "confidence": demo.confidence,
                                  "impact": rng.choice([0.5, 1, 2, 3]),
                                  "ease": rng.randint(2, 9)})
                created[demo.title] = feature
                if demo.keywords:
                    keywords[feature.pk] = demo.keywords

    for feature in created.values():
        words = keywords.get(feature.pk)
        if not words:
            continue
        matching = list(Feedback.objects.filter(
            reduce(or_, [Q(text__icontains=word) for word in words]),
            organisation=organisation, merged_into__isnull=True).order_by("pk")
            .only("pk", "organisation_id", "importance"))
        if not matching:
            continue
        chosen = [item for item in matching if rng.random() < 0.75][:MAX_LINKS_PER_FEATURE]
        if chosen:
            services.feature_link_feedback(actor=feature.owner or ops, feature=feature,
                                           feedback_items=chosen)

    for title, position, reason in MOVES:
        feature = created.get(title)
        if feature is not None:
            services.feature_move(actor=ops, feature=feature, to_position=position,
                                  reason=reason)
    return len(created)
