"""Every handoff action through the API: the happy path, 409 when the status does not
allow it, 403 for the wrong side, 404 for anyone outside the two teams, 400 for bad input."""

from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.handoffs import services
from apps.handoffs.models import EventKind, Handoff, Status
from tests.helpers import MONDAY_10, client_for

pytestmark = pytest.mark.django_db

URL = "/api/handoffs/"

# action → a body that would be valid for it
BODIES = {
    "acknowledge": {},
    "start": {},
    "wait": {"question": "Which browser?"},
    "resume": {"reply": "Firefox"},
    "action-plan": {"plan": "Roll back the deploy by 14:00."},
    "resolve": {"resolution": "Rolled back."},
    "reopen": {"reason": "Still crashing."},
    "close": {"comment": "Thanks"},
    "cancel": {"reason": "Duplicate"},
    "assign": {"claim": True},
    "comment": {"comment": "Any news?"},
    "priority": {"priority": "P1", "reason": "All customers affected"},
}


def act(user, handoff, action, payload=None):
    return client_for(user).post(
        f"{URL}{handoff.pk}/{action}/",
        BODIES[action] if payload is None else payload,
        format="json",
    )


def status_of(handoff):
    return Handoff.objects.values_list("status", flat=True).get(pk=handoff.pk)


def clock(data, metric):
    return next(c for c in data["clocks"] if c["metric"] == metric)


@pytest.fixture
def handoff(file_handoff):
    return file_handoff("P3")


@pytest.fixture
def in_progress(handoff, provider_member):
    services.handoff_start(handoff=handoff, actor=provider_member, now=MONDAY_10)
    return handoff


@pytest.fixture
def resolved(in_progress, provider_member):
    services.handoff_resolve(
        handoff=in_progress, actor=provider_member, resolution="fixed", now=MONDAY_10
    )
    return in_progress


# --- happy paths ---------------------------------------------------------------------------


def test_acknowledge_stops_the_clock_and_assigns_the_actor(handoff, provider_member):
    response = act(provider_member, handoff, "acknowledge")
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["assignee"]) == ("acknowledged", provider_member.pk)
    assert clock(data, "acknowledge")["status"] in ("met", "breached")
    assert clock(data, "acknowledge")["met_at"] or clock(data, "acknowledge")["breached_at"]


def test_the_whole_lifecycle_through_the_api(handoff, provider_member, requester):
    steps = [
        (provider_member, "acknowledge", "acknowledged"),
        (provider_member, "start", "in_progress"),
        (provider_member, "action-plan", "in_progress"),
        (provider_member, "wait", "waiting_on_requester"),
        (requester, "resume", "in_progress"),
        (provider_member, "resolve", "resolved"),
        (requester, "reopen", "in_progress"),
        (provider_member, "resolve", "resolved"),
        (requester, "close", "closed"),
    ]
    for user, action, expected in steps:
        response = act(user, handoff, action)
        assert response.status_code == 200, (action, response.content)
        assert response.json()["status"] == expected, action
    data = response.json()
    assert data["reopen_count"] == 1
    kinds = list(
        Handoff.objects.get(pk=handoff.pk)
        .events.exclude(kind__in=[EventKind.CLOCK_MET, EventKind.CLOCK_BREACHED])
        .values_list("kind", flat=True)
    )
    assert kinds == [
        "created",
        "acknowledged",
        "started",
        "action_plan",
        "waiting",
        "replied",
        "resolved",
        "reopened",
        "resolved",
        "closed",
    ]


def test_waiting_pauses_the_pausable_clocks_and_resuming_restarts_them(
    in_progress, provider_member, requester
):
    data = act(provider_member, in_progress, "wait").json()
    assert clock(data, "resolve")["status"] == "paused"
    assert clock(data, "resolve")["due_at"] is None
    data = act(requester, in_progress, "resume", {}).json()
    assert data["status"] == "in_progress"
    assert clock(data, "resolve")["status"] == "running"
    assert clock(data, "resolve")["due_at"] is not None


