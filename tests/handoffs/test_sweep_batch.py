"""The sweep plans a batch without locks and writes it in groups (issue 14, item 5): the
very same timeline, notifications and clocks as one handoff at a time, at most two
statements per fired step, and each step still fired once when a plan goes stale (a
person acted, another sweep wrote first) or a group's transaction fails."""

import re
from datetime import timedelta

import pytest
from django.db import connection

from apps.agreements.models import EscalationStep
from apps.handoffs import services
from apps.handoffs.clockwork import sweep as sweep_module
from apps.handoffs.clockwork.store import Contexts
from apps.handoffs.clockwork.sweep import SweepResult, sweep_due_clocks, sweep_record
from apps.handoffs.models import Clock, ClockStatus, EventKind, Handoff, HandoffEvent
from apps.notifications import services as notifications
from apps.notifications.models import Notification
from apps.teams.models import Role
from tests.factories import AgreementFactory, MembershipFactory, TeamFactory, UserFactory
from tests.helpers import MONDAY_10, TRIAGE, berlin

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="groups need PostgreSQL (elsewhere every handoff takes the one-handoff path)",
    ),
]

# P1 (24×7: 30 min / 2 h / 8 h) and P3 (Berlin office hours: 8 / 40 / 80 h) filed Monday
# 10:00, swept at these moments: the P1 warnings, its breaches two at a time, the resolve
# ladder's step at 75 % (the assignee) and at 100 % (the provider lead, and a raise: P3
# goes to P2), then the P2 ladder; a P3 warning outside open hours (held) and at night.
MOMENTS = [
    berlin(2026, 3, 2, 10, 15),
    berlin(2026, 3, 2, 10, 25),
    berlin(2026, 3, 2, 12, 5),
    berlin(2026, 3, 2, 16, 5),
    berlin(2026, 3, 2, 18, 5),
    berlin(2026, 3, 3, 10, 5),
    berlin(2026, 3, 4, 23, 0),
    berlin(2026, 3, 6, 12, 0),
    berlin(2026, 3, 12, 12, 0),
    berlin(2026, 3, 16, 10, 5),
    berlin(2026, 3, 16, 16, 0),
    berlin(2026, 3, 20, 12, 0),
]

# More rungs than the standard ladder, naming every kind of audience: the provider team
# (its webhook), both teams' leads, a role nobody holds (falls back to the leads), a role
# someone holds, a named person; some steps share a rung with the warning or the breach.
WIDE_LADDER = [
    {"metric": "acknowledge", "percent": 50, "notify": "provider_team"},
    {"metric": "acknowledge", "percent": 100, "notify": "both_leads"},
    {"metric": "action_plan", "percent": 75, "notify": "requesting_director"},
    {"metric": "action_plan", "percent": 90, "notify": "provider_manager"},
    {"metric": "action_plan", "percent": 150, "notify": "user"},
    {"metric": "resolve", "percent": 60, "notify": "requesting_lead"},
]


@pytest.fixture(params=["standard ladder", "wide ladder"])
def scene(request, agreement, file_handoff, provider_team, provider_member, provider_lead):
    """A webhook on the provider team; the lead wants warnings by email and keeps quiet
    hours, an engineer wants warnings and escalations by email; a second engineer (an
    unassigned handoff tells the whole team); a manager on the provider team; the
    requesting team's lead; then P1, P2 and P3, assigned or not, and a P3 filed later."""
    provider_team.webhook_url = "https://hooks.example.com/ola"
    provider_team.manager = UserFactory(username="mona")
    provider_team.save(update_fields=["webhook_url", "manager"])
    MembershipFactory(team=provider_team, user=UserFactory(username="ines"), role=Role.MEMBER)
    MembershipFactory(
        team=agreement.series.requesting_team, user=UserFactory(username="lena"), role=Role.LEAD
    )
    notifications.preference_set(user=provider_lead, kind="warning", channel="email", enabled=True)
    for kind in ("warning", "escalation"):  # no quiet hours: waits for the team's hours
        notifications.preference_set(user=provider_member, kind=kind, channel="email", enabled=True)
    type(provider_lead).objects.filter(pk=provider_lead.pk).update(quiet_hours=True)
    if request.param == "wide ladder":
        named = UserFactory(username="nora")
        EscalationStep.objects.bulk_create(
            EscalationStep(agreement=agreement, user=named if s["notify"] == "user" else None, **s)
            for s in WIDE_LADDER
        )

    def file_set() -> list[Handoff]:
        handoffs = []
        for priority in ("P1", "P2", "P3"):
            for assignee in (provider_member, None):
                handoff = file_handoff(priority)
                if assignee is not None:
                    Handoff.objects.filter(pk=handoff.pk).update(assignee=assignee)
                handoffs.append(handoff)
        # Warned at 17:00, closing time: swept at 18:05, its email waits for the morning.
        handoffs.append(file_handoff("P3", at=berlin(2026, 3, 2, 11, 0)))
        return handoffs

    return file_set


