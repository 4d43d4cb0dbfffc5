"""The list of reviews: what each person sees, open ones first, filters, and a query count
that does not grow with the number of reviews."""

from datetime import date

import pytest
from django.urls import reverse

from apps.reviews import services
from apps.reviews.models import QuarterlyReview, ReviewStatus
from apps.teams.models import Role
from tests.factories import AgreementFactory, MembershipFactory, TeamFactory
from tests.reviews.conftest import REVIEW_DAY

pytestmark = pytest.mark.django_db


def _review(agreement, start: date, end: date, **extra) -> QuarterlyReview:
    return QuarterlyReview.objects.create(
        series=agreement.series,
        agreement=agreement,
        period_start=start,
        period_end=end,
        due_date=extra.pop("due_date", end),
        **extra,
    )


def _rows(response) -> list[QuarterlyReview]:
    return [row["review"] for row in response.context["rows"]]


@pytest.mark.parametrize("who", ["provider_member", "requester", "provider_lead", "staff"])
def test_both_teams_see_the_review_in_the_list(client, review, who, request):
    client.force_login(request.getfixturevalue(who))
    response = client.get(reverse("reviews:index"))
    assert response.status_code == 200
    assert _rows(response) == [review]
    html = response.content.decode()
    assert review.get_absolute_url() in html
    assert "Q1 2026 (1 Jan – 31 Mar 2026)" in html


def test_outsiders_see_no_reviews(client, review, outsider):
    client.force_login(outsider)
    response = client.get(reverse("reviews:index"))
    assert response.status_code == 200
    assert _rows(response) == []
    assert review.get_absolute_url() not in response.content.decode()


def test_open_reviews_come_first_soonest_due(client, agreement, provider_member):
    done = _review(agreement, date(2025, 7, 1), date(2025, 10, 1), status=ReviewStatus.COMPLETED)
    older_done = _review(
        agreement, date(2025, 4, 1), date(2025, 7, 1), status=ReviewStatus.COMPLETED
    )
    later = _review(agreement, date(2026, 4, 1), date(2026, 7, 1))
    sooner = _review(agreement, date(2026, 1, 1), date(2026, 4, 1))
    client.force_login(provider_member)
    assert _rows(client.get(reverse("reviews:index"))) == [sooner, later, done, older_done]


def test_filter_by_status_and_team(client, agreement, provider_lead, other_team):
    scheduled = _review(agreement, date(2026, 1, 1), date(2026, 4, 1))
    done = _review(agreement, date(2025, 10, 1), date(2026, 1, 1), status=ReviewStatus.COMPLETED)
    # Lena also leads Finance, which has an agreement with Sales.
    MembershipFactory(team=other_team, user=provider_lead, role=Role.LEAD)
    sales = TeamFactory(name="Sales", slug="sales")
    finance = AgreementFactory(series__provider_team=other_team, series__requesting_team=sales)
    theirs = _review(finance, date(2026, 1, 1), date(2026, 4, 1))
    client.force_login(provider_lead)
    url = reverse("reviews:index")
    assert set(_rows(client.get(url))) == {scheduled, done, theirs}
    assert _rows(client.get(url, {"status": "completed"})) == [done]
    assert _rows(client.get(url, {"team": "finance"})) == [theirs]
    assert _rows(client.get(url, {"team": "engineering", "status": "scheduled"})) == [scheduled]


def test_signed_sides_are_shown(client, review, provider_lead, requester):
    services.review_start(review=review, actor=provider_lead, now=REVIEW_DAY)
    review.refresh_from_db()
    services.review_sign_off(review=review, actor=provider_lead, now=REVIEW_DAY)
    client.force_login(requester)
    html = client.get(reverse("reviews:index")).content.decode()
    assert 'aria-label="signed"></i> Engineering' in html
    assert 'aria-label="not signed"></i> <span class="text-body-secondary">Support' in html
    assert "Awaiting sign-off" in html


def test_the_list_has_a_constant_query_count(
    client, agreement, provider_member, django_assert_max_num_queries
):
    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("reviews:index")).status_code == 200
        return len(queries)

    client.force_login(provider_member)
    _review(agreement, date(2025, 1, 1), date(2025, 4, 1))
    one = count()
    for year in (2022, 2023, 2024):
        for month in (1, 4, 7, 10):
            _review(agreement, date(year, month, 1), date(year, month, 28))
    with django_assert_max_num_queries(one):
        response = client.get(reverse("reviews:index"))
    assert len(response.context["rows"]) == 13


def test_nav_links_to_the_reviews(client, provider_member):
    client.force_login(provider_member)
    html = client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("reviews:index")}"' in html
