"""A small bilingual taxonomy and feedback written for the triage tests (a cash-management
SaaS, like the demo), and helpers to build them."""

from __future__ import annotations

from moulin.feedback.services import feedback_create
from moulin.triage.models import FeedbackAnalysis
from moulin.triage.services import model_train_now
from tests.builders import make_theme

# name_en, name_fr, description, examples
THEMES = {
    "bank_sync": (
        "Bank synchronisation", "Synchronisation bancaire",
        "Bank connections, statements and transactions that fail to import or arrive late.",
        ["Bank sync fails every Monday morning.",
         "La synchronisation avec notre banque échoue.",
         "Statements arrive one day late.",
         "Les relevés bancaires ne remontent plus."]),
    "reminders": (
        "Payment reminders", "Relances clients",
        "Dunning: reminder emails to customers who have not paid their invoices.",
        ["Reminder emails are sent twice to our customers.",
         "Les relances partent en double.",
         "We want to customise the dunning email template.",
         "Impossible de mettre en pause les relances d'un client."]),
    "forecast": (
        "Cash forecasting", "Prévisions de trésorerie",
        "The 13-week cash forecast, scenarios and cash flow categories.",
        ["The 13-week forecast ignores tax payments.",
         "On voudrait comparer plusieurs scénarios de trésorerie.",
         "Recomputing the forecast is too slow.",
         "Les catégories de flux de la prévision ne sont pas assez fines."]),
    "access": (
        "Single sign-on and permissions", "SSO et droits d'accès",
        "Signing in with SSO, user roles, read-only access for auditors.",
        ["SSO with Azure AD is mandatory for our IT team.",
         "Il faudrait des droits en lecture seule pour nos auditeurs.",
         "We need SAML single sign-on with Okta.",
         "Nos utilisateurs doivent se connecter avec Google Workspace."]),
}

# New feedback, never seen by the model, with the theme a person would choose.
NEW_ITEMS = [
    ("Our bank connection stopped importing transactions since yesterday.", "bank_sync"),
    ("Les transactions de la BNP n'apparaissent plus depuis lundi.", "bank_sync"),
    ("A customer received the same payment reminder three times this week.", "reminders"),
    ("Pouvez-vous personnaliser le texte de l'email de relance ?", "reminders"),
    ("The cash forecast should include VAT payment dates.", "forecast"),
    ("Nous voulons simuler un scénario pessimiste dans la prévision.", "forecast"),
    ("Please support Okta SAML login for all our users.", "access"),
    ("Il nous faut un rôle auditeur en lecture seule.", "access"),
]

# Nothing to do with cash management.
OFF_TOPIC = "My cat knocked over the coffee machine and the kitchen is flooded."


def make_taxonomy(organisation, keys: list[str] | None = None) -> dict:
    """The themes above (all, or the named ones), without queuing a retraining."""
    themes = {}
    for key in keys or list(THEMES):
        name_en, name_fr, description, examples = THEMES[key]
        themes[key] = make_theme(organisation, name_en, name_fr, description=description,
                                 examples=examples)
    return themes


def train(organisation, actor=None):
    """Train a model version now (what the background job does), and make it active."""
    return model_train_now(organisation_id=organisation.pk, trigger="test", actor=actor)


def receive(organisation, text: str, *, actor=None, **raw):
    """Feedback arriving through intake; the caller captures on-commit callbacks so the
    analysis task runs (the tasks backend is immediate under tests)."""
    item, _created = feedback_create(organisation=organisation, actor=actor,
                                     raw={"text": text, **raw})
    return item


def analysis_of(item) -> FeedbackAnalysis | None:
    return FeedbackAnalysis.objects.filter(feedback=item).first()


def top_theme(item) -> int | None:
    analysis = analysis_of(item)
    if analysis is None or not analysis.suggestions:
        return None
    return analysis.suggestions[0]["theme"]