def one_by_one(handoffs: list[Handoff], now) -> SweepResult:
    """The sweep's one-handoff path: a transaction per handoff, a claim per step."""
    due = Clock.objects.filter(
        handoff__in=handoffs, status="running", next_step_at__lte=now
    ).order_by("next_step_at", "pk")
    chunk: dict[int, list[int]] = {}
    for clock_id, handoff_id in due.values_list("pk", "handoff_id"):
        chunk.setdefault(handoff_id, []).append(clock_id)
    result = SweepResult()
    batch = sweep_module.Batch(now, Contexts())
    assert sweep_module._one_by_one(chunk, batch, result, deadline=float("inf"))
    return result


def written(handoff: Handoff) -> dict:
    """What the sweeps wrote about one handoff, with its id taken out."""
    pk = handoff.pk

    def plain(text: str) -> str:
        text = text.replace(f"#{pk}", "#N").replace(f"/{pk}/", "/N/")
        text = text.replace(f"handoff:{pk}:", "handoff:N:")
        return re.sub(r":event:\d+:", ":event:E:", text)  # the priority change's event

    events = [
        (e.kind, e.created_at, e.actor_id, e.before, e.after)
        for e in HandoffEvent.objects.filter(handoff=handoff)
        .exclude(kind=EventKind.CREATED)
        .order_by("pk")
    ]
    rows = list(
        Notification.objects.filter(subject_type="handoff", subject_id=pk)
        .exclude(kind="filed")
        .order_by("pk")
    )
    position = {row.pk: index for index, row in enumerate(rows)}
    told = [
        (
            row.recipient_id,
            row.team_id,
            row.kind,
            row.channel,
            plain(row.title),
            plain(row.body),
            plain(row.url),
            plain(row.dedup_key),
            row.status,
            row.deliver_after,
            row.next_attempt_at,
            row.sent_at,
            row.created_at,
            position.get(row.coalesced_into_id),
            row.coalesced_into_id is not None and row.coalesced_into_id not in position,
        )
        for row in rows
    ]
    clocks = list(
        Clock.objects.filter(handoff=handoff)
        .order_by("metric")
        .values_list(
            "metric",
            "status",
            "fired_percent",
            "breached_at",
            "next_step_at",
            "breach_at",
            "due_at",
            "warning_at",
            "target_seconds",
            "sweep_failures",
            "rollup",
        )
    )
    handoff.refresh_from_db()
    return {
        "events": events,
        "told": told,
        "clocks": clocks,
        "handoff": (handoff.priority, handoff.status, handoff.due_at),
    }


