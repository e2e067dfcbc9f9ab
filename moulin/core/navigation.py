"""The UI shell's navigation: each domain app registers its entries once, at start-up.

An entry is shown only to members whose level in its module allows viewing, so the menu never
offers a page that would answer 403.
"""

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from moulin.core import policy


@dataclass(frozen=True)
class NavEntry:
    url_name: str
    label: object  # lazy translation
    module: str
    icon: str  # name of an inline SVG in templates/core/_icon.html
    section: str = "main"  # "main" (left menu) or "admin" (administration group)
    order: int = 100
    action: str = policy.Action.VIEW  # what the page needs (a form page: CREATE)


_ENTRIES: list[NavEntry] = []


def register(entry: NavEntry) -> None:
    """Add a menu entry (called from an AppConfig.ready())."""
    if entry not in _ENTRIES:
        _ENTRIES.append(entry)
        _ENTRIES.sort(key=lambda e: (e.section, e.order))


def entries_for(member, section: str) -> list[dict]:
    """The entries of ``section`` that ``member`` may open."""
    visible = []
    for entry in _ENTRIES:
        if entry.section != section or not policy.can(member, entry.module, entry.action):
            continue
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:
            continue
        visible.append({"url": url, "label": entry.label, "icon": entry.icon,
                        "url_name": entry.url_name})
    return visible


def navigation_context(request: HttpRequest) -> dict:
    member = getattr(request, "member", None)
    if member is None:
        return {}
    return {
        "nav_main": entries_for(member, "main"),
        "nav_admin": entries_for(member, "admin"),
    }
