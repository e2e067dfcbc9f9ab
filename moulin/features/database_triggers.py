"""The database triggers that flag a feature's demand as stale when data of a lower layer
changes under it.

Customers and feedback sit below features (they never import this app), yet a customer's ARR,
currency, segment, renewal date, lifecycle or health, an item moving to another customer, a
merge (``merged_into``) or a deleted duplicate all change the demand behind a feature. Instead
of a hook every writer must remember, these triggers set ``features_feature.demand_stale`` on
the features concerned, whatever code path made the change (services, imports, the admin, SQL);
a new reporting currency flags every feature of the organisation.
``moulin.features.services.demand_refresh_stale`` recomputes the flagged features (the board
and the insights call it before reading; the ``recompute_demand`` command sweeps daily).

SQLite drops a table's triggers when a migration rebuilds it; ``ensure_sqlite_triggers`` runs
after every ``migrate`` and puts back any that is missing.
"""

from __future__ import annotations

CUSTOMER_COLUMNS = ("arr", "currency", "segment_id", "renewal_date", "lifecycle", "health_score")
FEEDBACK_COLUMNS = ("customer_id", "merged_into_id", "received_at")


def _changed(columns: tuple[str, ...]) -> str:
    """PostgreSQL's WHEN clause: any of ``columns`` really changed."""
    return " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)


SQLITE_TRIGGERS = {
    # Features whose demand includes feedback of the customer (directly or as a duplicate).
    "features_demand_customer_changed": """
        CREATE TRIGGER features_demand_customer_changed
        AFTER UPDATE OF arr, currency, segment_id, renewal_date, lifecycle, health_score
        ON customers_customer
        WHEN old.arr IS NOT new.arr OR old.currency IS NOT new.currency
          OR old.segment_id IS NOT new.segment_id OR old.renewal_date IS NOT new.renewal_date
          OR old.lifecycle IS NOT new.lifecycle OR old.health_score IS NOT new.health_score
        BEGIN
            UPDATE features_feature SET demand_stale = 1 WHERE id IN (
                SELECT l.feature_id FROM features_feedbacklink l
                JOIN feedback_feedback f ON f.id = l.feedback_id WHERE f.customer_id = new.id
                UNION
                SELECT l.feature_id FROM features_feedbacklink l
                JOIN feedback_feedback d ON d.merged_into_id = l.feedback_id
                WHERE d.customer_id = new.id);
        END""",
    "features_demand_feedback_changed": """
        CREATE TRIGGER features_demand_feedback_changed
        AFTER UPDATE OF customer_id, merged_into_id, received_at ON feedback_feedback
        WHEN old.customer_id IS NOT new.customer_id
          OR old.merged_into_id IS NOT new.merged_into_id
          OR old.received_at IS NOT new.received_at
        BEGIN
            UPDATE features_feature SET demand_stale = 1 WHERE id IN (
                SELECT feature_id FROM features_feedbacklink
                WHERE feedback_id IN (new.id, new.merged_into_id, old.merged_into_id));
        END""",
    "features_demand_duplicate_deleted": """
        CREATE TRIGGER features_demand_duplicate_deleted AFTER DELETE ON feedback_feedback
        WHEN old.merged_into_id IS NOT NULL BEGIN
            UPDATE features_feature SET demand_stale = 1 WHERE id IN (
                SELECT feature_id FROM features_feedbacklink
                WHERE feedback_id = old.merged_into_id);
        END""",
    "features_demand_link_deleted": """
        CREATE TRIGGER features_demand_link_deleted AFTER DELETE ON features_feedbacklink
        BEGIN
            UPDATE features_feature SET demand_stale = 1 WHERE id = old.feature_id;
        END""",
}

