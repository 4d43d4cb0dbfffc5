"""Filing a handoff through the API: 201 with running clocks, the triage template enforced
field by field, and a 400 (never a 500) for whatever else comes in."""

from datetime import UTC, datetime

import pytest
import time_machine
from rest_framework.test import APIClient

from apps.agreements.models import Status as AgreementStatus
from apps.handoffs.models import EventKind, Handoff
from tests.factories import AgreementFactory
from tests.helpers import MONDAY_10, TRIAGE, client_for

pytestmark = pytest.mark.django_db

URL = "/api/handoffs/"


def body(version, **overrides):
    return {
        "agreement": version.pk,
        "title": "Checkout crashes",
        "priority": "P2",
        "triage": TRIAGE,
        **overrides,
    }


def post(user, payload):
    return client_for(user).post(URL, payload, format="json")


def test_filing_returns_201_with_the_handoff_and_its_clocks(agreement, requester):
    with time_machine.travel(MONDAY_10, tick=False):
        response = post(
            requester,
            body(
                agreement,
                description="Since the 10:00 deploy",
                customer_segment="enterprise",
                impacted_customers=40,
            ),
        )
    assert response.status_code == 201, response.content
    data = response.json()
    handoff = Handoff.objects.get()
    assert data["id"] == handoff.pk
    assert (data["status"], data["priority"], data["agreement"]) == ("new", "P2", agreement.pk)
    assert (data["customer_segment"], data["impacted_customers"]) == ("enterprise", 40)
    assert data["description"] == "Since the 10:00 deploy"
    assert data["created_by"] == requester.pk
    assert datetime.fromisoformat(data["created_at"]) == MONDAY_10
    # P2 runs 24×7: acknowledge in 2 h, plan in 24 h, resolve in 72 h.
    clocks = {c["metric"]: c for c in data["clocks"]}
    assert {m: c["target_seconds"] for m, c in clocks.items()} == {
        "acknowledge": 2 * 3600,
        "action_plan": 24 * 3600,
        "resolve": 72 * 3600,
    }
    assert all(c["status"] == "running" and c["due_at"] for c in clocks.values())
    assert datetime.fromisoformat(clocks["acknowledge"]["due_at"]) == datetime(
        2026, 3, 2, 11, tzinfo=UTC
    )
    assert datetime.fromisoformat(data["due_at"]) == datetime(2026, 3, 2, 11, tzinfo=UTC)
    assert handoff.events.get().kind == EventKind.CREATED


def test_defaults_for_the_optional_fields(agreement, requester):
    response = post(requester, body(agreement))
    assert response.status_code == 201
    data = response.json()
    assert (data["description"], data["customer_segment"], data["impacted_customers"]) == (
        "",
        "business",
        0,
    )


def test_triage_problems_are_keyed_by_field(agreement, requester):
    response = post(
        requester,
        body(agreement, triage={"steps": " ", "environment": "moon", "logs": "not a link"}),
    )
    assert response.status_code == 400
    errors = response.json()["triage"]
    assert errors["steps"] == ["Steps to reproduce is required."]
    assert errors["environment"] == ["Choose one of: production, staging."]
    assert "http" in errors["logs"][0]
    assert not Handoff.objects.exists()


def test_missing_triage_reports_every_required_field(agreement, requester):
    payload = body(agreement)
    del payload["triage"]
    response = post(requester, payload)
    assert response.status_code == 400
    assert set(response.json()["triage"]) == {"steps", "environment"}


@pytest.mark.parametrize("triage", [["steps"], "steps", 42, None, True])
def test_triage_must_be_an_object(agreement, requester, triage):
    response = post(requester, body(agreement, triage=triage))
    assert response.status_code == 400
    assert isinstance(response.json()["triage"], list)


def test_unknown_triage_keys_are_refused(agreement, requester):
    response = post(requester, body(agreement, triage=dict(TRIAGE, colour="red")))
    assert response.status_code == 400
    assert "Unknown triage fields: colour." in str(response.json()["triage"])


