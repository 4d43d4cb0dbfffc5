"""The sweep works a batch in groups (issue 14, item 5): a few statements per group
whatever its size, the very same timeline, notifications and clocks as one handoff at a
time, and a group that fails is redone one handoff at a time without firing anything
twice."""

import re
from datetime import timedelta
from time import perf_counter

import pytest

from apps.handoffs.clockwork import sweep as sweep_module
from apps.handoffs.clockwork.store import Contexts
from apps.handoffs.clockwork.sweep import SweepResult, sweep_due_clocks, sweep_record
from apps.handoffs.models import Clock, EventKind, Handoff, HandoffEvent
from apps.notifications import services as notifications
from apps.notifications.models import Notification
from apps.notifications.services import notify_many
from apps.teams.models import Role
from tests.factories import AgreementFactory, MembershipFactory, TeamFactory, UserFactory
from tests.helpers import MONDAY_10, TRIAGE, berlin

pytestmark = pytest.mark.django_db

# P1 (24×7: 30 min / 2 h / 8 h) and P3 (Berlin office hours: 8 / 40 / 80 h) filed Monday
# 10:00, swept at these moments: the P1 warnings, its breaches two at a time, the resolve
# ladder's step at 75 % (the assignee) and at 100 % (the provider lead, and a raise: P3
# goes to P2), then the P2 ladder.
MOMENTS = [
    berlin(2026, 3, 2, 10, 25),
    berlin(2026, 3, 2, 12, 5),
    berlin(2026, 3, 2, 16, 5),
    berlin(2026, 3, 2, 18, 5),
    berlin(2026, 3, 3, 10, 5),
    berlin(2026, 3, 6, 12, 0),
    berlin(2026, 3, 12, 12, 0),
    berlin(2026, 3, 16, 10, 5),
    berlin(2026, 3, 16, 16, 0),
    berlin(2026, 3, 20, 12, 0),
]


@pytest.fixture
def scene(file_handoff, provider_team, provider_member, provider_lead):
    """A webhook on the provider team; the lead wants warnings by email and keeps quiet
    hours; a second engineer (an unassigned handoff tells the whole team)."""
    provider_team.webhook_url = "https://hooks.example.com/ola"
    provider_team.save(update_fields=["webhook_url"])
    MembershipFactory(team=provider_team, user=UserFactory(username="ines"), role=Role.MEMBER)
    notifications.preference_set(user=provider_lead, kind="warning", channel="email", enabled=True)
    type(provider_lead).objects.filter(pk=provider_lead.pk).update(quiet_hours=True)

    def file_set() -> list[Handoff]:
        handoffs = []
        for priority in ("P1", "P3"):
            for assignee in (provider_member, None):
                handoff = file_handoff(priority)
                if assignee is not None:
                    Handoff.objects.filter(pk=handoff.pk).update(assignee=assignee)
                handoffs.append(handoff)
        return handoffs

    return file_set


def one_by_one(handoffs: list[Handoff], now) -> SweepResult:
    """The path a failed group takes: one handoff per transaction, a claim per step."""
    due = Clock.objects.filter(
        handoff__in=handoffs, status="running", next_step_at__lte=now
    ).order_by("next_step_at", "pk")
    chunk: dict[int, list[int]] = {}
    for clock_id, handoff_id in due.values_list("pk", "handoff_id"):
        chunk.setdefault(handoff_id, []).append(clock_id)
    result = SweepResult()
    batch = sweep_module.Batch(now, Contexts())
    sweep_module._sweep_one_by_one(chunk, batch, result, perf_counter(), 60.0)
    return result


def written(handoff: Handoff) -> dict:
    """What the sweeps wrote about one handoff, with its id taken out."""
    pk = handoff.pk

    def plain(text: str) -> str:
        text = text.replace(f"#{pk}", "#N").replace(f"/{pk}/", "/N/")
        text = text.replace(f"handoff:{pk}:", "handoff:N:")
        return re.sub(r":event:\d+:", ":event:E:", text)  # the priority change's event

    events = [
        (e.kind, e.created_at, e.after)
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
            "target_seconds",
            "sweep_failures",
        )
    )
    handoff.refresh_from_db()
    return {"events": events, "told": told, "clocks": clocks, "priority": handoff.priority}