def test_a_batch_writes_what_one_handoff_at_a_time_writes(scene):
    batched, alone = scene(), scene()
    groups = 0
    for now in MOMENTS:
        one = one_by_one(alone, now)  # first: the sweep below then finds only `batched` due
        many = sweep_due_clocks(now=now)
        assert many.errors == one.errors == []
        assert (many.clocks, many.warnings, many.breaches, many.escalations, many.raised) == (
            one.clocks,
            one.warnings,
            one.breaches,
            one.escalations,
            one.raised,
        ), now
        groups += many.groups
    assert groups >= 5  # a moment of raises only takes the one-handoff path
    fired = 0
    for mine, theirs in zip(batched, alone, strict=True):
        got, expected = written(mine), written(theirs)
        assert got == expected
        fired += len(got["events"])
    # The scene fired every kind of step: not a comparison of two empty lists.
    kinds = {e[0] for h in batched for e in written(h)["events"]}
    assert kinds >= {EventKind.WARNED, EventKind.CLOCK_BREACHED, EventKind.ESCALATED}
    assert {Handoff.objects.get(pk=h.pk).priority for h in batched[4:6]} == {"P2"}  # raised
    assert fired > 30
    ids = [h.pk for h in batched]
    told = Notification.objects.filter(subject_id__in=ids).exclude(kind="filed")
    # Several notices to one person about one handoff in one sweep read as one entry; a
    # webhook heard; a non-urgent email (a P3's warning at closing time) waited for the
    # team's open hours.
    assert told.filter(coalesced_into__isnull=False).exists()
    assert told.filter(channel="webhook").exists()
    assert told.filter(channel="email", status="scheduled").exists()


def count_statements(run):
    """Run `run()`, counting every SQL statement (an execute_wrapper, as bench/sweep.py)."""
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        outcome = run()
    return outcome, seen


def test_a_sweep_costs_at_most_two_statements_per_fired_step(
    file_handoff, provider_member, provider_lead
):
    handoffs = [file_handoff("P1") for _ in range(60)]
    Handoff.objects.filter(pk__in=[h.pk for h in handoffs[:30]]).update(assignee=provider_member)
    now = berlin(2026, 3, 2, 12, 5)  # acknowledge and action plan both breached
    result, statements = count_statements(lambda: sweep_due_clocks(now=now))
    assert result.errors == []
    assert (result.clocks, result.breaches, result.skipped) == (120, 120, 0)
    assert len(result.fired) == 120
    assert len(statements) <= 2 * len(result.fired)
    # A fixed cost per batch (the due clocks, handoffs, people, teams, the agreement
    # version, who hears, preferences, open entries) and per group six at most: lock,
    # claims, events, notifications, a fold of one person's entries, and here, inside the
    # test's transaction, the group's savepoint and its release.
    assert 1 <= result.groups <= 60
    assert len(statements) <= 20 + 6 * result.groups, "\n".join(s[:100] for s in statements)
    for handoff in handoffs:
        breaches = handoff.events.filter(kind=EventKind.CLOCK_BREACHED)
        assert sorted(breaches.values_list("after__metric", flat=True)) == [
            "acknowledge",
            "action_plan",
        ]
    again, statements = count_statements(lambda: sweep_due_clocks(now=now))
    assert (again.clocks, len(statements)) == (0, 1)


def plan(now) -> tuple[sweep_module.Batch, list]:
    """What a sweep plans at `now`, before it writes anything."""
    batch = sweep_module.Batch(now, Contexts())
    due = Clock.objects.filter(status=ClockStatus.RUNNING, next_step_at__lte=now)
    by_handoff: dict[int, list[Clock]] = {}
    for clock in sweep_module.store.with_version(due.order_by("next_step_at", "pk")):
        by_handoff.setdefault(clock.handoff_id, []).append(clock)
    plans, alone = batch.plan(by_handoff)
    assert alone == []
    return batch, plans


def write(batch, plans) -> SweepResult:
    result = SweepResult()
    assert sweep_module._write_plans(plans, batch, result, deadline=float("inf"))
    return result


