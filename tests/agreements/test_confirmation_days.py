"""An agreement says after how many business days a resolved handoff the requester never
confirmed closes (`confirmation_days`, 1–60, default 5): editable wherever the waiting
auto-close is (the draft editor, the API, the admin), shown on the detail and compare
pages, and carried into the next version by an amendment."""

import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.agreements import services
from apps.agreements.models import Agreement, Status
from tests.agreements.test_admin import form_data
from tests.agreements.test_pages_editor import editor_data
from tests.factories import AgreementFactory, standard_steps, standard_targets, standard_triage

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(requester_lead):
    client = APIClient()
    client.force_authenticate(requester_lead)
    return client


def api_body(provider_team, requesting_team, **fields):
    return {
        "provider_team": provider_team.pk,
        "requesting_team": requesting_team.pk,
        "title": "Escalations",
        "targets": standard_targets(),
        "triage_fields": standard_triage(),
        "steps": standard_steps(),
        **fields,
    }


def test_a_new_agreement_gives_the_requester_five_business_days(agreement):
    assert agreement.confirmation_days == 5


def test_the_editor_sets_the_confirmation_days(
    client, requester_lead, provider_team, requesting_team
):
    client.force_login(requester_lead)
    assert 'name="confirmation_days"' in client.get(reverse("agreements:new")).content.decode()
    response = client.post(
        reverse("agreements:new"),
        editor_data(teams=(provider_team, requesting_team), confirmation_days="3"),
    )
    assert response.status_code == 302
    assert Agreement.objects.get().confirmation_days == 3


@pytest.mark.parametrize("days", ["0", "61", "-1", "five"])
def test_the_editor_refuses_days_outside_one_to_sixty_on_the_field(
    client, requester_lead, provider_team, requesting_team, days
):
    client.force_login(requester_lead)
    response = client.post(
        reverse("agreements:new"),
        editor_data(teams=(provider_team, requesting_team), confirmation_days=days),
    )
    assert response.status_code == 200
    assert "confirmation_days" in response.context["form"].errors
    assert not Agreement.objects.exists()


def test_the_api_reads_and_writes_the_confirmation_days(api, provider_team, requesting_team):
    response = api.post(
        "/api/agreements/",
        api_body(provider_team, requesting_team, confirmation_days=10),
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["confirmation_days"] == 10
    url = f"/api/agreements/{response.json()['id']}/"
    response = api.patch(url, {"confirmation_days": 2}, format="json")
    assert response.status_code == 200, response.content
    assert api.get(url).json()["confirmation_days"] == 2
    # Left out, it keeps its default.
    other = api_body(provider_team, requesting_team)
    other["title"] = "Second"
    assert api.post("/api/agreements/", other, format="json").json()["confirmation_days"] == 5


@pytest.mark.parametrize("days", [0, 61, 40_000])
def test_the_api_refuses_days_outside_one_to_sixty_with_a_400_on_the_field(
    api, provider_team, requesting_team, days
):
    response = api.post(
        "/api/agreements/",
        api_body(provider_team, requesting_team, confirmation_days=days),
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["confirmation_days"]
    assert not Agreement.objects.exists()


def test_detail_and_compare_show_the_confirmation_days(
    client, provider_lead, provider_member, agreement
):
    draft = services.agreement_amend(agreement=agreement, actor=provider_lead)
    assert draft.confirmation_days == 5  # an amendment copies it
    services.agreement_update_draft(agreement=draft, actor=provider_lead, confirmation_days=1)
    client.force_login(provider_member)
    html = client.get(draft.get_absolute_url()).content.decode()
    detail = html.split('data-testid="confirmation-days"', 1)[1].split("</dd>", 1)[0]
    assert "closed after 1 business day without" in detail
    assert "closes after 1 business day without an answer" in html  # the promise
    html = client.get(
        reverse("agreements:compare", args=[draft.pk]), {"with": agreement.pk}
    ).content.decode()
    row = re.search(r"<tr[^>]*>\s*<th scope=\"row\"[^>]*>Confirmation days.*?</tr>", html, re.S)
    assert row and "table-warning" in row.group(0)
    assert re.search(r"<td>5</td>\s*<td>1</td>", row.group(0))


def test_staff_edit_the_confirmation_days_in_the_admin(
    client, staff, provider_team, requesting_team
):
    draft = AgreementFactory(
        series__provider_team=provider_team,
        series__requesting_team=requesting_team,
        status=Status.DRAFT,
    )
    client.force_login(staff)
    url = reverse("admin:agreements_agreement_change", args=[draft.pk])
    assert 'name="confirmation_days"' in client.get(url).content.decode()
    response = client.post(url, form_data(draft, confirmation_days=12))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.confirmation_days == 12
