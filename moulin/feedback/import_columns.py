"""Which column of an uploaded file feeds which field: the fields each import kind can fill,
and a first guess from the header names, in French or English (``Commentaire`` → the verbatim,
``Créé le`` → the date, ``CA annuel`` → the ARR). The person importing checks the guess."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.utils.translation import gettext_lazy


@dataclass(frozen=True)
class TargetField:
    """A field an import can fill, with the header names that usually hold it."""

    key: str
    label: object  # lazy translation
    synonyms: tuple[str, ...]
    required: bool = False


def _field(key: str, label: object, synonyms: str, required: bool = False) -> TargetField:
    return TargetField(key, label, tuple(s.strip() for s in synonyms.split("|")), required)


FEEDBACK_FIELDS = (
    _field("text", gettext_lazy("Verbatim"), "text|texte|verbatim|verbatims|feedback|"
           "commentaire|commentaires|comment|comments|message|description|body|contenu|"
           "content|retour|retour client|avis|remarque|verbatim client|customer feedback",
           required=True),
    _field("title", gettext_lazy("Title"), "title|titre|subject|sujet|objet|summary|résumé"),
    _field("external_id", gettext_lazy("External id"), "id|external id|feedback id|ticket id|"
           "ticket|identifiant|reference|référence|ref|conversation id|id externe"),
    _field("source", gettext_lazy("Source channel"), "source|canal|channel|origine|origin"),
    _field("customer_external_id", gettext_lazy("Customer external id"), "customer id|"
           "client id|account id|id client|id compte|crm id|customer external id|company id|"
           "id entreprise|code client"),
    _field("customer_name", gettext_lazy("Customer"), "customer|client|account|compte|"
           "company|société|entreprise|customer name|nom client|nom du client|account name|"
           "organisation|organization|company name"),
    _field("contact_email", gettext_lazy("Contact email"), "email|e-mail|mail|courriel|"
           "contact email|e-mail contact|email contact|adresse email|adresse e-mail|"
           "requester email|customer email|client email|email client|from"),
    _field("contact_name", gettext_lazy("Contact name"), "contact|contact name|nom contact|"
           "nom du contact|requester|demandeur|name|nom|interlocuteur"),
    _field("created_at", gettext_lazy("Date"), "date|created at|created|créé le|cree le|"
           "date de création|date création|creation date|submitted at|received at|reçu le|"
           "timestamp|created date|date du retour|date du feedback"),
    _field("importance", gettext_lazy("Importance"), "importance|priorité|priority|urgence|"
           "urgency|severity|sévérité|criticité"),
    _field("product_area", gettext_lazy("Product area"), "product area|area|domaine|"
           "domaine produit|zone|module|produit|product|feature area|category|catégorie"),
    _field("tags", gettext_lazy("Tags"), "tags|tag|étiquettes|étiquette|labels|label|"
           "mots clés|keywords|thèmes"),
)

CUSTOMER_FIELDS = (
    _field("name", gettext_lazy("Name"), "name|nom|customer|client|account|compte|company|"
           "société|entreprise|raison sociale|customer name|nom client|nom du client|"
           "account name|company name|organisation|organization", required=True),
    _field("external_id", gettext_lazy("External id"), "id|external id|customer id|client id|"
           "account id|crm id|identifiant|id client|salesforce id|hubspot id|référence|"
           "reference|code client|id externe"),
    _field("domains", gettext_lazy("Email domains"), "domain|domains|domaine|domaines|"
           "website|site web|site|url|email domain"),
    _field("plan", gettext_lazy("Plan"), "plan|offre|offer|subscription|abonnement|tier|"
           "formule|pricing plan|forfait"),
    _field("segment", gettext_lazy("Segment"), "segment|market segment|segment client|"
           "customer segment"),
    _field("industry", gettext_lazy("Industry"), "industry|secteur|sector|industrie|"
           "vertical|secteur d'activité"),
    _field("country", gettext_lazy("Country"), "country|pays|country code|code pays"),
    _field("lifecycle", gettext_lazy("Lifecycle"), "lifecycle|lifecycle stage|stage|status|"
           "statut|cycle de vie|étape"),
    _field("arr", gettext_lazy("ARR"), "arr|ca annuel|annual revenue|revenu annuel|"
           "chiffre d'affaires|chiffre d'affaires annuel|acv|annual contract value|"
           "montant annuel|arr eur"),
    _field("currency", gettext_lazy("Currency"), "currency|devise|monnaie"),
    _field("renewal_date", gettext_lazy("Renewal date"), "renewal|renewal date|"
           "renouvellement|date de renouvellement|date renouvellement|échéance|contract end|"
           "fin de contrat|date de fin"),
    _field("owner_email", gettext_lazy("Owner (member email)"), "owner|owner email|csm|"
           "csm email|account manager|account owner|propriétaire|responsable|"
           "chargé de compte|account executive"),
    _field("health_score", gettext_lazy("Health score"), "health|health score|santé|"
           "score de santé|score santé|health index"),
    _field("contact_email", gettext_lazy("Contact email"), "email|e-mail|mail|courriel|"
           "contact email|email contact|e-mail contact|adresse email"),
    _field("contact_name", gettext_lazy("Contact name"), "contact|contact name|nom contact|"
           "nom du contact|interlocuteur"),
    _field("contact_role", gettext_lazy("Contact role"), "role|rôle|contact role|fonction|"
           "poste|job title|titre du poste"),
)

TARGET_FIELDS: dict[str, tuple[TargetField, ...]] = {
    "feedback": FEEDBACK_FIELDS,
    "customers": CUSTOMER_FIELDS,
}


def normalise_header(name: str) -> str:
    """'E-mail contact ' → 'e mail contact', 'Créé le' → 'cree le': for matching names."""
    text = unicodedata.normalize("NFKD", str(name).lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.findall(r"[a-z0-9]+", text))


def auto_mapping(kind: str, columns: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Propose ``{field: column}`` from the header names (French or English).

    Exact names win; then a header containing a known name (``Verbatim client (FR)`` → text),
    the longest known name first. Each column feeds at most one field.
    """
    fields = TARGET_FIELDS[kind]
    normalised = {column: normalise_header(column) for column in columns}
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for field in fields:
        names = {normalise_header(s) for s in field.synonyms}
        for column in columns:
            if column not in used and normalised[column] in names:
                mapping[field.key] = column
                used.add(column)
                break
    candidates = []
    for field in fields:
        if field.key in mapping:
            continue
        for synonym in {normalise_header(s) for s in field.synonyms}:
            for position, column in enumerate(columns):
                if f" {synonym} " in f" {normalised[column]} ":
                    candidates.append((-len(synonym), position, field.key, column))
    for _length, _position, key, column in sorted(candidates):
        if key not in mapping and column not in used:
            mapping[key] = column
            used.add(column)
    return mapping
