"""Validate triage answers against an agreement version's triage template.

The single source of the rules, used by the create form and the API alike: each answer
is checked and normalised, and every problem is reported on its field's key.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from apps.agreements.models import FieldKind, TriageField
from apps.core import limits
from apps.core.patterns import TIMEOUT_MESSAGE, PatternBudget, PatternError, PatternTimeout


def clean_answer(
    field: TriageField, raw, *, budget: PatternBudget | None = None
) -> tuple[object, str | None]:
    """(normalised value, error message or None) for one answer. Its pattern is matched
    within `budget` (the filing's), or a budget of its own."""
    value = "" if raw is None else raw
    if isinstance(value, str):
        value = value.strip()
    if value in ("", [], {}):
        if field.required:
            return None, f"{field.label} is required."
        return None, None
    if field.kind == FieldKind.NUMBER:
        try:
            value = limits.parse_number(value, maximum=limits.TRIAGE_NUMBER_MAX)
        except ValueError:
            return None, (
                f"{field.label} must be a number of at most "
                f"{limits.TRIAGE_NUMBER_MAX:,} (digits 0-9, no exponent beyond that)."
            )
    elif not isinstance(value, str):
        return None, f"{field.label} must be text."
    else:
        limit = (
            limits.TRIAGE_LONG_TEXT_MAX
            if field.kind == FieldKind.LONG_TEXT
            else limits.TRIAGE_TEXT_MAX
        )
        if len(value) > limit:
            return None, f"{field.label} has at most {limit:,} characters (it has {len(value):,})."
        if problem := limits.bad_character(value):
            return None, f"{field.label}: {problem}"
    if field.kind == FieldKind.CHOICE and value not in field.choices:
        return None, f"Choose one of: {', '.join(field.choices)}."
    if field.kind == FieldKind.URL:
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError:
            return None, f"{field.label} must be a link starting with http:// or https://."
    if field.kind == FieldKind.EMAIL:
        try:
            EmailValidator()(value)
        except ValidationError:
            return None, f"{field.label} must be an email address."
    if field.pattern:
        try:
            matched = (budget or PatternBudget()).full_match(field.pattern, str(value))
        except PatternTimeout:
            return None, TIMEOUT_MESSAGE
        except PatternError:
            # Saved before patterns were checked as they are now: it checks nothing rather
            # than stopping every filing under the agreement.
            matched = True
        if not matched:
            return None, f"{field.label} does not have the expected format."
    return value, None


def validate_triage(fields: list[TriageField], answers: dict | None) -> dict:
    """Cleaned answers keyed by field key; raises ValidationError keyed `triage.<key>`."""
    if answers is not None and not isinstance(answers, dict):
        raise ValidationError({"triage": ["Triage answers must be an object of key: value."]})
    answers = answers or {}
    cleaned: dict = {}
    errors: dict[str, list[str]] = {}
    budget = PatternBudget()
    for field in fields:
        value, error = clean_answer(field, answers.get(field.key), budget=budget)
        if error:
            errors[f"triage.{field.key}"] = [error]
        elif value is not None:
            cleaned[field.key] = value
    unknown = sorted(set(answers) - {f.key for f in fields})
    if unknown:
        named = ", ".join(limits.printable(str(key), 50) for key in unknown[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        errors["triage"] = [f"Unknown triage fields: {named}{more}."]
    if errors:
        raise ValidationError(errors)
    return cleaned
