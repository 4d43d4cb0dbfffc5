"""The triage form a requester fills in when filing a handoff, built from a version's
triage template (`triage_form_class`)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import escape

from apps.core import limits
from apps.core.patterns import TIMEOUT_MESSAGE, PatternBudget, PatternError, PatternTimeout

from ..models import FieldKind


def field_value(field, name: str, default=None):
    """Read an attribute of a TriageField row or a key of the same thing as a dict."""
    if isinstance(field, dict):
        return field.get(name, default)
    return getattr(field, name, default)


class TriageForm(forms.Form):
    """The answers must match the whole of their field's pattern, as an HTML `pattern`
    attribute does. Checked here rather than by a validator per field so that all the
    matches share one time budget (`apps.core.patterns`)."""

    # Underscored: a triage key starts with a letter, so no field can take this name.
    _patterns: dict[str, str] = {}

    def clean(self):
        cleaned = super().clean()
        budget = PatternBudget()
        for key, pattern in self._patterns.items():
            value = cleaned.get(key)
            if value in (None, ""):
                continue
            try:
                matched = budget.full_match(pattern, str(value))
            except PatternTimeout:
                self.add_error(key, ValidationError(TIMEOUT_MESSAGE, code="pattern_timeout"))
                continue
            except PatternError:
                # The service refuses such patterns; a stored one must not break the form.
                continue
            if not matched:
                self.add_error(
                    key,
                    ValidationError(
                        "Does not match the expected format (%(pattern)s).",
                        code="pattern",
                        params={"pattern": pattern},
                    ),
                )
        return cleaned


def _triage_form_field(field) -> forms.Field:
    kind = field_value(field, "kind") or FieldKind.TEXT
    options = {
        "label": field_value(field, "label") or field_value(field, "key"),
        # Written by a lead, shown to everyone: Django and crispy render a form's help text
        # as HTML (`|safe`), so it is escaped here and can only ever be text.
        "help_text": escape(field_value(field, "help_text") or ""),
        "required": bool(field_value(field, "required", True)),
    }
    if kind == FieldKind.LONG_TEXT:
        form_field = forms.CharField(
            widget=forms.Textarea(attrs={"rows": 3}),
            max_length=limits.TRIAGE_LONG_TEXT_MAX,
            **options,
        )
    elif kind == FieldKind.URL:
        form_field = forms.URLField(
            assume_scheme="https", max_length=limits.TRIAGE_TEXT_MAX, **options
        )
    elif kind == FieldKind.EMAIL:
        form_field = forms.EmailField(max_length=limits.TRIAGE_TEXT_MAX, **options)
    elif kind == FieldKind.NUMBER:
        form_field = forms.DecimalField(
            min_value=Decimal(0), max_value=Decimal(limits.TRIAGE_NUMBER_MAX), **options
        )
    elif kind == FieldKind.CHOICE:
        choices = [(c, c) for c in (field_value(field, "choices") or [])]
        form_field = forms.ChoiceField(choices=[("", "—"), *choices], **options)
    else:
        form_field = forms.CharField(max_length=limits.TRIAGE_TEXT_MAX, **options)
    return form_field


def triage_form_class(fields: Iterable, *, disabled: bool = False) -> type[forms.Form]:
    """A Form class with one field per triage field (model rows or dicts), in order.

    The agreement page previews it disabled; the create-handoff form uses it as is.
    """
    rows = sorted(fields, key=lambda f: field_value(f, "order") or 0)
    declared: dict = {"_patterns": {}}
    for row in rows:
        form_field = _triage_form_field(row)
        form_field.disabled = disabled
        declared[field_value(row, "key")] = form_field
        pattern = field_value(row, "pattern") or ""
        if pattern and field_value(row, "kind") != FieldKind.CHOICE:
            declared["_patterns"][field_value(row, "key")] = pattern
    return type("TriageForm", (TriageForm,), declared)
