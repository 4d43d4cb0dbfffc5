import pytest
from django.urls import reverse

from apps.teams.models import Role
from tests.factories import MembershipFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_team_list_shows_every_team_to_anyone_signed_in(client, outsider, provider_team):
    client.force_login(outsider)
    response = client.get(reverse("teams:list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Engineering" in html and "Finance" in html


def test_team_list_uses_a_constant_number_of_queries(
    client, outsider, django_assert_max_num_queries
):
    client.force_login(outsider)
    for n in range(3):
        MembershipFactory(team=TeamFactory(name=f"Small {n}"))
    with django_assert_max_num_queries(8) as few:
        client.get(reverse("teams:list"))
    for n in range(30):
        team = TeamFactory(name=f"Big {n}")
        MembershipFactory(team=team)
        MembershipFactory(team=team, role=Role.LEAD)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("teams:list"))
    assert response.content.decode().count("Big ") == 30


def test_team_detail_lists_leads_members_and_the_calendar(
    client, provider_lead, provider_member, provider_team
):
    client.force_login(provider_member)
    response = client.get(reverse("teams:detail", kwargs={"slug": "engineering"}))
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["leads"][0].user == provider_lead
    assert response.context["members"][0].user == provider_member
    assert provider_team.calendar.name in html
    assert "Europe/Berlin" in html
    # A member may not edit the calendar; the button is not offered.
    assert reverse("calendars:edit", kwargs={"pk": provider_team.calendar_id}) not in html


def test_team_detail_offers_calendar_editing_to_its_lead(client, provider_lead, provider_team):
    client.force_login(provider_lead)
    response = client.get(reverse("teams:detail", kwargs={"slug": "engineering"}))
    edit_url = reverse("calendars:edit", kwargs={"pk": provider_team.calendar_id})
    assert edit_url in response.content.decode()


def test_unknown_team_is_a_404(client, outsider):
    client.force_login(outsider)
    assert client.get(reverse("teams:detail", kwargs={"slug": "nope"})).status_code == 404


def test_dashboard_lists_my_teams_with_their_open_state(client, provider_member):
    client.force_login(provider_member)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert [tile["membership"].team.slug for tile in response.context["tiles"]] == ["engineering"]
    assert 'data-testid="tile-open-state"' in response.content.decode()
