"""What a version may hold: the fields a draft editor sets, and `validate_version`, which
checks a version and its parts (targets, triage template, escalation ladder) before it is
written. Errors on parts use dotted keys, `targets.2.resolve_seconds`."""

from __future__ import annotations

import itertools

from django.core.exceptions import ValidationError

from apps.core import limits
from apps.core.patterns import pattern_problem
from apps.teams.models import Membership, Team

from ..models import SLUG_RE, FieldKind, Kind, Metric, Notify, Priority
from ..targets import METRICS as TARGET_METRICS
from ..targets import tier_problems

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
    "confirmation_days",
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


def check_contacts(*, steps: list[dict], teams: tuple[Team, Team]) -> None:
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
