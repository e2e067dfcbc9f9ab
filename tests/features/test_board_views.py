"""The prioritisation board pages: the ranked list with its breakdown, manual moves with their
reason, the value-versus-effort matrix, the squad comparison and the export."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from moulin.features import services
from moulin.features.models import Feature, FeedbackLink, RankOverride, ScoreSnapshot
from tests.builders import make_customer, make_feature, make_feedback, make_squad

HTMX = {"HX-Request": "true"}


def scored(member, title, reach, **fields):
    """A RICE-scored feature: reach × 1 × 100 % / effort."""
    fields.setdefault("effort", "1")
    fields.setdefault("status", "planned")
    return make_feature(member, title,
                        score_inputs={"reach": reach, "impact": 1, "confidence": 100}, **fields)



@pytest.fixture(autouse=True)
def _english():
    """These tests read English pages, whatever language the tests before them left active."""
    with translation.override("en"):
        yield

@pytest.fixture
def board(organisation, pm):
    payments = make_squad(organisation, "Payments")
    forecast = make_squad(organisation, "Forecast")
    return {
        "high": scored(pm, "Two signatories", 90, squad=payments),
        "medium": scored(pm, "Tax dates in forecast", 50, squad=forecast, effort="2"),
        "low": scored(pm, "Dark mode", 10, squad=payments, status="idea"),
        "payments": payments, "forecast": forecast,
    }


def rows_in_order(body: str, *titles: str) -> bool:
    positions = [body.index(title) for title in titles]
    return positions == sorted(positions)


def test_board_ranks_by_score_with_the_breakdown(client_for, sales_viewer, board):
    page = client_for(sales_viewer).get(reverse("features:board"))
    body = page.content.decode()
    assert page.status_code == 200
    assert rows_in_order(body, "Two signatories", "Tax dates in forecast", "Dark mode")
    for driver in ("Reach", "Impact", "Confidence", "Effort"):
        assert driver in body  # one column per driver of the standard framework
    assert "drag-handle" not in body and "move-dialog" not in body  # Sales only reads
    assert "Sortable.min.js" not in body


def test_board_filters_by_squad_status_and_reports_bad_values(client_for, pm, board):
    client = client_for(pm)
    body = client.get(reverse("features:board"), {"squad": board["forecast"].pk},
                      headers=HTMX | {"HX-Target": "board-results"}).content.decode()
    assert "Tax dates in forecast" in body and "Two signatories" not in body
    assert 'data-rank="2"' in body  # ranks stay those of the whole board
    body = client.get(reverse("features:board"), {"status": "idea"}).content.decode()
    assert "Dark mode" in body and "Two signatories" not in body
    bad = client.get(reverse("features:board"), {"status": "someday", "squad": "x"})
    assert bad.status_code == 422
    assert "Unknown status" in bad.content.decode()
    edited = client.get(reverse("features:board"), {"cursor": "garbage!!"})
    assert edited.status_code == 422  # the first page, with what was wrong
    assert "This cursor is not valid" in edited.content.decode()
    assert "Two signatories" in edited.content.decode()


def test_several_statuses_from_a_link_stay_selected_in_the_filter(client_for, pm, board):
    body = client_for(pm).get(reverse("features:board"),
                              {"status": "idea,planned"}).content.decode()
    # resubmitting the filter form keeps both statuses instead of falling back to "Any status"
    assert '<option value="idea,planned" selected>Idea, Planned</option>' in body


def test_board_filters_by_requesting_segment(client_for, pm, organisation, board):
    enterprise = make_customer(organisation, "Initech", arr=Decimal("90000"),
                               segment="Enterprise")
    item = make_feedback(organisation, "We need two signatories.", customer=enterprise)
    from moulin.features import services

    services.feature_link_feedback(actor=pm, feature=board["high"], feedback_items=[item])
    segment = enterprise.segment
    body = client_for(pm).get(reverse("features:board"),
                              {"segment": segment.pk}).content.decode()
    assert "Two signatories" in body and "Dark mode" not in body


def test_moving_a_feature_needs_a_reason(client_for, pm, board):
    client = client_for(pm)
    answer = client.post(reverse("features:board_move"),
                         {"feature": board["low"].pk, "position": 1, "reason": ""},
                         headers=HTMX)
    assert answer.status_code == 422
    assert answer["HX-Retarget"] == "#move-errors"
    assert "Give the reason for this move" in answer.content.decode()
    assert not RankOverride.objects.exists()

    answer = client.post(reverse("features:board_move"),
                         {"feature": board["low"].pk, "position": 1,
                          "reason": "Promised to Initech for their renewal", "query": ""},
                         headers=HTMX)
    assert answer.status_code == 200
    body = answer.content.decode()
    assert rows_in_order(body, "Dark mode", "Two signatories", "Tax dates in forecast")
    assert "Promised to Initech for their renewal" in body
    override = RankOverride.objects.get()
    assert (override.from_position, override.to_position) == (3, 1)
    assert override.actor == pm

    # Unpin: the score decides again.
    client.post(reverse("features:board_unpin", args=[board["low"].pk]))
    assert Feature.objects.get(pk=board["low"].pk).manual_rank is None


def test_customer_success_cannot_reorder_the_board(client_for, cs_contributor, board):
    answer = client_for(cs_contributor).post(reverse("features:board_move"), {
        "feature": board["low"].pk, "position": 1, "reason": "Our biggest client asks"})
    assert answer.status_code == 403
    assert not RankOverride.objects.exists()


def test_moving_another_organisations_feature_is_404(client_for, outsider, board):
    answer = client_for(outsider).post(reverse("features:board_move"), {
        "feature": board["low"].pk, "position": 1, "reason": "Sneaky"})
    assert answer.status_code == 404


def test_value_effort_matrix_and_squad_comparison(client_for, pm, board):
    client = client_for(pm)
    matrix = client.get(reverse("features:matrix"))
    body = matrix.content.decode()
    assert matrix.status_code == 200
    for text in ("Quick wins", "Big bets", "Fill-ins", "Time sinks", "matrix-data",
                 "chart.umd.min.js", "Two signatories"):
        assert text in body
    squads = client.get(reverse("features:squads")).content.decode()
    assert "Payments" in squads and "Forecast" in squads and "Mean score" in squads


def test_each_squad_shows_its_best_features_with_their_board_rank(client_for, pm, board,
                                                                 monkeypatch):
    """Even a squad whose features all rank below the rows read in one go."""
    from moulin.features.views import board as board_views

    monkeypatch.setattr(board_views, "TOP_SCAN", 1)  # only "Two signatories" (Payments) read
    page = client_for(pm).get(reverse("features:squads")).content.decode()
    forecast = page[page.index("<h2>Forecast</h2>"):]
    assert '<li value="2"><a' in forecast and "Tax dates in forecast" in forecast
    payments = page[page.index("<h2>Payments</h2>"):page.index("</section>",
                                                                page.index("<h2>Payments"))]
    assert '<li value="1"><a' in payments and '<li value="3"><a' in payments  # Dark mode is 3rd


def test_export_the_ranked_list_as_csv_and_xlsx(client_for, pm, board):
    client = client_for(pm)
    answer = client.get(reverse("features:export"), {"format": "csv"})
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(answer.streaming_content).decode()
                                       .lstrip("\ufeff"))))
    assert [row[3] for row in rows[1:]] == ["Two signatories", "Tax dates in forecast",
                                            "Dark mode"]
    # filtered: the place in the export's list, and the rank the board shows
    answer = client.get(reverse("features:export"), {"format": "csv",
                                                     "squad": board["forecast"].pk})
    filtered = list(csv.reader(io.StringIO(b"".join(answer.streaming_content).decode()
                                           .lstrip("\ufeff"))))
    assert filtered[0][:2] == ["position", "rank"]
    assert [row[:2] + row[3:4] for row in filtered[1:]] == [["1", "2", "Tax dates in forecast"]]
    xlsx = client.get(reverse("features:export"), {"format": "xlsx"})
    assert xlsx.status_code == 200
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    cells = [["" if v is None else str(v) for v in row]
             for row in sheet.iter_rows(values_only=True)]
    assert len(cells) == len(rows) and cells[0] == rows[0]  # same header, same rows
    assert [row[:3] for row in cells] == [row[:3] for row in rows]


def test_a_feature_that_cannot_be_scored_shows_its_error_on_the_board(client_for, pm, board):
    broken = make_feature(pm, "No effort yet", score_inputs={"reach": 5, "impact": 1,
                                                             "confidence": 100})
    broken.refresh_from_db()
    assert broken.score is None and "effort" in broken.score_error.lower()
    answer = client_for(pm).get(reverse("features:board"))
    body = answer.content.decode()
    assert answer.status_code == 200
    assert rows_in_order(body, "Dark mode", "No effort yet")  # unscorable: last
    assert "score-error" in body and "Missing input" in body
    # Every score opens its breakdown; the drivers beyond the first three fold away.
    assert f'popovertarget="breakdown-{board["high"].pk}"' in body
    assert "Show 1 more driver" in body and 'class="number driver extra"' in body


def test_linked_feedback_raises_a_feature_on_the_board(client_for, pm, organisation, board):
    """More customers asking → higher reach → higher rank (RICE reach falls back on them)."""
    feature = make_feature(pm, "Consolidated view", effort="1",
                           score_inputs={"impact": 1, "confidence": 100})
    client = client_for(pm)
    body = client.get(reverse("features:board")).content.decode()
    assert rows_in_order(body, "Dark mode", "Consolidated view")
    items = [make_feedback(organisation, f"Consolidated view please {n}",
                           customer=make_customer(organisation, f"Client {n}",
                                                  arr=Decimal("1000")))
             for n in range(60)]
    from moulin.features import services

    services.feature_link_feedback(actor=pm, feature=feature, feedback_items=items)
    assert FeedbackLink.objects.filter(feature=feature).count() == 60
    body = client.get(reverse("features:board")).content.decode()
    assert rows_in_order(body, "Two signatories", "Consolidated view", "Tax dates in forecast",
                         "Dark mode")


def test_scores_are_stored_in_the_organisation_language_and_read_in_the_reader_s(
        client_for, pm, organisation, board):
    """A French organisation's scores are stored in French whoever computes them; the board,
    the feature page and the why page word the drivers and the error in the reader's language,
    and a recompute in another language adds nothing to the score history."""
    organisation.language = "fr"
    organisation.save(update_fields=["language"])
    broken = scored(pm, "Sans effort", 5, effort=None)  # computed while English is active
    fine = scored(pm, "Mode sombre", 20)
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert broken.score_error.startswith("Valeur manquante")
    assert fine.score_breakdown["drivers"][0]["label"] == "Portée"
    snapshots = ScoreSnapshot.objects.count()
    with translation.override("en"):
        services.scores_recompute(organisation_id=organisation.pk)
    assert ScoreSnapshot.objects.count() == snapshots
    broken.refresh_from_db()
    assert broken.score_error.startswith("Valeur manquante")

    pm.user.language = "en"
    pm.user.save()
    client = client_for(pm)
    pages = [client.get(reverse("features:board")),
             client.get(reverse("features:feature_detail", args=[broken.pk])),
             client.get(reverse("features:feature_detail", args=[fine.pk])),
             client.get(reverse("features:feature_why", args=[fine.pk])),
             client.get(reverse("features:feature_list"))]
    for page in pages:
        body = page.content.decode()
        assert page.status_code == 200
        assert "Valeur manquante" not in body and "Portée" not in body
    assert "Missing input: Effort" in pages[0].content.decode()
    assert "Missing input: Effort" in pages[1].content.decode()
    assert "Missing input: Effort" in pages[4].content.decode()  # the tree's tooltip
    assert "Reach" in pages[2].content.decode() and "Reach" in pages[3].content.decode()

    pm.user.language = "fr"
    pm.user.save()
    french = client.get(reverse("features:board")).content.decode()
    assert "Valeur manquante" in french and "Missing input" not in french
