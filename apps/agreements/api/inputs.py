"""What the agreements API reads: one input serializer per write, checking types only (DRF
reports missing fields and wrong types); the services check the domain rules.
"""

from django.contrib.auth import get_user_model
from rest_framework import serializers
from rest_framework.settings import api_settings

from apps.calendars.models import BusinessCalendar
from apps.core import limits
from apps.core.api import VisibleRelatedField
from apps.core.fields import AwareDateTimeInput, BoundedDateInput
from apps.teams.models import Team

from ..models import Agreement, AgreementSeries, FieldKind, Kind, Metric, Notify, Party, Priority

# Input sizes are the storage ranges of the columns and the sizes the pages accept
# (apps.core.limits): a larger number is a type error (and would overflow PostgreSQL's
# integer columns), whereas "positive", "1-99 %" … are rules of the services.


def _long_text(**kwargs) -> serializers.CharField:
    return serializers.CharField(
        required=False, allow_blank=True, max_length=limits.LONG_TEXT_MAX, **kwargs
    )


def _decision_text() -> serializers.CharField:
    return serializers.CharField(
        required=False, allow_blank=True, default="", max_length=limits.DECISION_TEXT_MAX
    )


class IndexedErrorsListSerializer(serializers.ListSerializer):
    """A list of parts whose errors are keyed by item index, `{"2": {"percent": […]}}`: the
    shape the services' dotted keys (`steps.2.percent`) take, so a client reads one shape
    whichever layer found the problem."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = exc.detail
            if isinstance(detail, list):
                raise serializers.ValidationError(
                    {str(index): errors for index, errors in enumerate(detail) if errors}
                ) from None
            if isinstance(detail, dict) and set(detail) == {api_settings.NON_FIELD_ERRORS_KEY}:
                # "Expected a list", "no more than 50 elements": about the list itself.
                raise serializers.ValidationError(
                    detail[api_settings.NON_FIELD_ERRORS_KEY]
                ) from None
            raise


def _visible_series(queryset, user):
    return queryset.filter(pk__in=Agreement.objects.visible_to(user).values("series_id"))


class TargetInput(serializers.Serializer):
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    impact = _long_text()
    acknowledge_seconds = serializers.IntegerField(
        required=False,
        allow_null=True,
        max_value=limits.TARGET_SECONDS_MAX,
        min_value=-limits.INT_MAX,
    )
    action_plan_seconds = serializers.IntegerField(
        required=False,
        allow_null=True,
        max_value=limits.TARGET_SECONDS_MAX,
        min_value=-limits.INT_MAX,
    )
    resolve_seconds = serializers.IntegerField(
        required=False,
        allow_null=True,
        max_value=limits.TARGET_SECONDS_MAX,
        min_value=-limits.INT_MAX,
    )
    around_the_clock = serializers.BooleanField(required=False)
    pause_action_plan = serializers.BooleanField(required=False)
    pause_resolve = serializers.BooleanField(required=False)

    class Meta:
        list_serializer_class = IndexedErrorsListSerializer


class TriageFieldInput(serializers.Serializer):
    key = serializers.CharField(max_length=limits.TRIAGE_KEY_MAX, required=False, allow_blank=True)
    label = serializers.CharField(
        max_length=limits.TRIAGE_LABEL_MAX, required=False, allow_blank=True
    )
    help_text = serializers.CharField(
        max_length=limits.TRIAGE_HELP_TEXT_MAX,
        required=False,
        allow_blank=True,
        help_text="Shown as plain text under the field.",
    )
    kind = serializers.ChoiceField(choices=FieldKind.choices, required=False, default="text")
    choices = serializers.ListField(
        child=serializers.CharField(max_length=limits.TRIAGE_CHOICE_MAX, allow_blank=True),
        required=False,
        max_length=limits.PARTS_MAX,
    )
    required = serializers.BooleanField(required=False)
    pattern = serializers.CharField(
        max_length=limits.TRIAGE_PATTERN_MAX, required=False, allow_blank=True
    )
    order = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=limits.SMALL_INT_MAX
    )

    class Meta:
        list_serializer_class = IndexedErrorsListSerializer


class StepInput(serializers.Serializer):
    metric = serializers.ChoiceField(choices=Metric.choices, required=False)
    percent = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=-limits.SMALL_INT_MAX,
        max_value=limits.STEP_PERCENT_MAX,
    )
    notify = serializers.ChoiceField(choices=Notify.choices, required=False)
    user = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text="Only when notify is `user`.",
    )
    raise_priority = serializers.BooleanField(required=False)

    class Meta:
        list_serializer_class = IndexedErrorsListSerializer


class VersionInput(serializers.Serializer):
    """The editable fields of a version and its parts (targets, triage template, ladder)."""

    title = serializers.CharField(max_length=limits.TITLE_MAX, allow_blank=True)
    kind = serializers.ChoiceField(choices=Kind.choices, required=False)
    service_description = _long_text()
    scope_included = _long_text()
    scope_excluded = _long_text()
    customer_sla = _long_text()
    calendar = VisibleRelatedField(
        queryset=BusinessCalendar.objects.all(),
        required=False,
        help_text="Defaults to the provider team's calendar on a new draft.",
    )
    warning_threshold = serializers.IntegerField(
        required=False, min_value=-limits.SMALL_INT_MAX, max_value=limits.SMALL_INT_MAX
    )
    initial_response_by = serializers.ChoiceField(choices=Party.choices, required=False)
    triage_by = serializers.ChoiceField(choices=Party.choices, required=False)
    updates_by = serializers.ChoiceField(choices=Party.choices, required=False)
    resolution_validated_by = serializers.ChoiceField(choices=Party.choices, required=False)
    review_cadence_months = serializers.IntegerField(
        required=False, min_value=-limits.SMALL_INT_MAX, max_value=limits.SMALL_INT_MAX
    )
    next_review_date = BoundedDateInput(required=False, allow_null=True)
    playbook = _long_text()
    waiting_auto_close_days = serializers.IntegerField(
        required=False, min_value=-limits.SMALL_INT_MAX, max_value=limits.SMALL_INT_MAX
    )
    confirmation_days = serializers.IntegerField(
        required=False,
        min_value=-limits.SMALL_INT_MAX,
        max_value=limits.SMALL_INT_MAX,
        help_text="Business days (the provider team's calendar) after which a resolved "
        "handoff the requester has not confirmed or reopened closes.",
    )
    change_summary = _long_text()
    targets = TargetInput(many=True, required=False, max_length=limits.PARTS_MAX)
    triage_fields = TriageFieldInput(many=True, required=False, max_length=limits.PARTS_MAX)
    steps = StepInput(
        many=True,
        required=False,
        max_length=limits.PARTS_MAX,
        help_text="The escalation ladder (shown as `escalation_steps` on output).",
    )


class AgreementCreateInput(VersionInput):
    """A new agreement between two teams, as version 1 in draft. Omitted fields take their
    defaults (the calendar: the provider team's)."""

    provider_team = VisibleRelatedField(queryset=Team.objects.all())
    requesting_team = VisibleRelatedField(queryset=Team.objects.all())


class AgreementUpdateInput(VersionInput):
    """A draft's new values. PUT requires the title, PATCH nothing; either way omitted
    fields and parts are kept, and a list given replaces every stored part of its kind."""

    def __init__(self, *args, patch: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        # Not DRF's `partial`: it would also relax the items of the nested lists, and a
        # list given is a complete new set of parts, validated in full.
        if patch:
            for field in self.fields.values():
                field.required = False


class CommentInput(serializers.Serializer):
    comment = _decision_text()


class AgreementSubmitInput(serializers.Serializer):
    """No fields: submitting asks both teams' leads to approve."""


class AgreementApproveInput(CommentInput):
    pass


class AgreementRequestChangesInput(CommentInput):
    pass


class AgreementAmendInput(serializers.Serializer):
    """No fields: the new draft copies the active version."""


class AgreementRetireInput(serializers.Serializer):
    reason = _decision_text()


class ExceptionWindowInput(serializers.Serializer):
    provider_team = VisibleRelatedField(queryset=Team.objects.all())
    series = VisibleRelatedField(
        queryset=AgreementSeries.objects.all(),
        visible=_visible_series,
        required=False,
        allow_null=True,
        help_text="The agreement series (an agreement's `series`); empty: every agreement "
        "the provider team keeps.",
    )
    start = AwareDateTimeInput()
    end = AwareDateTimeInput()
    reason = serializers.CharField(allow_blank=True, max_length=limits.DECISION_TEXT_MAX)
    # Seed 003's documentation of an exception: required by the service (a blank one is
    # refused with a message on the field).
    affected_customers = serializers.CharField(allow_blank=True, max_length=2000)
    communication_plan = serializers.CharField(allow_blank=True, max_length=2000)


class WindowDecisionInput(serializers.Serializer):
    note = _decision_text()


class ExceptionWindowApproveInput(WindowDecisionInput):
    pass


class ExceptionWindowRejectInput(WindowDecisionInput):
    pass


class ExceptionWindowEndInput(WindowDecisionInput):
    pass
