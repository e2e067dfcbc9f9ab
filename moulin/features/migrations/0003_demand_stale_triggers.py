"""Database triggers that flag a feature's demand as stale when a requesting customer or a linked
item changes (see moulin/features/database_triggers.py)."""

from django.db import migrations

from moulin.features.database_triggers import (
    POSTGRES_BACKWARD,
    POSTGRES_FORWARD,
    SQLITE_BACKWARD,
    SQLITE_TRIGGERS,
)


def triggers_forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": list(SQLITE_TRIGGERS.values()),
                  "postgresql": POSTGRES_FORWARD}.get(vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


def triggers_backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in {"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}.get(vendor, []):
        schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ("features", "0002_feature_demand_columns_segments"),
    ]

    operations = [
        migrations.RunPython(triggers_forward, triggers_backward),
    ]