def test_posting_the_action_plan_stops_its_clock(in_progress, provider_member):
    data = act(provider_member, in_progress, "action-plan").json()
    assert clock(data, "action_plan")["status"] in ("met", "breached")
    event = Handoff.objects.get(pk=in_progress.pk).events.get(kind=EventKind.ACTION_PLAN)
    assert event.comment == "Roll back the deploy by 14:00."


def test_a_second_action_plan_is_a_conflict(in_progress, provider_member):
    act(provider_member, in_progress, "action-plan")
    response = act(provider_member, in_progress, "action-plan")
    assert response.status_code == 409
    assert "comment" in response.json()["detail"]


def test_cancel_by_the_requester(handoff, requester):
    data = act(requester, handoff, "cancel").json()
    assert data["status"] == "cancelled"
    assert {c["status"] for c in data["clocks"]} == {"cancelled"}


def test_close_without_a_comment(resolved, requester):
    response = act(requester, resolved, "close", {})
    assert response.status_code == 200
    assert response.json()["status"] == "closed"


def test_assign_unassign_and_claim(handoff, provider_lead, provider_member):
    data = act(provider_lead, handoff, "assign", {"assignee": provider_member.pk}).json()
    assert (data["assignee"], data["assignee_name"]) == (
        provider_member.pk,
        provider_member.display_name,
    )
    data = act(provider_lead, handoff, "assign", {"assignee": None}).json()
    assert data["assignee"] is None
    data = act(provider_lead, handoff, "assign", {"claim": True}).json()
    assert data["assignee"] == provider_lead.pk
    response = act(provider_member, handoff, "assign", {"claim": True})
    assert response.status_code == 409
    assert response.json()["detail"].startswith("Already claimed by")


def test_assigning_to_the_current_assignee_is_a_conflict(handoff, provider_lead):
    act(provider_lead, handoff, "assign", {"claim": True})
    response = act(provider_lead, handoff, "assign", {"assignee": provider_lead.pk})
    assert response.status_code == 409


def test_only_provider_members_can_be_assigned(handoff, provider_lead, requester, outsider):
    for user in (requester, outsider):
        response = act(provider_lead, handoff, "assign", {"assignee": user.pk})
        assert response.status_code == 400
        assert response.json()["assignee"] == ["Assign to a member of the provider team."]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"assignee": 999_999},
        {"assignee": "abc"},
        {"assignee": 99999999999999999999999},
        {"assignee": 0},
        {"assignee": [1]},
        {"claim": "perhaps"},
        {"claim": False},
        {"claim": True, "assignee": None},
    ],
)
def test_malformed_assignments_are_400(handoff, provider_lead, payload):
    response = act(provider_lead, handoff, "assign", payload)
    assert response.status_code == 400, response.content
    assert set(response.json()) <= {"assignee", "claim"}


def test_comment_returns_the_event(handoff, requester):
    response = act(requester, handoff, "comment")
    assert response.status_code == 201
    data = response.json()
    assert (data["kind"], data["comment"], data["actor"]) == (
        "commented",
        "Any news?",
        requester.pk,
    )
    assert data["actor_name"] == requester.display_name


def test_comments_are_allowed_whatever_the_status(resolved, provider_member, requester):
    # The requesting team validates the resolution (the agreement's default).
    services.handoff_close(handoff=resolved, actor=requester, now=MONDAY_10)
    assert act(provider_member, resolved, "comment").status_code == 201


def test_priority_change_keeps_consumed_time_and_applies_the_new_target(handoff, provider_member):
    response = act(provider_member, handoff, "priority")
    assert response.status_code == 200
    data = response.json()
    assert data["priority"] == "P1"
    assert clock(data, "acknowledge")["target_seconds"] == 30 * 60
    event = Handoff.objects.get(pk=handoff.pk).events.get(kind=EventKind.PRIORITY)
    assert (event.before, event.after, event.comment) == (
        {"priority": "P3"},
        {"priority": "P1"},
        "All customers affected",
    )


