"""Each handoff event tells the people who must act, once, through the service that made
the change: who hears it, on which channel (in-app always, email as their preferences
say — the defaults here — and the provider team's webhook for a new handoff), and never
the person who acted."""

import re
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.urls import reverse

from apps.core.exceptions import Conflict
from apps.handoffs import event_notices, services
from apps.handoffs.models import EventKind, Status
from apps.handoffs.reminders import remind_waiting
from apps.handoffs.watchers import handoff_watch
from apps.notifications.models import Channel, Kind, Notification, default_enabled
from apps.notifications.models import Status as Delivery
from apps.teams.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.helpers import MONDAY_10, berlin

pytestmark = pytest.mark.django_db

LATER = MONDAY_10 + timedelta(minutes=5)
HOOK = "https://hooks.example.com/engineering"


def told(handoff, kind, channel=Channel.IN_APP) -> list[str]:
    """Who got `kind` about the handoff on `channel`, by username (sorted)."""
    rows = Notification.objects.filter(
        subject_type="handoff", subject_id=handoff.pk, kind=kind, channel=channel
    ).select_related("recipient")
    return sorted(n.recipient.username for n in rows)


def emailed(kind, people: list[str]) -> list[str]:
    """Who gets `kind` by email when nobody changed their preferences."""
    return sorted(people) if default_enabled(kind, Channel.EMAIL) else []


def only(handoff, kind) -> Notification:
    return Notification.objects.get(
        subject_id=handoff.pk, kind=kind, channel=Channel.IN_APP, recipient__username="rita"
    )


@pytest.fixture
def hooked(provider_team):
    provider_team.webhook_url = HOOK
    provider_team.save(update_fields=["webhook_url"])
    return provider_team


@pytest.fixture
def acked(file_handoff, provider_member, provider_lead):
    """A P3 Max acknowledged (so he has it)."""
    return services.handoff_acknowledge(
        handoff=file_handoff("P3"), actor=provider_member, now=MONDAY_10
    )


# --- filed ---------------------------------------------------------------------------------


def test_a_p1_reaches_every_provider_member_at_once_and_the_team_webhook(
    file_handoff, hooked, provider_lead, provider_member, requester
):
    # Monday 20:00 in Berlin: Engineering is closed, and a P1 is told all the same.
    handoff = file_handoff("P1", at=berlin(2026, 3, 2, 20, 0))
    assert told(handoff, Kind.FILED) == ["lena", "max"]
    assert told(handoff, Kind.FILED, Channel.EMAIL) == emailed(Kind.FILED, ["lena", "max"])
    hook = Notification.objects.get(subject_id=handoff.pk, channel=Channel.WEBHOOK)
    assert (hook.team, hook.kind, hook.status, hook.deliver_after) == (
        hooked,
        Kind.FILED,
        Delivery.PENDING,
        None,
    )
    assert "P1" in hook.title and "Checkout crashes" in hook.title
    inbox = Notification.objects.filter(subject_id=handoff.pk, channel=Channel.IN_APP)
    assert {n.status for n in inbox} == {Delivery.SENT}
    assert all(n.url.endswith(f"/handoffs/{handoff.pk}/") for n in inbox)


def test_a_p3_filed_after_hours_waits_for_the_provider_team_s_next_open_time(
    file_handoff, hooked, provider_lead, provider_member
):
    handoff = file_handoff("P3", at=berlin(2026, 3, 2, 20, 0))
    # The inbox shows it at once; the team's channel (and email) wait for Tuesday 09:00.
    assert told(handoff, Kind.FILED) == ["lena", "max"]
    held = Notification.objects.filter(subject_id=handoff.pk).exclude(channel=Channel.IN_APP)
    assert {n.channel for n in held} >= {Channel.WEBHOOK}
    assert {(n.status, n.deliver_after) for n in held} == {
        (Delivery.SCHEDULED, berlin(2026, 3, 3, 9, 0))
    }


def test_a_p3_filed_in_open_hours_goes_now(file_handoff, hooked, provider_member):
    handoff = file_handoff("P3")
    hook = Notification.objects.get(subject_id=handoff.pk, channel=Channel.WEBHOOK)
    assert (hook.status, hook.deliver_after) == (Delivery.PENDING, None)


def test_the_filer_is_not_told_of_their_own_filing(file_handoff, provider_member, requester):
    handoff = file_handoff("P2")
    assert "rita" not in told(handoff, Kind.FILED)


# --- the requester side --------------------------------------------------------------------


