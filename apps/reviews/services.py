"""Every state change of reviews: scheduling and reminding, the quarterly review itself
(start, edit, dual sign-off into the next agreement version), breach reviews and action
items. Views, the API, tasks and the admin call these.

Time is always the caller's `now`. Dates that people read (due dates, "14 days before")
are local dates in the zone of the agreement's calendar (an action item's in its owner's
zone). Periodic steps happen once each: a review per period by the unique constraint,
each reminder by claiming its column with a conditional UPDATE, each notification by
its dedup key; safe to run twice at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.urls import NoReverseMatch

from apps.agreements import services as agreement_services
from apps.agreements.models import Agreement
from apps.agreements.models import Status as AgreementStatus
from apps.agreements.targets import TargetGrid, merge_targets, tier_problems
from apps.core import limits
from apps.core.exceptions import Conflict
from apps.handoffs.models import Clock
from apps.teams.models import Membership, Role, Team

from .models import (
    ActionItem,
    BreachReview,
    QuarterlyReview,
    ReviewSignOff,
    ReviewStatus,
    RootCause,
)

SCHEDULE_AHEAD_DAYS = 14
REMIND_DAYS = (14, 3)
METRICS = ("acknowledge", "action_plan", "resolve")
# A local date is at most a day away from the UTC date (UTC-12 … UTC+14).
ZONE_SLACK = timedelta(days=1)


def _notify(**kwargs):
    from apps.notifications import services as notifications

    return notifications.notify(**kwargs)


def _url(obj) -> str:
    try:
        path = obj.get_absolute_url()
    except NoReverseMatch:  # the pages are not wired (a management command, say)
        path = f"/reviews/{obj.pk}/" if isinstance(obj, QuarterlyReview) else "/reviews/"
    return f"{settings.SITE_URL}{path}"


def _local_today(now: datetime, time_zone: str) -> date:
    return now.astimezone(ZoneInfo(time_zone or "UTC")).date()


def _months(n: int) -> relativedelta:
    return relativedelta(months=n)


# --- who may do what -------------------------------------------------------------------------


def _team_ids(user, team_ids: Iterable[int], *, lead: bool) -> set[int]:
    if not user.is_authenticated:
        return set()
    memberships = user.memberships.filter(team_id__in=list(team_ids))
    if lead:
        memberships = memberships.filter(role=Role.LEAD)
    return set(memberships.values_list("team_id", flat=True))


def _review_teams(review: QuarterlyReview) -> tuple[Team, Team]:
    return review.series.provider_team, review.series.requesting_team


def can_see_review(user, review: QuarterlyReview) -> bool:
    """Members of either team (and staff) see a review, as `visible_to` says."""
    if user.is_authenticated and user.is_staff:
        return True
    series = review.series
    return bool(_team_ids(user, (series.provider_team_id, series.requesting_team_id), lead=False))


def can_edit_review(user, review: QuarterlyReview) -> bool:
    """Leads of either team start, edit and sign a review. Staff administer reviews in the
    admin; they do not write the teams' findings or agree targets for them."""
    series = review.series
    return bool(_team_ids(user, (series.provider_team_id, series.requesting_team_id), lead=True))


def sides_to_sign(user, review: QuarterlyReview) -> list[Team]:
    """The sides this user may still sign: each team they lead that has not signed (a
    person leading both teams signs both at once, as with agreement approvals)."""
    signed = {s.team_id for s in review.sign_offs.all()}
    teams = _review_teams(review)
    led = _team_ids(user, [t.pk for t in teams], lead=True)
    return [team for team in teams if team.pk in led and team.pk not in signed]


def can_review_breach(user, clock: Clock) -> bool:
    """Members (and leads) of the provider team write the breach review of their clock;
    the requesting team reads it."""
    return bool(_team_ids(user, [clock.handoff.provider_team_id], lead=False))


