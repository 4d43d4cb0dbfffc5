"""Reading handoffs through the API: who sees what, the JSON shape, the shared FilterSet,
ordering, token authentication and a constant query budget."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.handoffs import services
from apps.handoffs.models import Handoff
from tests.helpers import MONDAY_10, TRIAGE, client_for

pytestmark = pytest.mark.django_db

URL = "/api/handoffs/"
# count, page (teams and assignee joined), clocks
LIST_QUERIES = 3
# the handoff, count, page of events (actors joined)
EVENTS_QUERIES = 3

CONTRACT = {"id", "agreement", "status", "priority", "title", "triage", "assignee", "created_at"}
CLOCK_FIELDS = {
    "metric",
    "status",
    "target_seconds",
    "consumed_seconds",
    "due_at",
    "met_at",
    "breached_at",
}


def ids(response):
    assert response.status_code == 200, response.content[:300]
    return [h["id"] for h in response.json()["results"]]


def at(*args):
    return datetime(*args, tzinfo=UTC)


# --- visibility and shape ----------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 40])
def test_the_list_uses_a_constant_number_of_queries(
    n, file_handoff, provider_member, django_assert_max_num_queries
):
    for i in range(n):
        handoff = file_handoff("P3", at=MONDAY_10 + timedelta(minutes=i))
        if i % 2:
            services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=MONDAY_10)
    client = client_for(provider_member)
    with django_assert_max_num_queries(LIST_QUERIES):
        response = client.get(URL)
    body = response.json()
    assert body["count"] == n
    assert all(len(h["clocks"]) == 3 for h in body["results"])


def test_the_list_is_paginated(file_handoff, requester):
    file_handoff()
    body = client_for(requester).get(URL).json()
    assert set(body) == {"count", "next", "previous", "results"}


def test_only_the_two_teams_and_staff_see_a_handoff(
    file_handoff, provider_member, requester, outsider, staff
):
    handoff = file_handoff()
    for user in (provider_member, requester, staff):
        assert ids(client_for(user).get(URL)) == [handoff.pk]
    assert ids(client_for(outsider).get(URL)) == []
    assert client_for(outsider).get(f"{URL}{handoff.pk}/").status_code == 404


def test_a_handoff_as_json_carries_the_contract_fields_and_its_clocks(
    file_handoff, requester, agreement, provider_team, requesting_team
):
    handoff = file_handoff("P3", customer_segment="enterprise", impacted_customers=7)
    body = client_for(requester).get(f"{URL}{handoff.pk}/").json()
    assert set(body) >= CONTRACT | {
        "clocks",
        "provider_team",
        "requesting_team",
        "customer_segment",
        "impacted_customers",
        "description",
        "reopen_count",
        "due_at",
        "updated_at",
        "created_by",
    }
    assert (body["agreement"], body["status"], body["priority"], body["triage"]) == (
        agreement.pk,
        "new",
        "P3",
        TRIAGE,
    )
    assert (body["provider_team"], body["requesting_team"]) == (
        provider_team.pk,
        requesting_team.pk,
    )
    assert (body["provider_team_slug"], body["requesting_team_slug"]) == ("engineering", "support")
    assert (body["customer_segment"], body["impacted_customers"]) == ("enterprise", 7)
    assert body["created_by"] == requester.pk
    assert body["assignee"] is None and body["assignee_name"] is None
    assert [c["metric"] for c in body["clocks"]] == ["acknowledge", "action_plan", "resolve"]
    assert all(set(c) == CLOCK_FIELDS for c in body["clocks"])
    ack = body["clocks"][0]
    # P3: 8 business hours from Monday 10:00 Berlin is Tuesday 10:00 Berlin (09:00 UTC).
    assert (ack["status"], ack["target_seconds"], ack["consumed_seconds"]) == (
        "running",
        8 * 3600,
        0,
    )
    assert datetime.fromisoformat(ack["due_at"]) == at(2026, 3, 3, 9)
    assert datetime.fromisoformat(body["due_at"]) == at(2026, 3, 3, 9)


def test_consumed_seconds_are_as_stored_at_the_last_transition(file_handoff, provider_member):
    handoff = file_handoff("P3")
    services.handoff_acknowledge(
        handoff=handoff, actor=provider_member, now=MONDAY_10 + timedelta(minutes=30)
    )
    body = client_for(provider_member).get(f"{URL}{handoff.pk}/").json()
    ack = body["clocks"][0]
    assert (ack["status"], ack["consumed_seconds"]) == ("met", 1800)
    assert datetime.fromisoformat(ack["met_at"]) == at(2026, 3, 2, 9, 30)
    assert (body["assignee"], body["assignee_name"]) == (
        provider_member.pk,
        provider_member.display_name,
    )


def test_an_unknown_or_malformed_id_is_404(requester):
    client = client_for(requester)
    for pk in ("999999", "abc", "99999999999999999999999", "-1", "1.5"):
        assert client.get(f"{URL}{pk}/").status_code == 404, pk


def test_handoffs_cannot_be_replaced_edited_or_deleted(file_handoff, requester, staff):
    handoff = file_handoff()
    for user in (requester, staff):
        client = client_for(user)
        detail = f"{URL}{handoff.pk}/"
        assert client.put(detail, {"title": "x"}, format="json").status_code == 405
        assert client.patch(detail, {"title": "x"}, format="json").status_code == 405
        assert client.delete(detail).status_code == 405
    handoff.refresh_from_db()
    assert handoff.title == "Checkout crashes"


# --- authentication ------------------------------------------------------------------------


def test_token_authentication(file_handoff, requester):
    handoff = file_handoff()
    token = Token.objects.create(user=requester)
    client = APIClient()
    assert client.get(URL).status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert ids(client.get(URL)) == [handoff.pk]
    response = client.post(f"{URL}{handoff.pk}/comment/", {"comment": "hi"}, format="json")
    assert response.status_code == 201
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.get(URL).status_code == 401


def test_a_token_from_the_token_endpoint_works(file_handoff, requester, password):
    file_handoff()
    client = APIClient()
    response = client.post(
        "/api/auth/token/", {"username": "rita", "password": password}, format="json"
    )
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.get(URL).json()["count"] == 1


# --- the shared FilterSet ------------------------------------------------------------------


@pytest.fixture
def mix(file_handoff, provider_member, provider_lead, requester):
    """new P3 (unassigned), acknowledged P1 (max), resolved P2 (lena), cancelled P4."""
    new = file_handoff("P3")
    acknowledged = file_handoff("P1", at=MONDAY_10 + timedelta(minutes=1))
    services.handoff_acknowledge(handoff=acknowledged, actor=provider_member, now=MONDAY_10)
    resolved = file_handoff("P2", at=MONDAY_10 + timedelta(minutes=2))
    services.handoff_start(handoff=resolved, actor=provider_lead, now=MONDAY_10)
    services.handoff_resolve(handoff=resolved, actor=provider_lead, resolution="ok", now=MONDAY_10)
    cancelled = file_handoff("P4", at=MONDAY_10 + timedelta(minutes=3))
    services.handoff_cancel(handoff=cancelled, actor=requester, reason="dup", now=MONDAY_10)
    return {"new": new, "acknowledged": acknowledged, "resolved": resolved, "cancelled": cancelled}


def test_the_list_filters_by_status_priority_open_and_assignee(mix, provider_member, provider_lead):
    client = client_for(provider_member)

    def get(**params):
        return set(ids(client.get(URL, params)))

    assert get(status="new") == {mix["new"].pk}
    assert get(status=["resolved", "cancelled"]) == {mix["resolved"].pk, mix["cancelled"].pk}
    assert get(priority="P1") == {mix["acknowledged"].pk}
    assert get(priority=["P3", "P4"]) == {mix["new"].pk, mix["cancelled"].pk}
    assert get(open="true") == {mix["new"].pk, mix["acknowledged"].pk}
    assert get(open="false") == {mix["resolved"].pk, mix["cancelled"].pk}
    assert get(assignee="me") == {mix["acknowledged"].pk}
    assert get(assignee="none") == {mix["new"].pk, mix["cancelled"].pk}
    assert get(assignee=str(provider_lead.pk)) == {mix["resolved"].pk}
    assert get(provider_team="engineering", requesting_team="support") == set(
        h.pk for h in mix.values()
    )
    assert get(requesting_team="engineering") == set()
    assert get(q=f"#{mix['new'].pk}") == {mix["new"].pk}
    assert get(q="no such words") == set()


def test_the_list_filters_by_agreement_and_due_before(mix, agreement, provider_member):
    client = client_for(provider_member)
    assert len(ids(client.get(URL, {"agreement": agreement.pk}))) == 4
    assert ids(client.get(URL, {"agreement": agreement.pk + 1000})) == []
    # The P1 acknowledgement was met, so the P1 is due on its action plan (2 h, 24×7).
    due = Handoff.objects.get(pk=mix["acknowledged"].pk).due_at
    assert ids(client.get(URL, {"due_before": due.isoformat()})) == [mix["acknowledged"].pk]


def test_at_risk_and_breached_follow_the_clock(file_handoff, provider_member):
    # P1: acknowledge within 30 minutes, around the clock; the warning comes at 75 %.
    start = at(2026, 3, 2, 9)
    urgent = file_handoff("P1", at=start)
    calm = file_handoff("P3", at=start)
    client = client_for(provider_member)

    def get(moment, **params):
        with time_machine.travel(moment, tick=False):
            return ids(client.get(URL, params))

    assert get(start + timedelta(minutes=10), at_risk="true") == []
    assert get(start + timedelta(minutes=25), at_risk="true") == [urgent.pk]
    assert get(start + timedelta(minutes=25), breached="true") == []
    assert get(start + timedelta(minutes=45), breached="true") == [urgent.pk]
    assert get(start + timedelta(minutes=45), at_risk="true") == []
    assert get(start + timedelta(minutes=45), breached="false") == [calm.pk]


def test_a_met_clock_is_no_longer_at_risk_or_breaching(file_handoff, provider_member):
    start = at(2026, 3, 2, 9)
    urgent = file_handoff("P1", at=start)
    services.handoff_acknowledge(
        handoff=urgent, actor=provider_member, now=start + timedelta(minutes=20)
    )
    client = client_for(provider_member)
    with time_machine.travel(start + timedelta(minutes=45), tick=False):
        assert ids(client.get(URL, {"breached": "true"})) == []
        assert ids(client.get(URL, {"at_risk": "true"})) == []


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"priority": "P9"},
        {"provider_team": "no-such-team"},
        {"agreement": "abc"},
        {"due_before": "yesterday"},
    ],
)
def test_malformed_filters_are_400_not_500(file_handoff, requester, params):
    file_handoff()
    response = client_for(requester).get(URL, params)
    assert response.status_code == 400, response.content[:300]
    assert set(response.json()) == set(params)


@pytest.mark.parametrize(
    "params",
    [
        # Django guards integer columns against out-of-range values, not foreign keys:
        # the FilterSet bounds them itself.
        {"agreement": "99999999999999999999999"},
        {"agreement": "1e400"},
        {"assignee": "99999999999999999999999"},
        {"assignee": "someone"},
        {"q": "#99999999999999999999999"},
        {"q": "\x00"},
        {"page": "99"},
        {"open": "maybe"},
        {"breached": "2"},
        {"ordering": "password"},
    ],
)
def test_odd_but_well_formed_filters_never_answer_500(file_handoff, requester, params):
    file_handoff()
    response = client_for(requester).get(URL, params)
    assert response.status_code in (200, 400, 404), response.content[:300]


# --- ordering ------------------------------------------------------------------------------


def test_soonest_due_first_by_default_and_ordering_on_request(file_handoff, provider_member):
    p3 = file_handoff("P3", at=MONDAY_10)
    p1 = file_handoff("P1", at=MONDAY_10 + timedelta(minutes=5))
    done = file_handoff("P2", at=MONDAY_10 + timedelta(minutes=10))
    services.handoff_cancel(handoff=done, actor=provider_member, reason="dup", now=MONDAY_10)
    client = client_for(provider_member)
    # The P1 is due in 30 minutes, the P3 tomorrow; the cancelled one has no deadline.
    assert ids(client.get(URL)) == [p1.pk, p3.pk, done.pk]
    assert ids(client.get(URL, {"ordering": "due_at"})) == [p1.pk, p3.pk, done.pk]
    assert ids(client.get(URL, {"ordering": "-due_at"})) == [p3.pk, p1.pk, done.pk]
    assert ids(client.get(URL, {"ordering": "created_at"})) == [p3.pk, p1.pk, done.pk]
    assert ids(client.get(URL, {"ordering": "-created_at"})) == [done.pk, p1.pk, p3.pk]
    # Anything else falls back to the default, as DRF's OrderingFilter does.
    assert ids(client.get(URL, {"ordering": "title;drop"})) == [p1.pk, p3.pk, done.pk]


# --- the timeline --------------------------------------------------------------------------


@pytest.mark.parametrize("comments", [1, 30])
def test_the_timeline_is_oldest_first_in_a_constant_number_of_queries(
    comments, file_handoff, provider_member, requester, django_assert_max_num_queries
):
    handoff = file_handoff()
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=MONDAY_10)
    for i in range(comments):
        services.handoff_comment(
            handoff=handoff,
            actor=requester if i % 2 else provider_member,
            comment=f"note {i}",
            now=MONDAY_10 + timedelta(minutes=i + 1),
        )
    client = client_for(requester)
    with django_assert_max_num_queries(EVENTS_QUERIES):
        response = client.get(f"{URL}{handoff.pk}/events/")
    assert response.status_code == 200
    body = response.json()
    kinds = [e["kind"] for e in body["results"]]
    assert kinds[:3] == ["created", "acknowledged", "clock_met"]
    assert kinds[3:] == ["commented"] * comments
    assert body["count"] == 3 + comments
    first = body["results"][0]
    assert (first["actor"], first["actor_name"]) == (requester.pk, requester.display_name)
    assert set(first) == {
        "id",
        "kind",
        "actor",
        "actor_name",
        "created_at",
        "comment",
        "before",
        "after",
    }


def test_the_timeline_is_not_shown_to_other_teams(file_handoff, outsider):
    handoff = file_handoff()
    assert client_for(outsider).get(f"{URL}{handoff.pk}/events/").status_code == 404


def test_list_filters_do_not_apply_to_one_handoff_its_timeline_or_its_actions(
    file_handoff, requester
):
    handoff = file_handoff()
    client = client_for(requester)
    response = client.get(f"{URL}{handoff.pk}/events/", {"status": "closed"})
    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert client.get(f"{URL}{handoff.pk}/", {"status": "closed"}).status_code == 200
    assert client.get(f"{URL}{handoff.pk}/", {"status": "bogus"}).status_code == 200
    response = client.post(
        f"{URL}{handoff.pk}/comment/?priority=P9", {"comment": "hi"}, format="json"
    )
    assert response.status_code == 201


def test_staff_see_everything_without_a_team(file_handoff, staff):
    handoff = file_handoff(triage=dict(TRIAGE, logs="https://logs.example.com/1"))
    body = client_for(staff).get(f"{URL}{handoff.pk}/").json()
    assert body["triage"]["logs"] == "https://logs.example.com/1"
