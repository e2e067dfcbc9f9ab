"""Fast multi-row inserts for the intake hot path (bulk API, imports, webhooks).

On PostgreSQL the ids are taken from the table's sequence in one query, then the rows travel by
``COPY`` (the cheapest way in for both the client and the server), so the caller still gets
every new id, in input order. Elsewhere (SQLite) it falls back to ``bulk_create``. Values must
already be what the column stores (aware datetimes, Decimals, dicts/lists for JSON): no field
conversion runs.
"""

from __future__ import annotations

import json

from django.db import connections, router
from django.db.models import JSONField, Model


def bulk_insert(model: type[Model], rows: list[dict]) -> list[int]:
    """Insert ``rows`` (dicts of column attname → value) and return their new ids, in order."""
    if not rows:
        return []
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        objects = model.objects.bulk_create([model(**row) for row in rows], batch_size=1000)
        return [obj.pk for obj in objects]
    fields = {f.attname: f for f in model._meta.concrete_fields}
    columns = list(rows[0])
    unknown = [c for c in columns if c not in fields]
    if unknown:
        raise ValueError(f"{model.__name__} has no column {unknown[0]!r}.")
    json_columns = {i for i, c in enumerate(columns) if isinstance(fields[c], JSONField)}
    table, pk = model._meta.db_table, model._meta.pk.column
    quote = connection.ops.quote_name
    column_list = ", ".join(quote(c) for c in [pk, *columns])
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                       "FROM generate_series(1, %s)", [table, pk, len(rows)])
        ids = [row[0] for row in cursor.fetchall()]
        # Only quoted names are interpolated; the values travel as COPY data.
        with cursor.copy(f"COPY {quote(table)} ({column_list}) FROM STDIN") as copy:
            for pk_value, row in zip(ids, rows, strict=True):
                values = [row[c] for c in columns]
                for i in json_columns:
                    if values[i] is not None:
                        values[i] = json.dumps(values[i])
                copy.write_row((pk_value, *values))
    return ids


def filter_in(queryset, field: str, values) -> object:
    """``queryset.filter(field__in=values)``; on PostgreSQL a long list travels as one array
    parameter (``= ANY(%s)``) instead of one placeholder per value, which the driver and the
    server would otherwise split and parse value by value."""
    values = list(values)
    connection = connections[queryset.db]
    if connection.vendor != "postgresql" or len(values) < 100:
        return queryset.filter(**{f"{field}__in": values})
    model = queryset.model
    column = model._meta.get_field(field).column
    quote = connection.ops.quote_name
    # Only quoted names are interpolated; the values are one parameter.
    return queryset.extra(where=[f"{quote(model._meta.db_table)}.{quote(column)} = ANY(%s)"],  # noqa: S610
                          params=[values])
