"""The API's input serializers for handoffs: one per write (filing, and each action),
checking the types of a body before the service checks the domain rules."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from apps.agreements.models import Agreement, Priority
from apps.core import limits
from apps.core.api import IdField, VisibleRelatedField

from .models import Segment


def _text(**kwargs) -> serializers.CharField:
    """Text typed on a handoff: as long as the page accepts (limits.HANDOFF_TEXT_MAX)."""
    return serializers.CharField(allow_blank=True, max_length=limits.HANDOFF_TEXT_MAX, **kwargs)


def _no_null_characters(value, path=""):
    """Where in a JSON value a string holds a NUL (PostgreSQL's jsonb refuses it)."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return path or str(key)
        found = _no_null_characters(item, path or str(key))
        if found is not None:
            return found
    return None


class HandoffCreateInput(serializers.Serializer):
    """A new handoff under an active agreement you may see. The triage answers are checked
    against that version's triage template, each problem under its field's key:
    `{"triage": {"steps": ["Steps to reproduce is required."]}}`."""

    agreement = VisibleRelatedField(
        queryset=Agreement.objects.all(),
        pk_field=IdField(),
        help_text="The id of an active agreement version.",
    )
    title = serializers.CharField(max_length=limits.TITLE_MAX, allow_blank=True)
    priority = serializers.ChoiceField(choices=Priority.choices)
    triage = serializers.DictField(
        required=False,
        default=dict,
        help_text="Answers to the agreement's triage fields, keyed by field key.",
    )
    description = _text(required=False, default="")
    customer_segment = serializers.ChoiceField(
        choices=Segment.choices, required=False, default=Segment.BUSINESS
    )
    impacted_customers = serializers.IntegerField(
        required=False,
        default=0,
        # The storage range of an integer column: a larger number is a type error (and would
        # overflow PostgreSQL's integer), whereas "not negative" is a rule the service words.
        min_value=-limits.INT_MAX,
        max_value=limits.IMPACTED_CUSTOMERS_MAX,
    )

    def validate_triage(self, value):
        if len(value) > limits.PARTS_MAX:
            raise serializers.ValidationError(
                f"At most {limits.PARTS_MAX} answers (an agreement has at most that many "
                "triage fields)."
            )
        where = _no_null_characters(value)
        if where is not None:
            raise serializers.ValidationError({where: ["Null characters are not allowed."]})
        return value


class HandoffAcknowledgeInput(serializers.Serializer):
    """No fields: the acknowledge clock stops; an unassigned handoff goes to you."""


class HandoffStartInput(serializers.Serializer):
    """No fields: work starts (acknowledging a new handoff first)."""


class HandoffWaitInput(serializers.Serializer):
    question = _text(help_text="What you need from them.")


class HandoffResumeInput(serializers.Serializer):
    reply = _text(required=False, default="")


class HandoffActionPlanInput(serializers.Serializer):
    plan = _text(help_text="What will be done, by when.")


class HandoffResolveInput(serializers.Serializer):
    resolution = _text()


class HandoffReopenInput(serializers.Serializer):
    reason = _text()


class HandoffCloseInput(serializers.Serializer):
    comment = _text(required=False, default="")


class HandoffCancelInput(serializers.Serializer):
    reason = _text()


class HandoffAssignInput(serializers.Serializer):
    """Either `assignee` (a provider-team member's user id, or null to unassign) or
    `"claim": true` to take an unassigned handoff yourself (first come, first served)."""

    assignee = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        pk_field=IdField(),
        required=False,
        allow_null=True,
    )
    claim = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if attrs["claim"] and "assignee" in attrs:
            raise serializers.ValidationError(
                {"claim": ["Either claim the handoff or name an assignee, not both."]}
            )
        if not attrs["claim"] and "assignee" not in attrs:
            raise serializers.ValidationError(
                {"assignee": ["Name an assignee (null to unassign), or send claim: true."]}
            )
        return attrs


class HandoffCommentInput(serializers.Serializer):
    comment = _text()


class HandoffPriorityInput(serializers.Serializer):
    priority = serializers.ChoiceField(choices=Priority.choices)
    reason = _text()


class HandoffWatchInput(serializers.Serializer):
    """No fields: you watch (or stop watching) the handoff."""
