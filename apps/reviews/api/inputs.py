"""What the reviews API accepts: one input serializer per write, checking only the types
(the services check the domain rules), with ids bounded and related rows limited to those
the user may see."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from apps.core import limits
from apps.core.api import IdField, VisibleRelatedField
from apps.core.fields import BoundedDateInput

from ..models import BreachReview, QuarterlyReview, RootCause
from .serializers import TargetsField


def _text(**kwargs):
    return serializers.CharField(max_length=limits.LONG_TEXT_MAX, allow_blank=True, **kwargs)


class ReviewUpdateInput(serializers.Serializer):
    """Omitted fields are kept. `proposed_targets` replaces the proposal as a whole."""

    findings = _text(required=False)
    decisions = _text(required=False)
    proposed_targets = TargetsField(required=False)


class ReviewStartInput(serializers.Serializer):
    """No fields: the compliance pack and the recommendations are frozen now."""


class ReviewSignOffInput(serializers.Serializer):
    comment = serializers.CharField(
        max_length=limits.DECISION_TEXT_MAX, required=False, allow_blank=True, default=""
    )


class WhatIfInput(serializers.Serializer):
    targets = TargetsField(
        required=False,
        help_text="The targets to replay; omitted: the review's proposed targets. "
        "A priority or metric left out is replayed at its current target.",
    )


class BreachReviewCreateInput(serializers.Serializer):
    clock = IdField(help_text="The breached clock (a handoff's `clocks[].id`).")
    root_cause = serializers.ChoiceField(choices=RootCause.choices)
    what_happened = _text()
    prevention = _text(required=False, default="")


class BreachReviewUpdateInput(serializers.Serializer):
    root_cause = serializers.ChoiceField(choices=RootCause.choices, required=False)
    what_happened = _text(required=False)
    prevention = _text(required=False)


class ActionItemCreateInput(serializers.Serializer):
    """An action item of a quarterly review or of a breach review (exactly one)."""

    review = VisibleRelatedField(
        queryset=QuarterlyReview.objects.all(), pk_field=IdField(), required=False, allow_null=True
    )
    breach_review = VisibleRelatedField(
        queryset=BreachReview.objects.all(), pk_field=IdField(), required=False, allow_null=True
    )
    title = serializers.CharField(max_length=limits.TITLE_MAX, allow_blank=True)
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        pk_field=IdField(),
        help_text="A member of one of the two teams.",
    )
    due_date = BoundedDateInput()

    def validate(self, attrs):
        if bool(attrs.get("review")) == bool(attrs.get("breach_review")):
            raise serializers.ValidationError(
                {"review": ["Give either a review or a breach review (exactly one)."]}
            )
        return attrs


class ActionItemDoneInput(serializers.Serializer):
    done = serializers.BooleanField(help_text="true: done now; false: open again.")
