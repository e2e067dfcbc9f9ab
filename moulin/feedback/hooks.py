"""Explicit extension points of the feedback hub for the layers above it.

The hub must not import the apps built on it (triage, features…), yet they need to know when
feedback arrives. An upper app registers a function once, in its ``AppConfig.ready()``; intake
calls ``feedback_saved`` after writing, and the functions run once the transaction commits (at
once outside a transaction). A failing listener is logged and never breaks intake.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.db import transaction

logger = logging.getLogger(__name__)

# fn(organisation_id, feedback_ids): called with the items created or changed by one write.
FeedbackSavedListener = Callable[[int, list[int]], None]
_saved_listeners: list[FeedbackSavedListener] = []


def register_feedback_saved(listener: FeedbackSavedListener) -> None:
    """Call ``listener(organisation_id, ids)`` after feedback is created or its text changes."""
    if listener not in _saved_listeners:
        _saved_listeners.append(listener)


def feedback_saved(*, organisation_id: int, ids: Iterable[int]) -> None:
    """Tell the listeners (after commit) that these items were created or updated."""
    ids = sorted({int(pk) for pk in ids if pk})
    if not ids or not _saved_listeners:
        return

    def notify() -> None:
        for listener in list(_saved_listeners):
            try:
                listener(organisation_id, ids)
            except Exception:  # a listener's bug must not lose the feedback just written
                logger.exception("feedback_saved listener %r failed for %d items", listener,
                                 len(ids))

    transaction.on_commit(notify)
