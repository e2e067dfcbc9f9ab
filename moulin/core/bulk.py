"""Fast multi-row inserts for the intake hot path (bulk API, imports, webhooks).

On PostgreSQL one ``INSERT … SELECT … FROM unnest(array, …)`` statement per batch sends each
column as a single array parameter: no per-row SQL to compile, no model instances, ids returned
in input order. Elsewhere (SQLite) it falls back to ``bulk_create``. Values must already be what
the column stores (aware datetimes, Decimals, dicts/lists for JSON): no field conversion runs.
"""

from __future__ import annotations

import json
from decimal import Decimal

from django.db import connections, router
from django.db.models import DecimalField, JSONField, Model


def bulk_insert(model: type[Model], rows: list[dict], *, batch_size: int = 5000) -> list[int]:
    """Insert ``rows`` (dicts of column attname → value) and return their new ids, in order."""
    if not rows:
        return []
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        objects = model.objects.bulk_create([model(**row) for row in rows],
                                            batch_size=min(batch_size, 1000))
        return [obj.pk for obj in objects]
    fields = {f.attname: f for f in model._meta.concrete_fields}
    columns = list(rows[0])
    unknown = [c for c in columns if c not in fields]
    if unknown:
        raise ValueError(f"{model.__name__} has no column {unknown[0]!r}.")
    quote = connection.ops.quote_name
    arrays_sql, select_sql = [], []
    for column in columns:
        field = fields[column]
        if isinstance(field, JSONField):
            arrays_sql.append("%s::text[]")
            select_sql.append(f"t.{quote(column)}::jsonb")
        else:
            arrays_sql.append(f"%s::{field.db_type(connection)}[]")
            select_sql.append(f"t.{quote(column)}")
    column_list = ", ".join(quote(c) for c in columns)
    # Only quoted column and table names are interpolated; every value is a parameter.
    sql = (f"INSERT INTO {quote(model._meta.db_table)} ({column_list}) "  # noqa: S608
           f"SELECT {', '.join(select_sql)} FROM unnest({', '.join(arrays_sql)}) "
           f"WITH ORDINALITY AS t({column_list}, ordinal) ORDER BY t.ordinal "
           f"RETURNING {quote(model._meta.pk.column)}")
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            batch = rows[start:start + batch_size]
            params = []
            for column in columns:
                values = [row[column] for row in batch]
                if isinstance(fields[column], JSONField):
                    values = [None if v is None else json.dumps(v) for v in values]
                elif isinstance(fields[column], DecimalField):
                    # psycopg refuses an array mixing int and Decimal.
                    values = [None if v is None else Decimal(v) for v in values]
                params.append(values)
            cursor.execute(sql, params)
            ids.extend(row[0] for row in cursor.fetchall())
    return ids
