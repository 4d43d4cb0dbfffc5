"""A named escalation contact is a member of one of the agreement's two teams: an
escalation carries the handoff's title and link, and nobody else may see those. Refused
with a field message in the API (400) and on the page editor, by the service."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.agreements import services
from apps.agreements.models import Agreement
from tests.agreements.test_pages_editor import STEPS, editor_data, with_row
from tests.factories import standard_steps, standard_targets, standard_triage
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


def _named(user) -> list[dict]:
    return [
        *standard_steps(),
        {"metric": "resolve", "percent": 150, "notify": "user", "user": user},
    ]


@pytest.fixture
def draft(provider_lead, provider_team, requesting_team):
    return services.agreement_create_draft(
        actor=provider_lead,
        provider_team=provider_team,
        requesting_team=requesting_team,
        title="Escalations",
        targets=standard_targets(),
        triage_fields=standard_triage(),
        steps=standard_steps(),
    )


def test_the_api_refuses_an_outsider_as_named_contact(draft, provider_lead, outsider):
    response = client_for(provider_lead).patch(
        f"/api/agreements/{draft.pk}/", {"steps": _named(outsider.pk)}, format="json"
    )
    assert response.status_code == 400, response.content
    (message,) = response.json()["steps"]["2"]["user"]
    assert f"{outsider} is not a member of Engineering or Support" in message
    assert draft.escalation_steps.count() == 2  # nothing written


@pytest.mark.parametrize("who", ["requester", "provider_member"])
def test_the_api_accepts_a_member_of_either_team(draft, provider_lead, who, request):
    user = request.getfixturevalue(who)
    response = client_for(provider_lead).patch(
        f"/api/agreements/{draft.pk}/", {"steps": _named(user.pk)}, format="json"
    )
    assert response.status_code == 200, response.content
    assert draft.escalation_steps.filter(user=user).exists()


def test_a_new_draft_through_the_api_checks_the_contact_too(
    provider_lead, provider_team, requesting_team, outsider
):
    body = {
        "provider_team": provider_team.pk,
        "requesting_team": requesting_team.pk,
        "title": "Escalations",
        "targets": standard_targets(),
        "steps": _named(outsider.pk),
    }
    response = client_for(provider_lead).post("/api/agreements/", body, format="json")
    assert response.status_code == 400
    assert "not a member" in response.json()["steps"]["2"]["user"][0]
    assert not Agreement.objects.exists()


def test_the_service_refuses_whatever_calls_it(draft, provider_lead, outsider):
    with pytest.raises(ValidationError) as refused:
        services.agreement_update_draft(
            agreement=draft, actor=provider_lead, steps=_named(outsider)
        )
    assert "steps.2.user" in refused.value.message_dict


def test_the_page_editor_refuses_an_outsider_on_the_step_that_names_them(
    client, requester_lead, provider_team, requesting_team, outsider
):
    client.force_login(requester_lead)
    steps = with_row(STEPS, 1, notify="user", user=str(outsider.pk))
    data = editor_data(teams=(provider_team, requesting_team), steps=steps)
    response = client.post(reverse("agreements:new"), data)
    assert response.status_code == 200
    assert not Agreement.objects.exists()
    errors = response.context["steps_formset"].forms[1].errors
    assert "not a member of Engineering or Support" in " ".join(errors["user"])
