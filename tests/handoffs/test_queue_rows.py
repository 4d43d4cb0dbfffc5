"""What the queue's rows query decides in SQL reads the same as the clocks themselves: the
clock a row shows (running and due soonest, else paused) is the one `ClockReader.current`
picks from all of the handoff's clocks, on both sides; exception windows still stop the
time left, and a team that never had one costs the page no windows query."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.agreements import services as agreement_services
from apps.calendars.models import Holiday
from apps.handoffs import selectors, services
from apps.handoffs.models import Handoff
from apps.handoffs.selectors import pages
from tests.helpers import MONDAY_10, berlin

pytestmark = pytest.mark.django_db

QUEUE = "/queues/engineering/"
WINDOWS_QUERY = 'SELECT "agreements_exceptionwindow"'


def figures(reading) -> tuple | None:
    if reading is None:
        return None
    clock = reading.clock
    return (
        clock.metric,
        clock.status,
        clock.due_at,
        reading.remaining,
        reading.percent,
        reading.verdict,
        reading.rag,
    )


def read_both_ways(handoffs, now, *, inbound: bool) -> tuple[list, list]:
    """Each handoff's reading from the rows query, and from every one of its clocks."""
    queryset = Handoff.objects.filter(pk__in=[h.pk for h in handoffs]).order_by("pk")
    from_rows = pages.queue_rows(queryset, now=now, inbound=inbound)
    from_clocks = selectors.read_rows(list(queryset.for_queue().order_by("pk")), now)
    return (
        [figures(row["reading"]) for row in from_rows],
        [figures(row["reading"]) for row in from_clocks],
    )


@pytest.fixture
def mixed_queue(file_handoff, provider_member, agreement):
    """New handoffs of every priority, one acknowledged, one in progress, one waiting on
    its requester (paused clocks), one acknowledged then overdue on its action plan; the
    calendar closed on the Tuesday."""
    Holiday.objects.create(calendar=agreement.calendar, date="2026-03-03", name="Company day")
    made = [file_handoff(p) for p in ("P1", "P2", "P3", "P4")]
    acknowledged = file_handoff("P3")
    services.handoff_acknowledge(handoff=acknowledged, actor=provider_member, now=MONDAY_10)
    started = file_handoff("P2")
    services.handoff_start(handoff=started, actor=provider_member, now=MONDAY_10)
    waiting = file_handoff("P3")
    services.handoff_acknowledge(handoff=waiting, actor=provider_member, now=MONDAY_10)
    services.handoff_wait_on_requester(
        handoff=waiting, actor=provider_member, question="Which browser?", now=MONDAY_10
    )
    late = file_handoff("P1", at=MONDAY_10 - timedelta(days=3))
    services.handoff_acknowledge(
        handoff=late, actor=provider_member, now=MONDAY_10 - timedelta(days=3)
    )
    return [*made, acknowledged, started, waiting, late]


@pytest.mark.parametrize("inbound", [True, False])
@pytest.mark.parametrize("later", [timedelta(minutes=20), timedelta(hours=30)])
def test_a_row_reads_the_clock_the_reader_would_pick(mixed_queue, inbound, later):
    from_rows, from_clocks = read_both_ways(mixed_queue, MONDAY_10 + later, inbound=inbound)
    assert from_rows == from_clocks
    # The holiday was read: a P3 filed Monday 10:00 has 8 business h to acknowledge, and
    # 30 h later (Tuesday 16:00, closed all day) 1 h of them is left.
    if later == timedelta(hours=30):
        assert from_rows[2][:2] == ("acknowledge", "running")
        assert from_rows[2][3] == 3600
    # Running, paused, breached and best-effort rows were all compared.
    verdicts = {row[5] for row in from_rows if row}
    assert {"paused", "breached"} <= verdicts
    assert "on_track" in verdicts or "at_risk" in verdicts


def test_exception_windows_still_stop_the_time_left(
    client, file_handoff, provider_member, provider_lead, provider_team, time_machine
):
    handoff = file_handoff("P3")  # 8 business h to acknowledge from Monday 10:00
    time_machine.move_to(berlin(2026, 3, 2, 11, 0), tick=False)
    client.force_login(provider_member)
    with CaptureQueriesContext(connection) as before:
        response = client.get(QUEUE)
    assert response.context["rows"][0]["reading"].remaining == 7 * 3600
    assert not [q for q in before if q["sql"].startswith(WINDOWS_QUERY)]

    # A window approved later (Monday 12:00-14:00) stops the clock for its two hours.
    window = agreement_services.exception_window_request(
        actor=provider_member,
        provider_team=provider_team,
        start=berlin(2026, 3, 2, 12, 0),
        end=berlin(2026, 3, 2, 14, 0),
        reason="Data-centre move",
        affected_customers="None: internal work only.",
        communication_plan="The lead tells Support at stand-up.",
        now=berlin(2026, 3, 2, 11, 0),
    )
    agreement_services.exception_window_approve(
        window=window, actor=provider_lead, now=berlin(2026, 3, 2, 11, 0)
    )
    time_machine.move_to(berlin(2026, 3, 2, 15, 0), tick=False)
    with CaptureQueriesContext(connection) as after:
        response = client.get(QUEUE)
    # 10:00-12:00 and 14:00-15:00 counted: 5 business hours left.
    assert response.context["rows"][0]["reading"].remaining == 5 * 3600
    assert len([q for q in after if q["sql"].startswith(WINDOWS_QUERY)]) == 1
    from_rows, from_clocks = read_both_ways([handoff], berlin(2026, 3, 2, 15, 0), inbound=True)
    assert from_rows == from_clocks
