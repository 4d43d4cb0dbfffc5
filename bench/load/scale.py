"""Scale the demo data up to N open handoffs in Engineering's inbound queue (default 10,000).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/olaportal_load \\
        .venv/bin/python bench/load/scale.py [--open 10000] [--seed 7]

Run after `migrate` and `seed_demo` on a throw-away database (bench/load/run.py does all
three). The handoffs are filed by Support under the active Support → Engineering agreement,
like the demo's own, and inserted in bulk, with clocks computed by the portal's own clock
arithmetic on the agreement's business hours (bench/_handoffs.py, shared with
bench/queue_page.py), so that every page reads them exactly as it reads real ones:

- a mix of statuses: new (half: the load test acknowledges these), acknowledged, in
  progress (some with the action plan posted) and waiting on the requester (pausable
  clocks paused);
- stopped clocks met or breached at the moment they stopped; running clocks carry the
  due, warning and next-step moments, the escalation percent and breach moment a sweep
  would have recorded by now (escalation events and notifications are not written, and
  the ladder's priority raise is not applied);
- a timeline row per transition (created, acknowledged, started, plan, waiting, met,
  breached), triage answers valid for the agreement's triage fields.

Prints what it built; changes nothing else.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _common

import _common

_common.setup_django()

from _handoffs import Builder
from django.db import connection
from django.utils import timezone

from apps.agreements.models import Agreement
from apps.handoffs.models import OPEN_STATUSES, Handoff
from apps.teams.models import Team

PROVIDER, REQUESTER = "engineering", "support"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", type=int, default=10_000, help="open handoffs wanted")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    args = parser.parse_args()

    provider = Team.objects.get(slug=PROVIDER)
    agreement = (
        Agreement.objects.active()
        .select_related("series__provider_team", "series__requesting_team", "calendar")
        # The demo's helpers read these for every handoff: once, not 10,000 times.
        .prefetch_related("targets", "triage_fields")
        .get(series__provider_team=provider, series__requesting_team__slug=REQUESTER)
    )
    already = Handoff.objects.filter(provider_team=provider, status__in=OPEN_STATUSES).count()
    wanted = max(0, args.open - already)
    started = time.perf_counter()
    builder = Builder(agreement=agreement, now=timezone.now(), rng=random.Random(args.seed))
    made = builder.build(wanted)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
    open_now = Handoff.objects.filter(provider_team=provider, status__in=OPEN_STATUSES)
    mix = ", ".join(f"{n:,} {status.label.lower()}" for status, n in made.items())
    print(
        f"scaled: {already:,} open demo handoffs + {wanted:,} added ({mix}) = "
        f"{open_now.count():,} open in {provider.name}'s queue under {agreement} "
        f"({open_now.filter(clocks__breached_at__isnull=False).distinct().count():,} with a "
        f"breach), in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
