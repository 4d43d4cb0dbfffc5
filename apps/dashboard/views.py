"""The dashboard `/`: what needs the signed-in person now, and how their teams keep
their promises (30-day compliance tiles).

Every section starts from a `visible_to(user)` queryset and costs a fixed number of
queries whatever the amount of work: lists are capped, counts are aggregated.

Flat in closed history (issue 14): every clock query reads open handoffs or the clocks
that can still breach or have breached (partial indexes on both, in the handoffs app's
Meta), never every finished clock; the 30-day tiles add up the daily clock rollups
(apps.reports.rollups: whole days from the rollup rows, the partial days at the ends of
a viewer's local window from the clocks) instead of every clock of the last 30 days; the
breach badge counts at most BREACH_COUNT_CAP + 1 breaches.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
    prefetch_related_objects,
)
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.agreements.models import Agreement, AgreementApproval
from apps.agreements.models import Status as AgreementStatus
from apps.handoffs import selectors as handoff_selectors
from apps.handoffs.clockwork.verdict import at_risk_q, breached_q, recorded_breach_q
from apps.handoffs.compliance import clock_compliance, last_days_bounds, met_words
from apps.handoffs.filters import AWAITING_REQUESTER
from apps.handoffs.models import Clock, ClockStatus, Handoff, Status
from apps.notifications.models import Notification
from apps.reports.forms import user_zone
from apps.reports.rollups import Scope, rollup_compliance
from apps.reviews.models import QuarterlyReview, ReviewStatus
from apps.teams.models import Membership, Role

LIST_SIZE = 8
TILE_DAYS = 30
REVIEW_HORIZON_DAYS = 30
# The breach badge says "1,000+" beyond this: counting further would read every
# unreviewed breach in history on each page view (the list itself is a page away).
BREACH_COUNT_CAP = 1000
# Clocks the verdict can call at risk or breached (running, paused, breached): the
# partial index `clock_verdict_idx` holds exactly these, so naming the condition lets
# PostgreSQL use it (it cannot prove it from the verdict's ORs alone).
CAN_BE_FLAGGED = ~Q(status__in=[ClockStatus.MET, ClockStatus.CANCELLED])
# Soonest due first, as the queues sort (`for_queue`).
DUE_ORDER = (F("due_at").asc(nulls_last=True), "created_at")


def _ids(handoffs) -> list[int]:
    """The first LIST_SIZE ids of an ordered handoff queryset."""
    return list(handoffs.prefetch_related(None).values_list("pk", flat=True)[:LIST_SIZE])


def _read_rows(visible, ids: set[int], now: datetime) -> dict[int, dict]:
    """These handoffs with the reading of their current clock, by id, in one query and
    its prefetches (no query per row). Read as the requester's rows: a resolution also
    says when it closes unless confirmed, counted in the provider team's calendar
    (`selectors.for_requester`), whose hours are fetched only when a resolution is there."""
    if not ids:
        return {}
    handoffs = list(
        visible.filter(pk__in=ids).for_queue().select_related("provider_team__calendar")
    )
    if resolved := [h for h in handoffs if h.status == Status.RESOLVED]:
        prefetch_related_objects(
            resolved, "provider_team__calendar__intervals", "provider_team__calendar__holidays"
        )
    rows = handoff_selectors.read_rows(handoffs, now, requester=True)
    return {row["handoff"].pk: row for row in rows}


def _risk_counts(inbound, now: datetime) -> dict:
    """How many of the open `inbound` handoffs are at risk (a clock at risk, none
    breached) and breached (a clock breached), as the queue's tabs count them: each open
    handoff's worst flag among its clocks (2 breached, 1 at risk, none), read by one
    index-only probe per open handoff (a correlated subquery: never a scan of the
    breached clocks of all history), counted by flag."""
    breached = breached_q(now)
    worst = (
        Clock.objects.filter(CAN_BE_FLAGGED, at_risk_q(now) | breached, handoff=OuterRef("pk"))
        .order_by()
        .values("handoff")
        .annotate(
            x_flag=Max(
                Case(When(breached, then=Value(2)), default=Value(1), output_field=IntegerField())
            )
        )
        .values("x_flag")
    )
    counts = dict(
        inbound.order_by()
        .annotate(x_flag=Subquery(worst))
        .values("x_flag")
        .annotate(x_count=Count("pk"))
        .values_list("x_flag", "x_count")
    )
    return {"at_risk": counts.get(1, 0), "breached": counts.get(2, 0)}


def _breach_count(user, team_ids: list[int]) -> int:
    """`reviews.selectors.breaches_to_review(user=user).count()`, up to
    BREACH_COUNT_CAP + 1, read by the clocks' own copy of their provider team from the
    partial index of breaches on record (`clock_breach_recorded_idx`) instead of joining
    every breached clock to its handoff."""
    clocks = Clock.objects.filter(recorded_breach_q(), breach_review__isnull=True)
    if not user.is_staff:
        clocks = clocks.filter(provider_team_id__in=team_ids)
    return clocks.order_by()[: BREACH_COUNT_CAP + 1].count()


def _tile_figures(team_ids: list[int], *, since: datetime, until: datetime, tz: str) -> list[dict]:
    """The compliance of the clocks the teams provided, created in [since, until): from
    the rollups where the database keeps them (PostgreSQL), else from the clocks — the
    same figures either way (tests/dashboard/test_dashboard_speed.py)."""
    if not team_ids:
        return []
    rows = rollup_compliance(
        scope=Scope(team_ids=tuple(team_ids)),
        since=since,
        until=until,
        group_by=["team"],
        tz=tz,
        percentiles=False,
    )
    if rows is not None:
        # The scope is "either side is one of my teams": keep the teams I provide for.
        return [row for row in rows if row["team"] in team_ids]
    clocks = Clock.objects.filter(
        provider_team_id__in=team_ids, started_at__gte=since, started_at__lt=until
    )
    return clock_compliance(clocks, group_by=["team"], tz=tz, percentiles=False)


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

    # Three lists of handoff rows: each picks its ids (its own order and filter, from
    # the partial indexes on open work), then the rows are read together — one query and
    # one set of prefetches for the three, one clock reader (read_rows).
    mine_ids = _ids(open_work.filter(assignee=user).order_by(*DUE_ORDER))
    mine_count = open_work.filter(assignee=user).count()

    inbound = open_work.filter(provider_team_id__in=team_ids)
    risk_counts = _risk_counts(inbound, now)
    # At risk or breached (the one verdict, as the queue's tabs read it): a clock of the
    # handoff is either. One probe per open handoff, soonest due first, until 8 are found.
    flagged = Clock.objects.filter(CAN_BE_FLAGGED, handoff=OuterRef("pk")).filter(
        at_risk_q(now) | breached_q(now)
    )
    attention_ids = _ids(inbound.filter(Exists(flagged)).order_by(*DUE_ORDER))

    # My requests: what I filed that is under way or back with me, what needs me first.
    request_ids = _ids(handoff_selectors.my_requests(user=user))
    rows = _read_rows(visible, {*mine_ids, *attention_ids, *request_ids}, now)

    # Waiting on me: the requester's side must answer. Mine first, then my teams'.
    waiting = open_work.filter(status=Status.WAITING, requesting_team_id__in=team_ids)
    waiting_count = waiting.count()
    waiting_rows = list(
        waiting.select_related("provider_team", "created_by").order_by("waiting_since")[
            : LIST_SIZE * 4
        ]
    )
    waiting_rows.sort(key=lambda h: (h.created_by_id != user.pk, h.waiting_since or now))

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
    breach_count = _breach_count(user, team_ids)

    # The count itself is the navigation's (one COUNT per page, apps.notifications).
    latest_unread = list(Notification.objects.visible_to(user).inbox().heads().unread()[:5])

    # The report's "Last 30 days" for the same person: local dates in their zone, today
    # included, the same clocks (their teams' inbound work) and the same definition.
    tz = user_zone(user)
    since, until = last_days_bounds(
        today=now.astimezone(ZoneInfo(tz)).date(), days=TILE_DAYS, tz=tz
    )
    tiles = {
        row["team"]: {**row, "met_words": met_words(row)}
        for row in _tile_figures(team_ids, since=since, until=until, tz=tz)
    }

    return {
        "now": now,
        "memberships": memberships,
        "tiles": [_tile(m, tiles.get(m.team_id), now) for m in memberships],
        "tile_days": TILE_DAYS,
        "mine": [rows[pk] for pk in mine_ids],
        "mine_count": mine_count,
        "attention": [rows[pk] for pk in attention_ids],
        "at_risk_count": risk_counts["at_risk"],
        "breached_count": risk_counts["breached"],
        "requests": [rows[pk] for pk in request_ids],
        "request_counts": request_counts,
        "waiting": waiting_rows[:LIST_SIZE],
        "waiting_count": waiting_count,
        "approvals": approvals,
        "reviews": reviews,
        "breach_count": min(breach_count, BREACH_COUNT_CAP),
        "breach_count_more": breach_count > BREACH_COUNT_CAP,
        "latest_unread": latest_unread,
    }


@require_GET
def dashboard(request):
    context = dashboard_context(user=request.user, now=timezone.now())
    return render(request, "dashboard/dashboard.html", context)