def test_priority_unchanged_is_a_conflict(handoff, requester):
    response = act(requester, handoff, "priority", {"priority": "P3", "reason": "same"})
    assert response.status_code == 409
    assert response.json()["detail"] == "The priority is already P3."


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"priority", "reason"}),
        ({"priority": "P9", "reason": "x"}, {"priority"}),
        ({"priority": "P1", "reason": " "}, {"reason"}),
        ({"priority": "P1"}, {"reason"}),
        ({"priority": None, "reason": None}, {"priority", "reason"}),
    ],
)
def test_malformed_priority_changes_are_400(handoff, requester, payload, fields):
    response = act(requester, handoff, "priority", payload)
    assert response.status_code == 400
    assert set(response.json()) == fields
    assert status_of(handoff) == Status.NEW


# --- 400: each action's input ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ("wait", "question"),
        ("action-plan", "plan"),
        ("resolve", "resolution"),
        ("reopen", "reason"),
        ("cancel", "reason"),
        ("comment", "comment"),
    ],
)
@pytest.mark.parametrize("value", ["missing", "", "   ", None, 12, ["a"], {"a": 1}, "a\x00b"])
def test_a_required_text_that_is_missing_blank_or_not_text_is_400(
    request, provider_member, requester, action, field, value
):
    # Each action from a status that allows it, by a side that may take it.
    target = request.getfixturevalue("resolved" if action == "reopen" else "in_progress")
    user = requester if action in ("reopen", "cancel", "comment") else provider_member
    payload = {} if value == "missing" else {field: value}
    before = target.events.count()
    response = act(user, target, action, payload)
    # A number is valid text for DRF's CharField ("12"): it then passes.
    if value == 12:
        assert response.status_code in (200, 201)
        return
    assert response.status_code == 400, response.content
    assert set(response.json()) == {field}
    assert target.events.count() == before


@pytest.mark.parametrize("action", ["acknowledge", "start"])
def test_actions_without_fields_ignore_a_body(handoff, provider_member, action):
    response = act(provider_member, handoff, action, {"anything": [1, 2]})
    assert response.status_code == 200


@pytest.mark.parametrize("payload", [[], "text", 3, [{"reason": "x"}]])
def test_a_body_that_is_not_an_object_is_400(handoff, requester, payload):
    response = client_for(requester).post(f"{URL}{handoff.pk}/cancel/", payload, format="json")
    assert response.status_code == 400
    assert status_of(handoff) == Status.NEW


# --- 409: the status does not allow it ----------------------------------------------------------


def test_resolving_a_new_handoff_is_a_conflict(handoff, provider_member):
    response = act(provider_member, handoff, "resolve")
    assert response.status_code == 409
    assert response.json()["detail"] == "Cannot resolve a handoff that is new."
    assert status_of(handoff) == Status.NEW


def test_a_second_acknowledgement_is_told_who_got_there_first(
    handoff, provider_member, provider_lead
):
    assert act(provider_member, handoff, "acknowledge").status_code == 200
    response = act(provider_lead, handoff, "acknowledge")
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert detail.startswith("Already acknowledged by")
    assert provider_member.display_name in detail
    assert handoff.events.filter(kind=EventKind.ACKNOWLEDGED).count() == 1


@pytest.mark.parametrize(
    ("action", "side"),
    [
        ("acknowledge", "provider"),
        ("start", "provider"),
        ("action-plan", "provider"),
        ("wait", "provider"),
        ("resume", "requester"),
        ("resolve", "provider"),
        ("reopen", "requester"),
        ("close", "requester"),
        ("cancel", "requester"),
        ("assign", "provider"),
        ("priority", "requester"),
    ],
)
def test_nothing_but_comments_moves_a_closed_handoff(
    resolved, provider_member, requester, action, side
):
    services.handoff_close(handoff=resolved, actor=requester, now=MONDAY_10)
    user = provider_member if side == "provider" else requester
    response = act(user, resolved, action)
    assert response.status_code == 409, (action, response.content)
    assert status_of(resolved) == Status.CLOSED


