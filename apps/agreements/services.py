"""Every state change of agreements. Views, the API, the admin and seed_demo call these.

Nested parts (targets, triage fields, escalation steps) travel as lists of dicts; errors
on them use dotted keys, `targets.2.resolve_seconds`, so a formset or a serializer can put
each message on the field it concerns.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.core import limits
from apps.core.exceptions import Conflict
from apps.core.patterns import pattern_problem
from apps.notifications.models import Kind as NotificationKind
from apps.notifications.services import notify
from apps.teams.models import Membership, Role, Team

from .models import (
    SLUG_RE,
    Agreement,
    AgreementApproval,
    AgreementSeries,
    EscalationStep,
    ExceptionWindow,
    FieldKind,
    Kind,
    Metric,
    Notify,
    Priority,
    PriorityTarget,
    Status,
    TriageField,
)
from .signals import exception_windows_changed
from .targets import METRICS as TARGET_METRICS
from .targets import tier_problems

# The plain fields of a version that a draft editor may set.
AGREEMENT_FIELDS = (
    "title",
    "kind",
    "service_description",
    "scope_included",
    "scope_excluded",
    "customer_sla",
    "calendar",
    "warning_threshold",
    "initial_response_by",
    "triage_by",
    "updates_by",
    "resolution_validated_by",
    "review_cadence_months",
    "next_review_date",
    "playbook",
    "waiting_auto_close_days",
    "change_summary",
)
LONG_TEXT_FIELDS = (
    "service_description",
    "scope_included",
    "scope_excluded",
    "customer_sla",
    "playbook",
    "change_summary",
)
TRIAGE_TEXT_LIMITS = {
    "key": limits.TRIAGE_KEY_MAX,
    "label": limits.TRIAGE_LABEL_MAX,
    "help_text": limits.TRIAGE_HELP_TEXT_MAX,
    "pattern": limits.TRIAGE_PATTERN_MAX,
}
TARGET_FIELDS = (
    "priority",
    "impact",
    "acknowledge_seconds",
    "action_plan_seconds",
    "resolve_seconds",
    "around_the_clock",
    "pause_action_plan",
    "pause_resolve",
)
TRIAGE_FIELDS = ("key", "label", "help_text", "kind", "choices", "required", "pattern", "order")
STEP_FIELDS = ("metric", "percent", "notify", "user", "raise_priority")


# --- permissions ---------------------------------------------------------------------


def _leads(user, team: Team) -> bool:
    return user.is_authenticated and team.memberships.filter(user=user, role=Role.LEAD).exists()


def can_edit(user, agreement: Agreement) -> bool:
    """Leads of either team edit, submit and withdraw versions (staff too)."""
    return user.is_staff or any(
        _leads(user, team) for team in (agreement.provider_team, agreement.requesting_team)
    )


def sides_to_approve(user, agreement: Agreement) -> list[Team]:
    """The sides this user may still approve: each team they lead that has not approved."""
    approved = {a.team_id for a in agreement.approvals.all()}
    return [
        team
        for team in (agreement.provider_team, agreement.requesting_team)
        if team.pk not in approved and _leads(user, team)
    ]


def can_decide_window(user, window: ExceptionWindow) -> bool:
    """Leads of the provider team and staff approve or refuse windows (and end them)."""
    return user.is_staff or _leads(user, window.provider_team)


def can_approve_window(user, window: ExceptionWindow) -> bool:
    """A second person approves: a deciding lead other than the requester, or staff."""
    return can_decide_window(user, window) and (user.is_staff or window.requested_by_id != user.pk)


def can_end_window(user, window: ExceptionWindow) -> bool:
    """Who may decide on a window may end it early, and so may whoever asked for it."""
    return window.requested_by_id == user.pk or can_decide_window(user, window)


# --- validation ----------------------------------------------------------------------


def _check_target(index: int, target: dict, errors: dict) -> None:
    prefix = f"targets.{index}"
    values = {metric: target.get(f"{metric}_seconds") for metric in TARGET_METRICS}
    for metric, value in values.items():
        if value is not None and value <= 0:
            errors.setdefault(f"{prefix}.{metric}_seconds", []).append("A target must be positive.")
    # The ten-year limit, at least one target, acknowledge ≤ action plan ≤ resolve (the
    # grid's rule); a tier with no target at all is told on its first field.
    for metric, messages in tier_problems(values).items():
        errors.setdefault(f"{prefix}.{metric or 'acknowledge'}_seconds", []).extend(messages)
    if target.get("priority") not in Priority.values:
        errors.setdefault(f"{prefix}.priority", []).append("Choose P1, P2, P3 or P4.")


def _check_triage_field(index: int, field: dict, errors: dict) -> None:
    prefix = f"triage_fields.{index}"
    key = field.get("key") or ""
    if not SLUG_RE.match(key):
        errors.setdefault(f"{prefix}.key", []).append(
            "Use lowercase letters, digits and underscores, starting with a letter."
        )
    if not (field.get("label") or "").strip():
        errors.setdefault(f"{prefix}.label", []).append("Give the field a label.")
    kind = field.get("kind")
    if kind not in FieldKind.values:
        errors.setdefault(f"{prefix}.kind", []).append("Choose a kind of field.")
    choices = field.get("choices") or []
    if not isinstance(choices, list | tuple):
        errors.setdefault(f"{prefix}.choices", []).append("Choices must be a list of options.")
        choices = []
    if kind == FieldKind.CHOICE and not [c for c in choices if str(c).strip()]:
        errors.setdefault(f"{prefix}.choices", []).append("A choice field needs choices.")
    if len({str(c).strip() for c in choices}) != len(choices):
        errors.setdefault(f"{prefix}.choices", []).append("Choices must differ.")
    # Its length and characters are checked with the other texts (TRIAGE_TEXT_LIMITS).
    pattern = str(field.get("pattern") or "")
    if (
        pattern
        and len(pattern) <= limits.TRIAGE_PATTERN_MAX
        and not limits.bad_character(pattern)
        and (problem := pattern_problem(pattern))
    ):
        errors.setdefault(f"{prefix}.pattern", []).append(problem)


def _check_step(index: int, step: dict, errors: dict) -> None:
    prefix = f"steps.{index}"
    percent = step.get("percent")
    if percent is None or percent <= 0:
        errors.setdefault(f"{prefix}.percent", []).append("The percent must be above 0.")
    if step.get("metric") not in Metric.values:
        errors.setdefault(f"{prefix}.metric", []).append("Choose a metric.")
    if step.get("notify") not in Notify.values:
        errors.setdefault(f"{prefix}.notify", []).append("Choose who is notified.")
    if step.get("notify") == Notify.USER and not step.get("user"):
        errors.setdefault(f"{prefix}.user", []).append("Name the person to notify.")


def _check_contacts(*, steps: list[dict], teams: tuple[Team, Team]) -> None:
    """A named escalation contact belongs to one of the two teams: an escalation carries
    the handoff's title and link, which nobody else may see."""
    named = {index: step.get("user") for index, step in enumerate(steps) if step.get("user")}
    ids = {getattr(user, "pk", user) for user in named.values()}
    members = set(
        Membership.objects.filter(team__in=teams, user_id__in=ids).values_list("user_id", flat=True)
    )
    sides = " or ".join(str(team) for team in teams)
    errors = {
        f"steps.{index}.user": [f"{user} is not a member of {sides}: name someone of either team."]
        for index, user in named.items()
        if getattr(user, "pk", user) not in members
    }
    if errors:
        raise ValidationError(errors)


