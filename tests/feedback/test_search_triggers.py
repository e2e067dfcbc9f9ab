"""SQLite drops a table's triggers when a migration rebuilds the table; search must survive."""

import pytest
from django.db import connection
from django.http import QueryDict

from moulin.feedback.database_triggers import ensure_sqlite_triggers
from moulin.feedback.selectors import FeedbackFilters, feedback_list
from moulin.feedback.services import feedback_bulk_upsert

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite triggers only")


def search(member, text):
    return [f.text for f in feedback_list(member=member,
                                          filters=FeedbackFilters.from_query(QueryDict(f"q={text}")))]


def test_lost_full_text_triggers_are_restored_and_the_index_rebuilt(organisation, admin):
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER feedback_fts_insert")
    feedback_bulk_upsert(organisation=organisation, actor=admin,
                         raw_items=[{"text": "La synchronisation bancaire échoue"}])
    assert search(admin, "synchronisation") == []  # written while the trigger was missing

    assert ensure_sqlite_triggers(connection) == ["feedback_fts_insert"]

    assert search(admin, "synchronisation") == ["La synchronisation bancaire échoue"]
    assert ensure_sqlite_triggers(connection) == []
