"""Filing a handoff through /handoffs/new/: the agreement's triage template as a form,
every required field enforced on its field, nothing typed lost, only requesters file."""

import re

import pytest
from django.urls import reverse

from apps.agreements.models import Status as AgreementStatus
from apps.handoffs.models import EventKind, Handoff
from tests.factories import AgreementFactory, AgreementSeriesFactory

pytestmark = pytest.mark.django_db

FULL = {
    "title": "Checkout crashes on saved cards",
    "priority": "P2",
    "customer_segment": "enterprise",
    "impacted_customers": "12",
    "description": "Since the 10:00 deploy.",
    "triage-steps": "1. open checkout\n2. pick a saved card",
    "triage-environment": "production",
    "triage-logs": "https://logs.example.com/run/42",
}


def new_url(agreement) -> str:
    return f"{reverse('handoffs:new')}?agreement={agreement.pk}"


def test_the_form_shows_each_tier_with_its_impact_and_targets(client, requester, agreement):
    client.force_login(requester)
    response = client.get(new_url(agreement))
    assert response.status_code == 200
    html = response.content.decode()
    # P1 runs 24×7 (plain hours), P3 on the calendar (business hours); P4 is best effort.
    assert "Acknowledge within 30 min; action plan within 2 h; resolve within 8 h (24×7)" in html
    assert "Acknowledge within 8 business h; action plan within 40 business h" in html
    assert "action plan: best effort; resolve: best effort" in html
    assert "Data loss, security breach or outage for many customers." in html
    for name in ("triage-steps", "triage-environment", "triage-logs", "customer_segment"):
        assert f'name="{name}"' in html
    assert html.count('name="priority"') == 4


def test_a_requester_files_a_handoff_with_every_field(client, requester, agreement):
    client.force_login(requester)
    response = client.post(new_url(agreement), FULL, follow=True)
    handoff = Handoff.objects.get()
    assert response.redirect_chain == [(handoff.get_absolute_url(), 302)]
    assert f"Handoff #{handoff.pk} filed with Engineering." in response.content.decode()
    assert (handoff.agreement, handoff.created_by, handoff.status) == (agreement, requester, "new")
    assert (handoff.title, handoff.priority, handoff.description) == (
        "Checkout crashes on saved cards",
        "P2",
        "Since the 10:00 deploy.",
    )
    assert (handoff.customer_segment, handoff.impacted_customers) == ("enterprise", 12)
    assert handoff.triage == {
        "steps": "1. open checkout\n2. pick a saved card",
        "environment": "production",
        "logs": "https://logs.example.com/run/42",
    }
    assert handoff.clocks.count() == 3
    assert handoff.events.get().kind == EventKind.CREATED


def test_an_optional_triage_field_may_stay_empty(client, requester, agreement):
    client.force_login(requester)
    response = client.post(new_url(agreement), {**FULL, "triage-logs": ""})
    assert response.status_code == 302
    assert Handoff.objects.get().triage == {
        "steps": "1. open checkout\n2. pick a saved card",
        "environment": "production",
    }


def test_a_missing_required_triage_answer_is_reported_on_its_field_and_nothing_is_lost(
    client, requester, agreement
):
    client.force_login(requester)
    response = client.post(new_url(agreement), {**FULL, "triage-steps": "  "})
    assert response.status_code == 200
    assert not Handoff.objects.exists()
    triage = response.context["triage_form"]
    assert triage.errors == {"steps": ["Steps to reproduce is required."]}
    html = response.content.decode()
    # The message sits on the field (crispy ties it to the input's id) …
    assert 'id="error_1_id_triage-steps"' in html
    assert "Steps to reproduce is required." in html
    # … and everything else comes back as typed.
    assert 'value="Checkout crashes on saved cards"' in html
    assert "Since the 10:00 deploy.</textarea>" in html
    assert 'value="https://logs.example.com/run/42"' in html
    assert '<option value="production" selected>' in html
    assert '<option value="enterprise" selected>' in html
    assert 'value="12"' in html
    assert re.search(r'<input type="radio" name="priority" value="P2"[^>]* checked>', html)


