"""A clock carries copies of its handoff's teams, series, priority, segment, reopen count
and time waiting on the requester (compliance reports read the clock table alone): the
services keep them equal to the handoff's through every change, the migration filled
them for clocks that existed before, and `Clock.objects.visible_to` shows exactly the
clocks of the handoffs `Handoff.objects.visible_to` shows."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.handoffs import services
from apps.handoffs.clockwork.sweep import sweep_due_clocks
from apps.handoffs.models import Clock, Handoff
from tests.factories import AgreementFactory
from tests.helpers import MONDAY_10, TRIAGE, berlin

pytestmark = pytest.mark.django_db

COPIES = (
    "provider_team_id",
    "requesting_team_id",
    "series_id",
    "priority",
    "customer_segment",
    "handoff_reopen_count",
    "handoff_waiting_seconds",
)


def expected(handoff: Handoff) -> dict:
    handoff = Handoff.objects.select_related("agreement").get(pk=handoff.pk)
    return {
        "provider_team_id": handoff.provider_team_id,
        "requesting_team_id": handoff.requesting_team_id,
        "series_id": handoff.agreement.series_id,
        "priority": handoff.priority,
        "customer_segment": handoff.customer_segment,
        "handoff_reopen_count": handoff.reopen_count,
        "handoff_waiting_seconds": handoff.waiting_seconds,
    }


def assert_in_sync(handoff: Handoff) -> None:
    rows = list(Clock.objects.filter(handoff=handoff).values("metric", *COPIES))
    assert len(rows) == 3
    want = expected(handoff)
    for row in rows:
        assert {k: row[k] for k in COPIES} == want, row["metric"]


def test_filing_copies_the_handoff_fields_onto_its_three_clocks(file_handoff, agreement):
    handoff = file_handoff("P2", customer_segment="enterprise")
    assert_in_sync(handoff)
    clock = handoff.clocks.get(metric="resolve")
    assert (clock.priority, clock.customer_segment) == ("P2", "enterprise")
    assert clock.series_id == agreement.series_id
    # Reports bucket by the clock's start: it is the handoff's creation.
    assert set(handoff.clocks.values_list("started_at", flat=True)) == {handoff.created_at}


def test_changing_the_priority_moves_every_clock_finished_or_not(file_handoff, provider_member):
    handoff = file_handoff("P3")
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=MONDAY_10)
    services.handoff_change_priority(
        handoff=handoff, actor=provider_member, priority="P1", reason="Outage", now=MONDAY_10
    )
    assert_in_sync(handoff)
    assert set(handoff.clocks.values_list("priority", flat=True)) == {"P1"}


def test_the_sweep_raising_the_priority_moves_the_clocks(file_handoff, provider_member):
    handoff = file_handoff("P3")
    services.handoff_start(handoff=handoff, actor=provider_member, now=MONDAY_10)
    services.handoff_post_action_plan(
        handoff=handoff, actor=provider_member, plan="p", now=MONDAY_10
    )
    # The resolve breach's ladder step raises P3 to P2 (tests/handoffs/test_sweep.py).
    assert sweep_due_clocks(now=berlin(2026, 3, 16, 10, 1)).raised == 1
    assert_in_sync(handoff)
    assert set(handoff.clocks.values_list("priority", flat=True)) == {"P2"}


def test_waits_and_reopens_are_counted_on_every_clock(file_handoff, provider_member, requester):
    handoff = file_handoff("P3")
    services.handoff_start(handoff=handoff, actor=provider_member, now=MONDAY_10)
    services.handoff_wait_on_requester(
        handoff=handoff, actor=provider_member, question="Which build?", now=MONDAY_10
    )
    assert_in_sync(handoff)
    services.handoff_resume(
        handoff=handoff, actor=requester, reply="4.2", now=MONDAY_10 + timedelta(hours=2)
    )
    assert_in_sync(handoff)
    assert handoff.clocks.first().handoff_waiting_seconds == 7200

    # A second wait ended by resolving; then a reopen.
    services.handoff_wait_on_requester(
        handoff=handoff,
        actor=provider_member,
        question="Logs?",
        now=MONDAY_10 + timedelta(hours=3),
    )
    services.handoff_resolve(
        handoff=handoff,
        actor=provider_member,
        resolution="Fixed",
        now=MONDAY_10 + timedelta(hours=4),
    )
    services.handoff_reopen(
        handoff=handoff, actor=requester, reason="Still broken", now=MONDAY_10 + timedelta(hours=5)
    )
    assert_in_sync(handoff)
    assert handoff.clocks.first().handoff_waiting_seconds == 7200 + 3600
    assert handoff.clocks.first().handoff_reopen_count == 1


@pytest.mark.parametrize("ending", ["cancel", "auto_close"])
def test_a_wait_ended_by_cancelling_or_closing_is_counted(
    file_handoff, provider_member, requester, ending
):
    handoff = file_handoff("P3")
    services.handoff_start(handoff=handoff, actor=provider_member, now=MONDAY_10)
    services.handoff_wait_on_requester(
        handoff=handoff, actor=provider_member, question="Which build?", now=MONDAY_10
    )
    later = MONDAY_10 + timedelta(days=8)
    if ending == "cancel":
        services.handoff_cancel(handoff=handoff, actor=requester, reason="Gone", now=later)
    else:
        services.handoff_auto_close(handoff=handoff, now=later)
    assert_in_sync(handoff)
    assert handoff.clocks.first().handoff_waiting_seconds == 8 * 86400


def test_clock_visibility_is_handoff_visibility(
    file_handoff,
    provider_team,
    other_team,
    requesting_team,
    provider_member,
    requester,
    outsider,
    staff,
):
    ours = file_handoff("P3")
    # Finance → Engineering: Engineering sees it, Support does not.
    finance_agreement = AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=other_team
    )
    theirs = services.handoff_create(
        actor=outsider,
        agreement=finance_agreement,
        title="Ledger",
        priority="P3",
        triage=TRIAGE,
        now=MONDAY_10,
    )
    for user in (provider_member, requester, outsider, staff):
        via_handoffs = set(
            Clock.objects.filter(handoff__in=Handoff.objects.visible_to(user)).values_list(
                "pk", flat=True
            )
        )
        assert set(Clock.objects.visible_to(user).values_list("pk", flat=True)) == via_handoffs
    assert set(Clock.objects.visible_to(requester).values_list("handoff", flat=True)) == {ours.pk}
    assert set(Clock.objects.visible_to(outsider).values_list("handoff", flat=True)) == {theirs.pk}


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_copies_of_existing_clocks(
    provider_team, requesting_team, requester
):
    executor = MigrationExecutor(connection)
    before = ("handoffs", "0003_handoff_waiting_seconds")
    executor.migrate([before])
    try:
        apps = executor.loader.project_state([before]).apps
        agreement = AgreementFactory(
            series__provider_team=provider_team, series__requesting_team=requesting_team
        )
        OldHandoff = apps.get_model("handoffs", "Handoff")
        OldClock = apps.get_model("handoffs", "Clock")
        old = OldHandoff.objects.create(
            agreement_id=agreement.pk,
            provider_team_id=provider_team.pk,
            requesting_team_id=requesting_team.pk,
            title="From before",
            priority="P4",
            customer_segment="self_serve",
            created_by_id=requester.pk,
            reopen_count=2,
            waiting_seconds=300,
        )
        for metric in ("acknowledge", "action_plan", "resolve"):
            OldClock.objects.create(handoff_id=old.pk, metric=metric, started_at=MONDAY_10)
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        # Forward through 0004 (the copies) to the latest, so later tests see the schema.
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert_in_sync(Handoff.objects.get(pk=old.pk))
    assert Clock.objects.filter(handoff_id=old.pk, priority="P4").count() == 3
