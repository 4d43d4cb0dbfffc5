"""The dashboard stays fast however much closed history piles up (issue 14, item 4): the
30-day tiles come from the clock rollups with the same figures as the clocks give, the
risk counts and the breach badge say what the verdict and the breach reviews say, the
page costs the same number of queries with or without closed work, and on PostgreSQL
its clock queries can read the partial indexes instead of every clock."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.dashboard import views
from apps.dashboard.views import TILE_DAYS, dashboard_context
from apps.handoffs import services
from apps.handoffs.clockwork.verdict import handoff_at_risk_q, handoff_breached_q
from apps.handoffs.compliance import clock_compliance, last_days_bounds
from apps.handoffs.models import Clock, ClockStatus, Handoff
from apps.reports.rollups import Scope, rollup_compliance
from apps.reviews.breaches import breach_review_save
from apps.reviews.models import RootCause
from apps.reviews.selectors import breaches_to_review
from tests.dashboard.conftest import AFTERNOON
from tests.helpers import berlin

pytestmark = pytest.mark.django_db

# Friday 20 March 2026, late afternoon in Berlin: the last 30 local days are 19 February
# to 20 March.
FRIDAY = berlin(2026, 3, 20, 16, 30)
POSTGRES = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the rollups and partial-index plans are PostgreSQL's"
)
FIGURES = (
    "volume",
    "with_target",
    "met",
    "breached",
    "best_effort",
    "met_pct",
    "handoffs",
    "reopened",
    "reopen_pct",
    "paused_seconds",
    "waiting_seconds_avg",
)


def _worked(file_handoff, engineer, requester, filed, *, late=False, close=False, reopen=False):
    """A P1 filed at `filed`, acknowledged within its 30 minutes (or 2 h later: breached),
    then resolved and confirmed, and reopened once if asked."""
    handoff = file_handoff("P1", at=filed)
    ack = filed + (timedelta(hours=2) if late else timedelta(minutes=10))
    services.handoff_acknowledge(handoff=handoff, actor=engineer, now=ack)
    if close or reopen:
        services.handoff_resolve(
            handoff=handoff,
            actor=engineer,
            resolution="Restarted it.",
            now=ack + timedelta(hours=1),
        )
    if reopen:
        services.handoff_reopen(
            handoff=handoff, actor=requester, reason="Still down.", now=ack + timedelta(hours=2)
        )
        services.handoff_resolve(
            handoff=handoff, actor=engineer, resolution="Fixed.", now=ack + timedelta(hours=3)
        )
    if close or reopen:
        services.handoff_close(handoff=handoff, actor=requester, now=ack + timedelta(hours=4))
    return handoff


@pytest.fixture
def thirty_days(file_handoff, provider_member, requester):
    """Finished clocks at both ends of the 30 local days (Berlin) before FRIDAY, between
    them, and today; one the evening before the window (left out)."""
    made = {
        "before": _worked(file_handoff, provider_member, requester, berlin(2026, 2, 18, 23, 30)),
        # 00:30 in Berlin is 23:30 UTC the day before: a partial UTC day, read exactly.
        "first": _worked(
            file_handoff, provider_member, requester, berlin(2026, 2, 19, 0, 30), late=True
        ),
        "middle": _worked(
            file_handoff, provider_member, requester, berlin(2026, 3, 2, 10), close=True
        ),
        "reopened": _worked(
            file_handoff, provider_member, requester, berlin(2026, 3, 10, 15), reopen=True
        ),
        "late": _worked(
            file_handoff, provider_member, requester, berlin(2026, 3, 16, 9), late=True, close=True
        ),
        "today": _worked(file_handoff, provider_member, requester, berlin(2026, 3, 20, 9)),
        "tonight": _worked(
            file_handoff, provider_member, requester, berlin(2026, 3, 20, 14), late=True
        ),
    }
    return made


def _exact(user, team_id, now):
    """The tile's figures computed from the clocks themselves (the definition)."""
    tz = user.time_zone
    today = now.astimezone(ZoneInfo(tz)).date()
    since, until = last_days_bounds(today=today, days=TILE_DAYS, tz=tz)
    clocks = Clock.objects.filter(
        provider_team_id=team_id, started_at__gte=since, started_at__lt=until
    )
    [row] = clock_compliance(clocks, group_by=["team"], tz=tz)
    return row, (since, until)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "UTC"])
def test_tiles_from_the_rollups_equal_the_clocks_figures(
    zone, thirty_days, provider_member, provider_team
):
    provider_member.time_zone = zone
    provider_member.save(update_fields=["time_zone"])
    exact, (since, until) = _exact(provider_member, provider_team.pk, FRIDAY)
    if connection.vendor == "postgresql":
        # The tiles' source: the rollups answer (no fallback to the clocks).
        assert rollup_compliance(
            scope=Scope(team_ids=(provider_team.pk,)),
            since=since,
            until=until,
            group_by=["team"],
            tz=zone,
            percentiles=False,
        )

    [tile] = dashboard_context(user=provider_member, now=FRIDAY)["tiles"]

    figures = tile["figures"]
    assert {name: figures[name] for name in FIGURES} == {name: exact[name] for name in FIGURES}
    # The handoffs filed in the window: in Berlin from 00:30 on 19 February (23:30 UTC
    # the day before: outside a UTC reader's window); not the evening before.
    in_berlin = zone == "Europe/Berlin"
    assert (figures["handoffs"], figures["reopened"]) == (6 if in_berlin else 5, 1)
    assert figures["breached"] >= 2
    assert tile["figures"]["met_words"] == f"{figures['met']} of {figures['with_target']} met"