def test_a_batch_writes_what_one_handoff_at_a_time_writes(scene):
    batched, alone = scene(), scene()
    for now in MOMENTS:
        one = one_by_one(alone, now)
        many = sweep_due_clocks(now=now)
        assert many.errors == one.errors == []
        assert (many.clocks, many.warnings, many.breaches, many.escalations, many.raised) == (
            one.clocks,
            one.warnings,
            one.breaches,
            one.escalations,
            one.raised,
        ), now
    fired = 0
    for mine, theirs in zip(batched, alone, strict=True):
        got, expected = written(mine), written(theirs)
        assert got == expected
        fired += len(got["events"])
    # The scene fired every kind of step: not a comparison of two empty lists.
    kinds = {e[0] for h in batched for e in written(h)["events"]}
    assert kinds >= {EventKind.WARNED, EventKind.CLOCK_BREACHED, EventKind.ESCALATED}
    assert Handoff.objects.get(pk=batched[2].pk).priority == "P2"  # the P3 was raised
    assert fired > 20
    # Several notices to one person about one handoff in one sweep read as one entry.
    assert Notification.objects.filter(
        subject_id__in=[h.pk for h in batched], coalesced_into__isnull=False
    ).exists()


def test_a_batch_costs_at_most_two_queries_per_fired_step(
    file_handoff, provider_member, provider_lead, django_assert_max_num_queries
):
    handoffs = [file_handoff("P1") for _ in range(60)]
    Handoff.objects.filter(pk__in=[h.pk for h in handoffs[:30]]).update(assignee=provider_member)
    now = berlin(2026, 3, 2, 12, 5)  # acknowledge and action plan both breached
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        result = sweep_due_clocks(now=now)
    assert result.errors == []
    assert (result.clocks, result.breaches) == (120, 120)
    assert len(queries) <= 2 * len(result.fired)
    # A few statements per group of handoffs (its size depends on the machine's pace),
    # not a few per step: the due clocks, the agreement version, who hears, then per
    # group at most 14 (locks, claims, events, notifications).
    sql = "\n".join(q["sql"][:120] for q in queries.captured_queries)
    assert 1 <= result.groups <= 12
    assert len(queries) <= 10 + 14 * result.groups, sql
    for handoff in handoffs:
        breaches = handoff.events.filter(kind=EventKind.CLOCK_BREACHED)
        assert sorted(breaches.values_list("after__metric", flat=True)) == [
            "acknowledge",
            "action_plan",
        ]
    with django_assert_max_num_queries(1):
        assert sweep_due_clocks(now=now).clocks == 0


def test_a_failing_group_is_done_again_one_handoff_at_a_time(
    file_handoff, requester, requesting_team, provider_member
):
    """A calendar nobody can read fails its handoff's group; the group is rolled back and
    redone one handoff at a time: the others fire once, the broken one is recorded and
    retried with backoff."""
    from apps.calendars.models import BusinessCalendar
    from apps.handoffs import services

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


def test_notify_many_is_notify_one_after_another(provider_member, provider_lead, provider_team):
    """Two notices to one person about one subject in one call: one entry (the second
    folds into the first); a dedup key given twice makes one row."""
    now = MONDAY_10
    request = {
        "kind": "breach",
        "title": "Breached",
        "body": "b",
        "url": "https://ola.example.com/handoffs/1/",
        "recipients": [provider_member, provider_lead],
        "urgent": True,
        "subject_type": "handoff",
        "subject_id": 1,
    }
    created = notify_many(
        [
            {**request, "dedup_base": "x:1"},
            {**request, "dedup_base": "x:2", "recipients": [provider_member]},
            {**request, "dedup_base": "x:1"},
        ],
        now=now,
    )
    in_app = [r for r in created if r.channel == "in_app"]
    assert [(r.recipient_id, r.dedup_key.split(":")[1]) for r in in_app] == [
        (provider_member.pk, "1"),
        (provider_lead.pk, "1"),
        (provider_member.pk, "2"),
    ]
    first, _, second = in_app
    assert Notification.objects.get(pk=second.pk).coalesced_into_id == first.pk
    assert Notification.objects.filter(dedup_key__startswith="x:1:in_app").count() == 2
    # And a later call folds into the entry still open.
    later = notifications.notify(**{**request, "dedup_base": "x:3"}, now=now + timedelta(seconds=5))
    assert {r.coalesced_into_id for r in later if r.channel == "in_app"} == {
        first.pk,
        Notification.objects.get(dedup_key=f"x:1:in_app:{provider_lead.pk}").pk,
    }