def test_a_handoff_acknowledged_after_the_plan_is_worked_again_under_its_lock(
    file_handoff, provider_member, provider_lead
):
    handoffs = [file_handoff("P3") for _ in range(5)]
    now = berlin(2026, 3, 3, 10, 5)  # every acknowledge clock due for its breach
    batch, plans = plan(now)
    # Between the plan and the write, someone acknowledges one: that records the breach
    # (the acknowledge settles the clock it stops).
    services.handoff_acknowledge(handoff=handoffs[2], actor=provider_member, now=now)
    result = write(batch, plans)
    assert (result.clocks, result.breaches, result.skipped, result.errors) == (4, 4, 0, [])
    for handoff in handoffs:
        assert handoff.events.filter(kind=EventKind.CLOCK_BREACHED).count() == 1
        told = Notification.objects.filter(subject_id=handoff.pk, kind="breach", channel="in_app")
        assert told.values("recipient").distinct().count() == told.count() >= 1
        if handoff != handoffs[2]:
            assert told.count() == 2  # unassigned: both Engineering members hear
    assert handoffs[2].clocks.get(metric="acknowledge").status == ClockStatus.BREACHED


def test_two_sweeps_planning_the_same_steps_write_them_once(
    file_handoff, provider_member, provider_lead
):
    handoffs = [file_handoff("P1") for _ in range(8)]
    now = berlin(2026, 3, 2, 10, 25)  # every P1 acknowledge warning due
    first, second = plan(now), plan(now)
    done = write(*first)
    late = write(*second)  # every handoff changed since it planned: worked again, no step
    assert (done.warnings, late.warnings, late.clocks) == (8, 0, 0)
    for handoff in handoffs:
        assert handoff.events.filter(kind=EventKind.WARNED).count() == 1
        assert Notification.objects.filter(subject_id=handoff.pk, kind="warning").count() == 2
        ack = handoff.clocks.get(metric="acknowledge")
        assert (ack.fired_percent, ack.next_step_at) == (75, berlin(2026, 3, 2, 10, 30, 1))


def test_a_group_whose_transaction_fails_is_done_again_one_handoff_at_a_time(
    file_handoff, provider_member, provider_lead
):
    """A database that refuses one handoff's timeline fails its group's transaction: the
    group is rolled back and redone one handoff at a time; the others fire once, the
    refused one is recorded and retried with backoff."""
    handoffs = [file_handoff("P1") for _ in range(6)]
    refused = handoffs[3]
    table = HandoffEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION pg_temp.refuse() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'timeline refused'; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            f'CREATE TRIGGER refuse BEFORE INSERT ON "{table}" FOR EACH ROW '
            f"WHEN (NEW.handoff_id = {refused.pk}) EXECUTE FUNCTION pg_temp.refuse()"
        )
    now = berlin(2026, 3, 2, 10, 25)
    result = sweep_due_clocks(now=now)
    run = sweep_record(started_at=now, result=result)
    assert run.failed == 1
    assert run.errors[0]["handoff"] == refused.pk
    assert "timeline refused" in run.errors[0]["error"]
    assert result.warnings == 5
    for handoff in handoffs:
        warned = 0 if handoff == refused else 1
        assert handoff.events.filter(kind=EventKind.WARNED).count() == warned
        assert Notification.objects.filter(subject_id=handoff.pk, kind="warning").count() == (
            2 * warned
        )
    failing = refused.clocks.get(metric="acknowledge")
    assert (failing.sweep_failures, failing.fired_percent) == (1, 0)
    assert failing.next_step_at == now + timedelta(minutes=1)
    assert sweep_due_clocks(now=now).clocks == 0