def validate_version(
    *,
    fields: dict,
    targets: list[dict],
    triage_fields: list[dict],
    steps: list[dict],
) -> None:
    """Every rule a version must keep, with one message per offending field."""
    errors: dict[str, list[str]] = {}
    if not (fields.get("title") or "").strip():
        errors["title"] = ["Give the agreement a title."]
    # The last line of defence behind the forms and serializers (apps.core.limits).
    limits.check_text(errors, "title", fields.get("title"), limits.TITLE_MAX)
    for name in LONG_TEXT_FIELDS:
        limits.check_text(errors, name, fields.get(name), limits.LONG_TEXT_MAX)
    for index, field in enumerate(triage_fields):
        for name, limit in TRIAGE_TEXT_LIMITS.items():
            value = field.get(name)
            if isinstance(value, str):
                limits.check_text(errors, f"triage_fields.{index}.{name}", value, limit)
    if fields.get("kind") not in Kind.values:
        errors["kind"] = ["Choose escalation, handoff or request."]
    threshold = fields.get("warning_threshold")
    if threshold is None or not 1 <= threshold <= 99:
        errors["warning_threshold"] = ["The warning threshold is a percentage from 1 to 99."]
    if fields.get("calendar") is None:
        errors["calendar"] = ["Choose the business calendar the clocks run on."]

    seen: dict[str, int] = {}
    for index, target in enumerate(targets):
        _check_target(index, target, errors)
        priority = target.get("priority")
        if priority in seen:
            errors.setdefault(f"targets.{index}.priority", []).append(
                f"{priority} is already defined above."
            )
        seen.setdefault(priority, index)

    keys: set[str] = set()
    for index, field in enumerate(triage_fields):
        _check_triage_field(index, field, errors)
        if field.get("key") in keys:
            errors.setdefault(f"triage_fields.{index}.key", []).append(
                f"Another field already uses the key “{field.get('key')}”."
            )
        keys.add(field.get("key"))

    percents: set[tuple[str, int]] = set()
    for index, step in enumerate(steps):
        _check_step(index, step, errors)
        marker = (step.get("metric"), step.get("percent"))
        if marker in percents:
            errors.setdefault(f"steps.{index}.percent", []).append(
                f"There is already a step at {step.get('percent')} % of this metric."
            )
        percents.add(marker)
    _check_raises(targets, steps, errors)
    if errors:
        raise ValidationError(errors)


