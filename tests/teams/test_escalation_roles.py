"""A team's escalation path beyond its leads: an optional manager and director, set by
staff in the admin, read in the API, shown on the team page; an empty role falls back
(director → manager → leads)."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.teams.models import Role, Team
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(db):
    return UserFactory(username="mona", first_name="Mona", last_name="Manager")


@pytest.fixture
def director(db):
    return UserFactory(username="dirk", first_name="Dirk", last_name="Director")


def contacts(team, role):
    # As a caller would read it: roles joined, memberships prefetched.
    team = (
        Team.objects.select_related("manager", "director")
        .prefetch_related("memberships__user")
        .get(pk=team.pk)
    )
    return team.escalation_contacts(role)


def test_with_every_role_set_each_reaches_its_holder(
    provider_team, provider_lead, manager, director
):
    provider_team.manager, provider_team.director = manager, director
    provider_team.save()
    assert contacts(provider_team, "lead") == [provider_lead]
    assert contacts(provider_team, "manager") == [manager]
    assert contacts(provider_team, "director") == [director]


def test_without_a_director_the_manager_is_reached(provider_team, provider_lead, manager):
    provider_team.manager = manager
    provider_team.save()
    assert contacts(provider_team, "director") == [manager]


def test_without_manager_or_director_the_leads_are_reached(provider_team, provider_lead):
    second = MembershipFactory(team=provider_team, role=Role.LEAD).user
    MembershipFactory(team=provider_team)  # a member is not on the escalation path
    for role in ("manager", "director"):
        assert set(contacts(provider_team, role)) == {provider_lead, second}


def test_a_director_without_a_manager_is_not_used_for_the_manager(
    provider_team, provider_lead, director
):
    provider_team.director = director
    provider_team.save()
    # Fallback only goes down the path, never up.
    assert contacts(provider_team, "manager") == [provider_lead]
    assert contacts(provider_team, "director") == [director]


def test_a_team_with_no_one_on_the_path_reaches_no_one(provider_team):
    assert contacts(provider_team, "director") == []


def test_an_unknown_role_is_an_error(provider_team):
    with pytest.raises(ValueError, match="Unknown escalation role"):
        provider_team.escalation_contacts("ceo")


def test_the_contacts_need_no_query_when_joined_and_prefetched(
    provider_team, provider_lead, manager, django_assert_num_queries
):
    provider_team.manager = manager
    provider_team.save()
    team = (
        Team.objects.select_related("manager", "director")
        .prefetch_related("memberships__user")
        .get(pk=provider_team.pk)
    )
    with django_assert_num_queries(0):
        assert team.escalation_contacts("director") == [manager]
        assert team.escalation_contacts("lead") == [provider_lead]


def test_the_api_reads_the_roles(provider_team, outsider, manager):
    provider_team.manager = manager
    provider_team.save()
    client = APIClient()
    client.force_authenticate(outsider)
    body = client.get(f"/api/teams/{provider_team.pk}/").json()
    assert (body["manager"], body["manager_username"]) == (manager.pk, "mona")
    assert (body["director"], body["director_username"]) == (None, None)


def test_the_team_page_shows_the_path_and_its_fallbacks(
    client, provider_team, provider_member, manager
):
    client.force_login(provider_member)
    url = reverse("teams:detail", kwargs={"slug": provider_team.slug})
    html = client.get(url).content.decode()
    assert "Not set: escalations go to the leads." in html
    provider_team.manager = manager
    provider_team.save()
    html = client.get(url).content.decode()
    assert "Mona Manager" in html
    assert "Not set: escalations go to the manager." in html


def test_staff_set_the_roles_in_the_admin(admin_client, provider_team, manager, director):
    url = reverse("admin:teams_team_change", args=[provider_team.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert {"manager", "director"} <= set(form.fields)
    data = {
        name: value
        for name, value in form.initial.items()
        if name in form.fields and value is not None
    }
    data.update(
        {
            "manager": manager.pk,
            "director": director.pk,
            "calendar": provider_team.calendar_id,
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        }
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    provider_team.refresh_from_db()
    assert (provider_team.manager, provider_team.director) == (manager, director)
