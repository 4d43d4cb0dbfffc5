"""Breach reviews in the browser: the provider team's list of breaches to review, the
form (provider members write it, requesters read it, others get 404), its action items."""

import re
from datetime import date, timedelta

import pytest
from django.urls import reverse

from apps.handoffs.models import Clock
from apps.reviews import services
from apps.reviews.models import ActionItem, BreachReview
from tests.helpers import MONDAY_10

pytestmark = pytest.mark.django_db

FORM = {
    "root_cause": "capacity",
    "what_happened": "Two engineers were out; the page went unanswered for an hour.",
    "prevention": "A second on-call for P1s.",
}


def _save(clock, actor, **changes):
    return services.breach_review_save(
        clock=clock, actor=actor, now=MONDAY_10 + timedelta(days=1), **{**FORM, **changes}
    )


def _followed(client, response) -> str:
    assert response.status_code == 302
    return client.get(response["Location"]).content.decode()


# --- the list ------------------------------------------------------------------------------


def test_provider_members_see_their_breaches_to_review(client, breached_clock, provider_member):
    clock = breached_clock()
    client.force_login(provider_member)
    response = client.get(reverse("reviews:breaches"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="{reverse("reviews:breach", args=[clock.pk])}"' in html
    assert "Checkout crashes" in html and "Acknowledge" in html
    # Breached at, in the viewer's zone: 10:30 Berlin is 09:30 UTC (Max reads UTC).
    assert "Mon 2 Mar 2026, 09:30 UTC" in html


def test_breached_at_is_shown_in_the_viewers_zone(client, breached_clock, provider_member):
    breached_clock()
    provider_member.time_zone = "America/New_York"
    provider_member.save(update_fields=["time_zone"])
    client.force_login(provider_member)
    assert "Mon 2 Mar 2026, 04:30 EST" in client.get(reverse("reviews:breaches")).content.decode()


def test_reviewed_breaches_move_to_recently_reviewed(client, breached_clock, provider_member):
    clock = breached_clock()
    _save(clock, provider_member)
    client.force_login(provider_member)
    response = client.get(reverse("reviews:breaches"))
    assert list(response.context["clocks"]) == []
    reviewed = response.content.decode().split('data-testid="reviewed-list"', 1)[1]
    assert "Capacity" in reviewed and "Checkout crashes" in reviewed


@pytest.mark.parametrize("who", ["requester", "outsider"])
def test_other_teams_have_nothing_to_review(client, breached_clock, who, request):
    breached_clock()
    client.force_login(request.getfixturevalue(who))
    response = client.get(reverse("reviews:breaches"))
    assert response.status_code == 200
    assert list(response.context["clocks"]) == []
    assert 'data-testid="breach-row"' not in response.content.decode()


def test_breaches_list_has_a_constant_query_count(
    client, breached_clock, provider_member, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(provider_member)
    _save(breached_clock(), provider_member)
    breached_clock(at=MONDAY_10 + timedelta(minutes=5))
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("reviews:breaches"))
    clocks = [breached_clock(at=MONDAY_10 + timedelta(hours=h)) for h in range(1, 7)]
    for clock in clocks[:3]:
        _save(clock, provider_member)
    with django_assert_max_num_queries(len(one)):
        response = client.get(reverse("reviews:breaches"))
    assert response.content.decode().count('data-testid="breach-row"') == 4
    assert response.content.decode().count('data-testid="reviewed-row"') == 4


def test_index_counts_breaches_to_review_for_the_provider_team(
    client, breached_clock, provider_member, requester
):
    breached_clock()
    breached_clock(at=MONDAY_10 + timedelta(hours=2))
    client.force_login(provider_member)
    html = client.get(reverse("reviews:index")).content.decode()
    assert 'data-testid="breaches-count">2<' in html
    # Support provides nothing: no breaches of its own to review, no link.
    client.force_login(requester)
    html = client.get(reverse("reviews:index")).content.decode()
    assert 'data-testid="breaches-link"' not in html


# --- the breach review page ----------------------------------------------------------------


def test_provider_member_writes_the_breach_review(client, breached_clock, provider_member):
    clock = breached_clock()
    url = reverse("reviews:breach", args=[clock.pk])
    client.force_login(provider_member)
    html = client.get(url).content.decode()
    assert 'data-testid="breach-review-form"' in html
    assert "The acknowledge target was missed" in html
    response = client.post(url, FORM)
    assert "Breach review of #" in _followed(client, response)
    review = BreachReview.objects.get(clock=clock)
    assert review.root_cause == "capacity" and review.reviewed_by == provider_member
    assert review.prevention == FORM["prevention"]


def test_a_bad_breach_review_keeps_what_was_typed(client, breached_clock, provider_member):
    clock = breached_clock()
    client.force_login(provider_member)
    response = client.post(
        reverse("reviews:breach", args=[clock.pk]),
        {"root_cause": "", "what_happened": "", "prevention": "Better paging"},
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["root_cause"] == ["Choose the root cause."]
    assert form.errors["what_happened"] == ["Say what happened."]
    assert "Better paging" in response.content.decode()
    assert not BreachReview.objects.exists()


def test_a_blank_what_happened_is_refused_by_the_service_on_its_field(
    client, breached_clock, provider_member
):
    clock = breached_clock()
    client.force_login(provider_member)
    response = client.post(
        reverse("reviews:breach", args=[clock.pk]), {**FORM, "what_happened": "   "}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["what_happened"]


def test_requester_reads_the_review_but_cannot_write_it(
    client, breached_clock, provider_member, requester
):
    clock = breached_clock()
    url = reverse("reviews:breach", args=[clock.pk])
    client.force_login(requester)
    html = client.get(url).content.decode()
    assert 'data-testid="breach-review-form"' not in html
    assert "has not reviewed this breach yet" in html

    response = client.post(url, FORM)
    assert response.status_code == 403
    assert "Only members of Engineering" in response.content.decode()
    assert not BreachReview.objects.exists()

    _save(clock, provider_member)
    html = client.get(url).content.decode()
    assert FORM["what_happened"] in html and "Capacity" in html


@pytest.mark.parametrize("method", ["get", "post"])
def test_outsiders_get_404_on_a_breach(client, breached_clock, outsider, method):
    clock = breached_clock()
    client.force_login(outsider)
    response = getattr(client, method)(reverse("reviews:breach", args=[clock.pk]), FORM)
    assert response.status_code == 404
    response = client.post(reverse("reviews:breach_action_add", args=[clock.pk]), {})
    assert response.status_code == 404


def test_a_clock_that_did_not_breach_is_404(client, file_handoff, provider_member):
    handoff = file_handoff("P3")
    clock = Clock.objects.get(handoff=handoff, metric="acknowledge")
    client.force_login(provider_member)
    assert client.get(reverse("reviews:breach", args=[clock.pk])).status_code == 404


# --- action items of a breach review ---------------------------------------------------------


def test_action_items_are_added_after_the_review_and_ticked_off(
    client, breached_clock, provider_member, provider_lead
):
    clock = breached_clock()
    url = reverse("reviews:breach", args=[clock.pk])
    add = reverse("reviews:breach_action_add", args=[clock.pk])
    client.force_login(provider_member)
    assert "Save the review to add action items" in client.get(url).content.decode()
    _save(clock, provider_member)
    due = date.today() + timedelta(days=14)
    response = client.post(
        add, {"title": "Second on-call rota", "owner": provider_lead.pk, "due_date": due}
    )
    html = _followed(client, response)
    assert "Second on-call rota" in html
    item = ActionItem.objects.get()
    assert item.breach_review.clock == clock and item.owner == provider_lead

    # The owner ticks it off from the same page.
    client.force_login(provider_lead)
    response = client.post(
        reverse("reviews:action_done", args=[item.pk]), {"done": "on", "next": url}
    )
    assert response["Location"] == url
    item.refresh_from_db()
    assert item.is_done


def test_a_bad_action_item_keeps_what_was_typed(client, breached_clock, provider_member, outsider):
    clock = breached_clock()
    _save(clock, provider_member)
    client.force_login(provider_member)
    response = client.post(
        reverse("reviews:breach_action_add", args=[clock.pk]),
        {"title": "Fix paging", "owner": outsider.pk, "due_date": "not a date"},
    )
    assert response.status_code == 400
    form = response.context["action_form"]
    assert set(form.errors) == {"owner", "due_date"}
    assert 'value="Fix paging"' in response.content.decode()
    assert not ActionItem.objects.exists()


def test_a_past_due_date_is_refused_by_the_service_on_its_field(
    client, breached_clock, provider_member
):
    clock = breached_clock()
    _save(clock, provider_member)
    client.force_login(provider_member)
    response = client.post(
        reverse("reviews:breach_action_add", args=[clock.pk]),
        {"title": "Fix paging", "owner": provider_member.pk, "due_date": "2020-01-01"},
    )
    assert response.status_code == 400
    assert response.context["action_form"].errors["due_date"] == [
        "The due date has already passed."
    ]


def test_handoff_page_links_a_breached_clock_to_its_review(
    client, breached_clock, provider_member, requester
):
    clock = breached_clock()
    page = clock.handoff.get_absolute_url()
    link = reverse("reviews:breach", args=[clock.pk])
    client.force_login(provider_member)
    html = client.get(page).content.decode()
    assert re.search(rf'href="{link}"[^>]*>(<i[^>]*></i>)?\s*Review this breach', html)
    _save(clock, provider_member)
    html = client.get(page).content.decode()
    assert "Breach reviewed: Capacity" in html
    client.force_login(requester)
    assert "Breach reviewed: Capacity" in client.get(page).content.decode()