def can_manage_action_items(
    user, *, review: QuarterlyReview | None = None, breach_review: BreachReview | None = None
) -> bool:
    """Who adds (and ticks off) action items: leads of either team for a quarterly review,
    provider-team members for a breach review."""
    if review is not None:
        return can_edit_review(user, review)
    if breach_review is not None:
        return can_review_breach(user, breach_review.clock)
    return False


def can_set_done(user, item: ActionItem) -> bool:
    """The owner ticks off their own item; so may whoever manages the parent's items."""
    return (user.is_authenticated and item.owner_id == user.pk) or can_manage_action_items(
        user, review=item.review, breach_review=item.breach_review
    )


# --- scheduling and reminders ---------------------------------------------------------------


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
    cadence = _months(agreement.review_cadence_months)
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
        today = _local_today(now, agreement.calendar.time_zone)
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


def _leads_of(review: QuarterlyReview) -> list:
    series = review.series
    return [
        m.user
        for m in Membership.objects.filter(
            team_id__in=[series.provider_team_id, series.requesting_team_id], role=Role.LEAD
        )
        .select_related("user")
        .order_by("user_id")
    ]


def _claim(review: QuarterlyReview, column: str, now: datetime) -> bool:
    return bool(
        QuarterlyReview.objects.filter(pk=review.pk, **{column: None})
        .exclude(status=ReviewStatus.COMPLETED)
        .update(**{column: now})
    )


