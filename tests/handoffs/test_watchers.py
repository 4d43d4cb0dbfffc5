"""Watchers: the filer, the assignee and commenters watch by default; anyone who may see a
handoff can watch or stop watching it (page and API); the detail page and the API show who
watches; someone who cannot see the handoff gets 404."""

from datetime import timedelta

import pytest
from django.urls import reverse

from apps.handoffs import services
from apps.handoffs.models import Watcher
from apps.notifications.models import Kind, Notification
from tests.helpers import MONDAY_10, client_for

pytestmark = pytest.mark.django_db

LATER = MONDAY_10 + timedelta(minutes=5)


def watching(handoff) -> list[str]:
    return sorted(Watcher.objects.filter(handoff=handoff).values_list("user__username", flat=True))


@pytest.fixture(autouse=True)
def _monday_morning(time_machine):
    time_machine.move_to(MONDAY_10 + timedelta(minutes=20), tick=False)


@pytest.fixture
def handoff(file_handoff):
    return file_handoff("P3")


# --- by default ----------------------------------------------------------------------------


def test_the_filer_watches_what_they_file(handoff):
    assert watching(handoff) == ["rita"]


def test_whoever_acknowledges_unassigned_work_has_it_and_watches_it(handoff, provider_member):
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=LATER)
    assert watching(handoff) == ["max", "rita"]


def test_the_assignee_and_a_claimer_watch(handoff, provider_lead, provider_member):
    services.handoff_assign(
        handoff=handoff, actor=provider_lead, assignee=provider_member, now=LATER
    )
    assert watching(handoff) == ["max", "rita"]
    services.handoff_assign(handoff=handoff, actor=provider_lead, assignee=None, now=LATER)
    services.handoff_claim(handoff=handoff, actor=provider_lead, now=LATER)
    # Max stays watching after it left him: only he decides to stop.
    assert watching(handoff) == ["lena", "max", "rita"]


def test_a_commenter_watches(handoff, requester_lead):
    services.handoff_comment(handoff=handoff, actor=requester_lead, comment="+1", now=LATER)
    assert watching(handoff) == ["rita", "rob"]


# --- by choice: the page -------------------------------------------------------------------


def test_watch_and_stop_watching_from_the_page(client, handoff, provider_lead):
    client.force_login(provider_lead)
    page = client.get(handoff.get_absolute_url()).content.decode()
    assert 'data-testid="action-watch"' in page
    assert 'data-testid="watchers"' in page

    response = client.post(reverse("handoffs:watch", args=[handoff.pk]))
    assert response.status_code == 302
    assert watching(handoff) == ["lena", "rita"]
    page = client.get(response.url).content.decode()
    assert "You are watching" in page
    assert 'data-testid="action-unwatch"' in page
    assert provider_lead.display_name in page

    response = client.post(reverse("handoffs:unwatch", args=[handoff.pk]))
    assert response.status_code == 302
    assert watching(handoff) == ["rita"]
    assert 'data-testid="action-watch"' in client.get(response.url).content.decode()


def test_the_page_lists_who_watches(client, handoff, requester, provider_member):
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=LATER)
    client.force_login(requester)
    page = client.get(handoff.get_absolute_url()).content.decode()
    section = page[page.index('data-testid="watchers"') :]
    assert requester.display_name in section and provider_member.display_name in section
    assert "(you)" in section
    assert 'data-testid="action-unwatch"' in section


def test_someone_who_cannot_see_the_handoff_gets_404_and_watches_nothing(client, handoff, outsider):
    client.force_login(outsider)
    for name in ("watch", "unwatch"):
        assert client.post(reverse(f"handoffs:{name}", args=[handoff.pk])).status_code == 404
    assert watching(handoff) == ["rita"]


def test_watching_twice_keeps_one_row(client, handoff, provider_lead):
    client.force_login(provider_lead)
    for _ in range(2):
        client.post(reverse("handoffs:watch", args=[handoff.pk]))
    assert watching(handoff) == ["lena", "rita"]


def test_someone_who_stopped_watching_hears_no_more(handoff, requester, provider_member):
    from apps.handoffs.watchers import handoff_unwatch

    handoff_unwatch(handoff=handoff, actor=requester, now=MONDAY_10)
    services.handoff_comment(handoff=handoff, actor=provider_member, comment="On it", now=LATER)
    assert not Notification.objects.filter(recipient=requester, kind=Kind.COMMENT).exists()


# --- by choice: the API --------------------------------------------------------------------


def test_watch_and_unwatch_through_the_api(handoff, provider_lead):
    api = client_for(provider_lead)
    response = api.post(f"/api/handoffs/{handoff.pk}/watch/", {}, format="json")
    assert response.status_code == 200
    assert [w["user"] for w in response.json()["watchers"]] == [
        handoff.created_by_id,
        provider_lead.pk,
    ]
    assert response.json()["watchers"][1]["name"] == provider_lead.display_name

    response = api.post(f"/api/handoffs/{handoff.pk}/unwatch/", {}, format="json")
    assert response.status_code == 200
    assert [w["user"] for w in response.json()["watchers"]] == [handoff.created_by_id]


def test_the_api_detail_lists_the_watchers(handoff, requester):
    data = client_for(requester).get(f"/api/handoffs/{handoff.pk}/").json()
    assert data["watchers"] == [
        {
            "user": requester.pk,
            "name": requester.display_name,
            "created_at": data["watchers"][0]["created_at"],
        }
    ]


def test_the_api_answers_404_to_someone_who_cannot_see_the_handoff(handoff, outsider):
    api = client_for(outsider)
    for name in ("watch", "unwatch"):
        assert api.post(f"/api/handoffs/{handoff.pk}/{name}/", {}, format="json").status_code == 404
    assert watching(handoff) == ["rita"]
