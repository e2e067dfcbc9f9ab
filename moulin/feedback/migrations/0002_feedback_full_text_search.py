"""Full-text search over feedback that understands French and English.

SQLite (embedded default): an FTS5 table kept in step by triggers, accent-insensitive.
PostgreSQL: a stored tsvector column built with the row's language ('french' / 'english' /
'simple'), weighted title > text, with a GIN index. Very long texts are indexed on their first
200,000 characters (PostgreSQL caps a tsvector at 1 MB).
"""

from django.db import migrations

SQLITE_FORWARD = [
    """CREATE VIRTUAL TABLE feedback_fts USING fts5(
        title, text, content='feedback_feedback', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER feedback_fts_insert AFTER INSERT ON feedback_feedback BEGIN
        INSERT INTO feedback_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END""",
    """CREATE TRIGGER feedback_fts_delete AFTER DELETE ON feedback_feedback BEGIN
        INSERT INTO feedback_fts(feedback_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
    END""",
    """CREATE TRIGGER feedback_fts_update AFTER UPDATE OF title, text ON feedback_feedback BEGIN
        INSERT INTO feedback_fts(feedback_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
        INSERT INTO feedback_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS feedback_fts_update",
    "DROP TRIGGER IF EXISTS feedback_fts_delete",
    "DROP TRIGGER IF EXISTS feedback_fts_insert",
    "DROP TABLE IF EXISTS feedback_fts",
]

PG_CONFIG = ("(CASE language WHEN 'fr' THEN 'french'::regconfig "
             "WHEN 'en' THEN 'english'::regconfig ELSE 'simple'::regconfig END)")
POSTGRES_FORWARD = [
    f"""ALTER TABLE feedback_feedback ADD COLUMN search_vector tsvector
        GENERATED ALWAYS AS (
            setweight(to_tsvector({PG_CONFIG}, coalesce(title, '')), 'A') ||
            setweight(to_tsvector({PG_CONFIG}, left(coalesce(text, ''), 200000)), 'B')
        ) STORED""",
    "CREATE INDEX feedback_search_vector_idx ON feedback_feedback USING GIN (search_vector)",
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS feedback_search_vector_idx",
    "ALTER TABLE feedback_feedback DROP COLUMN IF EXISTS search_vector",
]


def forward(apps, schema_editor):
    statements = {"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}.get(
        schema_editor.connection.vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


def backward(apps, schema_editor):
    statements = {"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}.get(
        schema_editor.connection.vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("feedback", "0001_feedback_tags_areas_imports")]
    operations = [migrations.RunPython(forward, backward)]
