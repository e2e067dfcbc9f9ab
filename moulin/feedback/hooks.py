"""Explicit extension points of the feedback hub for the layers above it.

The hub must not import the apps built on it (triage, features…), yet they need to know when
feedback arrives. An upper app registers a function once, in its ``AppConfig.ready()``; intake
calls ``feedback_saved`` after writing, and the functions run once the transaction commits (at
once outside a transaction). A failing listener is logged and never breaks intake.

GDPR erasure (``personal_data_erased``) is the other way round: the upper apps keep copies of
verbatims (theme examples, cluster keywords, the vendors' requests stored with each webhook
delivery…) and must remove the person from them in the same transaction as the erasure, so a
failing listener fails the erasure instead of leaving a copy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Protocol

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


class PersonalDataErasedListener(Protocol):
    """``listener(organisation_id=…, needles=[…], replacement="[erased]")``."""

    def __call__(self, *, organisation_id: int, needles: list[str], replacement: str
                 ) -> object: ...


_erased_listeners: list[PersonalDataErasedListener] = []


def register_personal_data_erased(listener: PersonalDataErasedListener) -> None:
    """Call ``listener`` when a person is erased: it replaces ``needles`` (their name, address)
    with ``replacement`` wherever its app copied feedback text."""
    if listener not in _erased_listeners:
        _erased_listeners.append(listener)


def personal_data_erased(*, organisation_id: int, needles: list[str], replacement: str) -> None:
    """Tell the listeners, at once and inside the caller's transaction, that these values were
    erased. Unlike ``feedback_saved``, an exception propagates: the erasure rolls back whole
    and can be retried, rather than succeeding with a copy of the person left behind."""
    if not needles:
        return
    for listener in list(_erased_listeners):
        listener(organisation_id=organisation_id, needles=list(needles),
                 replacement=replacement)
