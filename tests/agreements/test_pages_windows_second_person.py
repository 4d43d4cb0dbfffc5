"""Exception windows on the pages: the documentation on the request form, a second person
approves, limits are messages on the field, and windows are ended early with a button."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from apps.agreements import services
from apps.agreements.models import ExceptionWindow
from apps.teams.models import Role
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

Status = ExceptionWindow.Status
LIST = reverse("agreements:windows")


def local(moment) -> str:
    return timezone.localtime(moment, timezone.get_fixed_timezone(0)).strftime("%Y-%m-%dT%H:%M")


def form_data(team, start, hours=4, **overrides) -> dict:
    return {
        "provider_team": team.pk,
        "series": "",
        "start": local(start),
        "end": local(start + timedelta(hours=hours)),
        "reason": "Data-centre move",
        "affected_customers": "EU customers",
        "communication_plan": "Status page, the day before",
        **overrides,
    }


def window_by(user, team, start=None, hours=4):
    start = start or timezone.now() + timedelta(days=1)
    return services.exception_window_request(
        actor=user,
        provider_team=team,
        start=start,
        end=start + timedelta(hours=hours),
        reason="Data-centre move",
        affected_customers="EU customers",
        communication_plan="Status page",
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_request_form_asks_for_the_documentation(client, provider_member, provider_team):
    client.force_login(provider_member)
    url = reverse("agreements:window-new")
    page = client.get(url).content.decode()
    assert 'name="affected_customers"' in page and 'name="communication_plan"' in page
    assert "at most 7 days in the past and last at most 14 days" in page
    start = timezone.now() + timedelta(days=1)
    response = client.post(
        url, form_data(provider_team, start, affected_customers="", communication_plan=" ")
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"affected_customers", "communication_plan"}
    assert client.post(url, form_data(provider_team, start)).status_code == 302
    window = ExceptionWindow.objects.get()
    assert (window.affected_customers, window.communication_plan) == (
        "EU customers",
        "Status page, the day before",
    )


def test_limits_are_messages_on_the_fields(client, provider_member, provider_team):
    client.force_login(provider_member)
    url = reverse("agreements:window-new")
    response = client.post(url, form_data(provider_team, timezone.now() - timedelta(days=8)))
    assert list(response.context["form"].errors) == ["start"]
    response = client.post(url, form_data(provider_team, timezone.now(), hours=15 * 24))
    assert list(response.context["form"].errors) == ["end"]
    assert not ExceptionWindow.objects.exists()


def test_the_requester_does_not_get_an_approve_button(client, provider_lead, provider_team):
    window = window_by(provider_lead, provider_team)
    client.force_login(provider_lead)
    html = client.get(LIST).content.decode()
    assert 'data-testid="approve-window"' not in html
    assert 'data-testid="reject-window"' in html
    assert "another lead of the team (or an administrator) approves it" in html
    # Forcing it is refused.
    response = client.post(reverse("agreements:window-approve", args=[window.pk]))
    assert response.status_code == 403
    window.refresh_from_db()
    assert window.status == Status.REQUESTED


def test_another_lead_approves_from_the_list(client, provider_lead, provider_team):
    window = window_by(provider_lead, provider_team)
    second = MembershipFactory(team=provider_team, role=Role.LEAD).user
    client.force_login(second)
    assert 'data-testid="approve-window"' in client.get(LIST).content.decode()
    response = client.post(reverse("agreements:window-approve", args=[window.pk]))
    assert response.status_code == 302
    window.refresh_from_db()
    assert (window.status, window.decided_by) == (Status.APPROVED, second)


def test_an_approval_past_the_backdating_limit_is_a_message(
    client, provider_member, provider_lead, provider_team
):
    window = window_by(provider_member, provider_team, start=timezone.now() - timedelta(days=6))
    ExceptionWindow.objects.filter(pk=window.pk).update(
        start=timezone.now() - timedelta(days=9), end=timezone.now() - timedelta(days=8)
    )
    client.force_login(provider_lead)
    response = client.post(reverse("agreements:window-approve", args=[window.pk]))
    assert response.status_code == 302
    assert any("at most 7 days before now" in t for t in messages_of(response))
    window.refresh_from_db()
    assert window.status == Status.REQUESTED


def test_a_window_under_way_is_ended_now_from_the_list(
    client, provider_member, provider_lead, provider_team
):
    window = window_by(provider_member, provider_team, start=timezone.now() - timedelta(hours=1))
    services.exception_window_approve(window=window, actor=provider_lead)
    client.force_login(provider_member)
    html = client.get(LIST).content.decode()
    assert 'data-testid="end-window"' in html and "End now" in html
    response = client.post(
        reverse("agreements:window-end", args=[window.pk]), {"note": "Back sooner"}
    )
    assert response.status_code == 302
    assert any("ended now" in t for t in messages_of(response))
    window.refresh_from_db()
    assert window.planned_end is not None and window.end <= timezone.now()
    assert window.end_note == "Back sooner"
    html = client.get(LIST).content.decode()
    assert "ended early by" in html
    assert 'data-testid="end-window"' not in html


def test_a_window_not_started_is_cancelled_and_a_request_withdrawn(
    client, provider_member, provider_lead, provider_team
):
    approved = window_by(provider_member, provider_team)
    services.exception_window_approve(window=approved, actor=provider_lead)
    requested = window_by(provider_member, provider_team)
    client.force_login(provider_member)
    html = client.get(LIST).content.decode()
    assert "Cancel" in html and "Withdraw" in html
    for window in (approved, requested):
        response = client.post(reverse("agreements:window-end", args=[window.pk]))
        assert any("cancelled" in t for t in messages_of(response))
        window.refresh_from_db()
        assert window.status == Status.CANCELLED


def test_others_may_not_end_a_window(client, provider_member, provider_team, requester):
    window = window_by(provider_member, provider_team)
    other = MembershipFactory(team=provider_team).user
    for user in (other, requester):
        client.force_login(user)
        response = client.post(reverse("agreements:window-end", args=[window.pk]))
        assert response.status_code == 403
    window.refresh_from_db()
    assert window.status == Status.REQUESTED


def test_the_list_shows_the_documentation_in_a_constant_number_of_queries(
    client, provider_member, provider_lead, provider_team, django_assert_max_num_queries
):
    for _ in range(3):
        window_by(provider_member, provider_team)
    client.force_login(provider_lead)
    with django_assert_max_num_queries(30) as few:
        client.get(LIST)
    for _ in range(20):
        window = window_by(provider_member, provider_team)
        services.exception_window_approve(window=window, actor=provider_lead)
        services.exception_window_end(window=window, actor=provider_member)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get(LIST).content.decode()
    assert html.count("Affected customers:") == 23
