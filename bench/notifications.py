"""Notification fan-out: a P1 filed with a 50-member provider team (every member by
in-app and email, and the team's webhook), through the real service `handoff_create`, in
its own transaction with the deliveries handed to the broker on commit.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/olaportal \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/notifications.py

Prints, per filed handoff: milliseconds (median, p90), notification rows written, SQL
statements; and the rate in notifications per second. Builds and drops `<name>_bench`.
Asserts nothing.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import timedelta

import _common

_common.setup_django()

from django.db import transaction
from django.utils import timezone

MEMBERS = int(os.environ.get("BENCH_MEMBERS", 50))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 30))


def build():
    from apps.agreements.models import Agreement
    from tests.factories import AgreementFactory, MembershipFactory, TeamFactory, UserFactory

    provider = TeamFactory(
        name="Engineering", slug="engineering", webhook_url="https://hooks.example.com/ola"
    )
    requester = TeamFactory(name="Support", slug="support")
    agent = UserFactory(username="bench-agent")
    MembershipFactory(team=requester, user=agent)
    for n in range(MEMBERS):
        MembershipFactory(team=provider, user=UserFactory(username=f"engineer-{n}"))
    made = AgreementFactory(series__provider_team=provider, series__requesting_team=requester)
    return agent, Agreement.objects.get(pk=made.pk)


def main() -> None:
    from apps.handoffs import services
    from apps.notifications.models import Notification
    from tests.helpers import TRIAGE

    with _common.throwaway_database():
        agent, agreement = build()
        timings, rows, queries = [], [], []
        start = timezone.now() - timedelta(days=1)
        for n in range(ROUNDS + 3):  # three warm-up rounds
            before = Notification.objects.count()
            with _common.counting_queries() as count:
                began = time.perf_counter()
                with transaction.atomic():
                    services.handoff_create(
                        actor=agent,
                        agreement=agreement,
                        title=f"Checkout down #{n}",
                        priority="P1",
                        triage=TRIAGE,
                        now=start + timedelta(minutes=n),
                    )
                elapsed = time.perf_counter() - began  # commit and broker sends included
            if n < 3:
                continue
            timings.append(elapsed * 1000)
            rows.append(Notification.objects.count() - before)
            queries.append(count())
        median = statistics.median(timings)
        p90 = statistics.quantiles(timings, n=10)[-1]
        per_call = statistics.median(rows)
        print(f"P1 filed, provider team of {MEMBERS} with a webhook, {ROUNDS} rounds")
        print(f"  {median:.1f} ms median, {p90:.1f} ms p90 per filed handoff")
        print(
            f"  {per_call:.0f} notification rows per handoff, {statistics.median(queries):.0f} SQL"
        )
        print(f"  {per_call / (median / 1000):,.0f} notifications per second (median)")


if __name__ == "__main__":
    main()
