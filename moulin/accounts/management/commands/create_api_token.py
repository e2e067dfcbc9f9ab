from django.core.management.base import BaseCommand, CommandError

from moulin.accounts import services
from moulin.accounts.audit import CLI
from moulin.accounts.models import ApiToken, Member
from moulin.core.errors import DomainError


class Command(BaseCommand):
    help = "Create a personal API token for a member and print only the token."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="The member's sign-in address.")
        parser.add_argument("--name", default="Command line", help="What the token is for.")
        parser.add_argument("--scope", choices=[ApiToken.READ, ApiToken.WRITE],
                            default=ApiToken.WRITE)
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args, email, name, scope, expires_in_days, **options):
        member = (Member.objects.select_related("organisation", "user")
                  .filter(user__email__iexact=email.strip()).first())
        if member is None:
            raise CommandError(f"No member signs in with {email!r}: check the address.")
        if not member.is_active:
            raise CommandError(f"{email} is deactivated: reactivate the member first.")
        try:
            _token, secret = services.api_token_create(
                actor=member, origin=CLI, name=name, scope=scope,
                expires_in_days=expires_in_days)
        except DomainError as error:
            raise CommandError(error.message) from error
        self.stdout.write(secret)
