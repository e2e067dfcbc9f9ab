"""Personal data: erasing a contact everywhere (GDPR right to erasure).

The page that offers it is the customer's (customers app); the action lives here because it
rewrites feedback, and the customers app must not depend on the feedback app.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from moulin.accounts.audit import Origin
from moulin.core import policy
from moulin.core.errors import DomainError
from moulin.core.policy import Action
from moulin.customers import selectors as customer_selectors
from moulin.feedback import services


@policy.requires("customers", Action.DELETE)
@require_POST
def contact_erase(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a contact's name and address from their record and every verbatim quoting them;
    their feedback stays with the customer. Audited as contact.erased."""
    contact = customer_selectors.contact_get(member=request.member, pk=pk, action=Action.DELETE)
    customer_id = contact.customer_id
    try:
        rewritten = services.contact_erase(actor=request.member,
                                           origin=Origin.from_request(request), contact=contact)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, ngettext(
            "Contact erased: their name and address were removed, including from %d feedback "
            "item.",
            "Contact erased: their name and address were removed, including from %d feedback "
            "items.", rewritten) % rewritten)
    if customer_id:
        return redirect("customers:customer_detail", pk=customer_id)
    return redirect("customers:customer_list")
