"""The quarterly review's lifecycle — start, edit, rebase on the version in force, dual
sign-off into the next agreement version. Views, the API, tasks and the admin call these.

This module is also where every public service of reviews is found: who may do what
(`permissions`), scheduling and reminders (`scheduling`), breach reviews (`breaches`),
action items (`action_items`) are their own modules and re-exported here, so
`services.review_sign_off`, `services.reviews_schedule` and `services.action_item_create`
all work.

Time is always the caller's `now`. Dates that people read (due dates, "14 days before")
are local dates in the zone of the agreement's calendar (an action item's in its owner's
zone).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from apps.agreements import services as agreement_services
from apps.agreements.models import Agreement
from apps.agreements.models import Status as AgreementStatus
from apps.agreements.targets import TargetGrid, merge_targets, tier_problems
from apps.core.exceptions import Conflict

from .action_items import action_item_create, action_item_set_done, action_items_remind
from .breaches import breach_review_save
from .models import (
    QuarterlyReview,
    ReviewSignOff,
    ReviewStatus,
)
from .notices import date_text, period_text, tell_both_sides_completed, tell_the_other_side
from .pack import build_pack, recommendations_for
from .permissions import (
    can_edit_review,
    can_manage_action_items,
    can_review_breach,
    can_see_review,
    can_set_done,
    review_teams,
    sides_to_sign,
    team_ids_of,
)
from .scheduling import (
    REMIND_DAYS,
    SCHEDULE_AHEAD_DAYS,
    cadence_delta,
    local_today,
    next_review_period,
    reviews_remind,
    reviews_schedule,
)

__all__ = [
    "METRICS",
    "REMIND_DAYS",
    "SCHEDULE_AHEAD_DAYS",
    "action_item_create",
    "action_item_set_done",
    "action_items_remind",
    "breach_review_save",
    "can_edit_review",
    "can_manage_action_items",
    "can_review_breach",
    "can_see_review",
    "can_set_done",
    "conflict_words",
    "next_review_period",
    "rebase_targets",
    "review_period_over",
    "review_rebased",
    "review_sign_off",
    "review_start",
    "review_update",
    "reviews_remind",
    "reviews_schedule",
    "sides_to_sign",
    "validate_targets",
]

METRICS = ("acknowledge", "action_plan", "resolve")


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
    return local_today(now, time_zone) >= review.period_end


def _refuse_before_period_end(review: QuarterlyReview, now: datetime, doing: str) -> None:
    if not review_period_over(review, now=now, time_zone=review.agreement.calendar.time_zone):
        raise Conflict(
            f"The period under review runs until {date_text(review.period_last_day)}: the "
            f"review can be {doing} from {date_text(review.period_end)}, once the period is "
            "over and its figures are complete. Notes can be written before."
        )


@transaction.atomic
def review_start(*, review: QuarterlyReview, actor, now: datetime) -> QuarterlyReview:
    """Start a scheduled review once its period is over: the compliance pack and the
    recommended targets are frozen, and the proposed targets begin as the current ones
    of the version in force. (Before, the pack would claim a period it has not seen.)"""
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
        f"approved on {date_text(local_today(active.activated_at, active.calendar.time_zone))}"
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
    provider, requesting = review_teams(review)
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
        tell_the_other_side(review, actor, signed, now)
        return review
    if changes:
        next_version = _next_version(review, active, targets, [*earlier, *signed], changes, now=now)
    review.status = ReviewStatus.COMPLETED
    review.completed_at = now
    review.resulting_agreement = next_version
    review.save(update_fields=["status", "completed_at", "resulting_agreement", "updated_at"])
    tell_both_sides_completed(review, changes, now)
    return review


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
        if not team_ids_of(sign_off.user, [sign_off.team_id], lead=True):
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
        f"Agreed in the quarterly review #{review.pk} of {period_text(review)}: "
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
        next_review_date=review.due_date + cadence_delta(active.review_cadence_months),
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
