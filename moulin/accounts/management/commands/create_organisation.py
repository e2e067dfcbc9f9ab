from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from moulin.accounts import services
from moulin.core.errors import DomainError
from moulin.core.policy import Role


class Command(BaseCommand):
    help = ("Create an organisation and its first administrator (production bootstrap). "
            "The administrator then invites everyone else from the Members page.")

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-name", required=True)
        parser.add_argument("--language", choices=["fr", "en"], default="fr")
        parser.add_argument("--password", help="If omitted, set it with the reset link.")

    def handle(self, *args, name, admin_email, admin_name, language, password, **options):
        try:
            with transaction.atomic():
                organisation = services.organisation_create(name=name, language=language)
                department = organisation.departments.get(key="product")
                services.member_create(organisation=organisation, email=admin_email,
                                       full_name=admin_name, role=Role.ADMIN,
                                       department=department, password=password)
        except DomainError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"Created {organisation.name} with administrator {admin_email}.")
        if not password:
            self.stdout.write("No password set: use “Forgot your password?” on the sign-in "
                              "page to choose one.")