def _check_raises(targets: list[dict], steps: list[dict], errors: dict) -> None:
    """A step that raises the priority must be able to: every tier the version defines
    (P1 aside, the top) needs the next one up, or the sweep would have nowhere to go."""
    raising = [index for index, step in enumerate(steps) if step.get("raise_priority")]
    if not raising:
        return
    order = Priority.values  # P1 (highest) … P4
    defined = {t.get("priority") for t in targets}
    missing = [
        f"Raising the priority needs {higher} defined: a {priority} handoff could not be raised."
        for higher, priority in itertools.pairwise(order)
        if priority in defined and higher not in defined
    ]
    if missing:
        for index in raising:
            errors.setdefault(f"steps.{index}.raise_priority", []).extend(missing)


# --- writing a version -----------------------------------------------------------------


def _clean_target(data: dict) -> dict:
    target = {f: data.get(f) for f in TARGET_FIELDS}
    for flag, default in (
        ("around_the_clock", False),
        ("pause_action_plan", True),
        ("pause_resolve", True),
    ):
        if target[flag] is None:
            target[flag] = default
    target["impact"] = target["impact"] or ""
    return target


def _clean_triage_field(data: dict, order: int) -> dict:
    field = {f: data.get(f) for f in TRIAGE_FIELDS}
    field["choices"] = [str(c).strip() for c in (field["choices"] or []) if str(c).strip()]
    field["help_text"] = field["help_text"] or ""
    field["pattern"] = field["pattern"] or ""
    field["required"] = True if field["required"] is None else field["required"]
    field["order"] = order if field["order"] is None else field["order"]
    return field


def _clean_step(data: dict) -> dict:
    step = {f: data.get(f) for f in STEP_FIELDS}
    step["raise_priority"] = bool(step["raise_priority"])
    step["notify"] = step["notify"] or Notify.ASSIGNEE
    if step["notify"] != Notify.USER:
        step["user"] = None
    return step


def _write_parts(
    agreement: Agreement, targets: list[dict], triage_fields: list[dict], steps: list[dict]
) -> None:
    agreement.targets.all().delete()
    agreement.triage_fields.all().delete()
    agreement.escalation_steps.all().delete()
    PriorityTarget.objects.bulk_create(
        PriorityTarget(agreement=agreement, **t)
        for t in sorted(targets, key=lambda t: t["priority"])
    )
    TriageField.objects.bulk_create(TriageField(agreement=agreement, **f) for f in triage_fields)
    EscalationStep.objects.bulk_create(EscalationStep(agreement=agreement, **s) for s in steps)


