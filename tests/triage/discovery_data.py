"""Feedback written for the duplicates, emerging themes and insights tests, and helpers to put
it in the database the way intake does (then analysed, as the background task would)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from moulin.customers.services import customer_upsert
from moulin.feedback import services as feedback_services
from moulin.feedback.models import Feedback
from moulin.triage import vector_store
from moulin.triage.services.analysis import feedback_analyse

# Two ways of saying the same thing, and one said again with other case and punctuation.
EXPORT_TIMEOUT = "The PDF export times out when the workspace has more than 500 invoices."
EXPORT_TIMEOUT_PARAPHRASE = ("Exporting to PDF fails with a timeout on workspaces with over 500 "
                             "invoices.")
EXPORT_TIMEOUT_SHOUTED = "the pdf EXPORT times out when the workspace has more than 500 invoices!!"
UNRELATED = [
    "We need single sign-on with Okta before our renewal in March.",
    "The forecast chart does not show the previous quarter any more.",
    "Bank reconciliation crashes when a statement has more than 500 lines.",
    "Please let us invite accountants as read-only guests.",
]

# A topic no theme covers yet: a dark mode, asked for in many words (EN and FR).
DARK_MODE = [
    "Please add a dark mode, the white screen hurts my eyes at night.",
    "Is a dark mode planned? Working late on this bright interface is tiring.",
    "We would love a dark mode for the dashboard.",
    "Dark mode please! Our finance team works evenings and the interface is far too bright.",
    "Could you offer a dark mode for the app?",
    "Un mode sombre serait vraiment apprécié, l'écran blanc fatigue les yeux.",
    "My eyes hurt after a day on the app: a dark mode would help a lot.",
    "Any plans for dark mode support? Every other tool we use has one.",
]
# Another topic: getting paid through the Stripe integration.
STRIPE_PAYOUTS = [
    "Stripe payouts are not matched with the bank transactions automatically.",
    "The Stripe integration does not reconcile payouts with our bank lines.",
    "Payouts from Stripe should be matched to bank deposits without manual work.",
    "We spend hours matching Stripe payouts against the bank statement.",
    "Automatic reconciliation of Stripe payouts would save our team a day each month.",
    "Stripe payout reconciliation is manual today, please automate it.",
]
NOISE = [
    "The login page is slow on Monday mornings.",
    "Can we export the audit trail to Excel?",
    "Typo on the invoice template: 'Ammount' instead of 'Amount'.",
    "The mobile app crashes when I open a large PDF attachment.",
    "Please support multi-currency budgets.",
]


def make_customer(organisation, name: str, arr: str | None = None, segment: str = ""):
    raw = {"name": name, "external_id": f"crm-{name.lower().replace(' ', '-')}"}
    if arr is not None:
        raw["arr"] = arr
    if segment:
        raw["segment"] = segment
    customer, _created = customer_upsert(organisation=organisation, raw=raw)
    return customer


def make_feedback(organisation, actor, text: str, *, customer=None, days_ago: float = 1,
                  title: str = "") -> Feedback:
    raw = {"text": text, "title": title,
           "created_at": (timezone.now() - timedelta(days=days_ago)).isoformat()}
    if customer is not None:
        raw["customer_id"] = customer.pk
    item, _created = feedback_services.feedback_create(organisation=organisation, actor=actor,
                                                       raw=raw)
    return item


def analyse(*items: Feedback) -> None:
    """What the background task does after intake: embed, and store the vectors."""
    if not items:
        return
    feedback_analyse(organisation_id=items[0].organisation_id, ids=[i.pk for i in items],
                     force=True)


def forget_indexes() -> None:
    """SQLite reuses ids after a rolled-back test: never trust another test's cached index."""
    vector_store.forget()