def test_a_handoff_whose_plan_fails_is_recorded_and_retried_later(
    file_handoff, requester, requesting_team
):
    """A calendar nobody can read fails its handoff's plan: that handoff takes the
    one-handoff path, fails there, and is recorded and retried with backoff; the others
    are written in groups."""
    from apps.calendars.models import BusinessCalendar

    data = TeamFactory(name="Data", slug="data")
    MembershipFactory(team=data, user=UserFactory(username="dora"))
    other = AgreementFactory(series__provider_team=data, series__requesting_team=requesting_team)
    healthy = [
        services.handoff_create(
            actor=requester,
            agreement=other,
            title=f"Fine {n}",
            priority="P1",
            triage=TRIAGE,
            now=MONDAY_10,
        )
        for n in range(12)
    ]
    broken = file_handoff("P3")
    BusinessCalendar.objects.filter(pk=broken.agreement.calendar_id).update(
        time_zone="Nowhere/Atlantis"
    )
    now = berlin(2026, 3, 3, 11, 0)
    result = sweep_due_clocks(now=now)
    run = sweep_record(started_at=now, result=result)
    assert run.failed == 1
    assert run.errors[0]["handoff"] == broken.pk
    assert "Atlantis" in run.errors[0]["error"]
    assert result.breaches == 12 * 3  # every healthy P1's three clocks
    assert result.groups >= 1
    for handoff in healthy:
        events = handoff.events.filter(kind=EventKind.CLOCK_BREACHED)
        assert sorted(events.values_list("after__metric", flat=True)) == [
            "acknowledge",
            "action_plan",
            "resolve",
        ]
        told = Notification.objects.filter(subject_id=handoff.pk, channel="in_app", kind="breach")
        # Unassigned: Dora hears of each breach once (three, folded into one entry).
        assert told.count() == 3
        assert told.filter(coalesced_into__isnull=True).count() == 1
    failing = broken.clocks.get(metric="acknowledge")
    assert failing.sweep_failures == 1
    assert failing.next_step_at == now + timedelta(minutes=1)
    assert sweep_due_clocks(now=now).clocks == 0


def test_prepared_notifications_are_notify_one_after_another(
    provider_member, provider_lead, provider_team
):
    """The same requests about two subjects, one through notify() call after call, the
    other prepared and written at once: the same rows (channels, holds, schedule,
    coalescing); a dedup key given twice makes one row; nothing written twice."""
    provider_team.webhook_url = "https://hooks.example.com/ola"
    provider_team.save(update_fields=["webhook_url"])
    notifications.preference_set(user=provider_lead, kind="warning", channel="email", enabled=True)
    type(provider_lead).objects.filter(pk=provider_lead.pk).update(quiet_hours=True)
    provider_lead.refresh_from_db()
    now = berlin(2026, 3, 2, 19, 0)  # after the lead's working hours

    def requests(subject: int) -> list[dict]:
        base = {
            "body": "b",
            "url": f"https://ola.example.com/handoffs/{subject}/",
            "subject_type": "handoff",
            "subject_id": subject,
        }
        return [
            {
                **base,
                "kind": "warning",
                "title": "At risk",
                "dedup_base": f"s{subject}:1",
                "recipients": [provider_member, provider_lead],
                "deliver_after": berlin(2026, 3, 3, 9, 0),
            },
            {
                **base,
                "kind": "breach",
                "title": "Breached",
                "dedup_base": f"s{subject}:2",
                "recipients": [provider_member],
                "team": provider_team,
                "urgent": True,
            },
            {
                **base,
                "kind": "warning",
                "title": "At risk",
                "dedup_base": f"s{subject}:1",
                "recipients": [provider_lead],
            },
        ]

    one_after_another = [
        row for request in requests(1) for row in notifications.notify(**request, now=now)
    ]
    prepared = notifications.notifications_prepare(requests(2), now=now)
    at_once = notifications.notifications_write([r for rows in prepared for r in rows], now=now)

    def shape(rows):
        position = {row.pk: index for index, row in enumerate(rows)}
        return [
            (
                row.recipient_id,
                row.team_id,
                row.kind,
                row.channel,
                row.title,
                row.dedup_key.split(":", 1)[1],
                row.status,
                row.deliver_after,
                row.next_attempt_at,
                position.get(Notification.objects.get(pk=row.pk).coalesced_into_id),
            )
            for row in rows
        ]

    assert shape(at_once) == shape(one_after_another)
    assert {(r.kind, r.channel) for r in at_once} == {
        ("warning", "in_app"),
        ("warning", "email"),
        ("breach", "in_app"),
        ("breach", "email"),
        ("breach", "webhook"),
    }
    assert len(at_once) == 6  # the third request's keys were the first's: no row twice
    lead_email = next(r for r in at_once if r.kind == "warning" and r.channel == "email")
    assert (lead_email.recipient_id, lead_email.status) == (provider_lead.pk, "scheduled")
    # Written again: every key exists, nothing is made.
    assert notifications.notifications_write([r for rows in prepared for r in rows], now=now) == []