def _date_text(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _period_text(review: QuarterlyReview) -> str:
    last_day = review.period_end - timedelta(days=1)
    return f"{_date_text(review.period_start)} – {_date_text(last_day)}"


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
        days_left = (review.due_date - _local_today(now, review.agreement.calendar.time_zone)).days
        if days_left < 0:
            column, key, count = "overdue_flagged_at", "overdue", "overdue"
            title = (
                f"Overdue: the review of {review.agreement.title} was due on "
                f"{_date_text(review.due_date)}"
            )
        elif days_left <= short_days:
            column, key, count = "reminded_3_at", "due:3", "reminded_3"
            title = f"Review of {review.agreement.title} due in {_days(days_left)}"
        elif days_left <= long_days:
            column, key, count = "reminded_14_at", "due:14", "reminded_14"
            title = f"Review of {review.agreement.title} due in {_days(days_left)}"
        else:
            continue
        with transaction.atomic():
            if not _claim(review, column, now):
                continue  # another run sent it, or the review was completed meanwhile
            _notify(
                kind="review_due",
                title=title,
                body=(
                    f"The quarterly review of {review.series} for {_period_text(review)} is due "
                    f"on {_date_text(review.due_date)}. Both teams' leads look at the compliance "
                    "pack, agree the targets and sign off."
                ),
                url=_url(review),
                dedup_base=f"review:{review.pk}:{key}",
                recipients=_leads_of(review),
                subject_type="review",
                subject_id=review.pk,
                now=now,
            )
        counts[count] += 1
    return counts


def _days(n: int) -> str:
    return "today" if n == 0 else ("1 day" if n == 1 else f"{n} days")


# --- the review ------------------------------------------------------------------------------


def _lock(review: QuarterlyReview) -> QuarterlyReview:
    """Re-read the review under a row lock: concurrent edits and sign-offs serialise."""
    return (
        QuarterlyReview.objects.select_for_update(of=("self",))
        .select_related("series__provider_team", "series__requesting_team", "agreement__calendar")
        .get(pk=review.pk)
    )


def _active_version(series_id: int) -> Agreement | None:
    return (
        Agreement.objects.filter(series_id=series_id, status=AgreementStatus.ACTIVE)
        .select_related("series__provider_team", "series__requesting_team", "calendar")
        .prefetch_related("targets")
        .first()
    )


def _targets_of(agreement: Agreement) -> dict:
    return TargetGrid.from_agreement(agreement).as_dict()


def review_period_over(review: QuarterlyReview, *, now: datetime, time_zone: str) -> bool:
    """Whether the review's period has ended in the agreement's zone (`period_end` is the
    first day after it)."""
    return _local_today(now, time_zone) >= review.period_end


def _refuse_before_period_end(review: QuarterlyReview, now: datetime, doing: str) -> None:
    if not review_period_over(review, now=now, time_zone=review.agreement.calendar.time_zone):
        raise Conflict(
            f"The period under review runs until {_date_text(review.period_last_day)}: the "
            f"review can be {doing} from {_date_text(review.period_end)}, once the period is "
            "over and its figures are complete. Notes can be written before."
        )


@transaction.atomic
def review_start(*, review: QuarterlyReview, actor, now: datetime) -> QuarterlyReview:
    """Start a scheduled review once its period is over: the compliance pack and the
    recommended targets are frozen, and the proposed targets begin as the current ones
    of the version in force. (Before, the pack would claim a period it has not seen.)"""
    from .pack import build_pack, recommendations_for

    review = _lock(review)
    if not can_edit_review(actor, review):
        raise PermissionDenied("Only a lead of either team may start the review.")
    if review.status != ReviewStatus.SCHEDULED:
        raise Conflict("This review has already been started.")
    _refuse_before_period_end(review, now, "started")
    # The version reviewed is the one in force now (it may have changed since scheduling).
    agreement = _active_version(review.series_id) or review.agreement
    pack = build_pack(
        review=review,
        series=review.series,
        agreement=agreement,
        period_start=review.period_start,
        period_end=review.period_end,
        now=now,
    )
    # Recommended targets: the period's p80 plus settings.REVIEW_BUFFER_PERCENT, or a
    # tightening after three periods ≥ 95 %, never below what the calendar allows.
    recommendations = recommendations_for(agreement=agreement, pack=pack)
    current = _targets_of(agreement)
    review.agreement = agreement
    review.pack = pack
    review.recommendations = recommendations
    review.proposed_targets = current
    review.status = ReviewStatus.IN_PROGRESS
    review.started_at = now
    review.started_by = actor
    review.save(
        update_fields=[
            "agreement",
            "pack",
            "recommendations",
            "proposed_targets",
            "status",
            "started_at",
            "started_by",
            "updated_at",
        ]
    )
    return review


def validate_targets(targets, *, priorities: Iterable[str], prefix: str = "proposed_targets"):
    """Check a targets dict (`{"P1": {"acknowledge": 1800, …}, …}`) for an agreement with
    `priorities`; returns it cleaned (every priority, every metric present) or raises a
    ValidationError keyed `proposed_targets.P2.resolve`."""
    priorities = list(priorities)
    errors: dict[str, list[str]] = {}
    if not isinstance(targets, dict):
        raise ValidationError({prefix: ["Give the targets per priority and metric."]})
    cleaned: dict[str, dict] = {}
    for priority, metrics in targets.items():
        key = f"{prefix}.{priority}"
        if priority not in priorities:
            errors.setdefault(key, []).append(
                f"This agreement defines priorities {', '.join(priorities) or 'none'}."
            )
            continue
        if not isinstance(metrics, dict):
            errors.setdefault(key, []).append("Give a target (seconds) or None for each metric.")
            continue
        for metric in set(metrics) - set(METRICS):
            errors.setdefault(f"{key}.{metric}", []).append(
                "Only acknowledge, action_plan and resolve have targets."
            )
        row = {}
        for metric in METRICS:
            value = metrics.get(metric)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value <= 0
            ):
                errors.setdefault(f"{key}.{metric}", []).append(
                    "A target is a positive whole number of seconds (empty: best effort)."
                )
                value = None
            row[metric] = value
        # The agreements' rule (the next version would refuse anything else at sign-off):
        # at most ten years, at least one target, acknowledge ≤ action plan ≤ resolve.
        refused = any(k.startswith(f"{key}.") for k in errors)
        for metric, messages in tier_problems(row).items():
            if metric is None and refused:
                continue  # its values were refused: not also "give at least one"
            errors.setdefault(key if metric is None else f"{key}.{metric}", []).extend(messages)
        cleaned[priority] = row
    for priority in priorities:
        if priority not in targets:
            errors.setdefault(f"{prefix}.{priority}", []).append(f"Give the targets of {priority}.")
    if errors:
        raise ValidationError(errors)
    return {p: cleaned[p] for p in priorities}


