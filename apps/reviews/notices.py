"""The notifications reviews send: reminders and overdue flags, "your sign-off is next",
"the review is signed off", and an action item given to someone. Each carries a dedup key,
so a step run twice notifies once."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.urls import NoReverseMatch

from apps.notifications import services as notifications
from apps.teams.models import Membership, Role

from .models import QuarterlyReview
from .permissions import review_teams


def notify(**kwargs):
    return notifications.notify(**kwargs)


def link_to(obj) -> str:
    try:
        path = obj.get_absolute_url()
    except NoReverseMatch:  # the pages are not wired (a management command, say)
        path = f"/reviews/{obj.pk}/" if isinstance(obj, QuarterlyReview) else "/reviews/"
    return f"{settings.SITE_URL}{path}"


def date_text(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def period_text(review: QuarterlyReview) -> str:
    last_day = review.period_end - timedelta(days=1)
    return f"{date_text(review.period_start)} – {date_text(last_day)}"


def days_text(n: int) -> str:
    return "today" if n == 0 else ("1 day" if n == 1 else f"{n} days")


def leads_of(review: QuarterlyReview) -> list:
    series = review.series
    return [
        m.user
        for m in Membership.objects.filter(
            team_id__in=[series.provider_team_id, series.requesting_team_id], role=Role.LEAD
        )
        .select_related("user")
        .order_by("user_id")
    ]


def tell_the_other_side(review: QuarterlyReview, actor, signed, now: datetime) -> None:
    """The leads of the side still to sign hear that it waits on them."""
    signed_teams = set(review.sign_offs.values_list("team_id", flat=True))
    waiting = [t for t in review_teams(review) if t.pk not in signed_teams]
    leads = [
        m.user
        for m in Membership.objects.filter(team__in=waiting, role=Role.LEAD).select_related("user")
        if m.user_id != actor.pk
    ]
    notify(
        kind="review_due",
        title=f"{actor} signed the review of {review.agreement.title}: your sign-off is next",
        body=f"{', '.join(str(t) for t in waiting)} still has to sign the review of "
        f"{period_text(review)}.",
        url=link_to(review),
        # Per sign-off: signatures cleared by an edit and given again notify again.
        dedup_base=f"review:{review.pk}:signed:{signed[0].pk}",
        recipients=leads,
        subject_type="review",
        subject_id=review.pk,
        now=now,
    )


def tell_both_sides_completed(review: QuarterlyReview, changes: list[str], now) -> None:
    new = review.resulting_agreement
    body = (
        f"Version {new.version} is now active: " + "; ".join(changes) + "."
        if new is not None
        else "The targets stay as they are."
    )
    notify(
        kind="other",
        title=f"The review of {review.agreement.title} is signed off",
        body=body,
        url=link_to(review),
        dedup_base=f"review:{review.pk}:completed",
        recipients=leads_of(review),
        subject_type="review",
        subject_id=review.pk,
        now=now,
    )