def _terms(agreement: Agreement) -> tuple:
    """What a version promises, for comparing two versions: its snapshot without the
    change summary (which describes the version rather than the agreement)."""
    fields, targets, triage, steps = _snapshot(agreement)
    fields.pop("change_summary")
    # Parts in a canonical order: their order in the editor carries no meaning, except
    # the triage fields' own `order`, which is compared as a value.
    return (
        fields,
        sorted(targets, key=lambda t: t["priority"]),
        sorted(triage, key=lambda f: f["key"]),
        sorted(steps, key=lambda s: (s["metric"], s["percent"])),
    )


def _snapshot(agreement: Agreement) -> tuple[dict, list[dict], list[dict], list[dict]]:
    fields = {f: getattr(agreement, f) for f in AGREEMENT_FIELDS}
    targets = [{f: getattr(t, f) for f in TARGET_FIELDS} for t in agreement.targets.all()]
    triage = [{f: getattr(t, f) for f in TRIAGE_FIELDS} for t in agreement.triage_fields.all()]
    steps = [{f: getattr(s, f) for f in STEP_FIELDS} for s in agreement.escalation_steps.all()]
    return fields, targets, triage, steps


@transaction.atomic
def agreement_create_draft(
    *,
    actor,
    provider_team: Team,
    requesting_team: Team,
    targets: Iterable[dict] = (),
    triage_fields: Iterable[dict] = (),
    steps: Iterable[dict] = (),
    now: datetime | None = None,
    **fields,
) -> Agreement:
    """Start a new agreement between two teams as version 1, a draft (created `now`)."""
    if not (actor.is_staff or _leads(actor, provider_team) or _leads(actor, requesting_team)):
        raise PermissionDenied("Only a lead of the provider or requesting team may draft it.")
    unknown = set(fields) - set(AGREEMENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown agreement fields: {sorted(unknown)}")
    fields.setdefault("kind", Kind.ESCALATION)
    fields.setdefault("warning_threshold", 75)
    if fields.get("calendar") is None:
        fields["calendar"] = provider_team.calendar
    targets = [_clean_target(t) for t in targets]
    triage = [_clean_triage_field(f, i) for i, f in enumerate(triage_fields)]
    steps = [_clean_step(s) for s in steps]
    if provider_team.pk == requesting_team.pk:
        raise ValidationError(
            {"requesting_team": ["The requesting team must differ from the provider team."]}
        )
    validate_version(fields=fields, targets=targets, triage_fields=triage, steps=steps)
    _check_contacts(steps=steps, teams=(provider_team, requesting_team))
    series = AgreementSeries.objects.create(
        provider_team=provider_team, requesting_team=requesting_team
    )
    agreement = Agreement(series=series, version=1, created_by=actor, **fields)
    agreement.full_clean(exclude=["series", "created_by", "calendar"])
    agreement.save()
    _created_at(agreement, now)
    _write_parts(agreement, targets, triage, steps)
    return agreement


def _created_at(agreement: Agreement, now: datetime | None) -> None:
    # `created_at` is set on insert (auto_now_add); a version drafted at a given moment
    # (an import, the demo's history) says so.
    if now is not None:
        Agreement.objects.filter(pk=agreement.pk).update(created_at=now)
        agreement.created_at = now


def _lock(agreement: Agreement) -> Agreement:
    """Re-read the version under a row lock: concurrent transitions serialise here."""
    return (
        Agreement.objects.select_for_update()
        .select_related("series__provider_team", "series__requesting_team")
        .get(pk=agreement.pk)
    )


@transaction.atomic
def agreement_update_draft(
    *,
    agreement: Agreement,
    actor,
    targets: Iterable[dict] | None = None,
    triage_fields: Iterable[dict] | None = None,
    steps: Iterable[dict] | None = None,
    now: datetime | None = None,
    **fields,
) -> Agreement:
    """Change a draft; parts given replace the stored ones, parts omitted are kept."""
    agreement = _lock(agreement)
    if not can_edit(actor, agreement):
        raise PermissionDenied("Only a lead of the provider or requesting team may edit it.")
    if agreement.status != Status.DRAFT:
        raise Conflict(
            f"Version {agreement.version} is {agreement.get_status_display().lower()}; "
            "only a draft can be edited."
        )
    unknown = set(fields) - set(AGREEMENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown agreement fields: {sorted(unknown)}")
    current_fields, current_targets, current_triage, current_steps = _snapshot(agreement)
    merged = {**current_fields, **fields}
    targets = current_targets if targets is None else [_clean_target(t) for t in targets]
    triage = (
        current_triage
        if triage_fields is None
        else [_clean_triage_field(f, i) for i, f in enumerate(triage_fields)]
    )
    steps = current_steps if steps is None else [_clean_step(s) for s in steps]
    validate_version(fields=merged, targets=targets, triage_fields=triage, steps=steps)
    _check_contacts(
        steps=steps, teams=(agreement.series.provider_team, agreement.series.requesting_team)
    )
    for name, value in merged.items():
        setattr(agreement, name, value)
    agreement.full_clean(exclude=["series", "created_by", "calendar"])
    agreement.save()
    _write_parts(agreement, targets, triage, steps)
    return agreement


@transaction.atomic
def agreement_submit(*, agreement: Agreement, actor, now: datetime | None = None) -> Agreement:
    """Ask both teams' leads to approve a draft that changes something; earlier approvals
    are cleared."""
    now = now or timezone.now()
    agreement = _lock(agreement)
    if not can_edit(actor, agreement):
        raise PermissionDenied("Only a lead of the provider or requesting team may submit it.")
    if agreement.status != Status.DRAFT:
        raise Conflict(f"Only a draft can be submitted; this version is {agreement.status}.")
    if not agreement.targets.exists():
        raise ValidationError({"targets": ["Define at least one priority tier before submitting."]})
    active = Agreement.objects.filter(series_id=agreement.series_id, status=Status.ACTIVE).first()
    if active is not None and _terms(active) == _terms(agreement):
        # Approving it would only renumber the same promise and restart its review cycle.
        raise Conflict(
            f"Nothing changed since version {active.version}: change the draft before "
            "submitting it."
        )
    agreement.approvals.all().delete()
    agreement.status = Status.IN_REVIEW
    agreement.submitted_at = now
    agreement.save(update_fields=["status", "submitted_at", "updated_at"])
    return agreement


@transaction.atomic
def agreement_approve(
    *, agreement: Agreement, actor, comment: str = "", now: datetime | None = None
) -> Agreement:
    """Record the actor's approval for each side they lead; with both sides approved the
    version becomes active and the previous active version superseded, together."""
    agreement = _lock(agreement)
    is_lead = any(_leads(actor, t) for t in (agreement.provider_team, agreement.requesting_team))
    if not is_lead:
        raise PermissionDenied("Only a lead of the provider or requesting team may approve.")
    if agreement.status != Status.IN_REVIEW:
        raise Conflict(f"Only a version in review can be approved; this one is {agreement.status}.")
    sides = sides_to_approve(actor, agreement)
    if not sides:
        raise Conflict("You have already approved this version for every team you lead.")
    now = now or timezone.now()
    AgreementApproval.objects.bulk_create(
        AgreementApproval(
            agreement=agreement, team=team, user=actor, approved_at=now, comment=comment
        )
        for team in sides
    )
    approved = set(agreement.approvals.values_list("team_id", flat=True))
    if {agreement.series.provider_team_id, agreement.series.requesting_team_id} <= approved:
        _activate(agreement, now)
    return agreement


def _activate(agreement: Agreement, now: datetime) -> None:
    # Supersede first: the partial unique index allows one active version per series.
    for previous in Agreement.objects.select_for_update().filter(
        series_id=agreement.series_id, status=Status.ACTIVE
    ):
        previous.status = Status.SUPERSEDED
        previous.ended_at = now
        previous.save(update_fields=["status", "ended_at", "updated_at"])
    agreement.status = Status.ACTIVE
    agreement.activated_at = now
    if agreement.next_review_date is None or agreement.next_review_date <= now.date():
        agreement.next_review_date = next_review_date(agreement, now.date())
    agreement.save(update_fields=["status", "activated_at", "next_review_date", "updated_at"])


def next_review_date(agreement: Agreement, today: date) -> date:
    return today + relativedelta(months=agreement.review_cadence_months)


@transaction.atomic
def agreement_request_changes(
    *, agreement: Agreement, actor, comment: str = "", now: datetime | None = None
) -> Agreement:
    """Send a version in review back to draft (approvals so far are dropped)."""
    # `now` for uniformity: sending back records no time (submitted_at is cleared).
    agreement = _lock(agreement)
    if not can_edit(actor, agreement):
        raise PermissionDenied("Only a lead of the provider or requesting team may do that.")
    if agreement.status != Status.IN_REVIEW:
        raise Conflict("Only a version in review can be sent back to draft.")
    agreement.approvals.all().delete()
    agreement.status = Status.DRAFT
    agreement.submitted_at = None
    if comment:
        agreement.change_summary = (
            agreement.change_summary + "\n\nChanges requested: " + comment
        ).strip()
    agreement.save(update_fields=["status", "submitted_at", "change_summary", "updated_at"])
    return agreement


@transaction.atomic
def agreement_amend(*, agreement: Agreement, actor, now: datetime | None = None) -> Agreement:
    """Open the next version as a draft copying everything from the active one; the active
    version keeps governing work until the new one is approved."""
    agreement = _lock(agreement)
    if not can_edit(actor, agreement):
        raise PermissionDenied("Only a lead of the provider or requesting team may amend it.")
    if agreement.status != Status.ACTIVE:
        raise Conflict("Only the active version can be amended.")
    AgreementSeries.objects.select_for_update().get(pk=agreement.series_id)
    open_draft = Agreement.objects.filter(
        series_id=agreement.series_id, status__in=[Status.DRAFT, Status.IN_REVIEW]
    ).first()
    if open_draft:
        raise Conflict(
            f"Version {open_draft.version} is already being prepared "
            f"({open_draft.get_status_display().lower()}); continue that one."
        )
    fields, targets, triage, steps = _snapshot(agreement)
    fields["change_summary"] = ""
    latest = Agreement.objects.filter(series_id=agreement.series_id).aggregate(v=Max("version"))
    draft = Agreement(
        series_id=agreement.series_id, version=latest["v"] + 1, created_by=actor, **fields
    )
    draft.save()
    _created_at(draft, now)
    _write_parts(draft, targets, triage, steps)
    return draft


@transaction.atomic
def agreement_retire(
    *, agreement: Agreement, actor, reason: str = "", now: datetime | None = None
) -> Agreement:
    """End a version: an active one stops governing new work (handoffs already bound keep
    it); a draft or a version in review is withdrawn. Nothing is deleted."""
    now = now or timezone.now()
    agreement = _lock(agreement)
    if not can_edit(actor, agreement):
        raise PermissionDenied("Only a lead of the provider or requesting team may retire it.")
    if agreement.status in (Status.SUPERSEDED, Status.RETIRED):
        raise Conflict(f"This version is already {agreement.status}.")
    agreement.status = Status.RETIRED
    agreement.ended_at = now
    if reason:
        agreement.change_summary = (agreement.change_summary + "\n\nRetired: " + reason).strip()
    agreement.save(update_fields=["status", "ended_at", "change_summary", "updated_at"])
    return agreement


# --- exception windows -------------------------------------------------------------------
#
# Seed 003: an exception is documented (reason, expected duration, affected customers,
# communication plan) and authorised by someone other than whoever asks for it. A window
# removes business time from clocks retroactively, so how far back it may reach and how
# long it may last are bounded by settings, checked against `now` both when it is asked
# for and when it is approved (a request left waiting must not reach further back).


def _window_limits(start: datetime, end: datetime, now: datetime, errors: dict) -> None:
    backdate = settings.EXCEPTION_WINDOW_MAX_BACKDATE
    length = settings.EXCEPTION_WINDOW_MAX_LENGTH
    if start < now - backdate:
        errors.setdefault("start", []).append(
            f"A window may start at most {_days(backdate)} before now "
            f"(not before {timezone.localtime(now - backdate):%Y-%m-%d %H:%M %Z})."
        )
    if end - start > length:
        errors.setdefault("end", []).append(
            f"A window may last at most {_days(length)}; ask for another one after it."
        )


def _days(delta: timedelta) -> str:
    if delta % timedelta(days=1):
        hours = delta / timedelta(hours=1)
        return f"{hours:g} hours"
    days = delta.days
    return "1 day" if days == 1 else f"{days} days"


def _window_url(window: ExceptionWindow) -> str:
    return f"{reverse('agreements:windows')}#window-{window.pk}"


def _window_scope(window: ExceptionWindow) -> str:
    if window.series_id is None:
        return f"all of {window.provider_team}’s agreements"
    return str(window.series)


def _window_period(window: ExceptionWindow) -> str:
    return f"{timezone.localtime(window.start):%a %d %b %H:%M} – " + (
        f"{timezone.localtime(window.end):%a %d %b %H:%M %Z}"
    )


def _approvers(window: ExceptionWindow) -> list:
    """Who is asked to decide: the provider team's leads other than the requester, or,
    when the requester is its only lead, staff (the other people who may approve)."""
    leads = [
        m.user
        for m in window.provider_team.memberships.filter(role=Role.LEAD, user__is_active=True)
        .exclude(user_id=window.requested_by_id)
        .select_related("user")
    ]
    if leads:
        return leads
    return list(
        User.objects.filter(is_staff=True, is_active=True).exclude(pk=window.requested_by_id)
    )


def _notify_window(
    window: ExceptionWindow, *, event: str, title: str, body: str, recipients, actor, now
) -> None:
    notify(
        kind=NotificationKind.WINDOW,
        title=title,
        body=body,
        url=_window_url(window),
        dedup_base=f"window:{window.pk}:{event}",
        recipients=[u for u in recipients if u is not None and u.pk != actor.pk],
        subject_type="exception_window",
        subject_id=window.pk,
        now=now,
    )


def _windows_changed(window: ExceptionWindow, now: datetime) -> None:
    # Inside the transaction, after the row is written: the handoffs app recomputes the
    # deadlines of the clocks the window covers before anything commits (signals.py).
    exception_windows_changed.send(sender=ExceptionWindow, window=window, now=now)


@transaction.atomic
def exception_window_request(
    *,
    actor,
    provider_team: Team,
    start: datetime,
    end: datetime,
    reason: str,
    affected_customers: str = "",
    communication_plan: str = "",
    series: AgreementSeries | None = None,
    now: datetime | None = None,
) -> ExceptionWindow:
    """A provider-team member asks for clocks to stop counting during [start, end), with
    the documentation an exception needs; the team's other leads are asked to decide."""
    now = now or timezone.now()
    if not (actor.is_staff or provider_team.memberships.filter(user=actor).exists()):
        raise PermissionDenied("Only a member of the provider team may request a window.")
    errors: dict[str, list[str]] = {}
    if start is None:
        errors["start"] = ["Give the start."]
    if end is None:
        errors["end"] = ["Give the end."]
    for key, moment in (("start", start), ("end", end)):
        if moment is not None and not limits.in_datetime_range(moment):
            errors[key] = [limits.datetime_range_message()]
    # A moment missing or out of range cannot be compared with the other or with now.
    if not errors and end <= start:
        errors["end"] = ["The window must end after it starts."]
    elif not errors:
        _window_limits(start, end, now, errors)
    if not (reason or "").strip():
        errors["reason"] = ["Say why (outage, launch, force majeure…)."]
    if not (affected_customers or "").strip():
        errors["affected_customers"] = [
            "Say which customers are affected (or “none”: internal work only)."
        ]
    if not (communication_plan or "").strip():
        errors["communication_plan"] = [
            "Say who tells the requesting teams and customers, how and when."
        ]
    if series is not None and series.provider_team_id != provider_team.pk:
        errors["series"] = ["That agreement is not one the team provides."]
    if errors:
        raise ValidationError(errors)
    window = ExceptionWindow.objects.create(
        provider_team=provider_team,
        series=series,
        start=start,
        end=end,
        reason=reason.strip(),
        affected_customers=affected_customers.strip(),
        communication_plan=communication_plan.strip(),
        requested_by=actor,
    )
    _notify_window(
        window,
        event="requested",
        title=f"Exception window to decide: {provider_team}, {_window_period(window)}",
        body=f"{actor.display_name} asks that clocks of {_window_scope(window)} stop "
        f"counting during {_window_period(window)}.\n\nReason: {window.reason}\n"
        f"Affected customers: {window.affected_customers}\n"
        f"Communication plan: {window.communication_plan}",
        recipients=_approvers(window),
        actor=actor,
        now=now,
    )
    return window


def _lock_window(window: ExceptionWindow) -> ExceptionWindow:
    return (
        ExceptionWindow.objects.select_for_update(of=("self",))
        .select_related("provider_team", "series__provider_team", "series__requesting_team")
        .get(pk=window.pk)
    )


def _decide(window: ExceptionWindow, actor, status: str, note: str, now: datetime):
    window = _lock_window(window)
    if not can_decide_window(actor, window):
        raise PermissionDenied("Only a lead of the provider team or staff may decide.")
    if status == ExceptionWindow.Status.APPROVED and not can_approve_window(actor, window):
        raise PermissionDenied(
            "You asked for this window: another lead of the team (or staff) must approve it."
        )
    if window.status != ExceptionWindow.Status.REQUESTED:
        raise Conflict(f"This window was already {window.get_status_display().lower()}.")
    if status == ExceptionWindow.Status.APPROVED:
        errors: dict[str, list[str]] = {}
        _window_limits(window.start, window.end, now, errors)
        if errors:
            raise ValidationError(errors)
    window.status = status
    window.decided_by = actor
    window.decided_at = now
    window.decision_note = note
    window.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "updated_at"])
    return window


