"""The timeline reads as sentences, not key/value pairs: every event kind is told from
what its service recorded, names and typed text escaped."""

from datetime import timedelta

import pytest

from apps.agreements.models import Notify
from apps.handoffs import services
from apps.handoffs.clockwork import store
from apps.handoffs.models import EventKind, HandoffEvent
from apps.handoffs.timeline import entries
from apps.handoffs.views.handoffs import _people
from tests.factories import MembershipFactory, UserFactory
from tests.helpers import MONDAY_10

pytestmark = pytest.mark.django_db


@pytest.fixture
def handoff(file_handoff):
    return file_handoff("P3")


def told(handoff):
    """(kind, who, role, sentence, text) of every event, oldest first, as the page has them."""
    events = list(
        HandoffEvent.objects.filter(handoff=handoff)
        .select_related("actor")
        .order_by("created_at", "id")
    )
    handoff = type(handoff).objects.prefetch_related("clocks").get(pk=handoff.pk)
    return [
        (e.kind, e.who, e.role, str(e.sentence), e.text)
        for e in entries(events, handoff, _people(events))
    ]


def at(minutes: int):
    return MONDAY_10 + timedelta(minutes=minutes)


def test_a_whole_journey_reads_as_sentences(handoff, requester, provider_lead, provider_member):
    lena, max_ = provider_lead.display_name, provider_member.display_name
    services.handoff_acknowledge(handoff=handoff, actor=provider_lead, now=at(1))
    services.handoff_assign(
        handoff=handoff, actor=provider_lead, assignee=provider_member, now=at(2)
    )
    services.handoff_start(handoff=handoff, actor=provider_member, now=at(3))
    services.handoff_post_action_plan(
        handoff=handoff, actor=provider_member, plan="Roll back the deploy.", now=at(4)
    )
    services.handoff_wait_on_requester(
        handoff=handoff, actor=provider_member, question="Which browser?", now=at(5)
    )
    services.handoff_resume(handoff=handoff, actor=requester, reply="Firefox 128.", now=at(6))
    services.handoff_comment(handoff=handoff, actor=requester, comment="Thanks!", now=at(7))
    services.handoff_resolve(
        handoff=handoff, actor=provider_member, resolution="Rolled back.", now=at(8)
    )
    services.handoff_reopen(handoff=handoff, actor=requester, reason="Back again.", now=at(9))
    services.handoff_change_priority(
        handoff=handoff, actor=requester, priority="P1", reason="All customers", now=at(10)
    )

    lines = [line for line in told(handoff) if line[0] != EventKind.CLOCK_MET]
    assert lines == [
        ("created", requester.display_name, "", "Filed as P3", ""),
        ("acknowledged", lena, "provider lead", f"Acknowledged; assigned to {lena}", ""),
        ("assigned", lena, "", f"Assigned to {max_} (was {lena})", ""),
        ("started", max_, "provider team", "Started work", ""),
        ("action_plan", max_, "provider team", "Action plan", "Roll back the deploy."),
        ("waiting", max_, "provider team", "Waiting on the requester", "Which browser?"),
        ("replied", requester.display_name, "requesting team", "Replied; the work resumes",
         "Firefox 128."),
        ("commented", requester.display_name, "requesting team", "Commented", "Thanks!"),
        ("resolved", max_, "provider team", "Resolved", "Rolled back."),
        ("reopened", requester.display_name, "requesting team", "Reopened", "Back again."),
        ("priority", requester.display_name, "", "Priority P3 → P1", "All customers"),
    ]  # fmt: skip
    met = [line for line in told(handoff) if line[0] == EventKind.CLOCK_MET]
    assert met[0][3] == "Acknowledge target met after 1 min (target 8 business h)"


def test_claiming_unassigning_closing_and_cancelling(
    file_handoff, handoff, requester, provider_lead, provider_member
):
    services.handoff_claim(handoff=handoff, actor=provider_member, now=at(1))
    services.handoff_assign(handoff=handoff, actor=provider_lead, assignee=None, now=at(2))
    services.handoff_acknowledge(handoff=handoff, actor=provider_lead, now=at(3))
    services.handoff_resolve(handoff=handoff, actor=provider_lead, resolution="Done", now=at(4))
    services.handoff_close(handoff=handoff, actor=requester, now=at(5))
    sentences = [line[3] for line in told(handoff) if line[0] != EventKind.CLOCK_MET]
    assert sentences[1:3] == [
        f"Assigned to {provider_member.display_name}",
        f"Unassigned (was {provider_member.display_name})",
    ]
    assert sentences[-1] == "Confirmed the resolution and closed"

    other = file_handoff("P4")
    services.handoff_cancel(handoff=other, actor=requester, reason="Filed twice", now=at(6))
    assert told(other)[-1][3:] == ("Cancelled", "Filed twice")


def test_a_second_reopening_is_counted(handoff, requester, provider_lead):
    services.handoff_acknowledge(handoff=handoff, actor=provider_lead, now=at(1))
    for n in range(2):
        services.handoff_resolve(
            handoff=handoff, actor=provider_lead, resolution="Fixed", now=at(2 + 2 * n)
        )
        services.handoff_reopen(handoff=handoff, actor=requester, reason="No", now=at(3 + 2 * n))
    reopened = [line[3] for line in told(handoff) if line[0] == EventKind.REOPENED]
    assert reopened == ["Reopened", "Reopened (the 2nd time)"]


