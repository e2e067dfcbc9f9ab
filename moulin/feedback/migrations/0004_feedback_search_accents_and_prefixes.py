"""PostgreSQL search that ignores accents ("equipe" finds "équipe"), like the SQLite index.

Three text search configurations (French, English, simple) copy the built-in ones and add the
``unaccent`` dictionary before stemming; the stored tsvector is rebuilt with them. ``unaccent``
is a trusted extension (PostgreSQL 13+): the database owner may create it. Where it cannot be
created the configurations are made without it, and search still works, accent-sensitive.
"""

from django.db import migrations

CONFIGS = [("moulin_french", "french", "french_stem"),
           ("moulin_english", "english", "english_stem"),
           ("moulin_simple", "simple", "simple")]
PG_CONFIG = ("(CASE language WHEN 'fr' THEN 'moulin_french'::regconfig "
             "WHEN 'en' THEN 'moulin_english'::regconfig ELSE 'moulin_simple'::regconfig END)")


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SAVEPOINT moulin_unaccent")
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
            cursor.execute("RELEASE SAVEPOINT moulin_unaccent")
            has_unaccent = True
        except Exception:  # noqa: BLE001 - no permission or no contrib package: go without
            cursor.execute("ROLLBACK TO SAVEPOINT moulin_unaccent")
            has_unaccent = False
    for name, parent, stemmer in CONFIGS:
        schema_editor.execute(f"CREATE TEXT SEARCH CONFIGURATION {name} (COPY = {parent})")
        dictionaries = f"unaccent, {stemmer}" if has_unaccent else stemmer
        schema_editor.execute(
            f"ALTER TEXT SEARCH CONFIGURATION {name} ALTER MAPPING FOR "
            f"hword, hword_part, word WITH {dictionaries}")
    schema_editor.execute("DROP INDEX IF EXISTS feedback_search_vector_idx")
    schema_editor.execute("ALTER TABLE feedback_feedback DROP COLUMN IF EXISTS search_vector")
    schema_editor.execute(
        f"""ALTER TABLE feedback_feedback ADD COLUMN search_vector tsvector
            GENERATED ALWAYS AS (
                setweight(to_tsvector({PG_CONFIG}, coalesce(title, '')), 'A') ||
                setweight(to_tsvector({PG_CONFIG}, left(coalesce(text, ''), 200000)), 'B')
            ) STORED""")
    schema_editor.execute(
        "CREATE INDEX feedback_search_vector_idx ON feedback_feedback USING GIN (search_vector)")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS feedback_search_vector_idx")
    schema_editor.execute("ALTER TABLE feedback_feedback DROP COLUMN IF EXISTS search_vector")
    for name, _parent, _stemmer in CONFIGS:
        schema_editor.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {name}")
    old = PG_CONFIG.replace("moulin_french", "french").replace(
        "moulin_english", "english").replace("moulin_simple", "simple")
    schema_editor.execute(
        f"""ALTER TABLE feedback_feedback ADD COLUMN search_vector tsvector
            GENERATED ALWAYS AS (
                setweight(to_tsvector({old}, coalesce(title, '')), 'A') ||
                setweight(to_tsvector({old}, left(coalesce(text, ''), 200000)), 'B')
            ) STORED""")
    schema_editor.execute(
        "CREATE INDEX feedback_search_vector_idx ON feedback_feedback USING GIN (search_vector)")


class Migration(migrations.Migration):
    dependencies = [("feedback", "0003_feedback_add_customer_arr")]
    operations = [migrations.RunPython(forward, backward)]
