"""The "why this priority" page shared with Sales and Customer Success: rank, score drivers,
the manual move's reason, and the customers behind it — names only for members allowed to
see customers, aggregates for the others."""

from decimal import Decimal

import pytest
from django.urls import reverse

from moulin.accounts import services as account_services
from moulin.accounts.audit import CLI
from moulin.core.policy import Role
from moulin.features import services
from tests.builders import department, make_customer, make_feature, make_feedback, make_member


@pytest.fixture
def feature(organisation, pm):
    initech = make_customer(organisation, "Initech", arr=Decimal("120000"),
                            segment="Enterprise")
    hooli = make_customer(organisation, "Hooli", arr=Decimal("30000"), segment="SMB")
    feature = make_feature(pm, "Two signatories", effort="2",
                           score_inputs={"impact": 2, "confidence": 80})
    make_feature(pm, "Something else", effort="1",
                 score_inputs={"reach": 500, "impact": 3, "confidence": 100})
    services.feature_link_feedback(actor=pm, feature=feature, feedback_items=[
        make_feedback(organisation, "Our CFO wants a second signature.", customer=initech),
        make_feedback(organisation, "Two signatories, please.", customer=hooli)])
    services.feature_move(actor=pm, feature=feature, to_position=1,
                          reason="Security requirement of two Enterprise deals")
    feature.refresh_from_db()
    return feature


def test_the_page_explains_rank_drivers_and_the_reason(client_for, pm, feature):
    page = client_for(pm).get(reverse("features:feature_why", args=[feature.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="why-rank">#1<' in body
    assert "Security requirement of two Enterprise deals" in body
    for text in ("Reach", "Impact", "Confidence", "Initech", "Hooli",
                 "Our CFO wants a second signature."):
        assert text in body
    assert "150,000" in body or "150 000" in body or "150000" in body


def test_sales_with_customers_hidden_sees_aggregates_only(client_for, organisation, feature):
    admin = make_member(organisation, role=Role.ADMIN)
    account_services.permission_set(actor=admin, origin=CLI, subject_type="department",
                                    subject=str(department(organisation, "sales").pk),
                                    module="customers", level=0)
    seller = make_member(organisation, role=Role.VIEWER, department_key="sales")
    page = client_for(seller).get(reverse("features:feature_why", args=[feature.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="why-aggregates-only"' in body
    assert "Initech" not in body and "Hooli" not in body
    assert 'data-testid="why-customers">2<' in body  # the totals stay
    assert "Security requirement of two Enterprise deals" in body


def test_sales_allowed_to_see_customers_gets_their_names(client_for, sales_viewer, feature):
    body = client_for(sales_viewer).get(reverse("features:feature_why",
                                                args=[feature.pk])).content.decode()
    assert "Initech" in body


def test_another_organisation_cannot_read_it(client_for, outsider, feature):
    answer = client_for(outsider).get(reverse("features:feature_why", args=[feature.pk]))
    assert answer.status_code == 404
