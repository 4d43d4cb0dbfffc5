"""Who may open which handoff page and post which action: anonymous visitors sign in,
outsiders see nothing (404), requesters may not do the provider's work (403), provider
members may."""

from datetime import timedelta

import pytest
from django.urls import reverse

from apps.handoffs.models import Handoff, HandoffEvent, Status
from apps.handoffs.views import ACTIONS
from tests.helpers import MONDAY_10

pytestmark = pytest.mark.django_db

PROVIDER_ONLY = ["acknowledge", "start", "action-plan", "wait", "resolve", "assign", "claim"]
EVERY_ACTION = [spec.slug for spec in ACTIONS.values()]


@pytest.fixture
def handoff(file_handoff, time_machine):
    time_machine.move_to(MONDAY_10 + timedelta(minutes=5), tick=False)
    return file_handoff("P3")


def pages(handoff) -> list[str]:
    return [
        handoff.get_absolute_url(),
        "/queues/engineering/",
        "/queues/engineering/outgoing/",
        "/queues/support/",
        "/queues/support/outgoing/",
    ]


def action_url(handoff, slug: str) -> str:
    return reverse(f"handoffs:{slug}", args=[handoff.pk])


def untouched(handoff) -> bool:
    current = Handoff.objects.get(pk=handoff.pk)
    return (
        current.status == Status.NEW
        and current.assignee_id is None
        and HandoffEvent.objects.filter(handoff=handoff).count() == 1
    )


def test_anonymous_visitors_are_sent_to_sign_in_everywhere(client, handoff):
    for url in [*pages(handoff), *(action_url(handoff, s) for s in EVERY_ACTION)]:
        response = client.post(url) if url not in pages(handoff) else client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login")), url
    assert untouched(handoff)


@pytest.mark.parametrize("slug", EVERY_ACTION)
def test_outsiders_get_404_on_every_action(client, outsider, handoff, slug):
    client.force_login(outsider)
    response = client.post(action_url(handoff, slug), {"comment": "x", "reason": "x"})
    assert response.status_code == 404
    assert untouched(handoff)


def test_outsiders_get_404_on_the_pages(client, outsider, handoff):
    client.force_login(outsider)
    for url in pages(handoff):
        assert client.get(url).status_code == 404, url


def test_each_side_opens_its_own_queues(client, requester, provider_member, handoff):
    client.force_login(requester)
    assert client.get(handoff.get_absolute_url()).status_code == 200
    assert client.get("/queues/support/outgoing/").status_code == 200
    assert client.get("/queues/engineering/").status_code == 404
    client.force_login(provider_member)
    assert client.get("/queues/engineering/").status_code == 200
    assert client.get("/queues/support/outgoing/").status_code == 404


@pytest.mark.parametrize("slug", PROVIDER_ONLY)
def test_requesters_may_not_do_the_providers_work(client, requester, handoff, slug):
    client.force_login(requester)
    data = {"plan": "x", "question": "x", "resolution": "x", "assignee": requester.pk}
    assert client.post(action_url(handoff, slug), data).status_code == 403
    # Whatever they typed or left out: the answer is about who they are.
    assert client.post(action_url(handoff, slug), {}).status_code == 403
    assert client.post(action_url(handoff, slug), {}, HTTP_HX_REQUEST="true").status_code == 403
    assert untouched(handoff)


def test_providers_may_not_reopen_what_the_requester_validates(client, provider_member, handoff):
    client.force_login(provider_member)
    assert client.post(action_url(handoff, "reopen"), {"reason": "x"}).status_code == 403


@pytest.mark.parametrize("persona", ["provider_member", "provider_lead", "staff"])
def test_provider_members_and_staff_may_act(client, request, handoff, persona):
    actor = request.getfixturevalue(persona)
    client.force_login(actor)
    response = client.post(action_url(handoff, "acknowledge"))
    assert response.status_code == 302
    current = Handoff.objects.get(pk=handoff.pk)
    assert (current.status, current.assignee) == (Status.ACKNOWLEDGED, actor)
