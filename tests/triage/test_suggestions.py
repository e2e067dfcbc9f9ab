"""Incoming feedback gets suggested themes with a confidence; Product Ops accept or correct
them with one keystroke; sure suggestions are applied automatically; off-topic feedback is
flagged "unknown — possible new theme"; sentiment is shown and filterable."""

from __future__ import annotations

import pytest
from django.urls import reverse

from moulin.customers.services import RowError
from moulin.feedback.models import FeedbackEvent
from moulin.triage.models import FeedbackTheme, Origin, Outcome, TriageSettings
from moulin.triage.services import feedback_analyse
from tests.triage.triage_data import (
    NEW_ITEMS,
    OFF_TOPIC,
    analysis_of,
    make_taxonomy,
    receive,
    top_theme,
    train,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def themes(organisation):
    themes = make_taxonomy(organisation)
    train(organisation)
    return themes


@pytest.fixture
def never_automatic(organisation):
    """Everything waits for review (the threshold cannot be reached)."""
    TriageSettings.objects.update_or_create(organisation=organisation,
                                            defaults={"auto_apply_threshold": 1.0})


def received(organisation, capture, text, **raw):
    with capture(execute=True):
        return receive(organisation, text, **raw)


def decide(client, item, **data):
    return client.post(reverse("triage:feedback_theme_decide", args=[item.pk]), data,
                       headers={"HX-Request": "true"})


def test_a_new_item_gets_suggestions_with_a_confidence(organisation, themes, never_automatic,
                                                       django_capture_on_commit_callbacks):
    item = received(organisation, django_capture_on_commit_callbacks, NEW_ITEMS[0][0])
    analysis = analysis_of(item)
    assert analysis is not None, "intake's hook analyses the item once it is committed"
    assert analysis.outcome == Outcome.SUGGESTED
    assert analysis.suggestions[0]["theme"] == themes["bank_sync"].pk
    confidences = [s["confidence"] for s in analysis.suggestions]
    assert 0 < confidences[0] <= 1 and confidences == sorted(confidences, reverse=True)
    assert len(analysis.suggestions) <= 3
    assert analysis.confidence == confidences[0]


def test_cold_start_from_names_descriptions_and_examples_only(organisation, never_automatic):
    """No labelled feedback at all: the first analysis trains a model from the taxonomy."""
    themes = make_taxonomy(organisation)
    items = [receive(organisation, text) for text, _key in NEW_ITEMS]
    feedback_analyse(organisation_id=organisation.pk, ids=[i.pk for i in items])
    right = sum(top_theme(item) == themes[key].pk
                for item, (_text, key) in zip(items, NEW_ITEMS, strict=True))
    assert right >= 6, f"only {right} of {len(items)} right from the taxonomy alone"


def test_off_topic_feedback_is_unknown(organisation, themes, django_capture_on_commit_callbacks):
    item = received(organisation, django_capture_on_commit_callbacks, OFF_TOPIC)
    assert analysis_of(item).outcome == Outcome.UNKNOWN
    assert not FeedbackTheme.objects.filter(feedback=item).exists()


def test_sure_suggestions_are_applied_automatically(client_for, pm, organisation, themes,
                                                    django_capture_on_commit_callbacks):
    item = received(organisation, django_capture_on_commit_callbacks, NEW_ITEMS[0][0])
    confidence = analysis_of(item).confidence
    settings = TriageSettings.objects.get(organisation=organisation)
    settings.auto_apply_threshold = max(0.5, round(confidence - 0.01, 3))
    settings.save()
    assert confidence >= settings.auto_apply_threshold, "a clear item should be confident"
    feedback_analyse(organisation_id=organisation.pk, ids=[item.pk], force=True)

    link = FeedbackTheme.objects.get(feedback=item)
    assert (link.theme, link.origin) == (themes["bank_sync"], Origin.AUTOMATIC)
    assert link.model_version is not None and link.confidence == confidence
    assert analysis_of(item).outcome == Outcome.AUTOMATIC
    client = client_for(pm)
    page = client.get(reverse("feedback:detail", args=[item.pk])).content.decode()
    assert f"applied automatically ({round(confidence * 100)}%)" in page  # as suggestions show it
    inbox = client.get(reverse("feedback:inbox")).content.decode()
    assert "theme-chip automatic" in inbox


def test_accept_the_top_suggestion_from_the_inbox(client_for, product_ops, organisation, themes,
                                                  never_automatic,
                                                  django_capture_on_commit_callbacks):
    item = received(organisation, django_capture_on_commit_callbacks, NEW_ITEMS[2][0])
    client = client_for(product_ops)
    inbox = client.get(reverse("feedback:inbox")).content.decode()
    assert "Payment reminders" in inbox and 'data-rank="1"' in inbox

    response = decide(client, item, decision="accept", rank="1", **{"from": "inbox"})
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="feedback-{item.pk}"' in body and "hx-swap-oob" in body
    assert "Theme “Payment reminders” applied." in body
    link = FeedbackTheme.objects.get(feedback=item)
    assert (link.theme, link.origin, link.applied_by) == (themes["reminders"], Origin.ACCEPTED,
                                                          product_ops)
    assert analysis_of(item).outcome == Outcome.REVIEWED
    assert FeedbackEvent.objects.filter(feedback=item, kind="themes").exists()
    assert TriageSettings.objects.get(organisation=organisation).labels_since_training == 1


def test_correct_with_another_theme_then_remove_it(client_for, product_ops, organisation,
                                                   themes, never_automatic,
                                                   django_capture_on_commit_callbacks):
    item = received(organisation, django_capture_on_commit_callbacks, NEW_ITEMS[4][0])
    client = client_for(product_ops)
    response = decide(client, item, decision="apply", theme=themes["access"].pk)
    assert response.status_code == 200
    assert "Single sign-on and permissions" in response.content.decode()
    assert list(FeedbackTheme.objects.filter(feedback=item).values_list("theme", "origin")) == [
        (themes["access"].pk, Origin.MANUAL)]

    response = decide(client, item, decision="remove", theme=themes["access"].pk)
    assert response.status_code == 200
    assert not FeedbackTheme.objects.filter(feedback=item).exists()
    assert analysis_of(item).outcome == Outcome.SUGGESTED, "back to review"


def test_unknown_and_dismiss_are_explicit_outcomes(client_for, product_ops, organisation,
                                                   themes, never_automatic,
                                                   django_capture_on_commit_callbacks):
    first = received(organisation, django_capture_on_commit_callbacks, NEW_ITEMS[1][0])
    second = received(organisation, django_capture_on_commit_callbacks, NEW_ITEMS[3][0])
    client = client_for(product_ops)
    assert decide(client, first, decision="unknown").status_code == 200
    assert decide(client, second, decision="dismiss").status_code == 200
    assert analysis_of(first).outcome == Outcome.UNKNOWN
    assert analysis_of(second).outcome == Outcome.REVIEWED
    # A re-analysis refreshes the suggestions but never overrides a person's decision.
    feedback_analyse(organisation_id=organisation.pk, ids=[first.pk, second.pk], force=True)
    assert analysis_of(first).outcome == Outcome.UNKNOWN
    unknown = client.get(reverse("feedback:inbox"), {"outcome": "unknown"}).content.decode()
    assert f'id="feedback-{first.pk}"' in unknown and f'id="feedback-{second.pk}"' not in unknown


def test_bad_decisions_say_what_to_fix(client_for, product_ops, organisation, themes,
                                       never_automatic, django_capture_on_commit_callbacks):
    item = received(organisation, django_capture_on_commit_callbacks, OFF_TOPIC + " Really.")
    client = client_for(product_ops)
    response = decide(client, item, decision="accept", rank="9")
    assert response.status_code == 422
    assert "suggestions for this item" in response.content.decode()
    response = decide(client, item, decision="explode")
    assert response.status_code == 422 and "Unknown decision" in response.content.decode()
    response = decide(client, item, decision="apply", theme="abc")
    assert response.status_code == 422 and "Choose a theme." in response.content.decode()
    response = decide(client, item, decision="apply", theme="999999")
    assert response.status_code == 404


def test_who_may_see_and_decide(client_for, cs_contributor, sales_viewer, outsider,
                                organisation, themes, django_capture_on_commit_callbacks):
    item = received(organisation, django_capture_on_commit_callbacks, NEW_ITEMS[0][0])
    panel = reverse("triage:feedback_themes", args=[item.pk])
    viewer = client_for(sales_viewer)
    page = viewer.get(panel)
    assert page.status_code == 200 and "Bank synchronisation" in page.content.decode()
    assert "data-decide-url" not in page.content.decode()
    assert decide(viewer, item, decision="accept").status_code == 403
    assert decide(client_for(cs_contributor), item, decision="accept").status_code == 403
    assert client_for(outsider).get(panel).status_code == 404
    assert decide(client_for(outsider), item, decision="accept").status_code == 404


@pytest.mark.parametrize("text", [
    "🙂🙂🙂 👍",
    "The export fails, et la synchronisation bancaire ne marche plus depuis lundi !",
    "x" * 1_000_000,
    "Bank sync " * 100_000,
])
def test_any_text_is_analysed_without_crashing(organisation, themes, text,
                                               django_capture_on_commit_callbacks):
    item = received(organisation, django_capture_on_commit_callbacks, text)
    analysis = analysis_of(item)
    assert analysis is not None and analysis.outcome in Outcome.values
    assert analysis.sentiment in ("negative", "neutral", "positive")


def test_empty_text_is_refused_at_intake(organisation, themes):
    with pytest.raises(RowError, match="empty"):
        receive(organisation, "   ")


def test_one_theme_taxonomy(organisation, never_automatic):
    themes = make_taxonomy(organisation, ["bank_sync"])
    train(organisation)
    on_topic = receive(organisation, NEW_ITEMS[0][0])
    off_topic = receive(organisation, OFF_TOPIC)
    feedback_analyse(organisation_id=organisation.pk, ids=[on_topic.pk, off_topic.pk])
    assert top_theme(on_topic) == themes["bank_sync"].pk
    assert analysis_of(on_topic).outcome == Outcome.SUGGESTED
    assert analysis_of(off_topic).outcome == Outcome.UNKNOWN


def test_five_hundred_themes(organisation, never_automatic):
    from tests.builders import make_theme

    themes = make_taxonomy(organisation)
    for n in range(496):  # one short name each: the test measures scale, not wording
        make_theme(organisation, f"Widget {n} gadget {n % 11}")
    version = train(organisation)
    assert version.status == "done" and version.theme_count == 500
    item = receive(organisation, NEW_ITEMS[0][0])
    feedback_analyse(organisation_id=organisation.pk, ids=[item.pk])
    suggestions = analysis_of(item).suggestions
    assert 1 <= len(suggestions) <= 3
    assert themes["bank_sync"].pk in [s["theme"] for s in suggestions]


def test_suggestions_off_means_nothing_is_suggested(organisation, themes,
                                                    django_capture_on_commit_callbacks):
    TriageSettings.objects.filter(organisation=organisation).update(enabled=False)
    item = received(organisation, django_capture_on_commit_callbacks, NEW_ITEMS[0][0])
    analysis = analysis_of(item)
    assert analysis.outcome == Outcome.PENDING and analysis.suggestions == []
    assert analysis.vector, "the embedding is still stored (duplicates, clusters)"


def test_sentiment_is_shown_and_filterable(client_for, pm, organisation, themes,
                                           django_capture_on_commit_callbacks):
    angry = received(organisation, django_capture_on_commit_callbacks,
                     "This is awful: bank sync fails again and we are furious, nothing works.")
    happy = received(organisation, django_capture_on_commit_callbacks,
                     "Thank you, the new cash forecast is excellent, the team loves it!")
    assert analysis_of(angry).sentiment == "negative"
    assert analysis_of(happy).sentiment == "positive"
    client = client_for(pm)
    negative = client.get(reverse("feedback:inbox"), {"sentiment": "negative"}).content.decode()
    assert f'id="feedback-{angry.pk}"' in negative and f'id="feedback-{happy.pk}"' not in negative
    assert "sentiment-negative" in negative
    page = client.get(reverse("feedback:detail", args=[happy.pk])).content.decode()
    assert "sentiment-positive" in page


def test_inbox_filters_by_theme_and_reports_bad_values(client_for, pm, organisation, themes,
                                                       django_capture_on_commit_callbacks):
    item = received(organisation, django_capture_on_commit_callbacks, NEW_ITEMS[0][0])
    FeedbackTheme.objects.get_or_create(feedback=item, theme=themes["bank_sync"],
                                        defaults={"organisation": organisation})
    other = received(organisation, django_capture_on_commit_callbacks, NEW_ITEMS[6][0])
    client = client_for(pm)
    page = client.get(reverse("feedback:inbox"), {"theme": themes["bank_sync"].pk})
    body = page.content.decode()
    assert f'id="feedback-{item.pk}"' in body and f'id="feedback-{other.pk}"' not in body
    bad = client.get(reverse("feedback:inbox"), {"outcome": "maybe", "theme": "x"})
    assert bad.status_code == 422
    assert "Unknown value" in bad.content.decode() and "Expected ids" in bad.content.decode()


def test_inbox_rows_cost_a_fixed_number_of_queries(client_for, pm, organisation, themes,
                                                   django_assert_max_num_queries):
    items = [receive(organisation, text) for text, _key in NEW_ITEMS]
    feedback_analyse(organisation_id=organisation.pk, ids=[i.pk for i in items])
    client = client_for(pm)
    client.get(reverse("feedback:inbox"))  # warm caches (session, permissions)
    with django_assert_max_num_queries(40):
        response = client.get(reverse("feedback:inbox"), headers={"HX-Request": "true",
                                                                  "HX-Target": "inbox-results"})
    assert response.content.decode().count("row-themes") == len(items)


def test_suggestion_n_is_the_one_shown_after_themes_are_archived_or_merged(
        client_for, product_ops, organisation, themes, never_automatic,
        django_capture_on_commit_callbacks):
    """Stored suggestions are refreshed by retraining only; the pages leave archived themes
    out and follow merges, and "accept suggestion N" must pick what the page numbers N."""
    from moulin.accounts.audit import CLI
    from moulin.triage.services import suggestion_accept, theme_archive, theme_merge

    item = received(organisation, django_capture_on_commit_callbacks, NEW_ITEMS[0][0])
    first, second, third = themes["bank_sync"], themes["reminders"], themes["forecast"]
    analysis = analysis_of(item)
    analysis.suggestions = [{"theme": first.pk, "confidence": 0.5},
                            {"theme": second.pk, "confidence": 0.3},
                            {"theme": third.pk, "confidence": 0.2}]
    analysis.save(update_fields=["suggestions"])
    theme_merge(actor=product_ops, origin=CLI, theme=first, into=second)  # shown: 2nd, 3rd
    page = client_for(product_ops).get(reverse("feedback:detail", args=[item.pk]))
    shown = page.content.decode()
    assert shown.index(second.name) < shown.index(third.name)
    link = suggestion_accept(actor=product_ops, feedback=item, rank=2)
    assert link.theme == third, "suggestion 2 as shown is the third theme"

    FeedbackTheme.objects.filter(feedback=item).delete()
    theme_archive(actor=product_ops, origin=CLI, theme=second)  # shown: the third only
    assert suggestion_accept(actor=product_ops, feedback=item, rank=1).theme == third
    response = decide(client_for(product_ops), item, decision="accept", rank="2")
    assert response.status_code == 422
    assert "There is only 1 suggestion for this item." in response.content.decode()


def test_a_theme_a_person_took_off_is_not_applied_automatically_again(
        pm, organisation, themes, django_capture_on_commit_callbacks):
    from moulin.triage.services import feedback_theme_apply, feedback_theme_remove

    item = received(organisation, django_capture_on_commit_callbacks, NEW_ITEMS[0][0])
    settings = TriageSettings.objects.get(organisation=organisation)
    settings.auto_apply_threshold = max(0.5, round(analysis_of(item).confidence - 0.01, 3))
    settings.save()
    feedback_analyse(organisation_id=organisation.pk, ids=[item.pk], force=True)
    assert FeedbackTheme.objects.get(feedback=item).origin == Origin.AUTOMATIC

    feedback_theme_remove(actor=pm, feedback=item, theme=themes["bank_sync"])
    assert analysis_of(item).outcome == Outcome.SUGGESTED  # back in the review queue
    # a refresh of the suggestions (retraining, rollback, edited text) re-analyses the item
    feedback_analyse(organisation_id=organisation.pk, ids=[item.pk], force=True)
    assert not FeedbackTheme.objects.filter(feedback=item).exists()
    analysis = analysis_of(item)
    assert analysis.outcome == Outcome.SUGGESTED
    assert analysis.suggestions[0]["theme"] == themes["bank_sync"].pk  # still suggested

    feedback_theme_apply(actor=pm, feedback=item, theme=themes["bank_sync"])  # changed mind
    assert analysis_of(item).removed_themes == []


def test_the_same_decision_twice_counts_one_label(pm, organisation, themes, never_automatic,
                                                  django_capture_on_commit_callbacks):
    from moulin.triage.services import feedback_theme_apply

    item = received(organisation, django_capture_on_commit_callbacks, NEW_ITEMS[0][0])
    TriageSettings.objects.filter(organisation=organisation).update(labels_since_training=0)
    for _twice in range(2):
        feedback_theme_apply(actor=pm, feedback=item, theme=themes["bank_sync"])
    assert TriageSettings.objects.get(organisation=organisation).labels_since_training == 1
    feedback_theme_apply(actor=pm, feedback=item, theme=themes["reminders"])  # another label
    assert TriageSettings.objects.get(organisation=organisation).labels_since_training == 2


def test_saying_unknown_twice_writes_the_history_once(client_for, product_ops, organisation,
                                                      themes, never_automatic,
                                                      django_capture_on_commit_callbacks):
    """A double press of "n" (or a retried API call) is one decision: one line in the item's
    history, not "→ unknown" twice."""
    item = received(organisation, django_capture_on_commit_callbacks, NEW_ITEMS[1][0])
    client = client_for(product_ops)
    assert decide(client, item, decision="unknown").status_code == 200
    assert decide(client, item, decision="unknown").status_code == 200
    assert FeedbackEvent.objects.filter(feedback=item, kind="themes").count() == 1
    assert analysis_of(item).outcome == Outcome.UNKNOWN