def _page_queries(client, user, now) -> tuple[int, str]:
    client.force_login(user)
    with time_machine.travel(now, tick=False), CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    return len(captured.captured_queries), response.content.decode()


def test_query_count_is_the_same_with_or_without_closed_history(
    client, file_handoff, provider_member, requester, monday_work
):
    before, html = _page_queries(client, provider_member, AFTERNOON)
    assert "1 at risk" in html and "1 breached" in html

    # A quarter of closed work: met and breached clocks, breach reviews on some.
    history = [
        _worked(
            file_handoff,
            provider_member,
            requester,
            berlin(2026, 2, 2, 10) + timedelta(days=2 * n),
            late=n % 2 == 0,
            close=True,
        )
        for n in range(12)
    ]
    for handoff in history[:4]:
        for clock in handoff.clocks.filter(status=ClockStatus.BREACHED):
            breach_review_save(
                clock=clock,
                actor=provider_member,
                root_cause=RootCause.CAPACITY,
                what_happened="Nobody on call.",
                now=AFTERNOON,
            )

    after, html = _page_queries(client, provider_member, AFTERNOON)
    assert after == before
    # The open work reads the same; closed history fills the breach badge.
    assert "1 at risk" in html and "1 breached" in html
    badge = re.search(r'data-testid="breaches-to-review">([^<]*)<', html).group(1)
    assert badge == f"{breaches_to_review(user=provider_member).count()} breaches to review"


def test_risk_counts_are_the_queue_verdicts(
    provider_member, file_handoff, requester, monday_work, django_assert_num_queries
):
    # An open handoff whose acknowledgement breached and finished, still being worked.
    worked = _worked(file_handoff, provider_member, requester, berlin(2026, 3, 2, 9), late=True)
    for now in (berlin(2026, 3, 2, 12), AFTERNOON, berlin(2026, 3, 3, 9, 30)):
        inbound = Handoff.objects.visible_to(provider_member).open()
        expected = {
            "at_risk": inbound.filter(handoff_at_risk_q(now)).count(),
            "breached": inbound.filter(handoff_breached_q(now)).count(),
        }
        with django_assert_num_queries(1):
            counts = views._risk_counts(inbound, now)
        assert counts == expected
    assert inbound.filter(handoff_breached_q(now), pk=worked.pk).exists()


def test_breach_badge_counts_breaches_to_review_up_to_its_cap(
    client, monkeypatch, file_handoff, provider_member, provider_lead, staff, requester
):
    late = [
        _worked(file_handoff, provider_member, requester, berlin(2026, 3, day, 10), late=True)
        for day in (2, 3, 4)
    ]
    [clock] = late[0].clocks.filter(status=ClockStatus.BREACHED)
    breach_review_save(
        clock=clock,
        actor=provider_lead,
        root_cause=RootCause.PROCESS,
        what_happened="Paged the wrong rota.",
        now=AFTERNOON,
    )
    for user in (provider_member, provider_lead, staff, requester):
        team_ids = list(user.memberships.values_list("team_id", flat=True))
        assert views._breach_count(user, team_ids) == breaches_to_review(user=user).count()
    assert views._breach_count(provider_member, [provider_member.memberships.get().team_id]) == 2

    monkeypatch.setattr(views, "BREACH_COUNT_CAP", 1)
    _, html = _page_queries(client, provider_lead, AFTERNOON)
    assert re.search(r'data-testid="breaches-to-review">1\+ breaches to review<', html)


# The dashboard's clock queries (by a piece of their SQL) and the partial index each reads.
PARTIAL_INDEX_OF = {
    "MAX(CASE": "clock_verdict_idx",  # the risk counts, one probe per open handoff
    "EXISTS(SELECT": "clock_verdict_idx",  # the at-risk-or-breached list
    '"reviews_breachreview"': "clock_breach_recorded_idx",  # the breach badge
}


@POSTGRES
def test_clock_queries_read_the_partial_indexes(
    provider_member, file_handoff, requester, monday_work, thirty_days
):
    """The partial indexes' conditions are implied by the dashboard's clock queries, so
    PostgreSQL may read them instead of every clock: with the other ways to a handoff's
    clocks taken away (inside this test's transaction) and sequential scans priced out,
    each query still plans on its partial index."""
    with transaction.atomic(), connection.cursor() as cursor:
        # The fixtures' deferred foreign-key checks run first (ALTER TABLE waits for none).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE handoffs_clock DROP CONSTRAINT clock_unique_metric")
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'handoffs_clock' "
            "AND indexdef NOT LIKE '%%WHERE%%' AND indexname NOT LIKE '%%_pkey'"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET LOCAL enable_seqscan = off")
        with CaptureQueriesContext(connection) as captured:
            dashboard_context(user=provider_member, now=AFTERNOON)
        plans = {}
        for query in captured.captured_queries:
            sql = query["sql"]
            marker = next(
                (m for m in PARTIAL_INDEX_OF if m in sql and "handoffs_clock" in sql), None
            )
            if marker:
                cursor.execute(f"EXPLAIN {sql}")
                plans[marker] = "\n".join(row[0] for row in cursor.fetchall())
    assert set(plans) == set(PARTIAL_INDEX_OF)
    for marker, plan in plans.items():
        assert "Seq Scan on handoffs_clock" not in plan, plan
        assert PARTIAL_INDEX_OF[marker] in plan, plan


@POSTGRES
def test_app_connections_run_without_jit():
    """PostgreSQL compiles plans priced above jit_above_cost whatever they really cost:
    the portal's connections switch it off (DATABASE_JIT=true keeps the server's)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
