"""Attach the signed-in person's membership to the request, and use their language."""

from django.utils import translation

from moulin.accounts.models import Member


class MemberMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.member = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            member = (Member.objects.select_related("organisation", "department", "user")
                      .filter(user_id=user.pk, is_active=True).first())
            request.member = member
            language = user.language or (member.organisation.language if member else "")
            # An explicit choice in the language menu (cookie) is honoured by LocaleMiddleware
            # for anonymous visitors; a signed-in person's saved choice wins.
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
        return self.get_response(request)
