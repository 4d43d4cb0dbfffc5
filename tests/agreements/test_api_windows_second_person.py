"""Exception windows through the API: the documentation is required and returned, nobody
approves their own request (staff aside), backdating and length are limited, and a window
is ended early with `POST /api/exception-windows/<id>/end/`."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.agreements.models import ExceptionWindow
from apps.teams.models import Role
from tests.factories import MembershipFactory
from tests.helpers import client_for

pytestmark = pytest.mark.django_db

URL = "/api/exception-windows/"
Status = ExceptionWindow.Status


def body(team, start, hours=4, **overrides):
    return {
        "provider_team": team.pk,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=hours)).isoformat(),
        "reason": "Database upgrade",
        "affected_customers": "Everyone on the EU cluster",
        "communication_plan": "Status page, an hour before",
        **overrides,
    }


def request_as(user, team, start, **overrides):
    response = client_for(user).post(URL, body(team, start, **overrides), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def soon():
    return timezone.now() + timedelta(hours=1)


def test_the_documentation_is_stored_and_returned(provider_member, provider_team, soon):
    window = request_as(provider_member, provider_team, soon)
    assert window["affected_customers"] == "Everyone on the EU cluster"
    assert window["communication_plan"] == "Status page, an hour before"
    assert window["expected_duration_seconds"] == 4 * 3600
    assert (window["ended_at"], window["planned_end"], window["ended_by_username"]) == (
        None,
        None,
        None,
    )


@pytest.mark.parametrize("field", ["affected_customers", "communication_plan"])
def test_missing_documentation_is_a_field_keyed_400(provider_member, provider_team, soon, field):
    client = client_for(provider_member)
    blank = client.post(URL, body(provider_team, soon, **{field: "  "}), format="json")
    assert blank.status_code == 400 and list(blank.json()) == [field]
    missing = body(provider_team, soon)
    del missing[field]
    assert client.post(URL, missing, format="json").status_code == 400
    assert not ExceptionWindow.objects.exists()


def test_backdating_and_length_limits_are_field_keyed_400s(provider_member, provider_team):
    client = client_for(provider_member)
    old = timezone.now() - timedelta(days=8)
    response = client.post(URL, body(provider_team, old), format="json")
    assert response.status_code == 400 and list(response.json()) == ["start"]
    assert "at most 7 days before now" in response.json()["start"][0]
    long = client.post(URL, body(provider_team, timezone.now(), hours=15 * 24), format="json")
    assert long.status_code == 400 and list(long.json()) == ["end"]


def test_a_lead_cannot_approve_their_own_request(provider_lead, provider_team, soon):
    window = request_as(provider_lead, provider_team, soon)
    response = client_for(provider_lead).post(f"{URL}{window['id']}/approve/")
    assert response.status_code == 403
    assert "another lead" in response.json()["detail"]
    second = MembershipFactory(team=provider_team, role=Role.LEAD).user
    approved = client_for(second).post(f"{URL}{window['id']}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"


def test_staff_may_approve_their_own_request(staff, provider_team, soon):
    window = request_as(staff, provider_team, soon)
    assert client_for(staff).post(f"{URL}{window['id']}/approve/").status_code == 200


def test_ending_an_approved_window_under_way(provider_member, provider_lead, provider_team):
    start = timezone.now() - timedelta(hours=1)
    window = request_as(provider_member, provider_team, start)
    client_for(provider_lead).post(f"{URL}{window['id']}/approve/")
    response = client_for(provider_member).post(
        f"{URL}{window['id']}/end/", {"note": "Fixed sooner"}, format="json"
    )
    assert response.status_code == 200, response.json()
    ended = response.json()
    assert ended["status"] == "approved"
    assert ended["planned_end"] == window["end"]
    assert ended["end"] != window["end"]
    assert (ended["ended_by_username"], ended["end_note"]) == ("max", "Fixed sooner")
    assert ended["expected_duration_seconds"] == 4 * 3600
    # Over now: ending again is a conflict.
    again = client_for(provider_lead).post(f"{URL}{window['id']}/end/")
    assert again.status_code == 409


def test_ending_a_window_not_started_cancels_it(provider_member, provider_lead, provider_team):
    window = request_as(provider_member, provider_team, timezone.now() + timedelta(days=1))
    client_for(provider_lead).post(f"{URL}{window['id']}/approve/")
    response = client_for(provider_lead).post(f"{URL}{window['id']}/end/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


@pytest.mark.parametrize("persona", ["requester_lead", "outsider"])
def test_who_may_not_end_is_refused_before_the_body_is_read(
    provider_member, provider_team, soon, persona, request
):
    window = request_as(provider_member, provider_team, soon)
    client = client_for(request.getfixturevalue(persona))
    response = client.post(f"{URL}{window['id']}/end/", {"note": ["x"]}, format="json")
    assert response.status_code == 403
    assert ExceptionWindow.objects.get(pk=window["id"]).status == Status.REQUESTED


def test_a_refused_window_cannot_be_ended(provider_member, provider_lead, provider_team, soon):
    window = request_as(provider_member, provider_team, soon)
    client_for(provider_lead).post(f"{URL}{window['id']}/reject/")
    assert client_for(provider_lead).post(f"{URL}{window['id']}/end/").status_code == 409


def test_the_approval_is_refused_once_the_start_is_too_far_back(
    provider_member, provider_lead, provider_team
):
    window = request_as(provider_member, provider_team, timezone.now() - timedelta(days=6))
    ExceptionWindow.objects.filter(pk=window["id"]).update(
        start=timezone.now() - timedelta(days=9), end=timezone.now() - timedelta(days=8)
    )  # as if it had waited three days for a decision
    response = client_for(provider_lead).post(f"{URL}{window['id']}/approve/")
    assert response.status_code == 400 and list(response.json()) == ["start"]
