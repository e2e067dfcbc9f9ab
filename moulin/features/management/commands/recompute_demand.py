"""Recompute every feature's demand and score (run daily: renewal windows and feedback trends
move with time, not only with data)."""

from django.core.management.base import BaseCommand

from moulin.features.services import demand_recompute_all


class Command(BaseCommand):
    help = "Recompute the demand (ARR, customers, trend, renewals) and scores of every feature."

    def handle(self, *args, **options) -> None:
        done = demand_recompute_all()
        total = sum(done.values())
        self.stdout.write(f"Recomputed {total} features in {len(done)} organisations.")
