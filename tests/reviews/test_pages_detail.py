"""The quarterly review page: who sees it, who may start and sign it, and what a refused
action looks like (a message and a redirect, never a 500)."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.reviews import services
from apps.reviews.models import ActionItem, QuarterlyReview, ReviewStatus
from tests.helpers import MONDAY_10
from tests.reviews.conftest import active_version

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def _followed_text(client, response) -> str:
    assert response.status_code == 302
    return client.get(response["Location"]).content.decode()


def _forbidden_text(response) -> str:
    """Who sees the review but may not act gets a 403 page that says why."""
    assert response.status_code == 403
    return response.content.decode()


# --- who sees the page -------------------------------------------------------------------


@pytest.mark.parametrize(
    "who", ["provider_lead", "provider_member", "requester", "requester_lead", "staff"]
)
def test_both_teams_and_staff_see_the_review(client, review, who, request):
    client.force_login(request.getfixturevalue(who))
    response = client.get(review.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "Q1 2026 (1 Jan – 31 Mar 2026)" in html
    assert 'data-testid="review-status">Scheduled<' in html


@pytest.mark.parametrize(
    "name,method",
    [
        ("detail", "get"),
        ("start", "post"),
        ("edit", "post"),
        ("targets", "post"),
        ("what_if", "post"),
        ("sign_off", "post"),
        ("action_add", "post"),
    ],
)
def test_outsiders_get_404_on_every_review_url(client, review, outsider, name, method):
    client.force_login(outsider)
    response = getattr(client, method)(reverse(f"reviews:{name}", args=[review.pk]))
    assert response.status_code == 404


def test_signed_out_people_are_sent_to_sign_in(client, review):
    response = client.get(review.get_absolute_url())
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# --- starting ------------------------------------------------------------------------------


def test_start_button_only_for_leads_of_a_scheduled_review(
    client, review, provider_lead, requester
):
    client.force_login(provider_lead)
    assert 'data-testid="start-review"' in client.get(review.get_absolute_url()).content.decode()
    client.force_login(requester)
    assert (
        'data-testid="start-review"' not in client.get(review.get_absolute_url()).content.decode()
    )


def test_a_lead_starts_the_review_and_the_pack_is_frozen(
    client, review, provider_lead, file_handoff
):
    file_handoff("P3", at=MONDAY_10)
    client.force_login(provider_lead)
    response = client.post(reverse("reviews:start", args=[review.pk]))
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.status == ReviewStatus.IN_PROGRESS
    assert review.started_by == provider_lead
    assert review.pack["period"]["handoffs"] == 1
    html = client.get(response["Location"]).content.decode()
    assert "Review started" in html
    assert 'id="review-charts"' in html  # the chart data, for static/js/reviews.js
    assert 'data-testid="pack-table-acknowledge"' in html
    assert 'data-testid="start-review"' not in html


def test_a_member_cannot_start_it_and_is_told_so(client, review, provider_member):
    client.force_login(provider_member)
    response = client.post(reverse("reviews:start", args=[review.pk]))
    assert "Only a lead of either team" in _forbidden_text(response)
    review.refresh_from_db()
    assert review.status == ReviewStatus.SCHEDULED


def test_starting_twice_is_a_message_not_an_error(client, started_review, requester_lead):
    client.force_login(requester_lead)
    response = client.post(reverse("reviews:start", args=[started_review.pk]))
    assert "already been started" in _followed_text(client, response)


# --- the page of a started review ----------------------------------------------------------


def test_started_review_shows_recommendations_beside_current_targets(
    client, started_review, provider_member
):
    client.force_login(provider_member)
    html = client.get(started_review.get_absolute_url()).content.decode()
    assert 'data-testid="recommendations"' in html
    first = started_review.recommendations[0]
    assert first["reason"] in html
    # A member reads the proposal and the what-if but has nothing to save.
    assert 'data-testid="what-if"' in html
    assert 'data-testid="save-targets"' not in html
    assert 'data-testid="sign-off"' not in html


# --- findings and decisions ----------------------------------------------------------------


def test_lead_saves_findings_and_decisions(client, started_review, requester_lead):
    client.force_login(requester_lead)
    response = client.post(
        reverse("reviews:edit", args=[started_review.pk]),
        {"findings": "P3 resolves slipped in March.", "decisions": "Add a second on-call."},
    )
    assert response.status_code == 302
    started_review.refresh_from_db()
    assert started_review.findings == "P3 resolves slipped in March."
    assert started_review.decisions == "Add a second on-call."


def test_notes_too_long_keep_what_was_typed(client, started_review, requester_lead):
    client.force_login(requester_lead)
    response = client.post(
        reverse("reviews:edit", args=[started_review.pk]),
        {"findings": "x" * 20_001, "decisions": "Keep this decision"},
    )
    assert response.status_code == 400
    form = response.context["notes_form"]
    assert "findings" in form.errors
    assert "Keep this decision" in response.content.decode()
    started_review.refresh_from_db()
    assert started_review.decisions == ""


def test_member_editing_notes_gets_a_message(client, started_review, provider_member):
    client.force_login(provider_member)
    response = client.post(
        reverse("reviews:edit", args=[started_review.pk]), {"findings": "mine", "decisions": ""}
    )
    assert "Only a lead of either team" in _forbidden_text(response)
    started_review.refresh_from_db()
    assert started_review.findings == ""


# --- sign-off ------------------------------------------------------------------------------


def test_sign_off_button_only_for_leads_who_have_not_signed(
    client, started_review, provider_lead, provider_member, requester_lead, requester
):
    url = started_review.get_absolute_url()
    for member in (provider_member, requester):
        client.force_login(member)
        assert 'data-testid="sign-off"' not in client.get(url).content.decode()
    client.force_login(provider_lead)
    html = client.get(url).content.decode()
    assert "Sign off for Engineering" in html

    response = client.post(reverse("reviews:sign_off", args=[started_review.pk]))
    assert "Waiting for the other team" in _followed_text(client, response)
    assert 'data-testid="sign-off"' not in client.get(url).content.decode()

    client.force_login(requester_lead)
    assert "Sign off for Support" in client.get(url).content.decode()


def test_sign_off_on_a_scheduled_review_is_a_message(client, review, provider_lead):
    client.force_login(provider_lead)
    assert 'data-testid="sign-off"' not in client.get(review.get_absolute_url()).content.decode()
    response = client.post(reverse("reviews:sign_off", args=[review.pk]))
    assert "Start the review before signing" in _followed_text(client, response)
    assert not review.sign_offs.exists()


def test_member_signing_off_is_refused_with_a_message(client, started_review, provider_member):
    client.force_login(provider_member)
    response = client.post(reverse("reviews:sign_off", args=[started_review.pk]))
    assert "Only a lead" in _forbidden_text(response)
    assert not started_review.sign_offs.exists()


def test_both_leads_sign_a_changed_target_and_the_page_links_the_new_version(
    client, started_review, provider_lead, requester_lead, file_handoff
):
    client.force_login(provider_lead)
    cells = _grid(started_review)
    cells["P2_acknowledge"] = "1h"
    response = client.post(reverse("reviews:targets", args=[started_review.pk]), cells)
    assert response.status_code == 302
    client.post(
        reverse("reviews:sign_off", args=[started_review.pk]), {"comment": "Agreed in the QBR"}
    )
    client.force_login(requester_lead)
    response = client.post(reverse("reviews:sign_off", args=[started_review.pk]))
    html = _followed_text(client, response)
    started_review.refresh_from_db()
    assert started_review.status == ReviewStatus.COMPLETED
    new = started_review.resulting_agreement
    assert new.version == 2 and new.status == "active"
    assert f'href="{new.get_absolute_url()}" data-testid="resulting-agreement"' in html
    assert "Agreed in the QBR" in html
    # Work filed afterwards binds to the new version and its target.
    handoff = file_handoff("P2", at=MONDAY_10 + timedelta(days=30))
    assert handoff.agreement_id == active_version(started_review.series_id).pk == new.pk
    assert handoff.clocks.get(metric="acknowledge").target_seconds == 3600


def _grid(review: QuarterlyReview) -> dict:
    from apps.agreements.durations import duration_input

    return {
        f"{priority}_{metric}": duration_input(seconds)
        for priority, metrics in review.proposed_targets.items()
        for metric, seconds in metrics.items()
    }


# --- action items --------------------------------------------------------------------------


def test_lead_adds_an_action_item_owned_by_a_member_of_either_team(
    client, started_review, requester_lead, provider_member, outsider
):
    client.force_login(requester_lead)
    html = client.get(started_review.get_absolute_url()).content.decode()
    owners = html.split('name="owner"', 1)[1].split("</select>", 1)[0]
    assert provider_member.display_name in owners and requester_lead.display_name in owners
    assert outsider.display_name not in owners

    due = date.today() + timedelta(days=30)
    response = client.post(
        reverse("reviews:action_add", args=[started_review.pk]),
        {"title": "Hire a second P1 on-call", "owner": provider_member.pk, "due_date": due},
    )
    html = _followed_text(client, response)
    assert "Hire a second P1 on-call" in html
    item = ActionItem.objects.get()
    assert item.review == started_review and item.owner == provider_member
    assert item.created_by == requester_lead and item.due_date == due


def test_a_bad_action_item_keeps_what_was_typed(client, started_review, provider_lead, outsider):
    client.force_login(provider_lead)
    response = client.post(
        reverse("reviews:action_add", args=[started_review.pk]),
        {"title": "Rota", "owner": outsider.pk, "due_date": ""},
    )
    assert response.status_code == 400
    form = response.context["action_form"]
    assert "owner" in form.errors and form.errors["due_date"] == ["Give a due date."]
    assert 'value="Rota"' in response.content.decode()
    assert not ActionItem.objects.exists()


def test_members_do_not_add_action_items(client, started_review, provider_member):
    client.force_login(provider_member)
    html = client.get(started_review.get_absolute_url()).content.decode()
    assert 'data-testid="action-form"' not in html
    response = client.post(
        reverse("reviews:action_add", args=[started_review.pk]),
        {
            "title": "Mine",
            "owner": provider_member.pk,
            "due_date": date.today() + timedelta(days=3),
        },
    )
    assert "Only a lead of either team" in _forbidden_text(response)
    assert not ActionItem.objects.exists()


def test_the_owner_ticks_an_item_off_and_others_cannot(
    client, started_review, provider_lead, provider_member, requester
):
    item = services.action_item_create(
        actor=provider_lead,
        review=started_review,
        title="Update the runbook",
        owner=provider_member,
        due_date=date.today() + timedelta(days=7),
        now=timezone.now(),
    )
    done_url = reverse("reviews:action_done", args=[item.pk])

    client.force_login(requester)
    assert (
        'data-testid="action-toggle"'
        not in client.get(started_review.get_absolute_url()).content.decode()
    )
    response = client.post(done_url, {"done": "on"})
    assert "Only the owner" in _forbidden_text(response)
    item.refresh_from_db()
    assert not item.is_done

    client.force_login(provider_member)
    response = client.post(done_url, {"done": "on"})
    assert response["Location"] == f"{started_review.get_absolute_url()}#actions"
    item.refresh_from_db()
    assert item.is_done
    client.post(done_url, {})  # the toggle again: open
    item.refresh_from_db()
    assert not item.is_done


def test_outsiders_get_404_on_an_action_item(client, started_review, provider_lead, outsider):
    item = services.action_item_create(
        actor=provider_lead,
        review=started_review,
        title="Update the runbook",
        owner=provider_lead,
        due_date=date.today() + timedelta(days=7),
        now=timezone.now(),
    )
    client.force_login(outsider)
    assert client.post(reverse("reviews:action_done", args=[item.pk])).status_code == 404
