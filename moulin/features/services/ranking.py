"""Manual moves on the prioritisation board: each one is recorded with its reason.

The board lists the *pinned* features first (``manual_rank`` 1, 2, 3…), then every other
feature by score. Moving a feature to position ``p`` pins it there; the pinned block stays
contiguous, so a move below the block also pins the features it passes over, in their current
order (they keep their place, the moved feature lands exactly at ``p``).
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from moulin.accounts.models import Member
from moulin.core import parsing
from moulin.core.errors import DomainError
from moulin.features.models import (
    BOARD_ORDERING,
    Feature,
    FeatureEvent,
    RankOverride,
    with_board_keys,
)

MAX_PINNED = 1000


def board_order_ids(organisation_id: int) -> list[int]:
    """The organisation's whole board, as feature ids in ranked order."""
    return list(with_board_keys(Feature.objects.filter(organisation_id=organisation_id))
                .order_by(*BOARD_ORDERING).values_list("pk", flat=True))


def board_ranks(organisation_id: int) -> dict[int, int]:
    """{feature id: its rank on the organisation's whole board, from 1}: what the board shows
    beside each row, even in a filtered list, and what a move's position refers to."""
    return {pk: rank for rank, pk in enumerate(board_order_ids(organisation_id), start=1)}


def _reason(reason: str) -> str:
    try:
        text = parsing.clean_text(reason, max_length=500, field=_("Reason"))
    except ValueError as error:
        raise DomainError(str(error), field="reason") from error
    if not text:
        raise DomainError(_("Say why this feature moves: the reason is shown to everyone who "
                            "reads the board."), field="reason")
    return text


def _pin(organisation_id: int, pinned: list[int]) -> None:
    """Give ``pinned`` the manual ranks 1..n and unpin every other feature."""
    current = dict(Feature.objects.filter(organisation_id=organisation_id)
                   .exclude(manual_rank=None).values_list("pk", "manual_rank"))
    wanted = {pk: rank for rank, pk in enumerate(pinned, start=1)}
    gone = [pk for pk in current if pk not in wanted]
    if gone:
        Feature.objects.filter(pk__in=gone).update(manual_rank=None)
    moved = [Feature(pk=pk, manual_rank=rank) for pk, rank in wanted.items()
             if current.get(pk) != rank]
    Feature.objects.bulk_update(moved, ["manual_rank"], batch_size=500)


def feature_move(*, actor: Member, feature: Feature, to_position: int,
                 reason: str) -> RankOverride:
    """Move a feature to ``to_position`` (1 = top) of the organisation's board; the reason is
    required and recorded (RankOverride + history)."""
    if feature.organisation_id != actor.organisation_id:
        raise DomainError(_("This feature is not in your organisation."))
    reason = _reason(reason)
    if not isinstance(to_position, int) or to_position < 1:
        raise DomainError(_("The position starts at 1 (the top of the board)."),
                          field="to_position")
    if to_position > MAX_PINNED:
        raise DomainError(_("Features can be placed by hand in the first %d positions; below "
                            "that the score decides.") % MAX_PINNED, field="to_position")
    org = feature.organisation_id
    with transaction.atomic():
        # Lock the organisation's pinned rows so two moves at once cannot interleave.
        list(Feature.objects.select_for_update().filter(organisation_id=org)
             .exclude(manual_rank=None).values_list("pk", flat=True))
        order = board_order_ids(org)
        from_position = order.index(feature.pk) + 1
        pinned = list(Feature.objects.filter(organisation_id=org).exclude(manual_rank=None)
                      .order_by("manual_rank", "id").values_list("pk", flat=True))
        rest = [pk for pk in order if pk != feature.pk]
        pinned_rest = [pk for pk in pinned if pk != feature.pk]
        to_position = min(to_position, len(order))
        if to_position - 1 <= len(pinned_rest):
            new_pinned = [*pinned_rest[:to_position - 1], feature.pk,
                          *pinned_rest[to_position - 1:]]
        else:
            new_pinned = [*rest[:to_position - 1], feature.pk]
        _pin(org, new_pinned)
        override = RankOverride.objects.create(
            organisation_id=org, feature=feature, from_position=from_position,
            to_position=to_position, reason=reason, actor=actor)
        FeatureEvent.objects.create(feature=feature, actor=actor, kind="rank",
                                    changes={"position": [from_position, to_position],
                                             "reason": reason})
    feature.refresh_from_db(fields=["manual_rank"])
    return override


def feature_rank_clear(*, actor: Member, feature: Feature, reason: str = "") -> FeatureEvent | None:
    """Give the feature back to its score: remove its manual position (history records it)."""
    if feature.organisation_id != actor.organisation_id:
        raise DomainError(_("This feature is not in your organisation."))
    org = feature.organisation_id
    with transaction.atomic():
        pinned = list(Feature.objects.select_for_update().filter(organisation_id=org)
                      .exclude(manual_rank=None).order_by("manual_rank", "id")
                      .values_list("pk", flat=True))
        if feature.pk not in pinned:
            return None
        before = pinned.index(feature.pk) + 1
        _pin(org, [pk for pk in pinned if pk != feature.pk])
        event = FeatureEvent.objects.create(
            feature=feature, actor=actor, kind="rank_cleared",
            changes={"position": [before, None],
                     "reason": parsing.clean_text(reason)[:500]})
    feature.refresh_from_db(fields=["manual_rank"])
    return event