def test_acknowledged_tells_the_filer_and_the_watchers_not_the_engineer(
    file_handoff, provider_member, provider_lead, requester_lead
):
    handoff = file_handoff("P3")
    handoff_watch(handoff=handoff, actor=requester_lead, now=MONDAY_10)
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=LATER)
    assert told(handoff, Kind.ACKNOWLEDGED) == ["rita", "rob"]
    assert told(handoff, Kind.ACKNOWLEDGED, Channel.EMAIL) == emailed(
        Kind.ACKNOWLEDGED, ["rita", "rob"]
    )
    assert provider_member.display_name in only(handoff, Kind.ACKNOWLEDGED).title


def test_starting_a_new_handoff_tells_the_requester_it_is_acknowledged(
    file_handoff, provider_member
):
    handoff = file_handoff("P3")
    services.handoff_start(handoff=handoff, actor=provider_member, now=LATER)
    assert told(handoff, Kind.ACKNOWLEDGED) == ["rita"]


def test_the_action_plan_reaches_the_requester_with_the_plan(acked):
    services.handoff_post_action_plan(
        handoff=acked, actor=acked.assignee, plan="Roll back 4.2 by noon.", now=LATER
    )
    assert told(acked, Kind.ACTION_PLAN) == ["rita"]
    assert told(acked, Kind.ACTION_PLAN, Channel.EMAIL) == emailed(Kind.ACTION_PLAN, ["rita"])
    assert only(acked, Kind.ACTION_PLAN).body == "Roll back 4.2 by noon."


def test_a_question_reaches_the_requester_with_a_link_to_the_reply_box(acked):
    services.handoff_wait_on_requester(
        handoff=acked, actor=acked.assignee, question="Which browser?", now=LATER
    )
    assert told(acked, Kind.QUESTION) == ["rita"]
    assert told(acked, Kind.QUESTION, Channel.EMAIL) == emailed(Kind.QUESTION, ["rita"])
    question = only(acked, Kind.QUESTION)
    assert question.body == "Which browser?"
    assert question.url.endswith(f"/handoffs/{acked.pk}/#reply")


def test_resolved_asks_the_requester_to_confirm_or_reopen(acked):
    services.handoff_resolve(
        handoff=acked, actor=acked.assignee, resolution="Rolled back.", now=LATER
    )
    assert told(acked, Kind.RESOLVED) == ["rita"]
    assert told(acked, Kind.RESOLVED, Channel.EMAIL) == emailed(Kind.RESOLVED, ["rita"])
    resolved = only(acked, Kind.RESOLVED)
    assert resolved.url.endswith("#confirm")
    assert "Rolled back." in resolved.body and "reopen" in resolved.body


def test_a_confirmed_resolution_tells_whoever_worked_on_it(acked, requester):
    services.handoff_resolve(handoff=acked, actor=acked.assignee, resolution="Fixed.", now=LATER)
    services.handoff_close(handoff=acked, actor=requester, comment="Works, thanks!", now=LATER)
    assert told(acked, Kind.CLOSED) == ["max"]
    closed = Notification.objects.get(subject_id=acked.pk, kind=Kind.CLOSED, channel=Channel.IN_APP)
    assert "confirmed by" in closed.title and closed.body == "Works, thanks!"


def test_a_cancelled_handoff_tells_both_sides_but_not_who_cancelled_it(
    file_handoff, provider_lead, provider_member, requester
):
    handoff = file_handoff("P3")
    services.handoff_cancel(handoff=handoff, actor=requester, reason="Found it: ours.", now=LATER)
    # Nobody had it yet: the whole provider team stops looking.
    assert told(handoff, Kind.CLOSED) == ["lena", "max"]
    cancelled = Notification.objects.filter(
        subject_id=handoff.pk, kind=Kind.CLOSED, channel=Channel.IN_APP
    )
    assert {n.body for n in cancelled} == {"Found it: ours."}


def test_auto_close_after_silence_tells_the_requester_we_are_here(acked):
    services.handoff_wait_on_requester(
        handoff=acked, actor=acked.assignee, question="Which browser?", now=MONDAY_10
    )
    assert remind_waiting(now=MONDAY_10 + timedelta(days=7)).closed == 1
    # The filer, and Max, who watches what he has.
    assert told(acked, Kind.CLOSED) == ["max", "rita"]
    closed = only(acked, Kind.CLOSED)
    assert "Closed after no reply" in closed.body and "we're here when you need us" in closed.body
    assert remind_waiting(now=MONDAY_10 + timedelta(days=7, hours=1)).closed == 0
    assert told(acked, Kind.CLOSED) == ["max", "rita"]


