"""The action POST views: each validates a tiny form, calls one service, leaves a message
and redirects; a refused input comes back on its field with the text kept; acknowledge and
claim answer htmx with the queue row."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from apps.core import limits
from apps.handoffs import services
from apps.handoffs.models import ClockStatus, EventKind, Handoff, Status
from tests.helpers import MONDAY_10

pytestmark = pytest.mark.django_db

QUEUE = "/queues/engineering/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name: str, handoff) -> str:
    return reverse(f"handoffs:{name}", args=[handoff.pk])


def fresh(handoff) -> Handoff:
    return Handoff.objects.get(pk=handoff.pk)


def last_event(handoff):
    """The last event a person caused (clock verdicts follow the action that stops them)."""
    return (
        handoff.events.exclude(kind__in=[EventKind.CLOCK_MET, EventKind.CLOCK_BREACHED])
        .order_by("-created_at", "-id")
        .first()
    )


@pytest.fixture(autouse=True)
def _monday_morning(time_machine):
    # Filed at 10:00; the pages are used at 10:20, inside every target.
    time_machine.move_to(MONDAY_10 + timedelta(minutes=20), tick=False)


@pytest.fixture
def handoff(file_handoff):
    return file_handoff("P3")


@pytest.fixture
def acknowledged(handoff, provider_member):
    return services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=MONDAY_10)


@pytest.fixture
def waiting(acknowledged, provider_member):
    return services.handoff_wait_on_requester(
        handoff=acknowledged, actor=provider_member, question="Which card?", now=MONDAY_10
    )


@pytest.fixture
def resolved(acknowledged, provider_member):
    return services.handoff_resolve(
        handoff=acknowledged, actor=provider_member, resolution="Patched", now=MONDAY_10
    )


# --- htmx from the queue -----------------------------------------------------------------


def test_acknowledge_with_htmx_returns_the_row_and_acknowledges(client, provider_member, handoff):
    client.force_login(provider_member)
    response = client.post(url("acknowledge", handoff), {"next": QUEUE}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode().strip()
    assert html.startswith(f'<tr id="handoff-{handoff.pk}"')
    assert "<html" not in html
    assert "Acknowledged" in html
    assert provider_member.display_name in html
    assert 'data-testid="acknowledge"' not in html  # done: no second button
    assert 'data-testid="claim"' not in html  # acknowledging took it
    assert f'name="next" value="{QUEUE}"' not in html  # nothing left to post from the row
    handoff = fresh(handoff)
    assert (handoff.status, handoff.assignee, handoff.acknowledged_at is not None) == (
        Status.ACKNOWLEDGED,
        provider_member,
        True,
    )
    assert last_event(handoff).kind == EventKind.ACKNOWLEDGED
    assert handoff.clock("acknowledge").status == ClockStatus.MET


def test_a_second_acknowledge_says_who_got_there_first(
    client, provider_member, provider_lead, handoff
):
    services.handoff_acknowledge(handoff=handoff, actor=provider_lead, now=MONDAY_10)
    client.force_login(provider_member)
    response = client.post(url("acknowledge", handoff), {"next": QUEUE}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Already acknowledged by {provider_lead.display_name} at" in html
    assert 'data-testid="row-error"' in html
    assert fresh(handoff).assignee == provider_lead
    assert handoff.events.filter(kind=EventKind.ACKNOWLEDGED).count() == 1


def test_claim_with_htmx_returns_the_row_and_a_second_claim_is_refused(
    client, provider_member, provider_lead, handoff
):
    client.force_login(provider_member)
    response = client.post(url("claim", handoff), {"next": QUEUE}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith(f'<tr id="handoff-{handoff.pk}"')
    assert f'data-testid="row-assignee">{provider_member.display_name}<' in html
    assert 'data-testid="claim"' not in html
    assert 'data-testid="acknowledge"' in html  # claiming does not acknowledge
    assert (fresh(handoff).assignee, fresh(handoff).status) == (provider_member, Status.NEW)

    client.force_login(provider_lead)
    response = client.post(url("claim", handoff), {"next": QUEUE}, **HTMX)
    assert response.status_code == 200
    assert f"Already claimed by {provider_member.display_name}." in response.content.decode()
    assert fresh(handoff).assignee == provider_member


def test_without_htmx_acknowledge_redirects_back_with_a_message(client, provider_member, handoff):
    client.force_login(provider_member)
    back = f"{QUEUE}?tab=unassigned"
    response = client.post(url("acknowledge", handoff), {"next": back}, follow=True)
    assert response.redirect_chain == [(back, 302)]
    assert f"#{handoff.pk} acknowledged" in response.content.decode()
    assert fresh(handoff).status == Status.ACKNOWLEDGED


def test_without_htmx_a_conflict_is_a_message(client, provider_member, provider_lead, handoff):
    services.handoff_claim(handoff=handoff, actor=provider_lead, now=MONDAY_10)
    client.force_login(provider_member)
    response = client.post(url("claim", handoff), {"next": QUEUE}, follow=True)
    assert response.redirect_chain == [(QUEUE, 302)]
    assert f"Already claimed by {provider_lead.display_name}." in response.content.decode()
    assert fresh(handoff).assignee == provider_lead


def test_a_foreign_next_is_ignored(client, provider_member, handoff):
    client.force_login(provider_member)
    response = client.post(url("acknowledge", handoff), {"next": "https://evil.example/"})
    assert response["Location"] == handoff.get_absolute_url()


# --- the detail page's actions -----------------------------------------------------------


def test_start_work(client, provider_member, handoff):
    client.force_login(provider_member)
    response = client.post(url("start", handoff), follow=True)
    assert response.redirect_chain == [(handoff.get_absolute_url(), 302)]
    assert f"#{handoff.pk} is in progress." in response.content.decode()
    assert (fresh(handoff).status, fresh(handoff).assignee) == (
        Status.IN_PROGRESS,
        provider_member,
    )


def test_post_the_action_plan(client, provider_member, acknowledged):
    client.force_login(provider_member)
    response = client.post(url("action-plan", acknowledged), {"plan": "Roll back by 14:00"})
    assert response.status_code == 302
    handoff = fresh(acknowledged)
    assert handoff.status == Status.IN_PROGRESS
    assert handoff.clock("action_plan").status == ClockStatus.MET
    assert last_event(handoff).comment == "Roll back by 14:00"


# action, fixture, persona, the field and the service's message when it is left empty
REQUIRED_TEXT = [
    ("action-plan", "acknowledged", "provider_member", "plan", "Write the plan"),
    ("wait", "acknowledged", "provider_member", "question", "Ask the requester what you"),
    ("resolve", "acknowledged", "provider_member", "resolution", "Say what was done"),
    ("reopen", "resolved", "requester", "reason", "Say why it is not resolved."),
    ("cancel", "handoff", "requester", "reason", "Say why it is cancelled."),
    ("comment", "handoff", "requester", "comment", "Write something."),
]


@pytest.mark.parametrize(("action", "state", "persona", "field", "message"), REQUIRED_TEXT)
def test_an_action_without_its_text_is_refused_on_its_field(
    client, request, action, state, persona, field, message
):
    handoff = request.getfixturevalue(state)
    before = (fresh(handoff).status, handoff.events.count())
    client.force_login(request.getfixturevalue(persona))
    response = client.post(url(action, handoff), {field: "   "})
    assert response.status_code == 400
    key = action.replace("-", "_")
    form = response.context["action_forms"][key]
    assert message in form.errors[field][0]
    assert response.context["open_action"] == key
    html = response.content.decode()
    assert message in html
    assert f'id="id_{key}_{field}"' in html
    assert (fresh(handoff).status, handoff.events.count()) == before


# action, fixture, persona, data, the status after
SUCCEEDS = [
    ("wait", "acknowledged", "provider_member", {"question": "Which card?"}, Status.WAITING),
    ("resume", "waiting", "requester", {"reply": "A Visa card"}, Status.IN_PROGRESS),
    ("resolve", "acknowledged", "provider_member", {"resolution": "Fixed"}, Status.RESOLVED),
    ("close", "resolved", "requester", {"comment": "Confirmed"}, Status.CLOSED),
    ("reopen", "resolved", "requester", {"reason": "Still failing"}, Status.IN_PROGRESS),
    ("cancel", "handoff", "requester", {"reason": "Filed twice"}, Status.CANCELLED),
]


@pytest.mark.parametrize(("action", "state", "persona", "data", "status"), SUCCEEDS)
def test_each_transition_changes_the_status_and_records_the_text(
    client, request, action, state, persona, data, status
):
    handoff = request.getfixturevalue(state)
    actor = request.getfixturevalue(persona)
    client.force_login(actor)
    response = client.post(url(action, handoff), data, follow=True)
    assert response.redirect_chain == [(handoff.get_absolute_url(), 302)]
    assert response.context["messages"]
    handoff = fresh(handoff)
    assert handoff.status == status
    event = last_event(handoff)
    assert (event.actor, event.comment) == (actor, next(iter(data.values())))
    if action == "reopen":
        assert handoff.reopen_count == 1


def test_assign_to_a_member_or_take_it(client, provider_lead, provider_member, handoff):
    client.force_login(provider_lead)
    response = client.post(url("assign", handoff), {"assignee": provider_member.pk}, follow=True)
    assert f"assigned to {provider_member.display_name}" in response.content.decode()
    assert fresh(handoff).assignee == provider_member
    response = client.post(url("assign", handoff), {"assignee": provider_member.pk, "take": "1"})
    assert response.status_code == 302
    assert fresh(handoff).assignee == provider_lead
    response = client.post(url("assign", handoff), {"assignee": ""})
    assert response.status_code == 302
    assert fresh(handoff).assignee is None


def test_assigning_someone_outside_the_provider_team_is_refused_on_the_field(
    client, provider_lead, requester, handoff
):
    client.force_login(provider_lead)
    response = client.post(url("assign", handoff), {"assignee": requester.pk})
    assert response.status_code == 400
    assert "assignee" in response.context["action_forms"]["assign"].errors
    assert fresh(handoff).assignee is None


def test_assigning_the_current_assignee_again_is_a_conflict(client, provider_member, acknowledged):
    client.force_login(provider_member)
    response = client.post(url("assign", acknowledged), {"take": "1"}, follow=True)
    assert response.redirect_chain == [(acknowledged.get_absolute_url(), 302)]
    assert f"Already assigned to {provider_member.display_name}." in response.content.decode()


def test_change_priority_with_a_reason(client, requester, handoff):
    client.force_login(requester)
    response = client.post(url("priority", handoff), {"priority": "P2", "reason": "VIP"})
    assert response.status_code == 302
    handoff = fresh(handoff)
    assert handoff.priority == "P2"
    assert handoff.clock("acknowledge").target_seconds == 2 * 3600
    event = last_event(handoff)
    assert (event.kind, event.before, event.after) == (
        EventKind.PRIORITY,
        {"priority": "P3"},
        {"priority": "P2"},
    )


def test_a_refused_priority_change_keeps_what_was_typed(client, requester, handoff):
    client.force_login(requester)
    response = client.post(url("priority", handoff), {"priority": "P2", "reason": ""})
    assert response.status_code == 400
    form = response.context["action_forms"]["priority"]
    assert form.errors["reason"] == ["Say why the priority changes."]
    response = client.post(url("priority", handoff), {"priority": "P9", "reason": "Because"})
    assert response.status_code == 400
    assert "priority" in response.context["action_forms"]["priority"].errors
    html = response.content.decode()
    assert re.search(r">\s*Because</textarea>", html)
    assert fresh(handoff).priority == "P3"


def test_the_same_priority_is_refused_on_the_field_with_the_reason_kept(client, requester, handoff):
    client.force_login(requester)
    response = client.post(url("priority", handoff), {"priority": "P3", "reason": "<b>VIP</b> ²"})
    assert response.status_code == 400
    errors = response.context["action_forms"]["priority"].errors
    assert errors["priority"] == ["The priority is already P3: choose another."]
    assert re.search(r">\s*&lt;b&gt;VIP&lt;/b&gt; ²</textarea>", response.content.decode())
    assert last_event(fresh(handoff)).kind != EventKind.PRIORITY


def test_a_refused_cancel_keeps_what_was_typed_and_the_next_page_starts_blank(
    client, requester, handoff
):
    client.force_login(requester)
    typed = "x" * (limits.HANDOFF_TEXT_MAX + 1)
    response = client.post(url("cancel", handoff), {"reason": typed})
    assert response.status_code == 400
    assert "reason" in response.context["action_forms"]["cancel"].errors
    assert f">\n{typed}</textarea>" in response.content.decode()
    html = client.get(handoff.get_absolute_url()).content.decode()
    assert typed not in html
    assert re.search(r'name="reason"[^>]*id="id_cancel_reason">\n</textarea>', html)
    assert fresh(handoff).status == Status.NEW


def test_a_comment_from_either_side(client, requester, provider_member, handoff):
    for person in (requester, provider_member):
        client.force_login(person)
        response = client.post(url("comment", handoff), {"comment": f"Hi from {person}"})
        assert response.status_code == 302
    assert list(
        handoff.events.filter(kind=EventKind.COMMENTED).values_list("comment", flat=True)
    ) == [f"Hi from {requester}", f"Hi from {provider_member}"]


def test_an_action_the_status_no_longer_allows_is_a_message(client, provider_member, acknowledged):
    client.force_login(provider_member)
    response = client.post(url("acknowledge", acknowledged), follow=True)
    assert response.redirect_chain == [(acknowledged.get_absolute_url(), 302)]
    assert "Already acknowledged by" in response.content.decode()


def test_actions_are_post_only(client, provider_member, handoff):
    client.force_login(provider_member)
    assert client.get(url("acknowledge", handoff)).status_code == 405
    assert fresh(handoff).status == Status.NEW
