"""An agreement version's lifecycle: draft, edit, submit, approve, request changes,
amend (the next version as a draft) and retire. Every function is one state change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from dateutil.relativedelta import relativedelta
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.core.exceptions import Conflict
from apps.teams.models import Team

from ..models import (
    Agreement,
    AgreementApproval,
    AgreementSeries,
    EscalationStep,
    Kind,
    Notify,
    PriorityTarget,
    Status,
    TriageField,
)
from .notices import tell_approved, tell_changes_requested, tell_submitted
from .permissions import can_edit, is_lead_of, sides_to_approve
from .validation import (
    AGREEMENT_FIELDS,
    STEP_FIELDS,
    TARGET_FIELDS,
    TRIAGE_FIELDS,
    check_contacts,
    validate_version,
)


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
    if not (
        actor.is_staff or is_lead_of(actor, provider_team) or is_lead_of(actor, requesting_team)
    ):
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
    check_contacts(steps=steps, teams=(provider_team, requesting_team))
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
    check_contacts(
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
    """Ask both teams' leads to approve a draft that changes something (they are told);
    earlier approvals are cleared."""
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
    tell_submitted(agreement, actor=actor, now=now)
    return agreement


@transaction.atomic
def agreement_approve(
    *, agreement: Agreement, actor, comment: str = "", now: datetime | None = None
) -> Agreement:
    """Record the actor's approval for each side they lead; with both sides approved the
    version becomes active and the previous active version superseded, together. Both
    teams' leads are told."""
    agreement = _lock(agreement)
    is_lead = any(
        is_lead_of(actor, t) for t in (agreement.provider_team, agreement.requesting_team)
    )
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
    activated = {agreement.series.provider_team_id, agreement.series.requesting_team_id} <= approved
    if activated:
        _activate(agreement, now)
    tell_approved(
        agreement, actor=actor, teams=sides, activated=activated, comment=comment, now=now
    )
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
    """Send a version in review back to draft (approvals so far are dropped); its author is
    told."""
    now = now or timezone.now()
    agreement = _lock(agreement)
    if not can_edit(actor, agreement):
        raise PermissionDenied("Only a lead of the provider or requesting team may do that.")
    if agreement.status != Status.IN_REVIEW:
        raise Conflict("Only a version in review can be sent back to draft.")
    agreement.approvals.all().delete()
    submitted_at = agreement.submitted_at
    agreement.status = Status.DRAFT
    agreement.submitted_at = None
    if comment:
        agreement.change_summary = (
            agreement.change_summary + "\n\nChanges requested: " + comment
        ).strip()
    agreement.save(update_fields=["status", "submitted_at", "change_summary", "updated_at"])
    tell_changes_requested(
        agreement, actor=actor, comment=comment, submitted_at=submitted_at, now=now
    )
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