def test_a_resolution_nobody_confirms_is_closed_by_the_system_and_the_requester_told(
    acked, agreement
):
    services.handoff_resolve(handoff=acked, actor=acked.assignee, resolution="Fixed.", now=LATER)
    then = LATER + timedelta(days=8)
    closed = services.handoff_close_unconfirmed(handoff=acked, now=then)
    assert (closed.status, closed.closed_at) == (Status.CLOSED, then)
    line = acked.events.filter(kind=EventKind.CLOSED).get()
    assert line.actor is None
    assert line.comment == (
        f"Closed automatically: resolution not confirmed within {agreement.confirmation_days} "
        "business days."
    )
    # The filer, and Max, who watches what he has.
    assert told(acked, Kind.CLOSED) == ["max", "rita"]
    assert "not confirmed" in only(acked, Kind.CLOSED).title
    # Once: a second run finds it closed, and nobody is told twice.
    with pytest.raises(Conflict):
        services.handoff_close_unconfirmed(handoff=acked, now=then + timedelta(hours=1))
    assert told(acked, Kind.CLOSED) == ["max", "rita"]


def test_only_a_resolved_handoff_closes_unconfirmed_and_only_the_system_does_it(acked, requester):
    with pytest.raises(Conflict):
        services.handoff_close_unconfirmed(handoff=acked, now=LATER)
    services.handoff_resolve(handoff=acked, actor=acked.assignee, resolution="Fixed.", now=LATER)
    acked.refresh_from_db()
    assert "close_unconfirmed" not in services.available_actions(requester, acked)


# --- the provider side ---------------------------------------------------------------------


def test_a_reply_reaches_the_assignee_only(acked, requester):
    services.handoff_wait_on_requester(
        handoff=acked, actor=acked.assignee, question="Which browser?", now=MONDAY_10
    )
    services.handoff_resume(handoff=acked, actor=requester, reply="Firefox 128", now=LATER)
    assert told(acked, Kind.REPLIED) == ["max"]
    assert told(acked, Kind.REPLIED, Channel.EMAIL) == emailed(Kind.REPLIED, ["max"])
    assert "Firefox 128" in Notification.objects.get(kind=Kind.REPLIED, channel="in_app").body


def test_a_reply_nobody_has_reaches_the_provider_team(acked, provider_lead, requester):
    services.handoff_assign(handoff=acked, actor=provider_lead, assignee=None, now=MONDAY_10)
    services.handoff_wait_on_requester(
        handoff=acked, actor=provider_lead, question="Which browser?", now=MONDAY_10
    )
    services.handoff_resume(handoff=acked, actor=requester, reply="Firefox", now=LATER)
    assert told(acked, Kind.REPLIED) == ["lena", "max"]


def test_a_provider_resuming_tells_nobody_of_a_reply(acked):
    services.handoff_wait_on_requester(
        handoff=acked, actor=acked.assignee, question="Which browser?", now=MONDAY_10
    )
    services.handoff_resume(handoff=acked, actor=acked.assignee, now=LATER)
    assert told(acked, Kind.REPLIED) == []


def test_reopened_reaches_the_assignee_and_the_provider_leads(acked, requester, hooked):
    services.handoff_resolve(handoff=acked, actor=acked.assignee, resolution="Fixed.", now=LATER)
    services.handoff_reopen(handoff=acked, actor=requester, reason="Still crashes.", now=LATER)
    assert told(acked, Kind.REOPENED) == ["lena", "max"]
    assert told(acked, Kind.REOPENED, Channel.EMAIL) == emailed(Kind.REOPENED, ["lena", "max"])
    # The team's channel hears it when its leads want reopenings there (the default says).
    hook = Notification.objects.filter(kind=Kind.REOPENED, channel=Channel.WEBHOOK, team=hooked)
    assert hook.count() == int(default_enabled(Kind.REOPENED, Channel.WEBHOOK))
    assert Notification.objects.filter(kind=Kind.REOPENED, recipient=requester).count() == 0


def test_assigning_tells_the_new_assignee_not_someone_taking_it(
    acked, provider_lead, provider_member, provider_team
):
    sid = MembershipFactory(team=provider_team, user=UserFactory(username="sid")).user
    services.handoff_assign(handoff=acked, actor=provider_lead, assignee=sid, now=LATER)
    assert told(acked, Kind.ASSIGNED) == ["sid"]
    assert told(acked, Kind.ASSIGNED, Channel.EMAIL) == emailed(Kind.ASSIGNED, ["sid"])
    assert provider_lead.display_name in only_for(acked, Kind.ASSIGNED, "sid").title
    # Taking it oneself (assign to me, or claim) tells nobody.
    services.handoff_assign(
        handoff=acked, actor=provider_member, assignee=provider_member, now=LATER
    )
    services.handoff_assign(handoff=acked, actor=provider_lead, assignee=None, now=LATER)
    services.handoff_claim(handoff=acked, actor=provider_member, now=LATER)
    assert told(acked, Kind.ASSIGNED) == ["sid"]


