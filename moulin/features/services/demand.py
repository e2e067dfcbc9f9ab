"""The business demand behind each feature, computed in SQL and stored on the feature.

For a feature, the *demand items* are its linked feedback plus the duplicates merged into them
(``Feedback.merged_into``): a merged duplicate's customer still asked. From them:

- ``feedback_count``: distinct demand items;
- ``customer_count``: distinct customers behind them (a customer with five items counts once);
- ``arr_total``: the sum, over those distinct customers, of each one's ARR converted into the
  organisation's reporting currency with its ``CurrencyRate`` (its own currency counts at 1).
  A customer whose currency has no rate is never added: its ARR is reported per currency in
  ``unconverted_arr``;
- ``renewal_arr_90d`` / ``at_risk_arr``: the same sum over customers renewing within 90 days /
  at risk (a paying customer whose health score is below ``AT_RISK_HEALTH``);
- ``feedback_recent`` / ``feedback_previous``: items received in the last 30 days / the 30
  before (the trend);
- ``FeatureSegment`` rows: distinct customers and converted ARR per customer segment.

The counting runs in the database (``COUNT``, ``DISTINCT``, ``SUM`` grouped by feature, segment
and currency); Python only converts the few per-currency sums of each feature.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from moulin.accounts.models import Organisation
from moulin.features.models import CurrencyRate, Feature, FeatureSegment

AT_RISK_HEALTH = 40  # health scores below this (0–100) mark a paying customer at risk
RENEWAL_DAYS = 90
TREND_DAYS = 30
_CHUNK = 500
CENT = Decimal("0.01")

# Merged duplicates are few: they are found first (index on merged_into_id), then joined to
# the links of the kept items, so the feedback table is never scanned.
_ITEMS = """
    WITH duplicates AS (
        SELECT d.id, d.merged_into_id FROM feedback_feedback d
        WHERE d.merged_into_id IS NOT NULL AND d.organisation_id = %s
    ), items AS (
        SELECT l.feature_id AS feature_id, l.feedback_id AS item_id
        FROM features_feedbacklink l WHERE l.organisation_id = %s {where}
        UNION
        SELECT l.feature_id, d.id FROM duplicates d
        JOIN features_feedbacklink l ON l.feedback_id = d.merged_into_id
        WHERE l.organisation_id = %s {where}
    )"""
_COUNTS = """
    SELECT i.feature_id, COUNT(*),
           SUM(CASE WHEN f.received_at >= %s THEN 1 ELSE 0 END),
           SUM(CASE WHEN f.received_at >= %s AND f.received_at < %s THEN 1 ELSE 0 END)
    FROM items i JOIN feedback_feedback f ON f.id = i.item_id
    GROUP BY i.feature_id"""
_CUSTOMERS = """,
    requesting AS (
        SELECT DISTINCT i.feature_id, f.customer_id FROM items i
        JOIN feedback_feedback f ON f.id = i.item_id WHERE f.customer_id IS NOT NULL
    )
    SELECT r.feature_id, c.segment_id, c.currency, COUNT(*), SUM(COALESCE(c.arr, 0)),
           SUM(CASE WHEN c.renewal_date >= %s AND c.renewal_date <= %s
                         AND c.lifecycle <> 'churned' THEN COALESCE(c.arr, 0) ELSE 0 END),
           SUM(CASE WHEN c.lifecycle = 'customer' AND c.health_score < %s
                    THEN COALESCE(c.arr, 0) ELSE 0 END)
    FROM requesting r JOIN customers_customer c ON c.id = r.customer_id
    GROUP BY r.feature_id, c.segment_id, c.currency"""


def _decimal(value: object) -> Decimal:
    return Decimal(str(value or 0))


def currency_rates(organisation_id: int) -> dict[str, Decimal]:
    """Reporting-currency units per unit of each currency; the reporting currency is 1."""
    rates = dict(CurrencyRate.objects.filter(organisation_id=organisation_id)
                 .values_list("currency", "rate"))
    currency = Organisation.objects.values_list("currency", flat=True).get(pk=organisation_id)
    rates[currency] = Decimal(1)
    return rates


def _windows(now: datetime) -> tuple[list, list]:
    ops = connection.ops
    today = timezone.localdate(now)
    recent = now - timedelta(days=TREND_DAYS)
    previous = now - timedelta(days=2 * TREND_DAYS)
    count_params = [ops.adapt_datetimefield_value(recent),
                    ops.adapt_datetimefield_value(previous),
                    ops.adapt_datetimefield_value(recent)]
    customer_params = [ops.adapt_datefield_value(today),
                       ops.adapt_datefield_value(today + timedelta(days=RENEWAL_DAYS)),
                       AT_RISK_HEALTH]
    return count_params, customer_params


def demand_recompute(*, organisation_id: int, feature_ids: Iterable[int] | None = None,
                     now: datetime | None = None, rescore: bool = True) -> int:
    """Recompute the demand columns (and segment rows) of the given features — all the
    organisation's when ``feature_ids`` is None — then rescore those whose demand moved.
    Returns the number of features recomputed."""
    if feature_ids is None:
        ids = list(Feature.objects.filter(organisation_id=organisation_id)
                   .values_list("pk", flat=True))
        chunks = [None]  # one pass over every link of the organisation
    else:
        ids = sorted(set(feature_ids))
        chunks = [ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
    if not ids:
        return 0
    rates = currency_rates(organisation_id)
    count_params, customer_params = _windows(now or timezone.now())
    counts: dict[int, tuple] = {}
    groups: dict[int, list[tuple]] = defaultdict(list)
    with transaction.atomic():
        # Cleared first: a trigger firing while we compute flags the feature again.
        _clear_stale(organisation_id, None if chunks == [None] else ids)
        with connection.cursor() as cursor:
            for chunk in chunks:
                where, params = "", [organisation_id]
                if chunk is not None:
                    where = f"AND l.feature_id IN ({', '.join(['%s'] * len(chunk))})"
                    params = [organisation_id, *chunk]
                items = _ITEMS.format(where=where)
                params = [organisation_id, *params, *params]
                cursor.execute(items + _COUNTS, [*params, *count_params])
                for feature_id, total, recent, previous in cursor.fetchall():
                    counts[feature_id] = (total, recent or 0, previous or 0)
                cursor.execute(items + _CUSTOMERS, [*params, *customer_params])
                for row in cursor.fetchall():
                    groups[row[0]].append(row[1:])
        _store(organisation_id, ids, counts, groups, rates)
        if rescore:
            from moulin.features.services.frameworks import scores_recompute

            scores_recompute(organisation_id=organisation_id, feature_ids=ids)
    return len(ids)


_SQUAD_CUSTOMERS = """,
    requesting AS (
        SELECT DISTINCT ft.squad_id, f.customer_id FROM items i
        JOIN features_feature ft ON ft.id = i.feature_id
        JOIN feedback_feedback f ON f.id = i.item_id WHERE f.customer_id IS NOT NULL
    )
    SELECT r.squad_id, c.currency, COUNT(*), SUM(COALESCE(c.arr, 0))
    FROM requesting r JOIN customers_customer c ON c.id = r.customer_id
    GROUP BY r.squad_id, c.currency"""


def squad_demand(*, organisation_id: int, features: QuerySet[Feature]
                 ) -> dict[int | None, tuple[int, Decimal]]:
    """Per squad of ``features``: (distinct requesting customers, their ARR converted into the
    reporting currency), each customer once per squad however many of its features they
    asked for. ARR in a currency without a rate is left out, as on each feature."""
    rates = currency_rates(organisation_id)
    subquery, sub_params = features.order_by().values("pk").query.sql_with_params()
    items = _ITEMS.format(where=f"AND l.feature_id IN ({subquery})")
    params = [organisation_id, organisation_id, *sub_params, organisation_id, *sub_params]
    out: dict[int | None, tuple[int, Decimal]] = {}
    with connection.cursor() as cursor:
        cursor.execute(items + _SQUAD_CUSTOMERS, params)
        for squad_id, currency, count, arr_sum in cursor.fetchall():
            customers, arr = out.get(squad_id, (0, Decimal(0)))
            rate = rates.get(currency)
            out[squad_id] = (customers + count,
                             arr + (_decimal(arr_sum) * rate if rate is not None else 0))
    return {squad: (customers, arr.quantize(CENT)) for squad, (customers, arr) in out.items()}


def _clear_stale(organisation_id: int, ids: list[int] | None) -> None:
    stale = Feature.objects.filter(organisation_id=organisation_id, demand_stale=True)
    if ids is not None:
        stale = stale.filter(pk__in=ids)
    stale.update(demand_stale=False)


def _store(organisation_id: int, ids: list[int], counts: dict, groups: dict,
           rates: dict[str, Decimal]) -> None:
    now = timezone.now()
    features, segments = [], []
    for pk in ids:
        total, recent, previous = counts.get(pk, (0, 0, 0))
        customers = 0
        arr = renewal = at_risk = Decimal(0)
        unconverted: dict[str, Decimal] = defaultdict(Decimal)
        by_segment: dict[int, list] = {}
        for segment_id, currency, count, arr_sum, renewal_sum, risk_sum in groups.get(pk, []):
            customers += count
            rate = rates.get(currency)
            if rate is None:
                unconverted[currency] += _decimal(arr_sum)
                converted = None
            else:
                converted = _decimal(arr_sum) * rate
                arr += converted
                renewal += _decimal(renewal_sum) * rate
                at_risk += _decimal(risk_sum) * rate
            if segment_id is not None:
                row = by_segment.setdefault(segment_id, [0, Decimal(0)])
                row[0] += count
                row[1] += converted or 0
        features.append(Feature(
            pk=pk, feedback_count=total, customer_count=customers,
            arr_total=arr.quantize(CENT), renewal_arr_90d=renewal.quantize(CENT),
            at_risk_arr=at_risk.quantize(CENT), feedback_recent=recent,
            feedback_previous=previous, demand_updated_at=now,
            unconverted_arr={c: str(v.quantize(CENT)) for c, v in sorted(unconverted.items())}))
        segments.extend(FeatureSegment(organisation_id=organisation_id, feature_id=pk,
                                       segment_id=segment_id, customer_count=count,
                                       arr_total=value.quantize(CENT))
                        for segment_id, (count, value) in by_segment.items())
    Feature.objects.bulk_update(features, [
        "feedback_count", "customer_count", "arr_total", "renewal_arr_90d", "at_risk_arr",
        "feedback_recent", "feedback_previous", "unconverted_arr", "demand_updated_at"],
        batch_size=500)
    for i in range(0, len(ids), _CHUNK):
        FeatureSegment.objects.filter(feature_id__in=ids[i:i + _CHUNK]).delete()
    FeatureSegment.objects.bulk_create(segments, batch_size=2000)


def demand_refresh_stale(*, organisation_id: int) -> int:
    """Recompute the features the database triggers flagged (a requesting customer's ARR,
    currency, segment, renewal or health changed; an item moved customer or was merged).
    Cheap when nothing is flagged: the board and insights call it before reading."""
    ids = list(Feature.objects.filter(organisation_id=organisation_id, demand_stale=True)
               .values_list("pk", flat=True))
    if not ids:
        return 0
    return demand_recompute(organisation_id=organisation_id, feature_ids=ids)


def demand_recompute_all(*, now: datetime | None = None) -> dict[int, int]:
    """Every organisation's demand (the daily sweep: renewals and trends move with time)."""
    done = {}
    for organisation_id in Organisation.objects.values_list("pk", flat=True):
        done[organisation_id] = demand_recompute(organisation_id=organisation_id, now=now)
    return done
