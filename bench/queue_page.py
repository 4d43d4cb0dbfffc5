"""Queue page and API list speed with 10,000 open handoffs in one team's queue and
100,000 closed ones, beside a bare Django view rendering 50 rows from memory, called directly
and behind the portal's middleware (the issue's goal: the queue within 3× of the latter).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/olaportal .venv/bin/python bench/queue_page.py

Builds a throw-away database (`<name>_bench`), fills it with bulk inserts shaped as the
services would leave them (bench/_handoffs.py, as bench/load/scale.py: back-dated creation,
clocks started, paused and stopped by the clock arithmetic with their report copies and
their due, warning, breach and next-step moments; open handoffs new, acknowledged, in
progress or waiting, closed ones over the last 180 days), then times each page with
Django's test client: median and p95 server time and the SQL query count. Prints
figures; asserts nothing.

BENCH_OPEN / BENCH_CLOSED / BENCH_RUNS change the sizes; BENCH_PROFILE=1 (queue), 2 (queue,
last page), 3 (API) or 4 (a handoff's detail page) prints a cProfile of that page and its
SQL instead; BENCH_KEEP=1 keeps the database for EXPLAIN, and BENCH_REUSE=1 then measures
it again without rebuilding (while changing the code).
"""

from __future__ import annotations

import os
import random
import statistics
import time

import _common

_common.setup_django()

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.template import engines
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

OPEN = int(os.environ.get("BENCH_OPEN", 10_000))
CLOSED = int(os.environ.get("BENCH_CLOSED", 100_000))
RUNS = int(os.environ.get("BENCH_RUNS", 30))


def build() -> dict:
    from _handoffs import Builder

    from apps.agreements.models import Agreement
    from apps.handoffs.models import Status
    from apps.teams.models import Role
    from tests.factories import AgreementFactory, MembershipFactory, TeamFactory, UserFactory

    provider = TeamFactory(name="Engineering", slug="engineering")
    requester = TeamFactory(name="Support", slug="support")
    engineer = UserFactory(username="bench-engineer")
    MembershipFactory(team=provider, user=engineer, role=Role.LEAD)
    agent = UserFactory(username="bench-agent")
    MembershipFactory(team=requester, user=agent)
    made = AgreementFactory(series__provider_team=provider, series__requesting_team=requester)
    agreement = (
        Agreement.objects.select_related("series__provider_team", "series__requesting_team")
        # The builder reads these for every handoff: once, not 110,000 times.
        .prefetch_related("targets", "triage_fields")
        .get(pk=made.pk)
    )
    builder = Builder(agreement=agreement, now=timezone.now(), rng=random.Random(7))

    started = time.perf_counter()
    mix = builder.build(OPEN)
    builder.build(CLOSED, Status.CLOSED, first=OPEN)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
    statuses = ", ".join(f"{n:,} {status.label.lower()}" for status, n in mix.items())
    print(
        f"built {OPEN:,} open ({statuses}) + {CLOSED:,} closed handoffs "
        f"({3 * (OPEN + CLOSED):,} clocks) in {time.perf_counter() - started:.1f} s "
        f"on {connection.vendor}"
    )
    return {"engineer": engineer}


def reused() -> dict:
    """The people of a kept database (BENCH_KEEP=1 then BENCH_REUSE=1)."""
    from apps.accounts.models import User

    return {"engineer": User.objects.get(username="bench-engineer")}


def measure(label: str, request) -> tuple[float, float, int]:
    timings = []
    queries = 0
    for run in range(RUNS + 3):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = request()
            elapsed = time.perf_counter() - started
        assert response.status_code == 200, (label, response.status_code)
        if run >= 3:  # warm-up runs excluded
            timings.append(elapsed * 1000)
            queries = len(captured.captured_queries)
    timings.sort()
    p50 = statistics.median(timings)
    p95 = timings[int(len(timings) * 0.95) - 1]
    return p50, p95, queries


