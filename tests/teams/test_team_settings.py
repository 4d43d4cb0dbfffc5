"""A team's leads set where its notifications go — on the team page and through the API —
and a webhook never points inside the network unless WEBHOOK_ALLOW_PRIVATE says so."""

import socket

import pytest
from django.contrib.admin.sites import site
from django.urls import reverse

from apps.core import destinations
from apps.teams.admin import TeamAdminForm
from apps.teams.models import Team
from tests.helpers import client_for

pytestmark = pytest.mark.django_db

SLACK = "https://hooks.slack.com/services/T000/B000/secret"


@pytest.fixture(autouse=True)
def dns(monkeypatch, settings):
    """hooks.slack.com is public, intranet.example resolves inside; IP literals are
    themselves. No test leaves the machine."""
    settings.WEBHOOK_ALLOW_PRIVATE = False
    table = {"hooks.slack.com": "93.184.215.14", "intranet.example": "10.20.30.40"}

    def resolve(host, port):
        address = table.get(host, host)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        try:
            socket.inet_pton(family, address)
        except OSError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(destinations, "resolve", resolve)


def _settings_url(team) -> str:
    return reverse("teams:settings", kwargs={"slug": team.slug})


def _detail_url(team) -> str:
    return reverse("teams:detail", kwargs={"slug": team.slug})


# --- the team page ------------------------------------------------------------------------


def test_the_lead_sees_the_settings_form_and_saves_a_webhook(client, provider_lead, provider_team):
    client.force_login(provider_lead)
    page = client.get(_detail_url(provider_team)).content.decode()
    assert "Team settings" in page and _settings_url(provider_team) in page

    response = client.post(
        _settings_url(provider_team), {"webhook_url": SLACK, "email": "eng@example.com"}
    )

    assert response.status_code == 302 and response["Location"] == _detail_url(provider_team)
    provider_team.refresh_from_db()
    assert (provider_team.webhook_url, provider_team.email) == (SLACK, "eng@example.com")
    assert SLACK in client.get(_detail_url(provider_team)).content.decode()  # prefilled


def test_members_and_other_teams_see_no_form_and_may_not_post(
    client, provider_member, outsider, requester_lead, provider_team
):
    provider_team.webhook_url = SLACK
    provider_team.save()
    for user in (provider_member, outsider, requester_lead):
        client.force_login(user)
        page = client.get(_detail_url(provider_team)).content.decode()
        assert "Team settings" not in page and "secret" not in page
        response = client.post(_settings_url(provider_team), {"webhook_url": "https://x.test/"})
        assert response.status_code == 403
    provider_team.refresh_from_db()
    assert provider_team.webhook_url == SLACK


def test_staff_may_set_any_teams_settings(client, staff, provider_team):
    client.force_login(staff)
    response = client.post(_settings_url(provider_team), {"webhook_url": SLACK, "email": ""})
    assert response.status_code == 302
    provider_team.refresh_from_db()
    assert provider_team.webhook_url == SLACK


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:8000/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]/hook", "loopback"),
        ("https://intranet.example/hook", "private"),
        ("ftp://hooks.slack.com/x", "https://"),
        ("not a url", "Enter a valid URL"),
    ],
)
def test_the_page_refuses_destinations_inside_the_network(
    client, provider_lead, provider_team, url, words
):
    client.force_login(provider_lead)
    email = provider_team.email
    response = client.post(
        _settings_url(provider_team), {"webhook_url": url, "email": "new@example.com"}
    )
    assert response.status_code == 400
    assert words in " ".join(response.context["settings_form"].errors["webhook_url"])
    provider_team.refresh_from_db()
    assert (provider_team.webhook_url, provider_team.email) == ("", email)  # nothing half-saved


def test_the_setting_allows_a_receiver_inside_the_network(
    client, provider_lead, provider_team, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    client.force_login(provider_lead)
    response = client.post(_settings_url(provider_team), {"webhook_url": "http://10.0.0.5/h"})
    assert response.status_code == 302
    provider_team.refresh_from_db()
    assert provider_team.webhook_url == "http://10.0.0.5/h"


def test_get_on_the_settings_url_is_not_allowed(client, provider_lead, provider_team):
    client.force_login(provider_lead)
    assert client.get(_settings_url(provider_team)).status_code == 405


# --- the API ------------------------------------------------------------------------------


def test_the_lead_patches_the_webhook_through_the_api(provider_lead, provider_team):
    response = client_for(provider_lead).patch(
        f"/api/teams/{provider_team.pk}/", {"webhook_url": SLACK}, format="json"
    )
    assert response.status_code == 200, response.content
    assert "webhook_url" not in response.json()  # a secret: never shown by the API
    provider_team.refresh_from_db()
    assert provider_team.webhook_url == SLACK


def test_the_api_refuses_a_private_destination_with_a_field_message(provider_lead, provider_team):
    email = provider_team.email
    response = client_for(provider_lead).patch(
        f"/api/teams/{provider_team.pk}/",
        {"webhook_url": "http://169.254.169.254/", "email": "new@example.com"},
        format="json",
    )
    assert response.status_code == 400
    assert "link-local" in response.json()["webhook_url"][0]
    provider_team.refresh_from_db()
    assert (provider_team.webhook_url, provider_team.email) == ("", email)


def test_the_api_refuses_who_does_not_lead_the_team_before_reading_the_body(
    provider_member, outsider, provider_team
):
    for user in (provider_member, outsider):
        response = client_for(user).patch(
            f"/api/teams/{provider_team.pk}/", "[[[[not json", content_type="application/json"
        )
        assert response.status_code == 403


def test_the_api_changes_only_the_settings_fields(provider_lead, provider_team):
    response = client_for(provider_lead).patch(
        f"/api/teams/{provider_team.pk}/",
        {"name": "Renamed", "slug": "renamed", "email": "eng@example.com"},
        format="json",
    )
    assert response.status_code == 200
    provider_team.refresh_from_db()
    assert (provider_team.name, provider_team.slug) == ("Engineering", "engineering")
    assert provider_team.email == "eng@example.com"


@pytest.mark.parametrize(
    "value", ["https://hooks.slack.com/\x00", "https://hooks.slack.com/\ud800"]
)
def test_characters_that_are_not_text_are_a_400(provider_lead, provider_team, value):
    from apps.teams import services

    with pytest.raises(Exception) as refused:
        services.team_update_settings(team=provider_team, actor=provider_lead, webhook_url=value)
    assert "not text" in str(refused.value)


def test_put_and_delete_stay_refused(provider_lead, provider_team):
    api = client_for(provider_lead)
    assert api.put(f"/api/teams/{provider_team.pk}/", {}, format="json").status_code == 405
    assert api.delete(f"/api/teams/{provider_team.pk}/").status_code == 405


# --- the admin ----------------------------------------------------------------------------


def test_the_admin_refuses_a_webhook_inside_the_network(provider_team):
    data = {
        "name": provider_team.name,
        "slug": provider_team.slug,
        "email": "",
        "webhook_url": "http://127.0.0.1:6379/",
        "description": "",
        "calendar": provider_team.calendar_id,
    }
    form = TeamAdminForm(data=data, instance=provider_team)
    assert site._registry[Team].form is TeamAdminForm
    assert not form.is_valid()
    assert "loopback" in form.errors["webhook_url"][0]
    data["webhook_url"] = SLACK
    form = TeamAdminForm(data=data, instance=provider_team)
    assert form.is_valid(), form.errors
