"""Insights: what customers talk about, theme by theme, computed in SQL.

A *mention* of a theme is a feedback item linked to it. A duplicate merged into another item
counts for the kept item's themes (its own links are ignored): the customer said it too. So
every query starts from ``_mentions()``, feedback rows annotated with ``mention_theme``:

    CASE WHEN merged_into IS NULL THEN theme_links.theme ELSE merged_into.theme_links.theme END

and groups by it with ``values()``/``annotate()``; counts are ``COUNT(DISTINCT …)`` so the
joins never count an item or a customer twice. The ARR behind a theme sums each customer once,
whatever the number of items they sent: the distinct (theme, customer, ARR) triples are summed
per theme (and currency, converted into the reporting one) in the same query
(``_arr_per_theme``). Nine queries in all, whatever the data size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from moulin.accounts.models import Member
from moulin.core import parsing, policy
from moulin.feedback.models import Feedback, ProductArea
from moulin.triage.models import Sentiment, Theme
from moulin.triage.services.currency import Rates, ReportedArr, arr_reported, currency_rates

MODULE = "feedback"
PERIODS = (4, 12, 26, 52)  # weeks
DEFAULT_PERIOD = 12
RECENT_WEEKS = 4  # "rising": the last 4 weeks …
BASELINE_WEEKS = 8  # … against the 8 before, per week
CHART_THEMES = 8


@dataclass
class InsightFilters:
    weeks: int = DEFAULT_PERIOD
    product_area: int | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_query(cls, query: QueryDict | dict) -> InsightFilters:
        """Parse leniently: a bad value falls back to the default and is reported."""
        filters = cls()
        raw_weeks = str(query.get("weeks", "") or "").strip()
        if raw_weeks:
            weeks = parsing.parse_id(raw_weeks)
            if weeks in PERIODS:
                filters.weeks = weeks
            else:
                filters.errors["weeks"] = _("Choose a period of %s weeks.") % ", ".join(
                    str(p) for p in PERIODS)
        raw_area = str(query.get("product_area", "") or "").strip()
        if raw_area:
            area = parsing.parse_id(raw_area)
            if area is None:
                filters.errors["product_area"] = _("Expected a product area id (a number).")
            else:
                filters.product_area = area
        return filters


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _since(weeks: int) -> tuple[date, datetime]:
    """The Monday that starts the window of ``weeks`` weeks ending this week, and that
    midnight as an aware datetime."""
    first = _week_start(timezone.localdate()) - timedelta(weeks=weeks - 1)
    return first, datetime.combine(first, time.min, timezone.get_current_timezone())


def _themes(member: Member, filters: InsightFilters) -> QuerySet[Theme]:
    themes = policy.scope(Theme.objects.all(), member, MODULE).filter(archived_at=None)
    if filters.product_area:
        themes = themes.filter(product_area_id=filters.product_area)
    return themes


def _mentions(member: Member, filters: InsightFilters, since) -> QuerySet[Feedback]:
    """Feedback rows, one per (item, theme) mention, with the theme in ``mention_theme``."""
    return (policy.scope(Feedback.objects.all(), member, MODULE)
            .filter(received_at__gte=since)
            .annotate(mention_theme=Case(
                When(merged_into__isnull=True, then=F("theme_links__theme")),
                default=F("merged_into__theme_links__theme"), output_field=IntegerField()))
            .filter(mention_theme__in=_themes(member, filters).values("pk")))


def _percent_change(recent: int, before: int) -> float | None:
    """Change of the weekly rate, recent weeks against the baseline (None: nothing before)."""
    if not before:
        return None
    recent_rate = recent / RECENT_WEEKS
    before_rate = before / BASELINE_WEEKS
    return round(100 * (recent_rate - before_rate) / before_rate, 1)


def _arr_per_theme(member: Member, filters: InsightFilters, since: datetime, rates: Rates
                   ) -> dict[int, ReportedArr]:
    """Sum of the ARR of the distinct customers behind each theme, in the reporting currency,
    in one query: the distinct (theme, customer, ARR, currency) rows in a derived table, summed
    per theme and currency, then converted. (The ORM cannot aggregate over a subquery in FROM,
    so the ORM-built SQL is wrapped; its parameters stay bound.)"""
    triples = (_mentions(member, filters, since).exclude(customer_id=None)
               .annotate(pair_customer=F("customer_id"), pair_arr=F("customer__arr"),
                         pair_currency=F("customer__currency"))
               .values("mention_theme", "pair_customer", "pair_arr", "pair_currency")
               .distinct().order_by())
    inner, params = triples.query.sql_with_params()
    quote = connection.ops.quote_name
    theme, currency = quote("mention_theme"), quote("pair_currency")
    sql = (f"SELECT {theme}, {currency}, SUM({quote('pair_arr')}) "  # noqa: S608 - ORM SQL
           f"FROM ({inner}) AS triples GROUP BY {theme}, {currency}")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    sums: dict[int, list[tuple[str, object]]] = {}
    for theme_id, code, total in rows:
        sums.setdefault(theme_id, []).append((code, total))
    return {theme_id: arr_reported(pairs, rates=rates) for theme_id, pairs in sums.items()}


@dataclass
class ThemeInsight:
    theme_id: int
    name: str
    items: int = 0
    customers: int = 0
    arr: Decimal = Decimal(0)  # in the organisation's reporting currency
    # ARR of customers whose currency has no rate: never added to ``arr`` (currency → amount)
    arr_unconverted: dict[str, Decimal] = field(default_factory=dict)
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    recent: int = 0
    before: int = 0
    change: float | None = None
    segments: list[dict] = field(default_factory=list)

    @property
    def is_new(self) -> bool:
        return self.recent > 0 and self.before == 0

    @property
    def sentiment_percent(self) -> dict[str, int]:
        total = self.negative + self.neutral + self.positive
        if not total:
            return {"negative": 0, "neutral": 0, "positive": 0}
        return {key: round(100 * getattr(self, key) / total)
                for key in ("negative", "neutral", "positive")}


@dataclass
class Insights:
    filters: InsightFilters
    weeks: list[str]  # ISO dates of each week's Monday, oldest first
    themes: list[ThemeInsight]
    series: list[dict]  # [{"theme_id", "label", "data": [count per week]}], biggest first
    rising: list[ThemeInsight]
    segments: list[str]
    product_areas: list[ProductArea]
    currency: str = ""  # of every ``arr``


def insights(*, member: Member, filters: InsightFilters) -> Insights:
    """Volume per theme per week, rising themes, customers/ARR and segments, sentiment."""
    first_week, since = _since(filters.weeks)
    name_of = {t.pk: t.name for t in _themes(member, filters).only("pk", "name_en", "name_fr")}
    by_theme: dict[int, ThemeInsight] = {}

    def row(theme_id: int) -> ThemeInsight:
        if theme_id not in by_theme:
            by_theme[theme_id] = ThemeInsight(theme_id=theme_id,
                                              name=name_of.get(theme_id, f"#{theme_id}"))
        return by_theme[theme_id]

    distinct_items = {"distinct": True}
    totals = (_mentions(member, filters, since).values("mention_theme").order_by()
              .annotate(items=Count("id", **distinct_items),
                        customers=Count("customer", distinct=True),
                        negative=Count("id", filter=Q(analysis__sentiment=Sentiment.NEGATIVE),
                                       **distinct_items),
                        neutral=Count("id", filter=Q(analysis__sentiment=Sentiment.NEUTRAL),
                                      **distinct_items),
                        positive=Count("id", filter=Q(analysis__sentiment=Sentiment.POSITIVE),
                                       **distinct_items)))
    for values in totals:
        insight = row(values["mention_theme"])
        for key in ("items", "customers", "negative", "neutral", "positive"):
            setattr(insight, key, values[key])

    # ARR: each customer once per theme, in the reporting currency.
    rates = currency_rates(member.organisation_id)
    for theme_id, arr in _arr_per_theme(member, filters, since, rates).items():
        row(theme_id).arr, row(theme_id).arr_unconverted = arr.total, arr.unconverted

    # Rising: the last RECENT_WEEKS weeks against the BASELINE_WEEKS before (whatever the
    # period shown), as weekly rates. Whole 7-day spans ending now, not calendar weeks: the
    # current week has only begun, and counting it as a week made every steady theme fall.
    now = timezone.now()
    recent_start = now - timedelta(weeks=RECENT_WEEKS)
    baseline_start = recent_start - timedelta(weeks=BASELINE_WEEKS)
    rising_rows = (_mentions(member, filters, baseline_start).values("mention_theme").order_by()
                   .annotate(recent=Count("id", filter=Q(received_at__gte=recent_start),
                                          distinct=True),
                             before=Count("id", filter=Q(received_at__lt=recent_start),
                                          distinct=True)))
    for values in rising_rows:
        insight = row(values["mention_theme"])
        insight.recent, insight.before = values["recent"], values["before"]
        insight.change = _percent_change(insight.recent, insight.before)

    # Segments: distinct customers and items per (theme, customer segment).
    segment_names: set[str] = set()
    for values in (_mentions(member, filters, since)
                   .values("mention_theme", "customer__segment__name").order_by()
                   .annotate(customers=Count("customer", distinct=True),
                             items=Count("id", distinct=True))):
        segment = values["customer__segment__name"] or _("No segment")
        segment_names.add(segment)
        row(values["mention_theme"]).segments.append(
            {"segment": segment, "customers": values["customers"], "items": values["items"]})

    # Weekly volume. The week is found by comparing the date with the (at most 52) week starts
    # in SQL: a CASE the database evaluates itself (TruncWeek is a Python function per row on
    # SQLite, ten times slower).
    weeks = [first_week + timedelta(weeks=n) for n in range(filters.weeks)]
    zone = timezone.get_current_timezone()
    week_of = Case(*[When(received_at__gte=datetime.combine(week, time.min, zone),
                          then=Value(n)) for n, week in reversed(list(enumerate(weeks)))],
                   default=Value(-1), output_field=IntegerField())
    counts: dict[int, list[int]] = {}
    for values in (_mentions(member, filters, since).annotate(week=week_of)
                   .values("mention_theme", "week").order_by()
                   .annotate(n=Count("id", distinct=True))):
        if 0 <= values["week"] < len(weeks):
            counts.setdefault(values["mention_theme"], [0] * len(weeks))[values["week"]] = \
                values["n"]

    themes = sorted((t for t in by_theme.values() if t.items), key=lambda t: (-t.items, t.name))
    series = [{"theme_id": t.theme_id, "label": t.name,
               "data": counts.get(t.theme_id, [0] * len(weeks))}
              for t in themes[:CHART_THEMES]]
    rising = sorted((t for t in by_theme.values() if t.recent and (t.is_new or (t.change or 0)
                                                                   > 0)),
                    key=lambda t: (not t.is_new, -(t.change or 0), -t.recent))[:10]
    areas = list(policy.scope(ProductArea.objects.all(), member, MODULE).order_by("name"))
    return Insights(filters=filters, weeks=[w.isoformat() for w in weeks], themes=themes,
                    series=series, rising=rising, segments=sorted(segment_names),
                    product_areas=areas, currency=rates.currency)