@transaction.atomic
def review_update(
    *,
    review: QuarterlyReview,
    actor,
    findings: str | None = None,
    decisions: str | None = None,
    proposed_targets: dict | None = None,
    now: datetime,
) -> QuarterlyReview:
    """Change the findings, decisions or proposed targets of an open review (arguments left
    None are kept; `proposed_targets` may name only the priorities and metrics that
    change: they are merged over the current proposal).

    What is signed must be what is agreed: when anyone has already signed off, a change of
    the proposed targets or the decisions clears every sign-off and the review goes back
    to in progress (findings are notes and do not)."""
    review = _lock(review)
    if not can_edit_review(actor, review):
        raise PermissionDenied("Only a lead of either team may edit the review.")
    if review.status == ReviewStatus.COMPLETED:
        raise Conflict("This review is completed and signed; it can no longer change.")
    changed: list[str] = []
    agreed_changed = False
    if proposed_targets is not None:
        if review.status == ReviewStatus.SCHEDULED:
            raise Conflict("Start the review first: the proposal begins from the current targets.")
        if not isinstance(proposed_targets, dict):
            raise ValidationError({"proposed_targets": ["Give the targets per priority."]})
        merged = merge_targets(review.proposed_targets or {}, proposed_targets)
        priorities = [t.priority for t in review.agreement.targets.all()]
        cleaned = validate_targets(merged, priorities=priorities)
        if cleaned != review.proposed_targets:
            review.proposed_targets = cleaned
            changed.append("proposed_targets")
            agreed_changed = True
    if decisions is not None and decisions != review.decisions:
        review.decisions = decisions
        changed.append("decisions")
        agreed_changed = True
    if findings is not None and findings != review.findings:
        review.findings = findings
        changed.append("findings")
    if agreed_changed and review.status == ReviewStatus.AWAITING_SIGN_OFF:
        review.sign_offs.all().delete()
        review.status = ReviewStatus.IN_PROGRESS
        changed.append("status")
    if changed:
        review.save(update_fields=[*changed, "updated_at"])
    return review


def rebase_targets(*, base: dict, proposed: dict, active: dict) -> tuple[dict, list[dict]]:
    """The review's own changes (`proposed` against `base`, the targets of the version it
    started from) applied on top of `active`, the targets in force now; and the cells
    where the newer version changed the same target to something else (conflicts:
    `{"priority", "metric", "base", "active", "proposed"}`).

    A cell the review left alone keeps the active value, so an amendment approved while
    the review was open is kept; a cell both changed to the same value is no conflict."""
    return TargetGrid(active).rebase(base=base, proposed=proposed)


def conflict_words(conflicts: list[dict], *, active: Agreement) -> str:
    """ "Version 8 (approved on 12 Mar 2026, while this review was open) changed P3 resolve
    from 72 h to 60 h; this review proposes 48 h." — one sentence per conflict, then what
    to do about it."""
    grid = TargetGrid.from_agreement(active)
    when = (
        f"approved on {_date_text(_local_today(active.activated_at, active.calendar.time_zone))}"
        if active.activated_at
        else "approved"
    )
    name = f"Version {active.version} ({when}, while this review was open)"
    sentences = []
    for c in conflicts:
        say = lambda s, p=c["priority"]: grid.say(p, s)  # noqa: E731
        cell = f"{c['priority']} {c['metric'].replace('_', ' ')}"
        if c.get("removed"):
            sentences.append(
                f"{name} no longer has {c['priority']}; this review proposes "
                f"{say(c['proposed'])} for {cell}."
            )
        else:
            sentences.append(
                f"{name} changed {cell} from {say(c['base'])} to {say(c['active'])}; this "
                f"review proposes {say(c['proposed'])}."
            )
    return (
        " ".join(sentences)
        + f" Keep version {active.version}'s value in the proposal (or the value the review "
        "started from) and sign again; to go further, amend the agreement after the review."
    )