def test_unknown_keys_and_field_problems_are_reported_together(agreement, requester):
    response = post(requester, body(agreement, triage={"environment": "moon", "colour": "red"}))
    assert response.status_code == 400
    errors = response.json()["triage"]
    assert errors["steps"] == ["Steps to reproduce is required."]
    assert errors["non_field_errors"] == ["Unknown triage fields: colour."]


def test_null_characters_in_triage_answers_are_refused(agreement, requester):
    response = post(requester, body(agreement, triage=dict(TRIAGE, steps="crash\x00")))
    assert response.status_code == 400
    assert response.json()["triage"] == {"steps": ["Null characters are not allowed."]}


@pytest.mark.parametrize("priority", ["P9", "p1", "", 1, None, ["P1"]])
def test_an_unknown_priority_is_refused(agreement, requester, priority):
    response = post(requester, body(agreement, priority=priority))
    assert response.status_code == 400
    assert set(response.json()) == {"priority"}


def test_a_priority_the_agreement_does_not_define_is_refused(agreement, requester):
    agreement.targets.filter(priority="P4").delete()
    response = post(requester, body(agreement, priority="P4"))
    assert response.status_code == 400
    assert "P1, P2, P3" in response.json()["priority"][0]


@pytest.mark.parametrize(
    "agreement_id", [999_999, "abc", 99999999999999999999999, -1, 0, 1.5, None, [1], {"id": 1}]
)
def test_an_unknown_or_malformed_agreement_is_400_on_agreement(agreement, requester, agreement_id):
    response = post(requester, body(agreement, agreement=agreement_id))
    assert response.status_code == 400
    assert set(response.json()) == {"agreement"}


def test_an_agreement_the_user_may_not_see_does_not_exist_for_them(
    requester, provider_team, other_team
):
    hidden = AgreementFactory(
        series__provider_team=provider_team,
        series__requesting_team=other_team,
        status=AgreementStatus.DRAFT,
    )
    response = post(requester, body(hidden))
    assert response.status_code == 400
    assert "does not exist" in response.json()["agreement"][0]


def test_an_agreement_no_longer_in_force_is_refused(agreement, requester):
    agreement.status = AgreementStatus.SUPERSEDED
    agreement.save()
    response = post(requester, body(agreement))
    assert response.status_code == 400
    assert response.json()["agreement"] == ["Only an active agreement accepts new handoffs."]


def test_only_the_requesting_team_files(agreement, provider_member, outsider):
    for user in (provider_member, outsider):
        response = post(user, body(agreement))
        assert response.status_code == 403
        assert "detail" in response.json()
    assert not Handoff.objects.exists()


def test_staff_may_file_for_anyone(agreement, staff):
    assert post(staff, body(agreement)).status_code == 201


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": None}, "title"),
        ({"title": ["a"]}, "title"),
        ({"impacted_customers": -1}, "impacted_customers"),
        ({"impacted_customers": 2**31}, "impacted_customers"),
        ({"impacted_customers": 10**40}, "impacted_customers"),
        ({"impacted_customers": "many"}, "impacted_customers"),
        ({"impacted_customers": 1.5}, "impacted_customers"),
        ({"customer_segment": "galactic"}, "customer_segment"),
        ({"description": {"a": 1}}, "description"),
        ({"description": "nul\x00"}, "description"),
    ],
)
def test_malformed_fields_are_400_on_the_field(agreement, requester, overrides, field):
    response = post(requester, body(agreement, **overrides))
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Handoff.objects.exists()


def test_an_empty_body_names_every_required_field(requester):
    response = post(requester, {})
    assert response.status_code == 400
    assert set(response.json()) == {"agreement", "title", "priority"}


@pytest.mark.parametrize("payload", [[], ["a"], "text", 42, None])
def test_a_body_that_is_not_an_object_is_400(requester, payload):
    response = client_for(requester).post(URL, payload, format="json")
    assert response.status_code == 400


def test_malformed_json_and_other_encodings_are_refused(agreement, requester):
    client = client_for(requester)
    response = client.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    response = client.post(URL, {"agreement": agreement.pk, "title": "x", "priority": "P3"})
    assert response.status_code == 415


def test_anonymous_callers_are_told_to_authenticate(agreement):
    response = APIClient().post(URL, body(agreement), format="json")
    assert response.status_code == 401
