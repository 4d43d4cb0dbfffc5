"""A review's period in words, for periods starting in any month: November and December
plus three months land in the next year (this answered 500 once)."""

from datetime import date

import pytest

from apps.reviews.models import QuarterlyReview, ReviewStatus
from apps.reviews.presenters import period_in_words


@pytest.mark.parametrize(
    "start,end,words",
    [
        (date(2026, 1, 1), date(2026, 4, 1), "Q1 2026 (1 Jan – 31 Mar 2026)"),
        (date(2026, 10, 1), date(2027, 1, 1), "Q4 2026 (1 Oct – 31 Dec 2026)"),
        (date(2026, 11, 1), date(2027, 2, 1), "1 Nov 2026 – 31 Jan 2027"),
        (date(2026, 12, 1), date(2027, 3, 1), "1 Dec 2026 – 28 Feb 2027"),
        (date(2026, 12, 16), date(2027, 3, 16), "16 Dec 2026 – 15 Mar 2027"),
        (date(2026, 11, 1), date(2026, 12, 1), "November 2026"),
        (date(2026, 12, 1), date(2027, 1, 1), "December 2026"),
        (date(2027, 12, 31), date(2028, 3, 31), "31 Dec 2027 – 30 Mar 2028"),
    ],
)
def test_period_in_words_for_every_month(start, end, words):
    assert period_in_words(start, end) == words


@pytest.mark.django_db
@pytest.mark.parametrize("month", range(1, 13))
def test_review_page_answers_for_a_period_starting_in_any_month(
    client, agreement, provider_lead, month
):
    start = date(2026, month, 1)
    end = date(2026 + (month + 2) // 12, (month + 2) % 12 + 1, 1)
    review = QuarterlyReview.objects.create(
        series=agreement.series,
        agreement=agreement,
        period_start=start,
        period_end=end,
        due_date=end,
        status=ReviewStatus.SCHEDULED,
    )
    client.force_login(provider_lead)
    assert client.get(review.get_absolute_url()).status_code == 200
    assert client.get("/reviews/").status_code == 200