def review_rebased(review: QuarterlyReview, active: Agreement | None = None):
    """(targets the sign-off would make active, conflicts, the active version) for an
    open review: its own changes on top of the version in force now."""
    active = active or _active_version(review.series_id)
    if active is None or not review.proposed_targets:
        return None, [], active
    targets, conflicts = TargetGrid.from_agreement(active).rebase(
        base=_targets_of(review.agreement), proposed=review.proposed_targets
    )
    return targets, conflicts, active


def _target_changes(proposed: dict, active: Agreement) -> list[str]:
    """What the proposal changes against the version in force, in words ("P2 resolve
    72 h → 60 h"); empty when nothing does."""
    grid = TargetGrid.from_agreement(active)
    return [
        f"{priority} {metric.replace('_', ' ')} {grid.say(priority, old)} → "
        f"{grid.say(priority, new)}"
        for priority, metric, old, new in grid.changes_to(proposed)
    ]


@transaction.atomic
def review_sign_off(
    *, review: QuarterlyReview, actor, comment: str = "", now: datetime
) -> QuarterlyReview:
    """Sign the review for each side the actor leads. With both sides signed it is
    completed; when the agreed targets differ from those of the version in force, the next
    version is created with them and activated, the two sign-offs being its approvals
    (`resulting_agreement`). All or nothing: a refusal writes nothing."""
    review = _lock(review)
    if not can_edit_review(actor, review):
        raise PermissionDenied("Only a lead of the provider or requesting team may sign off.")
    if review.status == ReviewStatus.SCHEDULED:
        raise Conflict("Start the review before signing it off: nothing has been agreed yet.")
    if review.status == ReviewStatus.COMPLETED:
        raise Conflict("This review is already completed.")
    _refuse_before_period_end(review, now, "signed off")
    sides = sides_to_sign(actor, review)
    if not sides:
        raise Conflict("You have already signed this review for every team you lead.")
    provider, requesting = _review_teams(review)
    earlier = list(review.sign_offs.select_related("user", "team"))
    completing = {provider.pk, requesting.pk} <= {s.team_id for s in earlier} | {
        t.pk for t in sides
    }

    next_version = None
    changes: list[str] = []
    # Only what the review changed is applied, on top of the version in force now: an
    # amendment approved while the review was open is kept. Where both changed the same
    # target differently, nobody signs until the leads choose (nothing silently undone).
    # With no version in force (the agreement was retired) there is nothing to amend.
    targets, conflicts, active = review_rebased(review)
    if conflicts:
        raise Conflict(conflict_words(conflicts, active=active))
    if completing and targets is not None:
        changes = _target_changes(targets, active)
        if changes:
            try:
                validate_targets(targets, priorities=[t.priority for t in active.targets.all()])
            except ValidationError as exc:
                raise Conflict(
                    f"On top of version {active.version} the review's targets would not hold "
                    f"({' '.join(exc.messages)}): edit the proposal and sign again."
                ) from exc
            _check_can_amend(review, active, earlier)
    signed = ReviewSignOff.objects.bulk_create(
        ReviewSignOff(review=review, team=team, user=actor, signed_at=now, comment=comment)
        for team in sides
    )
    if not completing:
        review.status = ReviewStatus.AWAITING_SIGN_OFF
        review.save(update_fields=["status", "updated_at"])
        _tell_the_other_side(review, actor, signed, now)
        return review
    if changes:
        next_version = _next_version(
            review, active, targets, [*earlier, *signed], changes, now=now
        )
    review.status = ReviewStatus.COMPLETED
    review.completed_at = now
    review.resulting_agreement = next_version
    review.save(update_fields=["status", "completed_at", "resulting_agreement", "updated_at"])
    _tell_both_sides_completed(review, changes, now)
    return review


