"""The agreement lifecycle through the REST API: draft → in_review → active →
superseded | retired, with 403 / 404 / 409 where the rules say so."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.agreements.models import Agreement, AgreementApproval, Status
from tests.factories import (
    AgreementFactory,
    BusinessCalendarFactory,
    standard_steps,
    standard_targets,
    standard_triage,
)
from tests.helpers import client_for

pytestmark = pytest.mark.django_db

URL = "/api/agreements/"


def draft_body(provider_team, requesting_team, **overrides):
    return {
        "provider_team": provider_team.pk,
        "requesting_team": requesting_team.pk,
        "title": "Support → Engineering escalations",
        "kind": "escalation",
        "targets": standard_targets(),
        "triage_fields": standard_triage(),
        "steps": standard_steps(),
        **overrides,
    }


@pytest.fixture
def draft(provider_team, requesting_team, requester_lead):
    response = client_for(requester_lead).post(
        URL, draft_body(provider_team, requesting_team), format="json"
    )
    assert response.status_code == 201, response.json()
    return Agreement.objects.get(pk=response.json()["id"])


def activate_through_api(agreement, first_lead, second_lead):
    assert client_for(first_lead).post(f"{URL}{agreement.pk}/submit/").status_code == 200
    assert client_for(first_lead).post(f"{URL}{agreement.pk}/approve/").status_code == 200
    response = client_for(second_lead).post(
        f"{URL}{agreement.pk}/approve/", {"comment": "Agreed"}, format="json"
    )
    assert response.status_code == 200
    return response.json()


def test_a_lead_drafts_an_agreement_as_version_one(draft, provider_team, requester_lead):
    body = client_for(requester_lead).get(f"{URL}{draft.pk}/").json()
    assert (body["version"], body["status"], body["kind"]) == (1, "draft", "escalation")
    assert body["provider_team"] == provider_team.pk
    assert (body["provider_team_slug"], body["requesting_team_slug"]) == ("engineering", "support")
    assert body["calendar"] == provider_team.calendar_id
    assert body["created_by"] == requester_lead.pk
    assert [t["priority"] for t in body["targets"]] == ["P1", "P2", "P3", "P4"]
    assert body["targets"][0]["around_the_clock"] is True
    assert body["targets"][2]["pause_resolve"] is True
    assert [f["key"] for f in body["triage_fields"]] == ["steps", "environment", "logs"]
    assert body["triage_fields"][1]["choices"] == ["production", "staging"]
    assert [(s["metric"], s["percent"]) for s in body["escalation_steps"]] == [
        ("resolve", 75),
        ("resolve", 100),
    ]
    assert body["approvals"] == []


def test_the_full_lifecycle_through_the_api(draft, provider_lead, requester_lead):
    lead = client_for(requester_lead)
    response = lead.patch(
        f"{URL}{draft.pk}/",
        {"title": "Escalations v1", "warning_threshold": 80},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["title"] == "Escalations v1"
    # PATCH keeps the parts it does not mention.
    assert len(response.json()["targets"]) == 4
    assert len(response.json()["escalation_steps"]) == 2

    submitted = lead.post(f"{URL}{draft.pk}/submit/")
    assert submitted.status_code == 200
    assert submitted.json()["status"] == "in_review"
    assert submitted.json()["submitted_at"]

    first = lead.post(f"{URL}{draft.pk}/approve/", {"comment": "Fine by Support"}, format="json")
    assert first.status_code == 200
    assert first.json()["status"] == "in_review"
    assert [(a["team_slug"], a["username"]) for a in first.json()["approvals"]] == [
        ("support", "rob")
    ]

    second = client_for(provider_lead).post(f"{URL}{draft.pk}/approve/")
    assert second.status_code == 200
    body = second.json()
    assert body["status"] == "active"
    assert body["activated_at"] and body["next_review_date"]
    assert {a["team_slug"] for a in body["approvals"]} == {"support", "engineering"}
    assert AgreementApproval.objects.get(agreement=draft, team__slug="support").comment == (
        "Fine by Support"
    )


def test_amending_opens_the_next_version_and_the_active_one_keeps_governing(
    draft, provider_lead, requester_lead
):
    activate_through_api(draft, requester_lead, provider_lead)
    response = client_for(provider_lead).post(f"{URL}{draft.pk}/amend/")
    assert response.status_code == 201
    new = response.json()
    assert (new["version"], new["status"], new["series"]) == (2, "draft", draft.series_id)
    assert new["id"] != draft.pk
    assert len(new["targets"]) == 4
    draft.refresh_from_db()
    assert draft.status == Status.ACTIVE

    # Approving version 2 supersedes version 1, together.
    client_for(provider_lead).patch(
        f"{URL}{new['id']}/",
        {"change_summary": "Earlier warnings", "warning_threshold": 60},
        format="json",
    )
    activated = activate_through_api(
        Agreement.objects.get(pk=new["id"]), provider_lead, requester_lead
    )
    assert activated["status"] == "active"
    old = client_for(provider_lead).get(f"{URL}{draft.pk}/").json()
    assert old["status"] == "superseded"
    assert old["ended_at"]


def test_request_changes_sends_a_version_in_review_back_to_draft(
    draft, provider_lead, requester_lead
):
    client_for(requester_lead).post(f"{URL}{draft.pk}/submit/")
    client_for(requester_lead).post(f"{URL}{draft.pk}/approve/")
    response = client_for(provider_lead).post(
        f"{URL}{draft.pk}/request-changes/", {"comment": "P1 too slow"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "draft"
    assert body["approvals"] == []
    assert "P1 too slow" in body["change_summary"]


def test_retiring_an_active_version(draft, provider_lead, requester_lead):
    activate_through_api(draft, requester_lead, provider_lead)
    response = client_for(provider_lead).post(
        f"{URL}{draft.pk}/retire/", {"reason": "Team merged"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "retired"
    assert response.json()["ended_at"]
    assert "Team merged" in response.json()["change_summary"]
    assert client_for(provider_lead).post(f"{URL}{draft.pk}/retire/").status_code == 409


def test_a_full_put_replaces_the_parts_given(draft, requester_lead):
    response = client_for(requester_lead).put(
        f"{URL}{draft.pk}/",
        {
            "title": "Replaced",
            "targets": [{"priority": "P1", "acknowledge_seconds": 600}],
            "steps": [],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [t["priority"] for t in body["targets"]] == ["P1"]
    assert body["targets"][0]["pause_action_plan"] is True  # the service's default
    assert body["escalation_steps"] == []
    assert len(body["triage_fields"]) == 3  # not given: kept


def test_put_requires_the_title_but_patch_does_not(draft, requester_lead):
    client = client_for(requester_lead)
    response = client.put(f"{URL}{draft.pk}/", {"playbook": "Call Lena"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"title"}
    assert (
        client.patch(f"{URL}{draft.pk}/", {"playbook": "Call Lena"}, format="json").json()[
            "playbook"
        ]
        == "Call Lena"
    )


def test_a_draft_may_move_to_another_calendar(draft, requester_lead):
    calendar = BusinessCalendarFactory(name="New York", time_zone="America/New_York")
    response = client_for(requester_lead).patch(
        f"{URL}{draft.pk}/", {"calendar": calendar.pk}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["calendar"] == calendar.pk


# --- 409: the status does not allow it ------------------------------------------------------


def test_only_a_draft_can_be_updated(provider_lead, provider_team, requesting_team):
    active = AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=requesting_team
    )
    response = client_for(provider_lead).patch(
        f"{URL}{active.pk}/", {"title": "Sneaky"}, format="json"
    )
    assert response.status_code == 409
    assert "only a draft" in response.json()["detail"]
    active.refresh_from_db()
    assert active.title != "Sneaky"


def test_submitting_twice_is_a_conflict(draft, requester_lead):
    client = client_for(requester_lead)
    assert client.post(f"{URL}{draft.pk}/submit/").status_code == 200
    response = client.post(f"{URL}{draft.pk}/submit/")
    assert response.status_code == 409
    assert response.json()["detail"]


def test_approving_twice_for_the_same_side_is_a_conflict(draft, requester_lead):
    client = client_for(requester_lead)
    client.post(f"{URL}{draft.pk}/submit/")
    assert client.post(f"{URL}{draft.pk}/approve/").status_code == 200
    assert client.post(f"{URL}{draft.pk}/approve/").status_code == 409
    assert AgreementApproval.objects.filter(agreement=draft).count() == 1


def test_approving_a_draft_is_a_conflict(draft, provider_lead):
    assert client_for(provider_lead).post(f"{URL}{draft.pk}/approve/").status_code == 409


def test_amending_while_a_new_version_is_being_prepared_is_a_conflict(
    draft, provider_lead, requester_lead
):
    activate_through_api(draft, requester_lead, provider_lead)
    assert client_for(provider_lead).post(f"{URL}{draft.pk}/amend/").status_code == 201
    response = client_for(requester_lead).post(f"{URL}{draft.pk}/amend/")
    assert response.status_code == 409
    assert "already being prepared" in response.json()["detail"]
    assert Agreement.objects.filter(series=draft.series).count() == 2


def test_amending_a_draft_is_a_conflict(draft, requester_lead):
    assert client_for(requester_lead).post(f"{URL}{draft.pk}/amend/").status_code == 409


# --- 403 / 404: who may do what ---------------------------------------------------------------


def test_a_provider_member_may_not_approve(draft, requester_lead, provider_member):
    client_for(requester_lead).post(f"{URL}{draft.pk}/submit/")
    response = client_for(provider_member).post(f"{URL}{draft.pk}/approve/")
    assert response.status_code == 403
    assert response.json()["detail"]
    assert not AgreementApproval.objects.filter(agreement=draft).exists()


def test_a_member_may_see_but_not_edit_their_teams_draft(draft, provider_member):
    client = client_for(provider_member)
    assert client.get(f"{URL}{draft.pk}/").status_code == 200
    assert client.patch(f"{URL}{draft.pk}/", {"title": "x"}, format="json").status_code == 403
    assert client.post(f"{URL}{draft.pk}/submit/").status_code == 403


@pytest.mark.parametrize("persona", ["provider_member", "requester"])
@pytest.mark.parametrize("payload", [{}, {"title": ["x"], "targets": "none"}])
def test_who_may_not_edit_a_draft_is_refused_whatever_the_body(draft, persona, payload, request):
    # Permission is asked before the body is read: an empty or malformed PUT by a member
    # who leads neither team is a 403, as on the page, never a 400 about the fields.
    client = client_for(request.getfixturevalue(persona))
    response = client.put(f"{URL}{draft.pk}/", payload, format="json")
    assert response.status_code == 403, response.content[:300]
    assert client.patch(f"{URL}{draft.pk}/", payload, format="json").status_code == 403
    for path in ("submit", "request-changes", "retire"):
        response = client.post(f"{URL}{draft.pk}/{path}/", "[]", content_type="application/json")
        assert response.status_code == 403, path
    draft.refresh_from_db()
    assert (draft.title, draft.status) == ("Support → Engineering escalations", Status.DRAFT)


def test_a_lead_sending_a_malformed_put_is_told_what_is_wrong(draft, requester_lead):
    response = client_for(requester_lead).put(f"{URL}{draft.pk}/", {}, format="json")
    assert response.status_code == 400
    assert "title" in response.json()


def test_a_member_may_not_draft(provider_member, provider_team, requesting_team):
    response = client_for(provider_member).post(
        URL, draft_body(provider_team, requesting_team), format="json"
    )
    assert response.status_code == 403
    assert not Agreement.objects.exists()


def test_an_outsider_sees_an_active_agreement_but_may_not_act_on_it(
    outsider, provider_team, requesting_team
):
    active = AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=requesting_team
    )
    client = client_for(outsider)
    assert client.get(f"{URL}{active.pk}/").status_code == 200
    for path in ("amend", "retire", "submit", "request-changes", "approve"):
        assert client.post(f"{URL}{active.pk}/{path}/").status_code == 403, path
    assert client.patch(f"{URL}{active.pk}/", {"title": "x"}, format="json").status_code == 403
    active.refresh_from_db()
    assert active.status == Status.ACTIVE


def test_an_outsider_may_not_approve_a_version_in_review_they_cannot_see(
    draft, outsider, requester_lead
):
    client_for(requester_lead).post(f"{URL}{draft.pk}/submit/")
    assert client_for(outsider).post(f"{URL}{draft.pk}/approve/").status_code == 404


def test_another_teams_draft_is_not_found_for_an_outsider(draft, outsider):
    client = client_for(outsider)
    assert client.get(f"{URL}{draft.pk}/").status_code == 404
    assert client.patch(f"{URL}{draft.pk}/", {"title": "x"}, format="json").status_code == 404
    for path in ("submit", "approve", "request-changes", "amend", "retire"):
        assert client.post(f"{URL}{draft.pk}/{path}/").status_code == 404, path
    assert client.get(URL).json()["count"] == 0


def test_staff_see_every_draft(draft, staff):
    assert client_for(staff).get(f"{URL}{draft.pk}/").status_code == 200


def test_nothing_is_deleted_through_the_api(draft, requester_lead):
    assert client_for(requester_lead).delete(f"{URL}{draft.pk}/").status_code == 405
    assert Agreement.objects.filter(pk=draft.pk).exists()


def test_anonymous_calls_are_refused(draft):
    client = APIClient()
    assert client.get(URL).status_code == 401
    assert client.post(f"{URL}{draft.pk}/submit/").status_code == 401


def test_token_authentication_works_for_reads_and_actions(draft, requester_lead):
    token = Token.objects.create(user=requester_lead)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(URL).json()["count"] == 1
    response = client.post(f"{URL}{draft.pk}/submit/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "in_review"
    # The version history records who did it, through the token too.
    assert draft.history.first().history_user == requester_lead
