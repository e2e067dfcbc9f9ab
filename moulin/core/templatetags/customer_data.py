"""``{% load customer_data %}``: templates of every module ask the one rule on customers'
business data (``policy.can_see_customer_data``) instead of each view passing a flag."""

from django import template

from moulin.core import policy

register = template.Library()


@register.filter
def can_see_customer_data(member) -> bool:
    """``{% if request.member|can_see_customer_data %}`` → ARR, plan, segment… may show."""
    if not hasattr(member, "organisation_id"):  # no member in the context: deny
        return False
    return policy.can_see_customer_data(member)


@register.filter
def can_see_customer_total(member, customer_count) -> bool:
    """``{% if request.member|can_see_customer_total:cluster.customer_count %}`` → a total
    over these customers may show (not one customer's ARR to a member who may not see it)."""
    if not hasattr(member, "organisation_id"):
        return False
    return policy.can_see_customer_total(member, int(customer_count or 0))
