"""The dashboard `/`: what needs the signed-in person now, and how their teams keep
their promises (30-day compliance tiles).

Every section starts from a `visible_to(user)` queryset and costs a fixed number of
queries whatever the amount of work: lists are capped, counts are aggregated.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, OuterRef, Q
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.agreements.models import Agreement, AgreementApproval
from apps.agreements.models import Status as AgreementStatus
from apps.handoffs import selectors as handoff_selectors
from apps.handoffs.clockwork.verdict import handoff_at_risk_q, handoff_breached_q
from apps.handoffs.compliance import clock_compliance, last_days_bounds, met_words
from apps.handoffs.filters import AWAITING_REQUESTER
from apps.handoffs.models import Clock, Handoff, Status
from apps.notifications.models import Notification
from apps.reports.forms import user_zone
from apps.reviews.models import QuarterlyReview, ReviewStatus
from apps.reviews.selectors import breaches_to_review
from apps.teams.models import Membership, Role

LIST_SIZE = 8
TILE_DAYS = 30
REVIEW_HORIZON_DAYS = 30


def _rows(handoffs: list[Handoff], now: datetime, *, requester: bool = False) -> list[dict]:
    """Handoffs with the reading of their current clock (no query per row)."""
    return handoff_selectors.read_rows(handoffs, now, requester=requester)


def _tile(membership: Membership, figures: dict | None, now: datetime) -> dict:
    periods = membership.team.calendar.open_periods(now, days=7)
    return {
        "membership": membership,
        "figures": figures,
        "open_now": bool(periods) and periods[0][0] <= now,
        "next_period": periods[0] if periods else None,
    }


def awaiting_approval(*, user, led_team_ids: list[int]):
    """Versions in review where the user leads a side that has not approved yet."""
    if not led_team_ids:
        return Agreement.objects.none()
    approved = AgreementApproval.objects.filter(agreement=OuterRef("pk"))
    provider_pending = Q(series__provider_team_id__in=led_team_ids) & ~Exists(
        approved.filter(team_id=OuterRef("series__provider_team_id"))
    )
    requester_pending = Q(series__requesting_team_id__in=led_team_ids) & ~Exists(
        approved.filter(team_id=OuterRef("series__requesting_team_id"))
    )
    return (
        Agreement.objects.visible_to(user)
        .filter(status=AgreementStatus.IN_REVIEW)
        .filter(provider_pending | requester_pending)
        .select_related("series__provider_team", "series__requesting_team")
        .order_by("submitted_at", "pk")
    )


def dashboard_context(*, user, now: datetime) -> dict:
    memberships = list(
        Membership.objects.filter(user=user)
        .select_related("team__calendar")
        .prefetch_related("team__calendar__intervals", "team__calendar__holidays")
        .order_by("team__name")
    )
    team_ids = [m.team_id for m in memberships]
    led_team_ids = [m.team_id for m in memberships if m.role == Role.LEAD]
    visible = Handoff.objects.visible_to(user)
    open_work = visible.open()

    mine = list(open_work.filter(assignee=user).for_queue()[:LIST_SIZE])
    mine_count = open_work.filter(assignee=user).count()

    inbound = open_work.filter(provider_team_id__in=team_ids)
    # The one verdict, as the queue's tabs read it: at risk = inside the warning
    # threshold and nothing breached.
    at_risk, breached = handoff_at_risk_q(now), handoff_breached_q(now)
    risk_counts = inbound.aggregate(
        at_risk=Count("pk", filter=at_risk),
        breached=Count("pk", filter=breached),
    )
    attention = list(inbound.filter(at_risk | breached).for_queue()[:LIST_SIZE])

    # Waiting on me: the requester's side must answer. Mine first, then my teams'.
    waiting = open_work.filter(status=Status.WAITING, requesting_team_id__in=team_ids)
    waiting_count = waiting.count()
    waiting_rows = list(
        waiting.select_related("provider_team", "created_by").order_by("waiting_since")[
            : LIST_SIZE * 4
        ]
    )
    waiting_rows.sort(key=lambda h: (h.created_by_id != user.pk, h.waiting_since or now))

    # My requests: what I filed that is under way or back with me, what needs me first.
    requests = list(handoff_selectors.my_requests(user=user)[:LIST_SIZE])
    request_counts = (
        visible.filter(created_by=user, status__in=AWAITING_REQUESTER)
        .order_by()
        .aggregate(
            total=Count("pk"),
            waiting=Count("pk", filter=Q(status=Status.WAITING)),
            to_confirm=Count("pk", filter=Q(status=Status.RESOLVED)),
        )
    )

    approvals = list(awaiting_approval(user=user, led_team_ids=led_team_ids)[:LIST_SIZE])

    horizon = now.date() + timedelta(days=REVIEW_HORIZON_DAYS)
    reviews = list(
        QuarterlyReview.objects.visible_to(user)
        .exclude(status=ReviewStatus.COMPLETED)
        .filter(due_date__lte=horizon)
        .select_related("series__provider_team", "series__requesting_team", "agreement")
        .order_by("due_date", "pk")[:LIST_SIZE]
    )
    breaches = breaches_to_review(user=user)
    breach_count = breaches.count()

    # The count itself is the navigation's (one COUNT per page, apps.notifications).
    latest_unread = list(Notification.objects.visible_to(user).inbox().heads().unread()[:5])

    # The report's "Last 30 days" for the same person: local dates in their zone, today
    # included, the same clocks (their teams' inbound work) and the same definition.
    tz = user_zone(user)
    since, until = last_days_bounds(
        today=now.astimezone(ZoneInfo(tz)).date(), days=TILE_DAYS, tz=tz
    )
    tiles = {}
    if team_ids:
        clocks = Clock.objects.filter(
            provider_team_id__in=team_ids, started_at__gte=since, started_at__lt=until
        )
        tiles = {
            row["team"]: {**row, "met_words": met_words(row)}
            for row in clock_compliance(clocks, group_by=["team"], tz=tz)
        }

    return {
        "now": now,
        "memberships": memberships,
        "tiles": [_tile(m, tiles.get(m.team_id), now) for m in memberships],
        "tile_days": TILE_DAYS,
        "mine": _rows(mine, now),
        "mine_count": mine_count,
        "attention": _rows(attention, now),
        "at_risk_count": risk_counts["at_risk"],
        "breached_count": risk_counts["breached"],
        "requests": _rows(requests, now, requester=True),
        "request_counts": request_counts,
        "waiting": waiting_rows[:LIST_SIZE],
        "waiting_count": waiting_count,
        "approvals": approvals,
        "reviews": reviews,
        "breach_count": breach_count,
        "latest_unread": latest_unread,
    }


@require_GET
def dashboard(request):
    context = dashboard_context(user=request.user, now=timezone.now())
    return render(request, "dashboard/dashboard.html", context)