def _tell_the_other_side(review: QuarterlyReview, actor, signed, now: datetime) -> None:
    """The leads of the side still to sign hear that it waits on them."""
    signed_teams = set(review.sign_offs.values_list("team_id", flat=True))
    waiting = [t for t in _review_teams(review) if t.pk not in signed_teams]
    leads = [
        m.user
        for m in Membership.objects.filter(team__in=waiting, role=Role.LEAD).select_related("user")
        if m.user_id != actor.pk
    ]
    _notify(
        kind="review_due",
        title=f"{actor} signed the review of {review.agreement.title}: your sign-off is next",
        body=f"{', '.join(str(t) for t in waiting)} still has to sign the review of "
        f"{_period_text(review)}.",
        url=_url(review),
        # Per sign-off: signatures cleared by an edit and given again notify again.
        dedup_base=f"review:{review.pk}:signed:{signed[0].pk}",
        recipients=leads,
        subject_type="review",
        subject_id=review.pk,
        now=now,
    )


def _tell_both_sides_completed(review: QuarterlyReview, changes: list[str], now) -> None:
    new = review.resulting_agreement
    body = (
        f"Version {new.version} is now active: " + "; ".join(changes) + "."
        if new is not None
        else "The targets stay as they are."
    )
    _notify(
        kind="other",
        title=f"The review of {review.agreement.title} is signed off",
        body=body,
        url=_url(review),
        dedup_base=f"review:{review.pk}:completed",
        recipients=_leads_of(review),
        subject_type="review",
        subject_id=review.pk,
        now=now,
    )


def _check_can_amend(review: QuarterlyReview, active: Agreement, earlier) -> None:
    """Refuse the completing sign-off, before anything is written, when the next version
    could not be created: one is already being prepared, or an earlier signer no longer
    leads the team they signed for (their sign-off could not be its approval)."""
    open_draft = (
        Agreement.objects.filter(
            series_id=review.series_id,
            status__in=[AgreementStatus.DRAFT, AgreementStatus.IN_REVIEW],
        )
        .order_by("-version")
        .first()
    )
    if open_draft is not None:
        raise Conflict(
            f"Version {open_draft.version} of this agreement is already being prepared "
            f"({open_draft.get_status_display().lower()}): approve or withdraw it before the "
            "review's targets can become the next version."
        )
    for sign_off in earlier:
        if not _team_ids(sign_off.user, [sign_off.team_id], lead=True):
            raise Conflict(
                f"{sign_off.user} signed for {sign_off.team} but no longer leads it: "
                "ask them to edit and sign again, or a current lead to sign."
            )