POSTGRES_FORWARD = [
    """CREATE FUNCTION moulin_features_demand_customer() RETURNS trigger AS $$
        BEGIN
            UPDATE features_feature SET demand_stale = TRUE WHERE id IN (
                SELECT l.feature_id FROM features_feedbacklink l
                JOIN feedback_feedback f ON f.id = l.feedback_id WHERE f.customer_id = NEW.id
                UNION
                SELECT l.feature_id FROM features_feedbacklink l
                JOIN feedback_feedback d ON d.merged_into_id = l.feedback_id
                WHERE d.customer_id = NEW.id) AND NOT demand_stale;
            RETURN NULL;
        END $$ LANGUAGE plpgsql""",
    f"""CREATE TRIGGER features_demand_customer_changed
        AFTER UPDATE OF {", ".join(CUSTOMER_COLUMNS)} ON customers_customer FOR EACH ROW
        WHEN ({_changed(CUSTOMER_COLUMNS)})
        EXECUTE FUNCTION moulin_features_demand_customer()""",
    """CREATE FUNCTION moulin_features_demand_feedback() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                UPDATE features_feature SET demand_stale = TRUE WHERE id IN (
                    SELECT feature_id FROM features_feedbacklink
                    WHERE feedback_id = OLD.merged_into_id) AND NOT demand_stale;
            ELSE
                UPDATE features_feature SET demand_stale = TRUE WHERE id IN (
                    SELECT feature_id FROM features_feedbacklink
                    WHERE feedback_id IN (NEW.id, NEW.merged_into_id, OLD.merged_into_id))
                    AND NOT demand_stale;
            END IF;
            RETURN NULL;
        END $$ LANGUAGE plpgsql""",
    f"""CREATE TRIGGER features_demand_feedback_changed
        AFTER UPDATE OF {", ".join(FEEDBACK_COLUMNS)} ON feedback_feedback FOR EACH ROW
        WHEN ({_changed(FEEDBACK_COLUMNS)})
        EXECUTE FUNCTION moulin_features_demand_feedback()""",
    """CREATE TRIGGER features_demand_duplicate_deleted AFTER DELETE ON feedback_feedback
        FOR EACH ROW WHEN (OLD.merged_into_id IS NOT NULL)
        EXECUTE FUNCTION moulin_features_demand_feedback()""",
    """CREATE FUNCTION moulin_features_demand_link() RETURNS trigger AS $$
        BEGIN
            UPDATE features_feature SET demand_stale = TRUE
            WHERE id = OLD.feature_id AND NOT demand_stale;
            RETURN NULL;
        END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER features_demand_link_deleted AFTER DELETE ON features_feedbacklink
        FOR EACH ROW EXECUTE FUNCTION moulin_features_demand_link()""",
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS features_demand_link_deleted ON features_feedbacklink",
    "DROP FUNCTION IF EXISTS moulin_features_demand_link()",
    "DROP TRIGGER IF EXISTS features_demand_duplicate_deleted ON feedback_feedback",
    "DROP TRIGGER IF EXISTS features_demand_feedback_changed ON feedback_feedback",
    "DROP FUNCTION IF EXISTS moulin_features_demand_feedback()",
    "DROP TRIGGER IF EXISTS features_demand_customer_changed ON customers_customer",
    "DROP FUNCTION IF EXISTS moulin_features_demand_customer()",
]
SQLITE_BACKWARD = [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS]

# Added by migration 0004: a new reporting currency changes every feature's ARR (converted
# into it). Kept apart from the lists above, which migration 0003 applies.
CURRENCY_SQLITE_TRIGGERS = {
    "features_demand_currency_changed": """
        CREATE TRIGGER IF NOT EXISTS features_demand_currency_changed
        AFTER UPDATE OF currency ON accounts_organisation
        WHEN old.currency IS NOT new.currency
        BEGIN
            UPDATE features_feature SET demand_stale = 1 WHERE organisation_id = new.id;
        END""",
}
CURRENCY_POSTGRES_FORWARD = [
    """CREATE OR REPLACE FUNCTION moulin_features_demand_currency() RETURNS trigger AS $$
        BEGIN
            UPDATE features_feature SET demand_stale = TRUE
            WHERE organisation_id = NEW.id AND NOT demand_stale;
            RETURN NULL;
        END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER features_demand_currency_changed
        AFTER UPDATE OF currency ON accounts_organisation FOR EACH ROW
        WHEN (OLD.currency IS DISTINCT FROM NEW.currency)
        EXECUTE FUNCTION moulin_features_demand_currency()""",
]
CURRENCY_POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS features_demand_currency_changed ON accounts_organisation",
    "DROP FUNCTION IF EXISTS moulin_features_demand_currency()",
]
CURRENCY_SQLITE_BACKWARD = [f"DROP TRIGGER IF EXISTS {name}"
                            for name in CURRENCY_SQLITE_TRIGGERS]


def ensure_sqlite_triggers(connection) -> list[str]:
    """Create the missing triggers (SQLite only); returns the names it had to create."""
    if connection.vendor != "sqlite":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN "
                       "('feedback_feedback', 'customers_customer', 'features_feedbacklink', "
                       "'features_feature')")
        if len(cursor.fetchall()) < 4:
            return []  # migrations not applied yet
        cursor.execute("PRAGMA table_info(features_feature)")
        if "demand_stale" not in {row[1] for row in cursor.fetchall()}:
            return []
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        present = {row[0] for row in cursor.fetchall()}
        every = {**SQLITE_TRIGGERS, **CURRENCY_SQLITE_TRIGGERS}
        missing = [name for name in every if name not in present]
        for name in missing:
            cursor.execute(every[name])
    return missing
