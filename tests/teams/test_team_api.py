import pytest
from rest_framework.test import APIClient

from apps.teams.models import Role
from tests.factories import MembershipFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(outsider):
    client = APIClient()
    client.force_authenticate(outsider)
    return client


def test_team_list_is_paginated_with_members(api, provider_lead, provider_member):
    response = api.get("/api/teams/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    engineering = next(t for t in body["results"] if t["slug"] == "engineering")
    assert {(m["username"], m["role"]) for m in engineering["memberships"]} == {
        ("lena", "lead"),
        ("max", "member"),
    }
    assert "webhook_url" not in engineering


def test_team_api_filters_by_slug_and_mine(api, provider_team, outsider):
    assert [t["slug"] for t in api.get("/api/teams/?slug=engineering").json()["results"]] == [
        "engineering"
    ]
    assert [t["slug"] for t in api.get("/api/teams/?mine=true").json()["results"]] == ["finance"]


def test_team_api_is_read_only(api, provider_team):
    assert api.post("/api/teams/", {"name": "X"}).status_code == 405
    # Only its leads may change a team, and only its webhook and email (test_team_settings).
    assert api.patch(f"/api/teams/{provider_team.pk}/", {"name": "X"}).status_code == 403
    assert api.delete(f"/api/teams/{provider_team.pk}/").status_code == 405


def test_team_api_unknown_id_is_a_404(api):
    assert api.get("/api/teams/999999/").status_code == 404


def test_team_api_list_uses_a_constant_number_of_queries(api, django_assert_max_num_queries):
    for n in range(40):
        team = TeamFactory(name=f"T {n}")
        MembershipFactory(team=team, role=Role.LEAD)
        MembershipFactory(team=team)
    with django_assert_max_num_queries(6):
        response = api.get("/api/teams/")
    assert response.json()["count"] == 41
