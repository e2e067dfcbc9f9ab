"""Queue a search for emerging themes in every organisation (or one): run it from cron, e.g.
every Monday at 06:00 — `python manage.py find_emerging_themes`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from moulin.accounts.models import Organisation
from moulin.triage.services import emerging


class Command(BaseCommand):
    help = "Queue the clustering of recent uncategorised feedback (emerging themes)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--organisation", help="Only this organisation (its slug).")
        parser.add_argument("--weeks", type=int, default=emerging.WEEKS,
                            help="How many weeks of feedback to look at (default %(default)s).")

    def handle(self, *args, organisation: str | None = None, weeks: int = emerging.WEEKS,
               **options) -> None:
        organisations = Organisation.objects.all()
        if organisation:
            organisations = organisations.filter(slug=organisation)
            if not organisations.exists():
                raise CommandError(f"No organisation with the slug {organisation!r}.")
        for org in organisations.order_by("pk"):
            with transaction.atomic():
                job = emerging.cluster_job_request(organisation_id=org.pk, actor=None,
                                                   weeks=weeks)
            self.stdout.write(f"{org.slug}: clustering job {job.pk} ({job.status})")