@transaction.atomic
def exception_window_approve(
    *, window: ExceptionWindow, actor, note: str = "", now: datetime | None = None
) -> ExceptionWindow:
    """Approve a requested window (someone other than its requester, within the limits):
    from now on its time counts on no clock it covers."""
    now = now or timezone.now()
    window = _decide(window, actor, ExceptionWindow.Status.APPROVED, note, now)
    _windows_changed(window, now)
    _notify_window(
        window,
        event="approved",
        title=f"Exception window approved: {window.provider_team}, {_window_period(window)}",
        body=f"{actor.display_name} approved the window you asked for."
        + (f"\n\n{note}" if note else ""),
        recipients=[window.requested_by],
        actor=actor,
        now=now,
    )
    return window


@transaction.atomic
def exception_window_reject(
    *, window: ExceptionWindow, actor, note: str = "", now: datetime | None = None
) -> ExceptionWindow:
    """Refuse a requested window; no clock changes."""
    now = now or timezone.now()
    window = _decide(window, actor, ExceptionWindow.Status.REJECTED, note, now)
    _notify_window(
        window,
        event="rejected",
        title=f"Exception window refused: {window.provider_team}, {_window_period(window)}",
        body=f"{actor.display_name} refused the window you asked for."
        + (f"\n\n{note}" if note else ""),
        recipients=[window.requested_by],
        actor=actor,
        now=now,
    )
    return window


