"""A database trigger that flags every feature's demand as stale when the organisation's
reporting currency changes (see moulin/features/database_triggers.py)."""

from django.db import migrations

from moulin.features.database_triggers import (
    CURRENCY_POSTGRES_BACKWARD,
    CURRENCY_POSTGRES_FORWARD,
    CURRENCY_SQLITE_BACKWARD,
    CURRENCY_SQLITE_TRIGGERS,
)


def trigger_forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": list(CURRENCY_SQLITE_TRIGGERS.values()),
                  "postgresql": CURRENCY_POSTGRES_FORWARD}.get(vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


def trigger_backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": CURRENCY_SQLITE_BACKWARD,
                  "postgresql": CURRENCY_POSTGRES_BACKWARD}.get(vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ("features", "0003_demand_stale_triggers"),
    ]

    operations = [
        migrations.RunPython(trigger_forward, trigger_backward),
    ]
