"""Whatever people paste into the back-office forms, Moulin answers with a saved change or a
field-level message, never a server error."""

from django.forms.forms import NON_FIELD_ERRORS
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from moulin.accounts.models import ApiToken, Department, Squad

ODD_TEXT = [
    "", " ", "\x00", "Sales\x00", "\x00" * 3, "x" * 10_000, "é" * 121, "\u202eselaS", "مبيعات",
    "שיווק", "🚀👩‍💻", "\U0001f600" * 50, "\r\n\t", "<script>alert(1)</script>",
    "=HYPERLINK(\"http://evil.example\")", "'; DROP TABLE accounts_department; --", "%_\\",
    "EUR", "eur", "€", "ÉUR", "EU", "EURO", "EUR\n", "123", "-1", "0", "3651", "9" * 5_000,
    "1e3", "１２", "NaN", "None", "null", "read", "write",
]
text = st.one_of(st.sampled_from(ODD_TEXT), st.text(max_size=400),
                 st.text(st.characters(codec="utf-8"), min_size=100, max_size=12_000))
FUZZ = settings(max_examples=30, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_field_error(response):
    assert response.status_code == 422, response.status_code
    errors = response.context["form"].errors
    assert set(errors) - {NON_FIELD_ERRORS}, errors.as_data()


@FUZZ
@given(name=text, description=text)
@example(name=" Ventes 🚀 ", description="مبيعات")  # saved
@example(name="Sales", description="")  # taken already
@example(name="Sa\x00les", description="")  # NUL byte
def test_department_form_never_fails(client_for, admin, name, description):
    response = client_for(admin).post("/departments/", {"name": name,
                                                         "description": description})

    if response.status_code == 302:
        assert Department.objects.filter(organisation=admin.organisation,
                                         name=name.strip(), description=description.strip()
                                         ).exists()
    else:
        assert_field_error(response)


@FUZZ
@given(name=text, mission=text, lead=text)
@example(name="\u202eShipping", mission="x" * 300, lead="")  # saved
@example(name="Payments", mission="", lead="99999999999999999999999")  # no such lead
def test_squad_form_never_fails(client_for, admin, name, mission, lead):
    response = client_for(admin).post("/squads/", {"name": name, "mission": mission,
                                                    "lead": lead})

    if response.status_code == 302:
        squad = Squad.objects.get(organisation=admin.organisation, name=name.strip())
        assert squad.lead in (None, admin)
    else:
        assert_field_error(response)


@FUZZ
@given(name=text, language=st.one_of(st.sampled_from(["fr", "en"]), text),
       timezone_name=st.one_of(st.sampled_from(["Europe/Paris", "America/New_York"]), text),
       currency=text)
def test_organisation_settings_never_fail(client_for, admin, name, language, timezone_name,
                                          currency):
    response = client_for(admin).post("/settings/", {
        "name": name, "language": language, "timezone_name": timezone_name,
        "currency": currency})

    if response.status_code == 302:
        admin.organisation.refresh_from_db()
        assert admin.organisation.currency == currency.strip().upper()
        assert len(admin.organisation.currency) == 3
        assert admin.organisation.currency.isascii()
    else:
        assert_field_error(response)


@FUZZ
@given(currency=text)
@example(currency="usd")  # saved as USD
@example(currency=" usd ")
@example(currency="€UR")
def test_currency_is_a_three_letter_code_or_a_field_error(client_for, admin, currency):
    response = client_for(admin).post("/settings/", {
        "name": "Acme Treasury", "language": "en", "timezone_name": "Europe/Paris",
        "currency": currency})

    if response.status_code == 302:
        admin.organisation.refresh_from_db()
        assert admin.organisation.currency == currency.strip().upper()
    else:
        assert_field_error(response)
        assert "currency" in response.context["form"].errors


@FUZZ
@given(name=text, scope=st.one_of(st.sampled_from(["read", "write"]), text),
       expires_in_days=st.one_of(st.just(""), st.integers().map(str), text))
@example(name="Zapier 🚀", scope="write", expires_in_days="30")  # created
@example(name="CRM", scope="admin", expires_in_days="")
@example(name="CRM", scope="read", expires_in_days="1" * 10_000)
def test_token_form_never_fails(client_for, pm, name, scope, expires_in_days):
    before = ApiToken.objects.filter(member=pm).count()

    response = client_for(pm).post("/me/tokens/", {"name": name, "scope": scope,
                                                    "expires_in_days": expires_in_days})

    # A created token is shown once on the same page (200), so it is not a redirect.
    if response.status_code == 200:
        token = ApiToken.objects.filter(member=pm).latest("created_at")
        assert ApiToken.objects.filter(member=pm).count() == before + 1
        assert token.name == name.strip()
        assert response.context["new_secret"].startswith("mln_")
    else:
        assert_field_error(response)
        assert ApiToken.objects.filter(member=pm).count() == before
