"""``{% load features_policy %}``: ask the permission policy from a template shared with other
apps (the feedback page shows the Features panel only to members who may see features)."""

from django import template

from moulin.core import policy

register = template.Library()


@register.filter
def may(member, permission: str) -> bool:
    """``request.member|may:"features.create"`` → policy.can(member, "features", "create")."""
    module, _dot, action = str(permission).partition(".")
    if member is None or module not in policy.MODULES or action not in policy.ACTION_LEVEL:
        return False
    return policy.can(member, module, action)
