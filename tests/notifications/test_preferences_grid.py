"""Preferences per event kind × channel: in-app always, email per person, the team's
webhook per kind (chosen by its leads and staff), with defaults that email what people
act on; on the preferences page, grouped, and through the API, where bad input is a 400."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from apps.notifications import services
from apps.notifications.models import (
    EMAIL_BY_DEFAULT,
    KIND_GROUPS,
    Channel,
    Kind,
    NotificationPreference,
    TeamChannelPreference,
)
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.helpers import client_for
from tests.notifications.conftest import send

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel_team(webhook_server):
    return TeamFactory(name="Platform", slug="platform", webhook_url=webhook_server.url)


@pytest.fixture
def platform_lead(channel_team):
    return MembershipFactory(
        team=channel_team, user=UserFactory(username="pia", email="pia@example.com"), role="lead"
    ).user


@pytest.fixture
def platform_member(channel_team):
    return MembershipFactory(team=channel_team, user=UserFactory(username="pete")).user


def channels(rows):
    return sorted(r.channel for r in rows)


def test_every_kind_is_in_exactly_one_group():
    grouped = [kind for _, kinds in KIND_GROUPS for kind in kinds]
    assert sorted(grouped) == sorted(Kind) and len(grouped) == len(set(grouped))


@pytest.mark.parametrize(
    "kind",
    ["filed", "question", "replied", "resolved", "assigned", "mention", "approval", "closed"],
)
def test_what_people_act_on_is_emailed_by_default(alice, kind):
    assert channels(send(recipients=[alice], kind=kind)) == ["email", "in_app"]


@pytest.mark.parametrize("kind", ["comment", "acknowledged", "action_plan", "priority", "warning"])
def test_running_commentary_stays_in_app_by_default(alice, kind):
    assert channels(send(recipients=[alice], kind=kind)) == ["in_app"]


def test_the_team_webhook_hears_filed_work_and_slipping_clocks_by_default(alice, channel_team):
    assert Channel.WEBHOOK in channels(
        send("a", recipients=[alice], team=channel_team, kind="filed")
    )
    assert Channel.WEBHOOK not in channels(
        send("b", recipients=[alice], team=channel_team, kind="comment")
    )


def test_a_lead_chooses_what_the_team_webhook_hears(alice, channel_team, platform_lead):
    services.team_channel_preferences_change(
        team=channel_team, actor=platform_lead, changes={"comment": True, "filed": False}
    )
    assert Channel.WEBHOOK in channels(
        send("a", recipients=[alice], team=channel_team, kind="comment")
    )
    assert Channel.WEBHOOK not in channels(
        send("b", recipients=[alice], team=channel_team, kind="filed")
    )
    # The people still hear of it: only the channel is switched off.
    assert Channel.EMAIL in channels(send("c", recipients=[alice], team=channel_team, kind="filed"))


def test_a_member_who_does_not_lead_cannot_choose(channel_team, platform_member):
    with pytest.raises(PermissionDenied):
        services.team_channel_preferences_change(
            team=channel_team, actor=platform_member, changes={"comment": True}
        )
    assert not TeamChannelPreference.objects.exists()


# --- the page ---------------------------------------------------------------------------


def test_the_page_groups_the_kinds_and_shows_the_defaults(client, alice):
    client.force_login(alice)
    html = client.get(reverse("notifications:preferences")).content.decode()
    handoff_events = html.index("Handoff events")
    clocks = html.index(">Clocks<")
    agreements = html.index("Agreements, windows and reviews")
    assert handoff_events < html.index("Handoff filed") < clocks < html.index(">Breach<")
    assert clocks < agreements < html.index("Approval requested")
    assert (
        'name="filed:email" id="pref-filed:email" aria-label="Handoff filed – Email" checked'
        in html
    )
    assert 'aria-label="Comment on a handoff you watch – Email">' in html
    # No team section for someone who leads none.
    assert "channel</h2>" not in html


def test_a_lead_sets_the_team_webhook_kinds_on_the_page(client, platform_lead, channel_team):
    client.force_login(platform_lead)
    html = client.get(reverse("notifications:preferences")).content.decode()
    assert 'data-testid="team-preferences-platform"' in html
    assert (
        'id="team-platform-filed" aria-label="Handoff filed – Platform\'s webhook" checked' in html
    )

    response = client.post(
        reverse("notifications:team-preferences", args=["platform"]),
        {"comment": "on", "breach": "on"},
        follow=True,
    )
    assert "Platform&#x27;s channel preferences saved." in response.content.decode()
    chosen = dict(
        TeamChannelPreference.objects.filter(team=channel_team).values_list("kind", "enabled")
    )
    assert chosen["comment"] is True and chosen["breach"] is True and chosen["filed"] is False


def test_a_member_is_refused_and_staff_may(client, platform_member, staff, channel_team):
    url = reverse("notifications:team-preferences", args=["platform"])
    client.force_login(platform_member)
    assert client.post(url, {"comment": "on"}).status_code == 403
    assert not TeamChannelPreference.objects.exists()
    client.force_login(staff)
    assert client.post(url, {"comment": "on"}).status_code == 302
    assert TeamChannelPreference.objects.get(team=channel_team, kind="comment").enabled
    assert (
        'data-testid="team-preferences-platform"'
        in client.get(reverse("notifications:preferences")).content.decode()
    )


def test_an_unknown_team_is_a_404(client, staff):
    client.force_login(staff)
    url = reverse("notifications:team-preferences", args=["nope"])
    assert client.post(url, {}).status_code == 404


# --- the API ----------------------------------------------------------------------------


def test_the_api_reads_the_grid_in_its_groups(alice):
    body = client_for(alice).get("/api/notifications/preferences/").json()
    rows = {row["kind"]: row for row in body["kinds"]}
    assert set(rows) == set(Kind.values)
    assert rows["filed"] == {
        "kind": "filed",
        "label": "Handoff filed",
        "group": "Handoff events",
        "in_app": True,
        "email": True,
    }
    assert rows["comment"]["email"] is False
    assert {row["kind"] for row in body["kinds"] if row["email"]} == set(EMAIL_BY_DEFAULT)


def test_the_api_changes_only_the_kinds_named(alice):
    api = client_for(alice)
    response = api.patch(
        "/api/notifications/preferences/",
        {"email": {"comment": True, "breach": False}},
        format="json",
    )
    assert response.status_code == 200
    rows = {row["kind"]: row for row in response.json()["kinds"]}
    assert rows["comment"]["email"] is True and rows["breach"]["email"] is False
    assert NotificationPreference.objects.filter(user=alice).count() == 2
    assert channels(send(recipients=[alice], kind="breach")) == ["in_app"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": {"gossip": True}}, "email"),
        ({"email": {"breach": "sometimes"}}, "email"),
        ({"email": ["breach"]}, "email"),
        ({"in_app": {"breach": False}}, "in_app"),
        ({"in_app": {"nope": True}}, "in_app"),
    ],
)
def test_the_api_refuses_bad_preferences_with_a_field_keyed_400(alice, body, field):
    response = client_for(alice).patch("/api/notifications/preferences/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not NotificationPreference.objects.exists()


def test_a_lead_reads_and_sets_the_team_webhook_through_the_api(platform_lead, channel_team):
    api = client_for(platform_lead)
    url = "/api/notifications/preferences/teams/platform/"
    body = api.get(url).json()
    assert body["team"] == "platform" and body["has_webhook"] is True
    assert {r["kind"]: r["webhook"] for r in body["kinds"]}["filed"] is True
    response = api.patch(url, {"webhook": {"filed": False, "comment": True}}, format="json")
    assert response.status_code == 200
    kinds = {r["kind"]: r["webhook"] for r in response.json()["kinds"]}
    assert kinds["filed"] is False and kinds["comment"] is True


def test_the_team_api_refuses_members_unknown_teams_and_bad_bodies(
    platform_lead, platform_member, channel_team
):
    url = "/api/notifications/preferences/teams/platform/"
    member = client_for(platform_member)
    assert member.get(url).status_code == 200  # anyone may read what a channel hears
    assert member.patch(url, {"webhook": {"filed": False}}, format="json").status_code == 403
    lead = client_for(platform_lead)
    assert lead.patch(url, {"webhook": {"gossip": True}}, format="json").status_code == 400
    assert lead.patch(url, {"webhook": {"filed": 7}}, format="json").status_code == 400
    missing = "/api/notifications/preferences/teams/nope/"
    assert lead.get(missing).status_code == 404
    assert not TeamChannelPreference.objects.exists()
