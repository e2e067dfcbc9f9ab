"""Saved inbox views, personal or shared with the organisation."""

from django.utils.translation import gettext as _

from moulin.accounts.models import Member
from moulin.core import parsing, policy
from moulin.core.errors import DomainError
from moulin.feedback.models import (
    SavedView,
)


def saved_view_save(*, actor: Member, name: str, query: str,
                    shared: bool = False) -> SavedView:
    """Save the inbox filters under a name; saving again under the same name replaces them.
    Only members who manage feedback may share a view with the whole organisation."""
    name = parsing.clean_text(name)[:100]
    if not name:
        raise DomainError(_("Give the view a name."), field="name")
    if len(query) > 2000:
        raise DomainError(_("These filters are too long to be saved; remove a few."),
                          field="name")
    if shared and not policy.can(actor, "feedback", policy.Action.CHANGE):
        raise DomainError(_("Only members who manage feedback can share a view with the "
                            "organisation."), field="shared")
    view = SavedView.objects.filter(organisation_id=actor.organisation_id, owner=actor,
                                    name__iexact=name).first()
    if view is None:
        view = SavedView(organisation_id=actor.organisation_id, owner=actor)
    view.name, view.query, view.shared = name, query, shared
    view.save()
    return view


def saved_view_delete(*, actor: Member, view: SavedView) -> None:
    """Delete a saved view: its owner may, and an administrator may remove a shared one."""
    if view.organisation_id != actor.organisation_id or not (
            view.owner_id == actor.pk or (view.shared and actor.is_admin)):
        raise DomainError(_("Only the person who saved this view can delete it."))
    view.delete()
