"""Forms of the review pages: the proposed-targets grid, findings and decisions, sign-off,
action items, and the breach review.

The forms only parse what people type (durations as "2h", "30m", "1h30m"). Domain rules
(a target must be positive, only leads sign, only the two teams' members own actions) live
in `apps.reviews.services`, whose ValidationError keys the views put back on these fields.
"""

from __future__ import annotations

from django import forms

from apps.accounts.models import User
from apps.agreements.forms import DurationField
from apps.agreements.models import Metric, Priority
from apps.core import limits
from apps.core.fields import BoundedDateField
from apps.core.forms import textarea

from .models import RootCause


def target_field_name(priority: str, metric: str) -> str:
    """'P2', 'acknowledge' → 'P2_acknowledge': the grid cell's field."""
    return f"{priority}_{metric}"


class TargetsForm(forms.Form):
    """The proposed targets as a grid: one duration per priority × metric, blank for best
    effort. `targets()` gives the service's dict shape."""

    def __init__(self, *args, priorities: list[str], **kwargs):
        initial_targets = kwargs.pop("targets", None) or {}
        super().__init__(*args, **kwargs)
        self.priorities = [p for p in Priority.values if p in priorities]
        for priority in self.priorities:
            for metric in Metric:
                name = target_field_name(priority, metric.value)
                self.fields[name] = DurationField(
                    label=f"{priority} {metric.label.lower()}",
                    widget=forms.TextInput(
                        attrs={
                            "placeholder": "best effort",
                            "size": 8,
                            "maxlength": 20,
                            "data-target-cell": name,
                        }
                    ),
                )
                if priority in initial_targets:
                    self.initial[name] = initial_targets[priority].get(metric.value)

    def rows(self) -> list[dict]:
        """The grid for the template: a row per priority, a bound field per metric."""
        return [
            {
                "priority": priority,
                "cells": [
                    {"metric": m.value, "field": self[target_field_name(priority, m.value)]}
                    for m in Metric
                ],
            }
            for priority in self.priorities
        ]

    def targets(self) -> dict:
        """{"P1": {"acknowledge": 1800, "action_plan": None, …}, …} from cleaned data."""
        return {
            priority: {
                m.value: self.cleaned_data.get(target_field_name(priority, m.value)) for m in Metric
            }
            for priority in self.priorities
        }

    def valid_targets(self) -> dict:
        """What can be replayed of a form that may be partly invalid: each cell that
        parsed (an invalid cell counts as absent), so a what-if keeps answering for the
        cells typed correctly while one is still being typed."""
        result: dict = {}
        for priority in self.priorities:
            row = {}
            for m in Metric:
                name = target_field_name(priority, m.value)
                if name in self.cleaned_data:
                    row[m.value] = self.cleaned_data[name]
            result[priority] = row
        return result

    def add_service_errors(self, errors: dict) -> None:
        """Service keys such as "proposed_targets.P2.acknowledge" onto the grid's cells."""
        for key, messages in errors.items():
            parts = key.split(".")
            if parts[0] == "proposed_targets":
                parts = parts[1:]
            if len(parts) == 2 and target_field_name(*parts) in self.fields:
                self.add_error(target_field_name(*parts), messages)
            elif len(parts) == 1 and parts[0] in self.priorities:
                self.add_error(target_field_name(parts[0], Metric.ACKNOWLEDGE), messages)
            else:
                self.add_error(None, messages)


class ReviewNotesForm(forms.Form):
    findings = forms.CharField(
        required=False,
        max_length=limits.LONG_TEXT_MAX,
        widget=textarea(6),
        help_text="What the figures say: what went well, what did not, and why.",
    )
    decisions = forms.CharField(
        required=False,
        max_length=limits.LONG_TEXT_MAX,
        widget=textarea(6),
        help_text="What both teams agree to change (targets, staffing, process).",
    )


class SignOffForm(forms.Form):
    comment = forms.CharField(
        required=False, max_length=limits.DECISION_TEXT_MAX, label="Comment (optional)"
    )


class ActionItemForm(forms.Form):
    title = forms.CharField(
        max_length=limits.TITLE_MAX, error_messages={"required": "Say what is to be done."}
    )
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(), error_messages={"required": "Choose who owns it."}
    )
    due_date = BoundedDateField(
        label="Due",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": "Give a due date."},
    )

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        owner = self.fields["owner"]
        owner.queryset = (
            User.objects.filter(is_active=True, memberships__team__in=teams)
            .distinct()
            .order_by("first_name", "last_name", "username")
        )
        owner.label_from_instance = lambda u: u.display_name


class ActionDoneForm(forms.Form):
    done = forms.BooleanField(required=False)


class BreachReviewForm(forms.Form):
    root_cause = forms.ChoiceField(
        label="Root cause",
        choices=[("", "—"), *RootCause.choices],
        error_messages={"required": "Choose the root cause."},
    )
    what_happened = forms.CharField(
        label="What happened",
        max_length=limits.LONG_TEXT_MAX,
        widget=textarea(4),
        error_messages={"required": "Say what happened."},
    )
    prevention = forms.CharField(
        label="What would have prevented it",
        required=False,
        max_length=limits.LONG_TEXT_MAX,
        widget=textarea(3),
    )
