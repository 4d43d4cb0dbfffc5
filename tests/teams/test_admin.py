"""The teams admin writes through the services: a team added or changed, its memberships
edited in the inline or on their own page — each path calls the service that keeps the
rule, so staff and the pages cannot disagree."""

import pytest
from django.urls import reverse

from apps.teams import services
from apps.teams.models import Membership, Role, Team
from tests.factories import BusinessCalendarFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls(monkeypatch):
    """Every call of the teams' write services, by name, still doing its work."""
    seen: list[str] = []
    for name in ("team_create", "team_update", "membership_set", "membership_remove"):
        real = getattr(services, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            seen.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(services, name, spy)
    return seen


def _team_data(team: Team | None = None, **changes) -> dict:
    data = {
        "name": team.name if team else "Platform",
        "slug": team.slug if team else "",
        "email": team.email if team else "",
        "webhook_url": team.webhook_url if team else "",
        "description": team.description if team else "",
        "calendar": team.calendar_id if team else BusinessCalendarFactory().pk,
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    return {**data, **changes}


def test_a_team_added_in_the_admin_is_created_by_the_service(admin_client, calls):
    response = admin_client.post(
        reverse("admin:teams_team_add"),
        # "Save and continue": the admin goes on with the team the service created.
        _team_data(name="Platform", slug="platform", _continue="1"),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert calls == ["team_create"]
    team = Team.objects.get(slug="platform")
    assert response["Location"].endswith(reverse("admin:teams_team_change", args=[team.pk]))


def test_a_team_changed_in_the_admin_is_updated_by_the_service(admin_client, provider_team, calls):
    url = reverse("admin:teams_team_change", args=[provider_team.pk])
    response = admin_client.post(url, _team_data(provider_team, description="On call 24/7"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert calls == ["team_update"]
    provider_team.refresh_from_db()
    assert provider_team.description == "On call 24/7"


def test_the_update_service_refuses_a_webhook_inside_the_network(provider_team):
    # The admin form says so first (test_team_settings); the service holds whoever calls.
    with pytest.raises(Exception, match="loopback"):
        services.team_update(team=provider_team, webhook_url="http://127.0.0.1:6379/")
    provider_team.refresh_from_db()
    assert provider_team.webhook_url == ""


def _inline(rows: list[dict], initial: int) -> dict:
    data = {"memberships-TOTAL_FORMS": str(len(rows)), "memberships-INITIAL_FORMS": str(initial)}
    for index, row in enumerate(rows):
        data.update({f"memberships-{index}-{k}": v for k, v in row.items()})
    return data


def test_members_added_changed_and_removed_in_the_inline_go_through_the_services(
    admin_client, provider_team, calls
):
    staying = MembershipFactory(team=provider_team, role=Role.MEMBER)
    leaving = MembershipFactory(team=provider_team, role=Role.MEMBER)
    newcomer = UserFactory()
    rows = [
        {"id": staying.pk, "team": provider_team.pk, "user": staying.user_id, "role": Role.LEAD},
        {"id": leaving.pk, "team": provider_team.pk, "user": leaving.user_id,
         "role": Role.MEMBER, "DELETE": "on"},
        {"team": provider_team.pk, "user": newcomer.pk, "role": Role.MEMBER},
    ]  # fmt: skip
    url = reverse("admin:teams_team_change", args=[provider_team.pk])
    data = {**_team_data(provider_team), **_inline(rows, initial=2)}
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["inline_admin_formsets"]
    assert calls == ["team_update", "membership_remove", "membership_set", "membership_set"]
    assert dict(provider_team.memberships.values_list("user_id", "role")) == {
        staying.user_id: Role.LEAD,
        newcomer.pk: Role.MEMBER,
    }


def test_a_membership_changed_on_its_own_page_goes_through_the_service(
    admin_client, provider_team, other_team, calls
):
    membership = MembershipFactory(team=provider_team, role=Role.MEMBER)
    url = reverse("admin:teams_membership_change", args=[membership.pk])
    data = {"user": membership.user_id, "team": other_team.pk, "role": Role.LEAD}
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert calls == ["membership_remove", "membership_set"]
    # One membership per user and team: moved, not copied.
    assert list(Membership.objects.filter(user=membership.user).values_list("team_id", "role")) == [
        (other_team.pk, Role.LEAD)
    ]
