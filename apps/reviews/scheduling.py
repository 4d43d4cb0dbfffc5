"""Scheduling quarterly reviews and reminding about them: each active agreement's next
review is created once it is 14 days or less away, both teams' leads are reminded 14 and 3
days before it is due, and an overdue review is flagged once.

Dates that people read are local dates in the zone of the agreement's calendar. Each step
happens once: a review per period by the unique constraint, each reminder by claiming its
column with a conditional UPDATE; safe to run twice at once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery

from apps.agreements.models import Agreement
from apps.agreements.models import Status as AgreementStatus

from .models import QuarterlyReview, ReviewStatus
from .notices import date_text, days_text, leads_of, link_to, notify, period_text

SCHEDULE_AHEAD_DAYS = 14
REMIND_DAYS = (14, 3)
# A local date is at most a day away from the UTC date (UTC-12 … UTC+14).
ZONE_SLACK = timedelta(days=1)


def local_today(now: datetime, time_zone: str) -> date:
    return now.astimezone(ZoneInfo(time_zone or "UTC")).date()


def cadence_delta(n: int) -> relativedelta:
    return relativedelta(months=n)


def _latest(field: str):
    return Subquery(
        QuarterlyReview.objects.filter(series_id=OuterRef("series_id"))
        .order_by("-period_start")
        .values(field)[:1]
    )


def next_review_period(agreement: Agreement) -> tuple[date, date] | None:
    """The period `[start, end)` of the series' next review, due on `end`: right after the
    latest review's period for `review_cadence_months`; the first review is due on the
    agreement's `next_review_date`. None when there is no date to go by.

    `agreement` needs the `latest_due` / `latest_end` annotations of `reviews_schedule`
    (they are read from the database otherwise)."""
    if not hasattr(agreement, "latest_due"):
        latest = (
            QuarterlyReview.objects.filter(series_id=agreement.series_id)
            .order_by("-period_start")
            .values("due_date", "period_end")
            .first()
        ) or {}
        agreement.latest_due = latest.get("due_date")
        agreement.latest_end = latest.get("period_end")
    cadence = cadence_delta(agreement.review_cadence_months)
    if agreement.latest_due is not None:
        # Contiguous periods: the next one starts where the last ended, whatever the
        # month lengths did to the arithmetic.
        return agreement.latest_end, agreement.latest_due + cadence
    if agreement.next_review_date is None:
        return None
    due = agreement.next_review_date
    return due - cadence, due


def reviews_schedule(*, now: datetime) -> list[QuarterlyReview]:
    """Create each active agreement's coming review once it is 14 days or less away
    (status scheduled, the period before its due date); returns the reviews this call
    created. One review per series and period (unique constraint): two runs at once
    create it once."""
    utc_today = now.astimezone(UTC).date()
    horizon = utc_today + timedelta(days=SCHEDULE_AHEAD_DAYS) + ZONE_SLACK
    # Only series whose next review can fall inside the horizon are read: a cadence is at
    # least a month (28 days or more), so a series whose latest review is due after
    # horizon − 28 days is not due yet; the work grows with what is due, not with every
    # agreement.
    candidates = (
        Agreement.objects.filter(status=AgreementStatus.ACTIVE)
        .select_related("calendar")
        .annotate(latest_due=_latest("due_date"), latest_end=_latest("period_end"))
        .filter(
            Q(latest_due__isnull=True, next_review_date__lte=horizon)
            | Q(latest_due__lte=horizon - timedelta(days=28))
        )
        .order_by("pk")
    )
    created: list[QuarterlyReview] = []
    for agreement in candidates:
        period = next_review_period(agreement)
        if period is None:
            continue
        start, due = period
        today = local_today(now, agreement.calendar.time_zone)
        if (due - today).days > SCHEDULE_AHEAD_DAYS or due <= start:
            continue
        with transaction.atomic():
            # get_or_create re-reads after an IntegrityError: when another run inserted
            # the same (series, period_start) first, this one just finds it.
            review, made = QuarterlyReview.objects.get_or_create(
                series_id=agreement.series_id,
                period_start=start,
                defaults={
                    "agreement": agreement,
                    "period_end": due,
                    "due_date": due,
                    "status": ReviewStatus.SCHEDULED,
                },
            )
        if made:
            created.append(review)
    return created


def _claim(review: QuarterlyReview, column: str, now: datetime) -> bool:
    return bool(
        QuarterlyReview.objects.filter(pk=review.pk, **{column: None})
        .exclude(status=ReviewStatus.COMPLETED)
        .update(**{column: now})
    )


def reviews_remind(*, now: datetime) -> dict:
    """Remind both teams' leads 14 and 3 days before a review is due, and flag it once it
    is overdue (due date passed, not completed) — each exactly once. A review scheduled
    late gets the reminders still ahead of it only (created 2 days before: the 3-day one)."""
    utc_today = now.astimezone(UTC).date()
    lo, hi = utc_today - ZONE_SLACK, utc_today + ZONE_SLACK
    long_days, short_days = REMIND_DAYS
    # Open reviews only (the partial index on due_date), and only those with a step due.
    candidates = (
        QuarterlyReview.objects.exclude(status=ReviewStatus.COMPLETED)
        # The overall bound lets the index range-scan; the steps then pick within it.
        .filter(due_date__lte=hi + timedelta(days=long_days))
        .filter(
            Q(
                reminded_14_at=None,
                due_date__gt=lo + timedelta(days=short_days),
                due_date__lte=hi + timedelta(days=long_days),
            )
            | Q(
                reminded_3_at=None,
                due_date__gte=lo,
                due_date__lte=hi + timedelta(days=short_days),
            )
            | Q(overdue_flagged_at=None, due_date__lt=hi)
        )
        .select_related("agreement__calendar", "series__provider_team", "series__requesting_team")
        .order_by("due_date", "pk")
    )
    counts = {"reminded_14": 0, "reminded_3": 0, "overdue": 0}
    for review in candidates:
        days_left = (review.due_date - local_today(now, review.agreement.calendar.time_zone)).days
        if days_left < 0:
            column, key, count = "overdue_flagged_at", "overdue", "overdue"
            title = (
                f"Overdue: the review of {review.agreement.title} was due on "
                f"{date_text(review.due_date)}"
            )
        elif days_left <= short_days:
            column, key, count = "reminded_3_at", "due:3", "reminded_3"
            title = f"Review of {review.agreement.title} due in {days_text(days_left)}"
        elif days_left <= long_days:
            column, key, count = "reminded_14_at", "due:14", "reminded_14"
            title = f"Review of {review.agreement.title} due in {days_text(days_left)}"
        else:
            continue
        with transaction.atomic():
            if not _claim(review, column, now):
                continue  # another run sent it, or the review was completed meanwhile
            notify(
                kind="review_due",
                title=title,
                body=(
                    f"The quarterly review of {review.series} for {period_text(review)} is due "
                    f"on {date_text(review.due_date)}. Both teams' leads look at the compliance "
                    "pack, agree the targets and sign off."
                ),
                url=link_to(review),
                dedup_base=f"review:{review.pk}:{key}",
                recipients=leads_of(review),
                subject_type="review",
                subject_id=review.pk,
                now=now,
            )
        counts[count] += 1
    return counts
