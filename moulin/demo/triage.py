"""Liquidia's triage intelligence: a bilingual taxonomy that matches the demo feedback, a first
model trained from the taxonomy alone, a year of corrections by Product Ops, a second model
trained on them, and every demo item analysed (suggestions, automatic themes, sentiment)."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from moulin.accounts.models import Member, Organisation
from moulin.customers.models import Customer
from moulin.feedback.models import Feedback, FeedbackEvent, ProductArea, Status
from moulin.feedback.services import FeedbackWriter, feedback_input
from moulin.triage.models import (
    FeedbackAnalysis,
    FeedbackTheme,
    Origin,
    Outcome,
    Theme,
    TriageSettings,
)
from moulin.triage.services import feedback_analyse, model_train_now, triage_settings_get
from moulin.triage.services.emerging import (
    cluster_job_claim,
    cluster_job_request,
    cluster_job_run,
)

SEED = 2026
# Share of the triaged demo items Product Ops put under a theme by hand or by accepting.
LABELLED_SHARE = 0.45
# Untriaged items of the last days wait in the inbox with their suggestions, however sure.
WAITING_DAYS = 4
# Share of two-subject requests Product Ops put under the second subject.
SECOND_SUBJECT_SHARE = 0.3

# area, English name, French name, description, example phrases, words of the demo verbatims
THEMES = [
    ("Encaissements", "Duplicate or untimely reminders", "Relances en double ou mal calées",
     "Reminder emails sent twice, at the wrong time, or to customers who should not get them.",
     ["Customers got the same reminder twice.", "La relance est partie alors que le client "
      "avait payé.", "We must be able to stop reminders for a disputed invoice."],
     ["deux fois", "sent twice", "mettre en pause", "pause reminders"]),
    ("Encaissements", "Reminder templates", "Modèles de relance",
     "Wording and layout of dunning emails, per customer or language.",
     ["Let us edit the text of the reminder email.", "Adapter le ton du message de relance "
      "selon le client."],
     ["modèle d'email", "reminder template"]),
    ("Encaissements", "Cash application", "Lettrage automatique",
     "Matching incoming payments with open invoices.",
     ["Payments are not matched with the right invoices.", "Le rapprochement des "
      "encaissements avec les factures est faux."],
     ["lettrage", "cash application"]),
    ("Encaissements", "Payment links", "Liens de paiement",
     "Paying an invoice online by card or transfer from a link.",
     ["Add a pay-by-card button to invoices.", "Un lien pour payer en ligne dans l'email."],
     ["lien de paiement", "payment link"]),
    ("Prévisions", "Forecast accuracy", "Fiabilité de la prévision",
     "What the cash forecast takes into account: taxes, categories, recurring flows.",
     ["The forecast misses VAT and payroll.", "Les flux récurrents ne sont pas dans la "
      "prévision."],
     ["échéances fiscales", "tax payment", "catégories de flux", "categories are not"]),
    ("Prévisions", "Forecast scenarios", "Scénarios de trésorerie",
     "Building and comparing what-if cash scenarios.",
     ["Compare an optimistic and a pessimistic case.", "Simuler la perte d'un gros client."],
     ["scénarios", "scenarios"]),
    ("Prévisions", "Forecast speed", "Rapidité du recalcul",
     "How long the forecast takes to recompute for groups with many entities.",
     ["Recalculation takes minutes.", "La prévision met trop de temps à se mettre à jour."],
     ["trop lent", "too slow"]),
    ("Connecteurs bancaires", "Bank synchronisation failures", "Échecs de synchronisation "
     "bancaire", "Bank feeds that fail, stop or arrive late.",
     ["Our bank feed stopped updating.", "Le flux bancaire ne se met plus à jour."],
     ["synchronisation avec notre banque", "bank sync", "relevés arrivent", "statements arrive"]),
    ("Connecteurs bancaires", "New bank and ERP connectors", "Nouveaux connecteurs banque et ERP",
     "Requests for banks, protocols (EBICS) and ERPs not connected yet.",
     ["Please connect our Crédit Mutuel account.", "Il nous faut une intégration avec notre "
      "ERP."],
     ["ebics", "sage 100", "netsuite"]),
    ("Paiements fournisseurs", "Payment approvals", "Circuit de validation des paiements",
     "Who approves supplier payments, and how many signatures are needed.",
     ["Approval needs a second signer above 10k€.", "Ajouter un valideur pour les gros "
      "paiements."],
     ["signataires", "signatories"]),
    ("Paiements fournisseurs", "Scheduled supplier payments", "Programmation des virements",
     "Paying suppliers on their due date, in batches.",
     ["Pay each supplier invoice on its due date.", "Planifier les virements fournisseurs."],
     ["programmer les virements", "schedule supplier"]),
    ("Paiements fournisseurs", "SEPA files", "Fichiers SEPA",
     "SEPA transfer files rejected or malformed.",
     ["Our bank rejects the SEPA file.", "Le fichier de virement SEPA est refusé."],
     ["sepa"]),
    ("Reporting", "Dashboard exports", "Exports du tableau de bord",
     "PDF and spreadsheet exports of dashboards.",
     ["The PDF export is unreadable.", "L'export Excel du tableau de bord est incomplet."],
     ["export pdf", "pdf export"]),
    ("Reporting", "Consolidated multi-currency view", "Vue consolidée multi-devises",
     "Group-level views across entities and currencies.",
     ["We need one view of all our subsidiaries in euros.", "Consolider nos filiales en "
      "plusieurs devises."],
     ["multi-devises", "multi-currency"]),
    ("Reporting", "Scheduled reports", "Rapports programmés",
     "Reports sent automatically by email.",
     ["Email me the cash position every morning.", "Recevoir le reporting chaque semaine."],
     ["par email chaque lundi", "emailed every monday"]),
    ("Reporting", "Saved filters", "Filtres mémorisés",
     "Filters and views remembered between sessions.",
     ["Keep my filters when I come back.", "Les filtres se réinitialisent à chaque "
      "connexion."],
     ["filtre par entité", "entity filter"]),
    ("Plateforme", "Single sign-on", "Authentification unique (SSO)",
     "Signing in with the company's identity provider.",
     ["Log in with Okta.", "Connexion avec notre annuaire Microsoft."],
     ["sso"]),
    ("Plateforme", "Roles and permissions", "Rôles et droits",
     "Who can see and change what: read-only access, auditors, per-entity rights.",
     ["Give our auditors read-only access.", "Limiter l'accès de certains utilisateurs à une "
      "entité."],
     ["lecture seule", "read-only"]),
    ("Plateforme", "Public API", "API publique",
     "Reading and writing data through the API.",
     ["The API should let us push entries in bulk.", "Créer des écritures via l'API."],
     ["l'api", "the api"]),
]


def _themes_in(text: str, words: list[tuple[str, int]]) -> list[int]:
    """The themes a verbatim talks about, in the order it mentions them."""
    lowered = text.lower()
    found = sorted((lowered.find(word), index) for word, index in words if word in lowered)
    return list(dict.fromkeys(index for _position, index in found))


def demo_triage(organisation: Organisation) -> None:
    """Taxonomy, corrections, two model versions and the analysed demo feedback (once)."""
    if Theme.objects.filter(organisation=organisation).exists():
        return
    rng = random.Random(SEED)
    ops = Member.objects.filter(organisation=organisation,
                                user__email="productops@example.com").first()
    areas = {a.name: a for a in ProductArea.objects.filter(organisation=organisation)}
    themes = Theme.objects.bulk_create([
        Theme(organisation=organisation, product_area=areas.get(area), name_en=name_en,
              name_fr=name_fr, description=description, examples=examples, created_by=ops)
        for area, name_en, name_fr, description, examples, _words in THEMES])
    words = [(word, index) for index, entry in enumerate(THEMES) for word in entry[5]]
    triage_settings_get(organisation_id=organisation.pk)

    # v1: the taxonomy alone (cold start), then every item analysed with it.
    model_train_now(organisation_id=organisation.pk, trigger="cold start", actor=ops,
                    refresh=False)
    items = list(Feedback.objects.filter(organisation=organisation)
                 .only("id", "text", "status", "received_at"))
    feedback_analyse(organisation_id=organisation.pk, ids=[item.pk for item in items])

    # A year of triage: Product Ops put part of the triaged items under their theme.
    links, reviewed = [], []
    now = timezone.now()
    for item in items:
        if item.status == Status.NEW or rng.random() > LABELLED_SHARE:
            continue
        mentioned = _themes_in(item.text, words)
        if not mentioned:
            continue
        # A request about two subjects goes under its first one, mostly: people disagree.
        index = mentioned[1] if len(mentioned) > 1 and rng.random() < SECOND_SUBJECT_SHARE \
            else mentioned[0]
        links.append(FeedbackTheme(organisation=organisation, feedback_id=item.pk,
                                   theme=themes[index], applied_by=ops,
                                   origin=rng.choice([Origin.ACCEPTED, Origin.MANUAL])))
        reviewed.append(item.pk)
    FeedbackTheme.objects.filter(feedback_id__in=reviewed, origin=Origin.AUTOMATIC).delete()
    FeedbackTheme.objects.bulk_create(links, batch_size=1000, ignore_conflicts=True)
    FeedbackAnalysis.objects.filter(feedback_id__in=reviewed).update(
        outcome=Outcome.REVIEWED, reviewed_at=now, reviewed_by=ops)
    FeedbackEvent.objects.bulk_create(
        [FeedbackEvent(feedback_id=link.feedback_id, actor=ops, kind="themes",
                       changes={"themes": [[], [link.theme.name_en]]}) for link in links],
        batch_size=1000)
    # v2: learnt from the corrections.
    model_train_now(organisation_id=organisation.pk, trigger="labels", actor=ops, refresh=False)
    # Older items it is sure about are applied automatically; the recent ones (and a few
    # requests no theme covers) wait in the inbox for Product Ops, with their suggestions.
    settings = triage_settings_get(organisation_id=organisation.pk)
    older = [item.pk for item in items if item.status != Status.NEW and item.pk not in
             set(reviewed)]
    feedback_analyse(organisation_id=organisation.pk, ids=older, force=True)
    # Untriaged items of the last days wait in the inbox whatever the confidence; the older
    # untriaged ones went through the organisation's threshold like any incoming item.
    threshold = settings.auto_apply_threshold
    waiting_since = now - timedelta(days=WAITING_DAYS)
    untriaged = [item for item in items if item.status == Status.NEW]
    feedback_analyse(organisation_id=organisation.pk, force=True,
                     ids=[item.pk for item in untriaged if item.received_at < waiting_since])
    TriageSettings.objects.filter(pk=organisation.pk).update(auto_apply_threshold=1.0)
    recent = [item.pk for item in untriaged if item.received_at >= waiting_since]
    recent += _off_topic_requests(organisation, ops, rng)
    feedback_analyse(organisation_id=organisation.pk, ids=recent, force=True)
    TriageSettings.objects.filter(pk=organisation.pk).update(auto_apply_threshold=threshold)
    _emerging_themes(organisation)


def _emerging_themes(organisation: Organisation) -> None:
    """Run the search for emerging themes once, so the page shows what it finds."""
    job = cluster_job_request(organisation_id=organisation.pk, actor=None)
    claimed = cluster_job_claim(job_id=job.pk)  # the queued task will find it taken
    if claimed is not None:
        cluster_job_run(job=claimed)


# Requests no theme of the taxonomy covers ("unknown — possible new theme"), received over
# the last weeks: the mobile app comes up again and again, an emerging theme.
OFF_TOPIC = [
    "Un mode sombre serait apprécié, l'écran blanc fatigue les yeux le soir.",
    "Please add a dark mode, our finance team works late.",
    "L'application mobile plante à l'ouverture sur Android.",
    "The iOS app logs us out every day.",
    "The mobile app logs us out every morning, we have to sign in again each time.",
    "On the mobile app we get logged out all the time, it is very annoying.",
    "L'application mobile nous déconnecte tous les matins, il faut se reconnecter.",
    "The iPhone app keeps logging me out after a few minutes.",
    "L'application mobile ne garde pas la session, on est déconnecté sans arrêt.",
    "Why does the mobile app log me out every day? Please keep the session open.",
    "Sur l'application iPhone, on est déconnecté à chaque ouverture.",
    "The Android app logs our CFO out every time he opens it.",
    "Mobile app: we are logged out constantly and have to type the password again.",
    "L'appli mobile nous déconnecte tout le temps, c'est pénible pour valider les paiements.",
    "Being logged out of the mobile app every morning is driving our team mad.",
    "The mobile app session expires far too quickly, we keep signing in again.",
]


def _off_topic_requests(organisation: Organisation, actor: Member | None,
                        rng: random.Random) -> list[int]:
    customers = list(Customer.objects.filter(organisation=organisation, arr__isnull=False)
                     .order_by("-arr").values_list("pk", flat=True)[:60])
    now = timezone.now()
    writer = FeedbackWriter(organisation, actor)
    results = writer.write([feedback_input({
        "text": text, "source": rng.choice(["intercom", "zendesk", "email"]),
        "external_id": f"demo-triage-{n}",
        "customer_id": rng.choice(customers) if customers else None,
        "created_at": (now - timedelta(days=n * 2, hours=rng.randrange(24))).isoformat()})
        for n, text in enumerate(OFF_TOPIC)])
    return [result.id for result in results if result.id]