def _next_version(
    review: QuarterlyReview,
    active: Agreement,
    agreed: dict,
    sign_offs: list[ReviewSignOff],
    changes,
    *,
    now: datetime,
) -> Agreement:
    """Amend → set the agreed targets → submit → approve by the signers: the agreements'
    own lifecycle, so the new version is exactly what any other amendment would be, in
    force from the moment the review is completed."""
    first = sign_offs[0].user
    draft = agreement_services.agreement_amend(agreement=active, actor=first, now=now)
    targets = []
    for target in draft.targets.all():
        data = {f: getattr(target, f) for f in agreement_services.TARGET_FIELDS}
        for metric in METRICS:
            data[f"{metric}_seconds"] = agreed.get(target.priority, {}).get(
                metric, data[f"{metric}_seconds"]
            )
        targets.append(data)
    summary = (
        f"Agreed in the quarterly review #{review.pk} of {_period_text(review)}: "
        + "; ".join(changes)
        + "."
    )
    if review.decisions.strip():
        summary += f"\n\nDecisions: {review.decisions.strip()}"
    draft = agreement_services.agreement_update_draft(
        agreement=draft,
        actor=first,
        targets=targets,
        change_summary=summary,
        next_review_date=review.due_date + _months(active.review_cadence_months),
        now=now,
    )
    agreement_services.agreement_submit(agreement=draft, actor=first, now=now)
    # Each signer approves for the side(s) they signed. Someone who signed one side but
    # leads both goes last, so that each side's approval carries its own signer's name.
    signers = list({s.user_id: s.user for s in sign_offs}.values())
    signers.sort(key=lambda user: len(agreement_services.sides_to_approve(user, draft)))
    for user in signers:
        draft.refresh_from_db(fields=["status"])
        if draft.status != AgreementStatus.IN_REVIEW:
            break
        agreement_services.agreement_approve(
            agreement=draft,
            actor=user,
            comment=f"Signed off in quarterly review #{review.pk}.",
            now=now,
        )
    draft.refresh_from_db()
    if draft.status != AgreementStatus.ACTIVE:  # pragma: no cover - the signers lead both sides
        raise Conflict("The next version could not be approved by the review's signers.")
    return draft


# --- breach reviews --------------------------------------------------------------------------


@transaction.atomic
def breach_review_save(
    *,
    clock: Clock,
    actor,
    root_cause: str,
    what_happened: str,
    prevention: str = "",
    now: datetime,
) -> BreachReview:
    """Write (or rewrite) the one breach review of a breached clock: its root cause, what
    happened and what would have prevented it. Provider-team members and leads only."""
    clock = Clock.objects.select_for_update(of=("self",)).select_related("handoff").get(pk=clock.pk)
    if not can_review_breach(actor, clock):
        raise PermissionDenied("Only a member of the provider team may review this breach.")
    if clock.breached_at is None:
        raise Conflict("This clock has not breached; there is nothing to review.")
    errors: dict[str, list[str]] = {}
    if root_cause not in RootCause.values:
        errors["root_cause"] = [
            "Choose the root cause: capacity, skills, process, systems, customer or other."
        ]
    what_happened = (what_happened or "").strip()
    if not what_happened:
        errors["what_happened"] = ["Say what happened."]
    if errors:
        raise ValidationError(errors)
    values = {
        "root_cause": root_cause,
        "what_happened": what_happened,
        "prevention": (prevention or "").strip(),
        "reviewed_by": actor,
    }
    existing = BreachReview.objects.filter(clock=clock).first()
    if existing is None:
        return BreachReview.objects.create(clock=clock, **values)
    for name, value in values.items():
        setattr(existing, name, value)
    existing.save(update_fields=[*values, "updated_at"])
    return existing


# --- action items ----------------------------------------------------------------------------


def _parent_team_ids(review, breach_review) -> tuple[int, int]:
    if review is not None:
        return review.series.provider_team_id, review.series.requesting_team_id
    handoff = breach_review.clock.handoff
    return handoff.provider_team_id, handoff.requesting_team_id


