"""The page and the API agree: a raising ladder needs the next tier up (message on the
step's field); a draft identical to the active version is not submitted; waiting never
pauses the acknowledge clock, so no tier offers it."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.agreements import services
from apps.agreements.models import Agreement, Status
from tests.agreements.test_pages_editor import STEPS, TIERS, editor_data
from tests.factories import standard_steps, standard_targets, standard_triage
from tests.helpers import client_for

pytestmark = pytest.mark.django_db

MESSAGE = "Raising the priority needs P2 defined: a P3 handoff could not be raised."


# --- a ladder that cannot raise ---------------------------------------------------------


def test_the_editor_puts_the_raise_error_on_the_step(
    client, requester_lead, provider_team, requesting_team
):
    client.force_login(requester_lead)
    data = editor_data(teams=(provider_team, requesting_team), targets=TIERS[2:], steps=STEPS)
    response = client.post(reverse("agreements:new"), data)
    assert response.status_code == 200
    step = response.context["steps_formset"].forms[1]
    assert step.errors == {"raise_priority": [MESSAGE]}
    assert MESSAGE in response.content.decode()
    assert not Agreement.objects.exists()


def test_the_api_puts_the_raise_error_on_the_step(requester_lead, provider_team, requesting_team):
    body = {
        "provider_team": provider_team.pk,
        "requesting_team": requesting_team.pk,
        "title": "Escalations",
        "targets": [t for t in standard_targets() if t["priority"] in ("P3", "P4")],
        "steps": standard_steps(),
    }
    response = client_for(requester_lead).post("/api/agreements/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"steps": {"1": {"raise_priority": [MESSAGE]}}}
    assert not Agreement.objects.exists()


# --- nothing changed -----------------------------------------------------------------------


@pytest.fixture
def amended(provider_team, requesting_team, requester_lead, provider_lead):
    draft = services.agreement_create_draft(
        actor=requester_lead,
        provider_team=provider_team,
        requesting_team=requesting_team,
        title="Escalations",
        targets=standard_targets(),
        triage_fields=standard_triage(),
        steps=standard_steps(),
    )
    services.agreement_submit(agreement=draft, actor=requester_lead)
    services.agreement_approve(agreement=draft, actor=requester_lead)
    services.agreement_approve(agreement=draft, actor=provider_lead)
    return services.agreement_amend(agreement=draft, actor=provider_lead)


def test_the_page_says_nothing_changed(client, provider_lead, amended):
    client.force_login(provider_lead)
    response = client.post(reverse("agreements:submit", args=[amended.pk]))
    assert response.status_code == 302
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("Nothing changed since version 1" in t for t in texts), texts
    amended.refresh_from_db()
    assert amended.status == Status.DRAFT


def test_the_api_answers_409_when_nothing_changed(provider_lead, amended):
    client = client_for(provider_lead)
    response = client.post(f"/api/agreements/{amended.pk}/submit/")
    assert response.status_code == 409
    assert "Nothing changed since version 1" in response.json()["detail"]
    client.patch(f"/api/agreements/{amended.pk}/", {"warning_threshold": 80}, format="json")
    assert client.post(f"/api/agreements/{amended.pk}/submit/").status_code == 200


# --- acknowledge never pauses ----------------------------------------------------------------


def test_no_tier_offers_pausing_the_acknowledge_clock(client, provider_lead, amended):
    client.force_login(provider_lead)
    html = client.get(reverse("agreements:edit", args=[amended.pk])).content.decode()
    assert "pause_acknowledge" not in html
    body = client_for(provider_lead).get(f"/api/agreements/{amended.pk}/").json()
    assert "pause_acknowledge" not in body["targets"][0]
    assert amended.target_for("P1").pauses("acknowledge") is False