@transaction.atomic
def exception_window_end(
    *, window: ExceptionWindow, actor, now: datetime | None = None, note: str = ""
) -> ExceptionWindow:
    """Stop a window early: an approved window under way ends now (the time it already
    removed stays removed, the approved end is kept in `planned_end`); an approved window
    that has not started is cancelled, and so is a request not yet decided."""
    now = now or timezone.now()
    window = _lock_window(window)
    if not can_end_window(actor, window):
        raise PermissionDenied(
            "Only whoever asked for the window, a lead of the provider team or staff may end it."
        )
    status = ExceptionWindow.Status
    if window.status in (status.REJECTED, status.CANCELLED):
        raise Conflict(f"This window was {window.get_status_display().lower()}; nothing to end.")
    if window.end <= now:
        raise Conflict("This window has already ended.")
    approved = window.status == status.APPROVED
    approved_period = _window_period(window)
    if approved and window.start < now:
        window.planned_end = window.end
        window.end = now
        verb = "ended early"
    else:
        window.status = status.CANCELLED
        verb = "cancelled"
    window.ended_by = actor
    window.ended_at = now
    window.end_note = note
    window.save(
        update_fields=[
            "status",
            "end",
            "planned_end",
            "ended_by",
            "ended_at",
            "end_note",
            "updated_at",
        ]
    )
    if approved:
        _windows_changed(window, now)
        _notify_window(
            window,
            event="ended",
            title=f"Exception window {verb}: {window.provider_team}, {approved_period}",
            body=f"{actor.display_name} {verb} the window approved for {approved_period}."
            + (f"\n\n{note}" if note else ""),
            recipients=[window.requested_by, window.decided_by],
            actor=actor,
            now=now,
        )
    return window
