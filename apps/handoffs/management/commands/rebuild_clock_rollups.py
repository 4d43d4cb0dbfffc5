"""`manage.py rebuild_clock_rollups`: add up every finished clock into the rollups again
(after a bulk load written around the services, or to check them: the services keep
them in step on every change, so a rebuild of a healthy database changes nothing)."""

import time

from django.core.management.base import BaseCommand

from apps.handoffs.clockwork import rollups
from apps.handoffs.models import ClockRollup


class Command(BaseCommand):
    help = "Rebuild the clock rollups (daily and monthly sums of finished clocks) from the clocks."

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="The database alias.")

    def handle(self, *args, database="default", **options):
        started = time.perf_counter()
        clocks = rollups.rebuild(using=database)
        rows = ClockRollup.objects.using(database).count()
        self.stdout.write(
            f"Rebuilt {rows:,} rollup rows from {clocks:,} finished clocks "
            f"in {time.perf_counter() - started:.1f} s."
        )