CEILING_TEMPLATE = engines["django"].from_string(
    """{% extends "base.html" %}{% block content %}<table class="table">
{% for row in rows %}<tr><td>#{{ row.id }}</td><td>{{ row.priority }}</td>
<td><a href="/handoffs/{{ row.id }}/">{{ row.title }}</a></td><td>{{ row.team }}</td>
<td>{{ row.status }}</td><td>{{ row.assignee }}</td><td>{{ row.left }}</td></tr>
{% endfor %}</table>{% endblock %}"""
)
CEILING_ROWS = [
    {
        "id": n,
        "priority": "P3",
        "title": f"Bench handoff {n}",
        "team": "Support",
        "status": "In progress",
        "assignee": "Bench Engineer",
        "left": "3 business h 20 min left",
    }
    for n in range(50)
]


def ceiling_view(request):
    return HttpResponse(CEILING_TEMPLATE.render({"rows": CEILING_ROWS}, request))


CEILING_PATH = "bench-ceiling/"
CLIENT_CEILING = "bare view behind the middleware (Client)"


def _serve_ceiling() -> None:
    """The bare view at /bench-ceiling/, through the portal's own middleware."""
    from django.urls import clear_url_caches, path

    from olaportal import urls

    urls.urlpatterns.append(path(CEILING_PATH, ceiling_view))
    clear_url_caches()


def main() -> None:
    if connection.vendor != "postgresql":
        print("note: DATABASE_URL is not PostgreSQL; figures are for", connection.vendor)
    # No setup_test_environment(): its template instrumentation would slow every page.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    reuse = bool(os.environ.get("BENCH_REUSE"))
    with _common.throwaway_database(keep=reuse or bool(os.environ.get("BENCH_KEEP")), reuse=reuse):
        people = reused() if reuse else build()
        client = Client()
        client.force_login(people["engineer"])
        from django.test import RequestFactory

        factory = RequestFactory()

        def ceiling():
            request = factory.get("/")
            request.user = people["engineer"]
            return ceiling_view(request)

        rows = [
            ("bare view, 50 rows from memory (ceiling)", ceiling),
            (
                "queue page /queues/engineering/ (50 rows)",
                lambda: client.get("/queues/engineering/"),
            ),
            (
                "queue page, last page",
                lambda: client.get(f"/queues/engineering/?page={-(-OPEN // 50)}"),
            ),
            (
                "API /api/handoffs/?provider_team=engineering&open=true",
                lambda: client.get(
                    "/api/handoffs/?provider_team=engineering&open=true",
                    HTTP_ACCEPT="application/json",
                ),
            ),
        ]
        from apps.handoffs.models import Handoff

        detail = Handoff.objects.filter(provider_team__slug="engineering").open().first()
        rows.append(
            (f"detail page /handoffs/{detail.pk}/", lambda: client.get(f"/handoffs/{detail.pk}/"))
        )
        # The goal compares the queue with this view behind the same middleware
        # (bench/peers.py's "bare 50-row view"): served from a route added for the run.
        rows.append((CLIENT_CEILING, lambda: client.get(f"/{CEILING_PATH}")))
        _serve_ceiling()
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            index = int(os.environ["BENCH_PROFILE"])
            rows[index][1]()
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(5):
                rows[index][1]()
            profiler.disable()
            pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "tottime")).print_stats(
                int(os.environ.get("BENCH_LINES", 25))
            )
            with CaptureQueriesContext(connection) as captured:
                rows[index][1]()
            for query in captured.captured_queries:
                print(query["time"], query["sql"][:300])
            return
        results = [(label, *measure(label, call)) for label, call in rows]
        base = results[0][1]
        p50 = {label: median for label, median, *_ in results}
        print(f"\n{RUNS} timed runs each (3 warm-up runs excluded); server time in the process")
        print(f"{'page':<58} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'% of ceiling':>13}")
        for label, median, p95, queries in results:
            print(f"{label:<58} {median:8.1f} {p95:8.1f} {queries:8d} {100 * base / median:12.0f}%")
        ratio = p50["queue page /queues/engineering/ (50 rows)"] / p50[CLIENT_CEILING]
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(
            f"queue page ÷ the bare view behind the same middleware: {ratio:.1f}× (goal ≤ 3×); "
            f"load average {load}"
        )


if __name__ == "__main__":
    main()
