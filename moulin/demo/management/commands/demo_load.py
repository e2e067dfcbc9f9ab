from django.core.management.base import BaseCommand

from moulin.demo.organisation import DEMO_PASSWORD, PEOPLE, demo_load


class Command(BaseCommand):
    help = "Load the demo organisation (Liquidia) if it is not there yet, and print its logins."

    def handle(self, *args, **options):
        organisation, created = demo_load()
        state = "created" if created else "already present"
        self.stdout.write(f"Demo organisation “{organisation.name}”: {state}.")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for person in PEOPLE:
            self.stdout.write(f"  {person.email:<28} {person.role:<16} {person.department}")
