"""The SQLite triggers the feedback tables rely on (full-text index, customer ARR copy).

SQLite rebuilds a table (copy, drop, rename) for many schema changes, and the rebuild silently
drops that table's triggers. After every ``migrate``, ``ensure_sqlite_triggers`` puts back any
missing trigger and, if the full-text triggers were missing, rebuilds the full-text index so no
row is left unsearchable. PostgreSQL keeps its triggers and generated column: nothing to do.
"""

from __future__ import annotations

SQLITE_TRIGGERS = {
    "feedback_fts_insert": """
        CREATE TRIGGER feedback_fts_insert AFTER INSERT ON feedback_feedback BEGIN
            INSERT INTO feedback_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
        END""",
    "feedback_fts_delete": """
        CREATE TRIGGER feedback_fts_delete AFTER DELETE ON feedback_feedback BEGIN
            INSERT INTO feedback_fts(feedback_fts, rowid, title, text)
            VALUES ('delete', old.id, old.title, old.text);
        END""",
    "feedback_fts_update": """
        CREATE TRIGGER feedback_fts_update AFTER UPDATE OF title, text ON feedback_feedback BEGIN
            INSERT INTO feedback_fts(feedback_fts, rowid, title, text)
            VALUES ('delete', old.id, old.title, old.text);
            INSERT INTO feedback_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
        END""",
    "customer_arr_to_feedback": """
        CREATE TRIGGER customer_arr_to_feedback AFTER UPDATE OF arr ON customers_customer
        WHEN old.arr IS NOT new.arr BEGIN
            UPDATE feedback_feedback SET customer_arr = coalesce(new.arr, 0)
            WHERE customer_id = new.id;
        END""",
    "feedback_customer_arr_on_move": """
        CREATE TRIGGER feedback_customer_arr_on_move AFTER UPDATE OF customer_id
        ON feedback_feedback WHEN old.customer_id IS NOT new.customer_id BEGIN
            UPDATE feedback_feedback SET customer_arr = coalesce(
                (SELECT arr FROM customers_customer WHERE id = new.customer_id), 0)
            WHERE id = new.id;
        END""",
}


def ensure_sqlite_triggers(connection) -> list[str]:
    """Create the missing triggers (SQLite only); returns the names it had to create."""
    if connection.vendor != "sqlite":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN "
                       "('feedback_feedback', 'feedback_fts', 'customers_customer')")
        if len(cursor.fetchall()) < 3:
            return []  # migrations not applied yet
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        present = {row[0] for row in cursor.fetchall()}
        missing = [name for name in SQLITE_TRIGGERS if name not in present]
        for name in missing:
            cursor.execute(SQLITE_TRIGGERS[name])
        if any(name.startswith("feedback_fts") for name in missing):
            cursor.execute("INSERT INTO feedback_fts(feedback_fts) VALUES ('rebuild')")
    return missing