@transaction.atomic
def action_item_create(
    *,
    actor,
    title: str,
    owner,
    due_date: date | None,
    review: QuarterlyReview | None = None,
    breach_review: BreachReview | None = None,
    now: datetime,
) -> ActionItem:
    """Add a follow-up to a quarterly review (leads of either team) or a breach review
    (provider-team members), owned by a member of one of the two teams, due on a date."""
    if (review is None) == (breach_review is None):
        raise ValidationError("An action item belongs to one review or one breach review.")
    if not can_manage_action_items(actor, review=review, breach_review=breach_review):
        raise PermissionDenied(
            "Only a lead of either team may add action items to the review."
            if review is not None
            else "Only a member of the provider team may add action items to a breach review."
        )
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = ["Say what is to be done."]
    elif len(title) > limits.TITLE_MAX:
        errors["title"] = [f"Keep the title within {limits.TITLE_MAX} characters."]
    elif problem := limits.bad_character(title):
        errors["title"] = [problem]
    if owner is None:
        errors["owner"] = ["Choose who owns it."]
    elif not _team_ids(owner, _parent_team_ids(review, breach_review), lead=False):
        errors["owner"] = ["The owner must be a member of one of the two teams."]
    if due_date is None:
        errors["due_date"] = ["Give a due date."]
    elif not limits.DATE_MIN <= due_date <= limits.DATE_MAX:
        errors["due_date"] = [limits.date_range_message()]
    elif due_date < _local_today(now, getattr(owner, "time_zone", "UTC")):
        errors["due_date"] = ["The due date has already passed."]
    if errors:
        raise ValidationError(errors)
    item = ActionItem.objects.create(
        review=review,
        breach_review=breach_review,
        title=title,
        owner=owner,
        due_date=due_date,
        created_by=actor,
    )
    if owner.pk != actor.pk:
        _notify(
            kind="reminder",
            title=f"Action item for you: {title}",
            body=f"{actor} gave you an action item, due on {_date_text(due_date)}.",
            url=_url(review or breach_review),
            dedup_base=f"action:{item.pk}:assigned",
            recipients=[owner],
            subject_type="action_item",
            subject_id=item.pk,
            now=now,
        )
    return item


@transaction.atomic
def action_item_set_done(*, item: ActionItem, actor, done: bool, now: datetime) -> ActionItem:
    """Tick an action item off (the first time it was done is kept) or open it again."""
    item = (
        ActionItem.objects.select_for_update(of=("self",))
        .select_related(
            "review__series",
            "breach_review__clock__handoff",
        )
        .get(pk=item.pk)
    )
    if not can_set_done(actor, item):
        raise PermissionDenied("Only the owner or a lead of the review may change this item.")
    if done and item.done_at is None:
        item.done_at = now
    elif not done:
        item.done_at = None
    item.save(update_fields=["done_at", "updated_at"])
    return item


def action_items_remind(*, now: datetime) -> int:
    """Remind each owner of an open action item on its due date, and once when it is
    overdue (each exactly once; dates in the owner's zone). Returns how many went."""
    utc_today = now.astimezone(UTC).date()
    lo, hi = utc_today - ZONE_SLACK, utc_today + ZONE_SLACK
    # Open items only (the partial index on due_date), and only those with a step due.
    candidates = (
        ActionItem.objects.filter(done_at=None, due_date__lte=hi)
        .filter(
            Q(reminded_due_at=None, due_date__gte=lo, due_date__lte=hi)
            | Q(reminded_overdue_at=None, due_date__lt=hi)
        )
        .select_related("owner", "review", "breach_review")
        .order_by("due_date", "pk")
    )
    sent = 0
    for item in candidates:
        today = _local_today(now, item.owner.time_zone)
        if item.due_date > today:
            continue
        if item.due_date == today:
            column, key, title = "reminded_due_at", "due", f"Due today: {item.title}"
        else:
            column, key, title = "reminded_overdue_at", "overdue", f"Overdue: {item.title}"
        with transaction.atomic():
            claimed = ActionItem.objects.filter(pk=item.pk, done_at=None, **{column: None}).update(
                **{column: now}
            )
            if not claimed:
                continue  # another run reminded, or the item was done meanwhile
            _notify(
                kind="reminder",
                title=title,
                body=f"Action item due on {_date_text(item.due_date)}: {item.title}",
                url=_url(item.review or item.breach_review),
                dedup_base=f"action:{item.pk}:{key}",
                recipients=[item.owner],
                subject_type="action_item",
                subject_id=item.pk,
                now=now,
            )
        sent += 1
    return sent