def test_an_escalation_names_who_was_told_in_which_role_and_the_priority_it_raised(
    handoff, provider_lead
):
    clock = handoff.clock("acknowledge")
    store.record(
        [
            store.clock_event(
                handoff,
                EventKind.ESCALATED,
                clock=clock,
                now=at(30),
                percent=75,
                notify=Notify.PROVIDER_LEAD,
                raise_priority=True,
                to=[provider_lead.pk],
            )
        ]
    )
    services.handoff_raise_priority(handoff=handoff, now=at(30))
    lines = told(handoff)
    escalated = next(line for line in lines if line[0] == EventKind.ESCALATED)
    assert escalated[1:4] == (
        "System",
        "",
        f"Escalated to {provider_lead.display_name} (provider lead) at 75 % of the "
        "acknowledge target; priority raised to P2",
    )
    raised = next(line for line in lines if line[0] == EventKind.PRIORITY)
    assert raised[3] == "Priority P3 → P2"


def test_an_escalation_to_nobody_says_whose_role_is_empty(handoff):
    store.record(
        [
            store.clock_event(
                handoff,
                EventKind.ESCALATED,
                clock=handoff.clock("resolve"),
                now=at(30),
                percent=150,
                notify=Notify.PROVIDER_DIRECTOR,
                raise_priority=False,
                to=[],
            )
        ]
    )
    assert told(handoff)[-1][3] == (
        "Escalated to nobody (provider team&#x27;s director not set) at 150 % of the resolve target"
    )


def test_clock_warnings_breaches_and_withdrawals(handoff, settings):
    clock = handoff.clock("acknowledge")
    store.record(
        [
            store.clock_event(handoff, EventKind.WARNED, clock=clock, now=at(1), percent=75),
            store.clock_event(
                handoff,
                EventKind.CLOCK_BREACHED,
                clock=clock,
                now=at(2),
                target_seconds=clock.target_seconds,
                consumed_seconds=clock.target_seconds + 120,
                breached_at=at(2).isoformat(),
            ),
            store.clock_event(
                handoff,
                EventKind.CLOCK_BREACH_WITHDRAWN,
                clock=clock,
                now=at(3),
                reason="An exception window covers it.",
                consumed_seconds=3600,
                target_seconds=clock.target_seconds,
            ),
        ]
    )
    sentences = [line[3] for line in told(handoff)[-3:]]
    assert sentences == [
        "Warning: 75 % of the acknowledge target used",
        # In the reader's zone (UTC when none is active), with the zone named.
        "Acknowledge target of 8 business h breached at Mon 2 Mar 2026, 09:02 UTC",
        "Breach of the acknowledge target withdrawn: 1 business h used of 8 business h "
        "(An exception window covers it.)",
    ]


def test_a_reminder_and_an_automatic_close_say_why(handoff, provider_lead):
    services.handoff_acknowledge(handoff=handoff, actor=provider_lead, now=at(1))
    services.handoff_wait_on_requester(
        handoff=handoff, actor=provider_lead, question="Logs?", now=at(2)
    )
    HandoffEvent.objects.create(
        handoff=handoff,
        kind=EventKind.WARNED,
        created_at=at(3),
        comment="Requester reminded after 24 h of waiting.",
    )
    services.handoff_auto_close(handoff=handoff, now=at(4))
    lines = told(handoff)
    assert lines[-2][1:] == ("System", "", "Requester reminded after 24 h of waiting.", "")
    assert lines[-1][1:] == (
        "System",
        "",
        "Closed automatically: no reply from the requester.",
        "",
    )


def test_an_event_kind_without_a_sentence_still_reads_in_words(handoff):
    HandoffEvent.objects.create(
        handoff=handoff,
        kind=EventKind.CANCELLED,
        created_at=at(1),
        before={"status": "new", "odd_key": 1},
        after={"status": "cancelled", "odd_key": 2},
    )
    event = HandoffEvent.objects.filter(handoff=handoff).latest("id")
    event.kind = "watched"  # a kind added later, not known to the presenter yet
    (line,) = entries([event], handoff, {})
    assert str(line.sentence) == "watched (status new → cancelled; odd key 1 → 2)"


def test_names_and_typed_text_are_escaped_on_the_page(client, handoff, requester, provider_team):
    evil = UserFactory(username="evil", first_name="<b>Eve</b>", last_name="<i>x</i>")
    MembershipFactory(team=provider_team, user=evil, role="lead")
    services.handoff_acknowledge(handoff=handoff, actor=evil, now=at(1))
    services.handoff_comment(
        handoff=handoff, actor=requester, comment="<script>alert(1)</script>\nline two", now=at(2)
    )
    client.force_login(requester)
    html = client.get(handoff.get_absolute_url()).content.decode()
    timeline = html[html.index('data-testid="timeline"') :]
    assert "<script>alert(1)" not in timeline and "<b>Eve" not in timeline
    assert "&lt;b&gt;Eve&lt;/b&gt; &lt;i&gt;x&lt;/i&gt;" in timeline
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>line two" in timeline
    assert "Acknowledged; assigned to &lt;b&gt;Eve&lt;/b&gt;" in timeline