def test_title_and_priority_are_required_each_on_its_field(client, requester, agreement):
    client.force_login(requester)
    response = client.post(new_url(agreement), {**FULL, "title": "", "priority": ""})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["title"] == ["Give the handoff a title."]
    assert form.errors["priority"] == ["Choose a priority: it sets the targets the clocks run to."]
    assert "Choose a priority" in response.content.decode()
    assert not Handoff.objects.exists()


def test_a_bad_answer_is_refused_on_its_field(client, requester, agreement):
    client.force_login(requester)
    response = client.post(
        new_url(agreement), {**FULL, "triage-environment": "moon", "triage-logs": "ftp://x"}
    )
    assert response.status_code == 200
    errors = response.context["triage_form"].errors
    assert set(errors) == {"environment", "logs"}
    assert not Handoff.objects.exists()


def test_an_agreement_superseded_while_typing_is_refused_without_losing_the_text(
    client, requester, agreement
):
    client.force_login(requester)
    assert client.get(new_url(agreement)).status_code == 200
    agreement.status = AgreementStatus.SUPERSEDED
    agreement.save()
    response = client.post(new_url(agreement), FULL)
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Only an active agreement accepts new handoffs."
    ]
    assert 'value="Checkout crashes on saved cards"' in response.content.decode()
    assert not Handoff.objects.exists()


def test_opening_the_form_of_an_inactive_version_sends_back_to_the_choice(
    client, requester, agreement
):
    agreement.status = AgreementStatus.SUPERSEDED
    agreement.save()
    client.force_login(requester)
    response = client.get(new_url(agreement), follow=True)
    assert response.redirect_chain == [(reverse("handoffs:new"), 302)]
    assert "is superseded: file under an active agreement" in response.content.decode()


def test_the_first_step_lists_the_active_agreements_my_teams_hand_work_over_through(
    client, requester, agreement, provider_team, other_team
):
    inbound_to_support = AgreementFactory(
        series__provider_team=agreement.series.requesting_team,
        series__requesting_team=provider_team,
        title="Engineering → Support",
    )
    retired = AgreementFactory(
        series=AgreementSeriesFactory(
            provider_team=other_team, requesting_team=agreement.series.requesting_team
        ),
        status=AgreementStatus.RETIRED,
        title="Old finance desk",
    )
    client.force_login(requester)
    response = client.get(reverse("handoffs:new"))
    assert response.status_code == 200
    assert list(response.context["agreements"]) == [agreement]
    html = response.content.decode()
    assert f'href="?series={agreement.series_id}"' in html
    assert inbound_to_support.title not in html
    assert retired.title not in html


def test_someone_without_an_agreement_is_told_so(client, outsider, agreement):
    client.force_login(outsider)
    response = client.get(reverse("handoffs:new"))
    assert response.status_code == 200
    assert 'data-testid="no-agreements"' in response.content.decode()


@pytest.mark.parametrize("persona", ["provider_member", "provider_lead", "outsider"])
def test_only_members_of_the_requesting_team_may_file(client, request, agreement, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(new_url(agreement)).status_code == 403
    assert client.post(new_url(agreement), FULL).status_code == 403
    assert not Handoff.objects.exists()


def test_staff_may_file_for_any_team(client, staff, agreement):
    client.force_login(staff)
    assert client.post(new_url(agreement), FULL).status_code == 302
    assert Handoff.objects.get().created_by == staff


def test_anonymous_visitors_are_sent_to_sign_in(client, agreement):
    response = client.get(new_url(agreement))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("value", ["abc", "999999"])
def test_an_unknown_agreement_is_not_found(client, requester, agreement, value):
    client.force_login(requester)
    assert client.get(f"{reverse('handoffs:new')}?agreement={value}").status_code == 404