def only_for(handoff, kind, username) -> Notification:
    return Notification.objects.get(
        subject_id=handoff.pk, kind=kind, channel=Channel.IN_APP, recipient__username=username
    )


def test_a_priority_change_reaches_both_sides(acked, requester, requester_lead):
    services.handoff_change_priority(
        handoff=acked, actor=requester_lead, priority="P2", reason="Big customer.", now=LATER
    )
    assert told(acked, Kind.PRIORITY) == ["max", "rita"]
    assert told(acked, Kind.PRIORITY, Channel.EMAIL) == emailed(Kind.PRIORITY, ["max", "rita"])
    assert "P3 → P2" in only(acked, Kind.PRIORITY).title


def test_the_ladder_raising_the_priority_of_unassigned_work_tells_the_provider_leads(
    file_handoff, provider_lead, provider_member
):
    handoff = file_handoff("P3")
    assert services.handoff_raise_priority(handoff=handoff, now=LATER)
    assert told(handoff, Kind.PRIORITY) == ["lena", "rita"]
    assert "Escalation ladder" in only(handoff, Kind.PRIORITY).body


# --- comments and watchers -----------------------------------------------------------------


def test_a_comment_reaches_those_watching_but_not_its_author(acked, requester, provider_lead):
    handoff_watch(handoff=acked, actor=provider_lead, now=MONDAY_10)
    services.handoff_comment(handoff=acked, actor=requester, comment="Any news?", now=LATER)
    # Max watches because he has it, Lena by choice; Rita wrote it.
    assert told(acked, Kind.COMMENT) == ["lena", "max"]
    assert told(acked, Kind.COMMENT, Channel.EMAIL) == emailed(Kind.COMMENT, ["lena", "max"])
    assert "Any news?" in only_for(acked, Kind.COMMENT, "max").body


# --- exactly once --------------------------------------------------------------------------


def test_telling_of_the_same_event_twice_creates_nothing_more(acked):
    event = acked.events.get(kind=EventKind.ACKNOWLEDGED)
    before = Notification.objects.count()
    assert event_notices.acknowledged(event) == []
    assert Notification.objects.count() == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locking needs PostgreSQL")
def test_ten_engineers_acknowledging_at_once_tell_the_requester_once(
    file_handoff, provider_team, requester
):
    handoff = file_handoff("P3")
    engineers = [
        MembershipFactory(team=provider_team, user=UserFactory(), role=Role.MEMBER).user
        for _ in range(10)
    ]
    barrier = threading.Barrier(len(engineers))
    outcomes: list[str] = []

    def acknowledge(user):
        try:
            barrier.wait(timeout=30)
            services.handoff_acknowledge(handoff=handoff, actor=user, now=LATER)
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=acknowledge, args=(u,)) for u in engineers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["conflict"] * 9 + ["ok"]
    assert told(handoff, Kind.ACKNOWLEDGED) == ["rita"]
    assert told(handoff, Kind.ACKNOWLEDGED, Channel.EMAIL) == emailed(Kind.ACKNOWLEDGED, ["rita"])


# --- where the links land ------------------------------------------------------------------


def test_the_question_lands_on_the_reply_box_and_the_resolution_on_confirm_or_reopen(
    client, acked, requester, time_machine
):
    time_machine.move_to(LATER, tick=False)
    services.handoff_wait_on_requester(
        handoff=acked, actor=acked.assignee, question="Which browser?", now=LATER
    )
    client.force_login(requester)
    page = client.get(acked.get_absolute_url()).content.decode()
    reply = re.search(r'<form method="post" action="([^"]+)"[^>]*\sid="reply"', page)
    assert reply and reply.group(1) == reverse("handoffs:resume", args=[acked.pk])

    services.handoff_resume(handoff=acked, actor=requester, reply="Firefox", now=LATER)
    services.handoff_resolve(handoff=acked, actor=acked.assignee, resolution="Fixed.", now=LATER)
    page = client.get(acked.get_absolute_url()).content.decode()
    confirm = re.search(r'<form method="post" action="([^"]+)"[^>]*\sid="confirm"', page)
    assert confirm and confirm.group(1) == reverse("handoffs:close", args=[acked.pk])
    assert 'data-testid="action-reopen"' in page
