"""Exception windows through the API: provider-team members request, provider leads (or
staff) approve or reject, anyone signed in reads."""

from datetime import UTC, datetime, timedelta

import pytest

from apps.agreements.models import ExceptionWindow
from tests.factories import AgreementFactory
from tests.helpers import client_for

pytestmark = pytest.mark.django_db

URL = "/api/exception-windows/"
START = datetime(2030, 3, 2, 8, 0, tzinfo=UTC)


def window_body(team, **overrides):
    return {
        "provider_team": team.pk,
        "start": START.isoformat(),
        "end": (START + timedelta(hours=4)).isoformat(),
        "reason": "Data-centre migration",
        "affected_customers": "Enterprise customers on the EU cluster (about 40).",
        "communication_plan": "Support posts on the status page the day before.",
        **overrides,
    }


@pytest.fixture
def window(provider_member, provider_team, agreement):
    response = client_for(provider_member).post(
        URL, window_body(provider_team, series=agreement.series_id), format="json"
    )
    assert response.status_code == 201, response.json()
    return ExceptionWindow.objects.get(pk=response.json()["id"])


def test_a_provider_member_requests_a_window(window, provider_member, agreement):
    body = client_for(provider_member).get(f"{URL}{window.pk}/").json()
    assert body["status"] == "requested"
    assert (body["provider_team_slug"], body["series"]) == ("engineering", agreement.series_id)
    assert body["requested_by_username"] == "max"
    assert body["decided_by"] is None
    assert datetime.fromisoformat(body["start"]) == START


def test_a_window_for_every_agreement_of_the_team(provider_lead, provider_team):
    response = client_for(provider_lead).post(URL, window_body(provider_team), format="json")
    assert response.status_code == 201
    assert response.json()["series"] is None


def test_a_provider_lead_approves(window, provider_lead):
    response = client_for(provider_lead).post(
        f"{URL}{window.pk}/approve/", {"note": "Go ahead"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["decided_by_username"], body["decision_note"]) == (
        "approved",
        "lena",
        "Go ahead",
    )
    assert body["decided_at"]


def test_a_provider_lead_rejects(window, provider_lead):
    response = client_for(provider_lead).post(f"{URL}{window.pk}/reject/")
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"


def test_staff_may_decide(window, staff):
    assert client_for(staff).post(f"{URL}{window.pk}/approve/").status_code == 200


def test_a_decided_window_cannot_be_decided_again(window, provider_lead):
    client = client_for(provider_lead)
    assert client.post(f"{URL}{window.pk}/approve/").status_code == 200
    assert client.post(f"{URL}{window.pk}/reject/").status_code == 409
    window.refresh_from_db()
    assert window.status == "approved"


@pytest.mark.parametrize("persona", ["provider_member", "requester_lead", "outsider"])
def test_only_a_provider_lead_decides(window, persona, request):
    client = client_for(request.getfixturevalue(persona))
    assert client.post(f"{URL}{window.pk}/approve/").status_code == 403
    assert client.post(f"{URL}{window.pk}/reject/").status_code == 403
    window.refresh_from_db()
    assert window.status == "requested"


@pytest.mark.parametrize("persona", ["provider_member", "requester_lead"])
def test_who_may_not_decide_is_refused_before_the_note_is_read(window, persona, request):
    client = client_for(request.getfixturevalue(persona))
    for path in ("approve", "reject"):
        response = client.post(f"{URL}{window.pk}/{path}/", {"note": ["x"]}, format="json")
        assert response.status_code == 403, (path, response.content[:300])
    window.refresh_from_db()
    assert window.status == "requested"


@pytest.mark.parametrize("persona", ["requester_lead", "outsider"])
def test_only_the_provider_team_requests(persona, request, provider_team):
    client = client_for(request.getfixturevalue(persona))
    assert client.post(URL, window_body(provider_team), format="json").status_code == 403
    assert not ExceptionWindow.objects.exists()


def test_anyone_signed_in_reads_windows(window, outsider):
    client = client_for(outsider)
    assert client.get(URL).json()["count"] == 1
    assert client.get(f"{URL}{window.pk}/").status_code == 200


def test_windows_filter_by_team_and_status(window, provider_lead, other_team, staff):
    client_for(staff).post(URL, window_body(other_team), format="json")
    client = client_for(provider_lead)

    def ids(query):
        response = client.get(f"{URL}?{query}")
        assert response.status_code == 200
        return [w["id"] for w in response.json()["results"]]

    assert ids("provider_team=engineering") == [window.pk]
    assert len(ids("status=requested")) == 2
    client.post(f"{URL}{window.pk}/approve/")
    assert ids("status=approved") == [window.pk]
    assert client.get(f"{URL}?status=maybe").status_code == 400


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"end": START.isoformat()}, "end"),
        ({"end": (START - timedelta(hours=1)).isoformat()}, "end"),
        ({"reason": "  "}, "reason"),
        ({"reason": None}, "reason"),
        ({"start": "tomorrow morning"}, "start"),
        ({"start": None}, "start"),
        ({"end": 12}, "end"),
        ({"provider_team": 999999}, "provider_team"),
        ({"provider_team": "engineering"}, "provider_team"),
        ({"series": 999999}, "series"),
        ({"series": [1]}, "series"),
    ],
)
def test_bad_window_requests_are_field_keyed_400s(provider_member, provider_team, changes, key):
    response = client_for(provider_member).post(
        URL, window_body(provider_team, **changes), format="json"
    )
    assert response.status_code == 400, response.content
    assert key in response.json()
    assert not ExceptionWindow.objects.exists()


def test_a_window_on_another_providers_agreement_is_refused(
    provider_member, provider_team, other_team, requesting_team
):
    foreign = AgreementFactory(
        series__provider_team=other_team, series__requesting_team=requesting_team
    )
    response = client_for(provider_member).post(
        URL, window_body(provider_team, series=foreign.series_id), format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["series"]


def test_a_series_the_user_cannot_see_does_not_exist_for_them(
    provider_member, provider_team, other_team, requesting_team
):
    hidden = AgreementFactory(
        series__provider_team=other_team, series__requesting_team=requesting_team, status="draft"
    )
    response = client_for(provider_member).post(
        URL, window_body(provider_team, series=hidden.series_id), format="json"
    )
    assert response.status_code == 400
    assert "does not exist" in response.json()["series"][0]


@pytest.mark.parametrize("payload", ["[]", "null", '{"note": ["x"]}'])
def test_malformed_decisions_are_a_400(window, provider_lead, payload):
    response = client_for(provider_lead).post(
        f"{URL}{window.pk}/approve/", payload, content_type="application/json"
    )
    assert response.status_code == 400


def test_windows_are_never_deleted(window, provider_lead):
    assert client_for(provider_lead).delete(f"{URL}{window.pk}/").status_code == 405


def test_unknown_window_is_a_404(provider_lead):
    assert client_for(provider_lead).post(f"{URL}999999/approve/").status_code == 404


@pytest.mark.parametrize("n", [3, 30])
def test_the_window_list_uses_a_constant_number_of_queries(
    n, provider_team, provider_lead, staff, django_assert_max_num_queries
):
    for i in range(n):
        ExceptionWindow.objects.create(
            provider_team=provider_team,
            start=START + timedelta(days=i),
            end=START + timedelta(days=i, hours=2),
            reason="Outage",
            requested_by=provider_lead,
            decided_by=staff,
            status="approved",
        )
    client = client_for(provider_lead)
    with django_assert_max_num_queries(2):  # count and page; people and teams joined
        response = client.get(URL)
    assert response.json()["count"] == n
