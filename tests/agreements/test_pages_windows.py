"""Exception windows: requested by a provider-team member, decided by its lead, shown on
the agreement and team pages."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.agreements.models import ExceptionWindow
from tests.factories import AgreementSeriesFactory

pytestmark = pytest.mark.django_db

Status = ExceptionWindow.Status


# Overrides tests/conftest.py's `agreement`: the same agreement, titled.
@pytest.fixture
def agreement(agreement):
    agreement.title = "Escalations"
    agreement.save(update_fields=["title"])
    return agreement


@pytest.fixture
def requested(provider_team, provider_member):
    now = timezone.now()
    return ExceptionWindow.objects.create(
        provider_team=provider_team,
        start=now + timedelta(days=1),
        end=now + timedelta(days=1, hours=4),
        reason="Database migration",
        requested_by=provider_member,
    )


def window_data(team, **overrides) -> dict:
    data = {
        "provider_team": team.pk,
        "series": "",
        "start": "2030-03-02T09:00",
        "end": "2030-03-02T13:30",
        "reason": "Data-centre move",
        "affected_customers": "EU customers",
        "communication_plan": "Status page, the day before",
    }
    data.update(overrides)
    return data


def test_member_requests_a_window_in_their_own_time_zone(
    client, provider_member, provider_team, agreement
):
    provider_member.time_zone = "Asia/Tokyo"
    provider_member.save(update_fields=["time_zone"])
    client.force_login(provider_member)
    url = reverse("agreements:window-new") + "?team=engineering"
    page = client.get(url)
    assert page.status_code == 200
    assert 'type="datetime-local"' in page.content.decode()
    assert page.context["form"].initial["provider_team"] == provider_team.pk

    response = client.post(url, window_data(provider_team, series=agreement.series_id))
    assert response.status_code == 302
    window = ExceptionWindow.objects.get()
    # 09:00 in Tokyo is 00:00 UTC.
    assert window.start == datetime(2030, 3, 2, 0, 0, tzinfo=UTC)
    assert window.end == datetime(2030, 3, 2, 4, 30, tzinfo=UTC)
    assert window.series == agreement.series
    assert window.status == Status.REQUESTED
    assert window.requested_by == provider_member


def test_request_goes_back_to_the_agreement_it_came_from(
    client, provider_member, provider_team, agreement
):
    client.force_login(provider_member)
    detail = client.get(agreement.get_absolute_url()).content.decode()
    assert reverse("agreements:window-new") in detail
    url = f"{reverse('agreements:window-new')}?team=engineering&next={agreement.get_absolute_url()}"
    data = window_data(provider_team, next=agreement.get_absolute_url())
    response = client.post(url, data)
    assert response["Location"] == agreement.get_absolute_url()


def test_the_request_link_is_only_for_provider_members(client, requester, agreement):
    client.force_login(requester)
    assert (
        reverse("agreements:window-new")
        not in client.get(agreement.get_absolute_url()).content.decode()
    )


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"end": "2030-03-02T08:00"}, "end", "must end after it starts"),
        ({"reason": "   "}, "reason", "required"),
        ({"start": "tomorrow"}, "start", "valid date/time"),
    ],
)
def test_bad_window_requests_are_refused_on_their_field(
    client, provider_member, provider_team, overrides, field, message
):
    client.force_login(provider_member)
    response = client.post(
        reverse("agreements:window-new"), window_data(provider_team, **overrides)
    )
    assert response.status_code == 200
    assert message in str(response.context["form"].errors[field])
    html = response.content.decode()
    assert "Data-centre move</textarea>" in html or field == "reason"
    assert 'value="2030-03-02T09:00"' in html or field == "start"
    assert not ExceptionWindow.objects.exists()


def test_scope_must_be_an_agreement_of_the_team(
    client, provider_member, provider_team, requesting_team, other_team
):
    foreign = AgreementSeriesFactory(provider_team=requesting_team, requesting_team=other_team)
    client.force_login(provider_member)
    response = client.post(
        reverse("agreements:window-new"), window_data(provider_team, series=foreign.pk)
    )
    assert response.status_code == 200
    assert "series" in response.context["form"].errors
    assert not ExceptionWindow.objects.exists()


def test_only_members_of_the_provider_team_may_request(client, requester, outsider, provider_team):
    client.force_login(requester)
    assert client.get(reverse("agreements:window-new") + "?team=engineering").status_code == 403
    response = client.post(reverse("agreements:window-new"), window_data(provider_team))
    assert response.status_code == 200  # Engineering is not among the teams offered
    assert "provider_team" in response.context["form"].errors
    client.force_login(outsider)
    assert client.get(reverse("agreements:window-new") + "?team=engineering").status_code == 403
    assert not ExceptionWindow.objects.exists()


def test_window_list_offers_decisions_to_the_provider_lead_only(
    client, provider_lead, provider_member, outsider, requested
):
    client.force_login(provider_lead)
    html = client.get(reverse("agreements:windows")).content.decode()
    assert "Database migration" in html and 'data-testid="approve-window"' in html
    client.force_login(provider_member)
    html = client.get(reverse("agreements:windows")).content.decode()
    assert "Database migration" in html and 'data-testid="approve-window"' not in html
    client.force_login(outsider)
    html = client.get(reverse("agreements:windows")).content.decode()
    assert "Database migration" not in html


def test_lead_approves_a_window(client, provider_lead, requested):
    client.force_login(provider_lead)
    response = client.post(
        reverse("agreements:window-approve", args=[requested.pk]),
        {"note": "Go ahead"},
        follow=True,
    )
    assert "approved" in response.content.decode()
    requested.refresh_from_db()
    assert requested.status == Status.APPROVED
    assert requested.decided_by == provider_lead
    assert requested.decision_note == "Go ahead"


def test_lead_rejects_a_window_and_a_second_decision_is_a_message(client, provider_lead, requested):
    client.force_login(provider_lead)
    client.post(reverse("agreements:window-reject", args=[requested.pk]), {"note": "Not now"})
    requested.refresh_from_db()
    assert requested.status == Status.REJECTED
    response = client.post(reverse("agreements:window-approve", args=[requested.pk]), follow=True)
    assert response.status_code == 200
    assert "already rejected" in response.content.decode()
    requested.refresh_from_db()
    assert requested.status == Status.REJECTED


@pytest.mark.parametrize("user", ["provider_member", "requester_lead", "outsider"])
@pytest.mark.parametrize("decision", ["window-approve", "window-reject"])
def test_only_provider_leads_and_staff_decide(client, request, requested, user, decision):
    client.force_login(request.getfixturevalue(user))
    assert client.post(reverse(f"agreements:{decision}", args=[requested.pk])).status_code == 403
    requested.refresh_from_db()
    assert requested.status == Status.REQUESTED


def test_staff_may_decide(client, staff, requested):
    client.force_login(staff)
    client.post(reverse("agreements:window-approve", args=[requested.pk]))
    requested.refresh_from_db()
    assert requested.status == Status.APPROVED


def test_team_page_shows_current_and_upcoming_windows(
    client, outsider, provider_member, provider_team
):
    now = timezone.now()
    for start, end, reason, status in [
        (now - timedelta(hours=1), now + timedelta(hours=1), "Outage now", Status.APPROVED),
        (now + timedelta(days=2), now + timedelta(days=3), "Launch next week", Status.REQUESTED),
        (now - timedelta(days=9), now - timedelta(days=8), "Long past", Status.APPROVED),
        (now + timedelta(days=4), now + timedelta(days=5), "Turned down", Status.REJECTED),
    ]:
        ExceptionWindow.objects.create(
            provider_team=provider_team,
            start=start,
            end=end,
            reason=reason,
            status=status,
            requested_by=provider_member,
        )
    client.force_login(outsider)
    response = client.get(reverse("teams:detail", kwargs={"slug": "engineering"}))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="exception-windows"' in html
    assert "Outage now" in html and "Launch next week" in html
    assert "Long past" not in html and "Turned down" not in html
    # Another team's page does not show Engineering's windows.
    html = client.get(reverse("teams:detail", kwargs={"slug": "finance"})).content.decode()
    assert "Outage now" not in html


def test_anonymous_visitors_are_sent_to_sign_in(client, requested):
    for url in (reverse("agreements:windows"), reverse("agreements:window-new")):
        assert client.get(url).status_code == 302
    response = client.post(reverse("agreements:window-approve", args=[requested.pk]))
    assert response.status_code == 302
    requested.refresh_from_db()
    assert requested.status == Status.REQUESTED