# --- 403: the wrong side --------------------------------------------------------------------


@pytest.mark.parametrize("action", ["acknowledge", "start", "action-plan", "assign"])
def test_the_requesting_team_cannot_work_the_handoff(handoff, requester, action):
    response = act(requester, handoff, action)
    assert response.status_code == 403
    assert "detail" in response.json()
    assert status_of(handoff) == Status.NEW


def test_the_requesting_team_cannot_resolve(in_progress, requester):
    assert act(requester, in_progress, "resolve").status_code == 403
    assert status_of(in_progress) == Status.IN_PROGRESS


def test_the_provider_team_cannot_reopen(resolved, provider_member):
    assert act(provider_member, resolved, "reopen").status_code == 403
    assert status_of(resolved) == Status.RESOLVED


@pytest.mark.parametrize("action", ["action-plan", "wait", "resolve", "assign"])
@pytest.mark.parametrize("payload", [{}, {"plan": 1, "question": [], "assignee": "me"}])
def test_the_requesting_team_is_refused_before_its_body_is_read(
    in_progress, requester, action, payload
):
    # Asked first, as on the page: the wrong side gets 403 whatever it sent, never a 400
    # about fields of an action it may not take.
    response = act(requester, in_progress, action, payload)
    assert response.status_code == 403, response.content[:300]
    assert status_of(in_progress) == Status.IN_PROGRESS


@pytest.mark.parametrize("persona", ["provider_member", "provider_lead"])
@pytest.mark.parametrize("payload", [{}, {"reason": ["x"]}])
def test_the_provider_team_is_refused_a_reopen_before_its_reason_is_read(
    resolved, persona, payload, request
):
    response = act(request.getfixturevalue(persona), resolved, "reopen", payload)
    assert response.status_code == 403, response.content[:300]
    assert status_of(resolved) == Status.RESOLVED


# --- 404: outside the two teams ----------------------------------------------------------------


@pytest.mark.parametrize("action", list(BODIES))
def test_outsiders_get_404_on_every_action(handoff, outsider, action):
    before = handoff.events.count()
    response = act(outsider, handoff, action)
    assert response.status_code == 404
    # Even with a malformed body: the handoff is not there for them.
    assert act(outsider, handoff, action, {"priority": ["x"]}).status_code == 404
    assert handoff.events.count() == before
    assert status_of(handoff) == Status.NEW


@pytest.mark.parametrize("pk", ["999999", "abc", "99999999999999999999999", "0"])
def test_actions_on_an_unknown_id_are_404(provider_member, pk):
    response = client_for(provider_member).post(f"{URL}{pk}/acknowledge/", {}, format="json")
    assert response.status_code == 404


def test_staff_act_on_any_handoff(handoff, staff):
    assert act(staff, handoff, "acknowledge").status_code == 200
    assert act(staff, handoff, "cancel").json()["status"] == "cancelled"


def test_actions_answer_only_post(handoff, provider_member):
    client = client_for(provider_member)
    assert client.get(f"{URL}{handoff.pk}/acknowledge/").status_code == 405
    assert client.put(f"{URL}{handoff.pk}/cancel/", {}, format="json").status_code == 405


def test_anonymous_callers_are_told_to_authenticate(handoff):
    response = APIClient().post(f"{URL}{handoff.pk}/acknowledge/", {}, format="json")
    assert response.status_code == 401
    assert status_of(handoff) == Status.NEW


def test_a_conflict_names_the_time_in_the_token_users_zone(handoff, provider_member, provider_lead):
    provider_lead.time_zone = "Asia/Kolkata"
    provider_lead.save(update_fields=["time_zone"])
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=MONDAY_10)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=provider_lead)}")

    response = client.post(f"{URL}{handoff.pk}/acknowledge/", {}, format="json")

    assert response.status_code == 409
    acknowledged = timezone.localtime(MONDAY_10, ZoneInfo("Asia/Kolkata"))
    assert f"at {acknowledged:%H:%M} IST;" in response.json()["detail"]
