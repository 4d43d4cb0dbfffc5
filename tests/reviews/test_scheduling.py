"""The daily review work: each active agreement's coming review is created 14 days ahead,
both leads are reminded 14 and 3 days before, overdue reviews are flagged — each once,
however often (and however concurrently) the task runs."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection

from apps.agreements.models import Status as AgreementStatus
from apps.notifications.models import Notification
from apps.reviews import services
from apps.reviews.models import QuarterlyReview, ReviewStatus
from apps.reviews.tasks import reviews_daily
from tests.factories import AgreementFactory
from tests.helpers import berlin

from .conftest import DUE, PERIOD_END, PERIOD_START

pytestmark = pytest.mark.django_db


def at(day: date, hour: int = 7) -> datetime:
    """A moment on a local (Berlin) date: the daily task runs early in the morning."""
    return berlin(day.year, day.month, day.day, hour, 0)


def review_notices(review, **filters):
    return Notification.objects.filter(
        kind="review_due", subject_type="review", subject_id=review.pk, channel="in_app", **filters
    )


# --- scheduling ------------------------------------------------------------------------------


def test_the_first_review_is_created_14_days_before_the_agreements_review_date(agreement):
    assert services.reviews_schedule(now=at(DUE - timedelta(days=15))) == []
    assert not QuarterlyReview.objects.exists()

    [review] = services.reviews_schedule(now=at(DUE - timedelta(days=14)))

    assert review.series == agreement.series
    assert review.agreement == agreement
    assert review.status == ReviewStatus.SCHEDULED
    assert (review.period_start, review.period_end, review.due_date) == (
        PERIOD_START,
        PERIOD_END,
        DUE,
    )


def test_scheduling_twice_creates_the_review_once(agreement):
    moment = at(DUE - timedelta(days=10))
    assert len(services.reviews_schedule(now=moment)) == 1
    assert services.reviews_schedule(now=moment) == []
    assert services.reviews_schedule(now=moment + timedelta(days=1)) == []
    assert QuarterlyReview.objects.count() == 1


def test_14_days_are_counted_in_the_agreements_calendar_zone(agreement):
    # 23:30 UTC on 17 March is already 18 March in Berlin: 14 days before 1 April there.
    assert len(services.reviews_schedule(now=datetime(2026, 3, 17, 23, 30, tzinfo=UTC))) == 1


def test_the_next_review_follows_the_latest_one_by_the_cadence(review, agreement):
    assert services.reviews_schedule(now=at(date(2026, 6, 16))) == []

    [following] = services.reviews_schedule(now=at(date(2026, 6, 17)))

    # Contiguous periods: the next quarter starts where the reviewed one ended.
    assert (following.period_start, following.period_end, following.due_date) == (
        date(2026, 4, 1),
        date(2026, 7, 1),
        date(2026, 7, 1),
    )
    assert following.agreement == agreement


def test_a_monthly_cadence_reviews_every_month(review, agreement):
    agreement.review_cadence_months = 1
    agreement.save(update_fields=["review_cadence_months"])

    [following] = services.reviews_schedule(now=at(date(2026, 4, 20)))

    assert (following.period_start, following.due_date) == (date(2026, 4, 1), date(2026, 5, 1))


def test_agreements_without_a_review_date_or_not_active_are_not_scheduled(
    agreement, provider_team, requesting_team, other_team
):
    agreement.next_review_date = None
    agreement.save(update_fields=["next_review_date"])
    AgreementFactory(
        series__provider_team=provider_team,
        series__requesting_team=other_team,
        status=AgreementStatus.RETIRED,
        next_review_date=DUE,
    )
    AgreementFactory(
        series__provider_team=other_team,
        series__requesting_team=requesting_team,
        status=AgreementStatus.DRAFT,
        next_review_date=DUE,
    )

    assert services.reviews_schedule(now=at(DUE - timedelta(days=3))) == []


def test_scheduling_reads_only_the_series_that_are_due(
    agreement, provider_team, other_team, django_assert_num_queries
):
    # Series whose coming review lies far ahead cost nothing but the one query.
    for months in range(1, 6):
        AgreementFactory(
            series__provider_team=provider_team,
            series__requesting_team=other_team,
            next_review_date=DUE + timedelta(days=31 * months),
        )
    with django_assert_num_queries(1):
        assert services.reviews_schedule(now=at(DUE - timedelta(days=20))) == []


@pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="two real connections racing need PostgreSQL",
)
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_create_the_review_once(agreement, provider_lead, requester_lead):
    moment = at(DUE - timedelta(days=10))
    barrier = threading.Barrier(2)
    created, errors = [], []

    def run():
        try:
            barrier.wait()
            created.extend(services.reviews_schedule(now=moment))
            created.append(services.reviews_remind(now=moment))
        except Exception as exc:  # the assertion below shows it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    reviews = [r for r in created if isinstance(r, QuarterlyReview)]
    counts = [r for r in created if isinstance(r, dict)]
    assert len(reviews) == 1
    assert QuarterlyReview.objects.count() == 1
    # The 14-day reminder went once, to each lead once.
    assert sum(c["reminded_14"] for c in counts) == 1
    assert review_notices(reviews[0]).count() == 2


# --- reminders and overdue -------------------------------------------------------------------


def test_leads_are_reminded_14_and_3_days_before_and_told_when_overdue_once_each(
    review, provider_lead, requester_lead, provider_member, requester
):
    runs = {
        DUE - timedelta(days=15): {"reminded_14": 0, "reminded_3": 0, "overdue": 0},
        DUE - timedelta(days=14): {"reminded_14": 1, "reminded_3": 0, "overdue": 0},
        DUE - timedelta(days=10): {"reminded_14": 0, "reminded_3": 0, "overdue": 0},
        DUE - timedelta(days=3): {"reminded_14": 0, "reminded_3": 1, "overdue": 0},
        DUE: {"reminded_14": 0, "reminded_3": 0, "overdue": 0},
        DUE + timedelta(days=1): {"reminded_14": 0, "reminded_3": 0, "overdue": 1},
        DUE + timedelta(days=2): {"reminded_14": 0, "reminded_3": 0, "overdue": 0},
    }
    for day, expected in runs.items():
        # Twice a day: the second run finds everything done.
        assert services.reviews_remind(now=at(day)) == expected, day
        assert services.reviews_remind(now=at(day, hour=8)) == {
            "reminded_14": 0,
            "reminded_3": 0,
            "overdue": 0,
        }

    notices = review_notices(review).order_by("created_at", "recipient_id")
    assert {n.recipient for n in notices} == {provider_lead, requester_lead}
    assert [n.title for n in notices if n.recipient == provider_lead] == [
        "Review of " + review.agreement.title + " due in 14 days",
        "Review of " + review.agreement.title + " due in 3 days",
        "Overdue: the review of " + review.agreement.title + " was due on 1 Apr 2026",
    ]
    review.refresh_from_db()
    assert review.reminded_14_at == at(DUE - timedelta(days=14))
    assert review.reminded_3_at == at(DUE - timedelta(days=3))
    assert review.overdue_flagged_at == at(DUE + timedelta(days=1))
    # Leads get it by email too (review_due is on by default).
    emails = Notification.objects.filter(
        kind="review_due", subject_id=review.pk, channel="email", recipient=provider_lead
    )
    assert emails.count() == 3


def test_a_review_created_two_days_before_gets_only_the_3_day_reminder(agreement, requester_lead):
    [review] = services.reviews_schedule(now=at(DUE - timedelta(days=2)))

    assert services.reviews_remind(now=at(DUE - timedelta(days=2))) == {
        "reminded_14": 0,
        "reminded_3": 1,
        "overdue": 0,
    }
    for day in (DUE - timedelta(days=1), DUE):
        assert services.reviews_remind(now=at(day))["reminded_14"] == 0
    assert [n.title for n in review_notices(review, recipient=requester_lead)] == [
        f"Review of {agreement.title} due in 2 days"
    ]
    review.refresh_from_db()
    assert review.reminded_14_at is None


def test_the_3_day_reminder_still_goes_when_the_14_day_one_never_did(review):
    # The task did not run until 3 days before (the review was created late, or beat
    # was down): the 3-day reminder goes and the 14-day one is not sent late.
    assert services.reviews_remind(now=at(DUE - timedelta(days=3))) == {
        "reminded_14": 0,
        "reminded_3": 1,
        "overdue": 0,
    }
    review.refresh_from_db()
    assert review.reminded_14_at is None and review.reminded_3_at is not None


def test_a_completed_review_is_neither_reminded_nor_overdue(review):
    QuarterlyReview.objects.filter(pk=review.pk).update(status=ReviewStatus.COMPLETED)
    for day in (DUE - timedelta(days=14), DUE - timedelta(days=3), DUE + timedelta(days=5)):
        assert set(services.reviews_remind(now=at(day)).values()) == {0}
    assert not review_notices(review).exists()


def test_a_review_in_progress_is_still_reminded(started_review):
    assert services.reviews_remind(now=at(DUE - timedelta(days=3)))["reminded_3"] == 1


def test_reminding_reads_only_what_is_due(agreement, django_assert_num_queries):
    # Many reviews, none with a step due today: one query, whatever their number.
    for year in range(2010, 2026):
        QuarterlyReview.objects.create(
            series=agreement.series,
            agreement=agreement,
            period_start=date(year, 1, 1),
            period_end=date(year, 4, 1),
            due_date=date(year, 4, 1),
            status=ReviewStatus.COMPLETED,
        )
    QuarterlyReview.objects.create(
        series=agreement.series,
        agreement=agreement,
        period_start=date(2026, 7, 1),
        period_end=date(2026, 10, 1),
        due_date=date(2026, 10, 1),
    )
    with django_assert_num_queries(1):
        assert set(services.reviews_remind(now=at(date(2026, 5, 1))).values()) == {0}


# --- the task ----------------------------------------------------------------------------------


def test_the_daily_task_schedules_and_reminds(agreement, provider_lead, requester_lead):
    moment = at(DUE - timedelta(days=14))

    result = reviews_daily(now=moment.isoformat())

    assert result == {
        "scheduled": 1,
        "reminded_14": 1,
        "reminded_3": 0,
        "overdue": 0,
        "action_items": 0,
    }
    assert reviews_daily(now=moment.isoformat())["scheduled"] == 0
    review = QuarterlyReview.objects.get()
    assert review_notices(review).count() == 2


def test_the_daily_task_refuses_a_naive_moment(agreement):
    with pytest.raises(ValueError, match="aware"):
        reviews_daily(now="2026-03-18T07:00:00")


def test_beat_runs_the_review_task_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["reviews-daily"]
    assert entry["task"] == reviews_daily.name == "apps.reviews.tasks.reviews_daily"
    assert entry["schedule"] == timedelta(days=1)
    assert entry["options"]["expires"] < entry["schedule"].total_seconds()
