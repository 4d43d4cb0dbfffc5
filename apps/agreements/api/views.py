"""REST API of agreements and exception windows.

Reads come from `visible_to(user)`; every write is an input serializer that checks types
(so DRF reports missing fields and wrong types) followed by exactly one service call that
checks the domain rules. Service errors become HTTP answers in `apps.core.api`:
ValidationError → 400, PermissionDenied → 403, Conflict → 409.
"""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.settings import api_settings

from apps.calendars.models import BusinessCalendar
from apps.core import limits
from apps.core.api import (
    ApiErrorSerializer,
    SafeJSONParser,
    ServiceActionMixin,
    VisibleRelatedField,
    error_responses,
)
from apps.core.fields import AwareDateTimeInput, BoundedDateInput
from apps.teams.models import Team

from . import services
from .filters import AgreementFilter
from .models import (
    Agreement,
    AgreementApproval,
    AgreementSeries,
    EscalationStep,
    ExceptionWindow,
    FieldKind,
    Kind,
    Metric,
    Notify,
    Party,
    Priority,
    PriorityTarget,
    TriageField,
)

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


# --- output --------------------------------------------------------------------------------


class PriorityTargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = PriorityTarget
        fields = list(services.TARGET_FIELDS)
        read_only_fields = fields


class TriageFieldSerializer(serializers.ModelSerializer):
    choices = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = TriageField
        fields = list(services.TRIAGE_FIELDS)
        read_only_fields = fields


class EscalationStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = EscalationStep
        fields = list(services.STEP_FIELDS)
        read_only_fields = fields


class AgreementApprovalSerializer(serializers.ModelSerializer):
    team_slug = serializers.CharField(source="team.slug", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = AgreementApproval
        fields = ["team", "team_slug", "user", "username", "approved_at", "comment"]
        read_only_fields = fields


class AgreementSerializer(serializers.ModelSerializer):
    """One version of an agreement with its tiers, triage template, ladder and approvals."""

    provider_team = serializers.IntegerField(source="series.provider_team_id", read_only=True)
    provider_team_slug = serializers.CharField(source="series.provider_team.slug", read_only=True)
    provider_team_name = serializers.CharField(source="series.provider_team.name", read_only=True)
    requesting_team = serializers.IntegerField(source="series.requesting_team_id", read_only=True)
    requesting_team_slug = serializers.CharField(
        source="series.requesting_team.slug", read_only=True
    )
    requesting_team_name = serializers.CharField(
        source="series.requesting_team.name", read_only=True
    )
    targets = PriorityTargetSerializer(many=True, read_only=True)
    triage_fields = TriageFieldSerializer(many=True, read_only=True)
    escalation_steps = EscalationStepSerializer(many=True, read_only=True)
    approvals = AgreementApprovalSerializer(many=True, read_only=True)

    class Meta:
        model = Agreement
        fields = [
            "id",
            "series",
            "version",
            "status",
            "kind",
            "title",
            "provider_team",
            "provider_team_slug",
            "provider_team_name",
            "requesting_team",
            "requesting_team_slug",
            "requesting_team_name",
            "service_description",
            "scope_included",
            "scope_excluded",
            "customer_sla",
            "calendar",
            "warning_threshold",
            # Responsibilities: who (side + role) carries each duty.
            "initial_response_by",
            "triage_by",
            "updates_by",
            "resolution_validated_by",
            "review_cadence_months",
            "next_review_date",
            "playbook",
            "waiting_auto_close_days",
            "change_summary",
            "created_by",
            "submitted_at",
            "activated_at",
            "ended_at",
            "targets",
            "triage_fields",
            "escalation_steps",
            "approvals",
        ]
        read_only_fields = fields


# --- input ---------------------------------------------------------------------------------


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


# --- agreements ----------------------------------------------------------------------------

ERRORS = error_responses(
    invalid="Field-keyed messages; nested parts by index: "
    '`{"targets": {"0": {"resolve_seconds": ["…"]}}}`.',
    forbidden="Not a lead of either team.",
    conflict="The version's status does not allow this.",
)


def _action_schema(request, summary, *, created=False):
    code = 201 if created else 200
    return extend_schema(
        summary=summary, request=request, responses={code: AgreementSerializer, **ERRORS}
    )


@extend_schema_view(
    list=extend_schema(summary="Agreement versions you may see"),
    retrieve=extend_schema(summary="One agreement version", responses={200: AgreementSerializer}),
    create=extend_schema(
        summary="Draft a new agreement (version 1)",
        request=AgreementCreateInput,
        responses={201: AgreementSerializer, **{k: ERRORS[k] for k in (400, 403)}},
    ),
    update=extend_schema(
        summary="Replace a draft's fields and the parts given",
        request=AgreementUpdateInput,
        responses={200: AgreementSerializer, **ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change some of a draft's fields; omitted parts are kept",
        request=AgreementUpdateInput,
        responses={200: AgreementSerializer, **ERRORS},
    ),
)
class AgreementViewSet(
    ServiceActionMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Agreement versions. Drafts are written here; every other change is an action.
    Nothing is deleted: a version is retired."""

    serializer_class = AgreementSerializer
    filterset_class = AgreementFilter
    # Nested lists of parts only make sense as JSON.
    parser_classes = [SafeJSONParser]

    def get_queryset(self):
        visible = Agreement.objects.visible_to(self.request.user)
        if self.action not in ("list", "retrieve"):
            return visible  # a write: the service re-reads the row under a lock
        return self._with_parts(visible)

    @staticmethod
    def _with_parts(queryset):
        return (
            queryset.for_list()
            .select_related("created_by")
            .prefetch_related(
                "triage_fields",
                "escalation_steps",
                Prefetch(
                    "approvals", queryset=AgreementApproval.objects.select_related("team", "user")
                ),
            )
            .order_by("title", "-version", "pk")
        )

    def respond_queryset(self):
        return self._with_parts(Agreement.objects.visible_to(self.request.user))

    def _editable(self) -> Agreement:
        """The version to write, once the user may edit it (a lead of either team, or
        staff): who sees it but may not is refused (403) whatever the body says, as on the
        page; the body is read after. (The service asks again under its lock.)"""
        agreement = self.get_object()
        if not services.can_edit(self.request.user, agreement):
            raise PermissionDenied("Only a lead of the provider or requesting team may do that.")
        return agreement

    def create(self, request, *args, **kwargs):
        data = dict(self._input(AgreementCreateInput))
        agreement = services.agreement_create_draft(actor=request.user, **data)
        return self._respond(agreement, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        agreement = self._editable()
        data = self._input(AgreementUpdateInput, patch=kwargs.get("partial", False))
        agreement = services.agreement_update_draft(agreement=agreement, actor=request.user, **data)
        return self._respond(agreement)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @_action_schema(AgreementSubmitInput, "Submit a draft for both leads' approval")
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        agreement = self._editable()
        self._input(AgreementSubmitInput)
        return self._respond(services.agreement_submit(agreement=agreement, actor=request.user))

    @_action_schema(AgreementApproveInput, "Approve a version in review for the sides you lead")
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        # Anyone signed in sees an active version: who leads neither team is refused
        # before the body is read. (The service asks again, and refuses staff.)
        agreement = self._editable()
        data = self._input(AgreementApproveInput)
        return self._respond(
            services.agreement_approve(
                agreement=agreement, actor=request.user, comment=data["comment"]
            )
        )

    @_action_schema(AgreementRequestChangesInput, "Send a version in review back to draft")
    @action(detail=True, methods=["post"], url_path="request-changes")
    def request_changes(self, request, pk=None):
        agreement = self._editable()
        data = self._input(AgreementRequestChangesInput)
        return self._respond(
            services.agreement_request_changes(
                agreement=agreement, actor=request.user, comment=data["comment"]
            )
        )

    @_action_schema(
        AgreementAmendInput,
        "Open the next version as a draft (returns the new draft)",
        created=True,
    )
    @action(detail=True, methods=["post"])
    def amend(self, request, pk=None):
        agreement = self._editable()
        self._input(AgreementAmendInput)
        draft = services.agreement_amend(agreement=agreement, actor=request.user)
        return self._respond(draft, status.HTTP_201_CREATED)

    @_action_schema(AgreementRetireInput, "Retire a version (or withdraw a draft)")
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        agreement = self._editable()
        data = self._input(AgreementRetireInput)
        return self._respond(
            services.agreement_retire(
                agreement=agreement, actor=request.user, reason=data["reason"]
            )
        )


# --- exception windows ---------------------------------------------------------------------


class ExceptionWindowFilter(django_filters.FilterSet):
    # Only the API lists windows today; move this to filters.py once a page lists them too.
    provider_team = django_filters.ModelChoiceFilter(
        queryset=Team.objects.all(), to_field_name="slug"
    )
    status = django_filters.MultipleChoiceFilter(choices=ExceptionWindow.Status.choices)

    class Meta:
        model = ExceptionWindow
        fields = ["provider_team", "status"]


class ExceptionWindowSerializer(serializers.ModelSerializer):
    provider_team_slug = serializers.CharField(source="provider_team.slug", read_only=True)
    requested_by_username = serializers.CharField(source="requested_by.username", read_only=True)
    decided_by_username = serializers.CharField(
        source="decided_by.username", read_only=True, allow_null=True, default=None
    )
    ended_by_username = serializers.CharField(
        source="ended_by.username", read_only=True, allow_null=True, default=None
    )
    expected_duration_seconds = serializers.SerializerMethodField(
        help_text="The duration asked for and approved: `planned_end` (or `end`) − `start`."
    )

    class Meta:
        model = ExceptionWindow
        fields = [
            "id",
            "provider_team",
            "provider_team_slug",
            "series",
            "start",
            "end",
            "reason",
            "affected_customers",
            "communication_plan",
            "expected_duration_seconds",
            "status",
            "requested_by",
            "requested_by_username",
            "decided_by",
            "decided_by_username",
            "decided_at",
            "decision_note",
            "ended_by",
            "ended_by_username",
            "ended_at",
            "end_note",
            "planned_end",
            "created_at",
        ]
        read_only_fields = fields

    def get_expected_duration_seconds(self, window: ExceptionWindow) -> int:
        return int(window.expected_duration.total_seconds())


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


WINDOW_ERRORS = {
    **ERRORS,
    403: OpenApiResponse(
        ApiErrorSerializer,
        description="Not a lead of the provider team, or approving one's own request.",
    ),
    409: OpenApiResponse(ApiErrorSerializer, description="Already decided."),
}
WINDOW_END_ERRORS = {
    **ERRORS,
    403: OpenApiResponse(
        ApiErrorSerializer,
        description="Neither its requester nor a lead of the provider team.",
    ),
    409: OpenApiResponse(ApiErrorSerializer, description="Refused, cancelled or over."),
}


@extend_schema_view(
    list=extend_schema(summary="Exception windows"),
    retrieve=extend_schema(summary="One exception window"),
    create=extend_schema(
        summary="Request an exception window (a provider-team member)",
        request=ExceptionWindowInput,
        responses={
            201: ExceptionWindowSerializer,
            400: ERRORS[400],
            403: OpenApiResponse(
                ApiErrorSerializer, description="Not a member of the provider team."
            ),
        },
    ),
)
class ExceptionWindowViewSet(
    ServiceActionMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Exception windows: relaxations during which clocks do not count. Requested by a
    member of the provider team, approved or rejected by one of its leads other than the
    requester (or staff); ended early by either, or by the requester."""

    serializer_class = ExceptionWindowSerializer
    filterset_class = ExceptionWindowFilter

    def get_queryset(self):
        return (
            ExceptionWindow.objects.visible_to(self.request.user)
            .select_related("provider_team", "requested_by", "decided_by", "ended_by")
            .order_by("-start", "-pk")
        )

    def _decidable(self) -> ExceptionWindow:
        """The window to decide, once the user may (a lead of its team, or staff): 403
        before the body is read."""
        window = self.get_object()
        if not services.can_decide_window(self.request.user, window):
            raise PermissionDenied("Only a lead of the provider team or staff may decide.")
        return window

    def create(self, request, *args, **kwargs):
        data = self._input(ExceptionWindowInput)
        window = services.exception_window_request(actor=request.user, **data)
        return self._respond(window, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Approve a requested window",
        request=ExceptionWindowApproveInput,
        responses={200: ExceptionWindowSerializer, **WINDOW_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        window = self._decidable()
        data = self._input(ExceptionWindowApproveInput)
        return self._respond(
            services.exception_window_approve(window=window, actor=request.user, note=data["note"])
        )

    @extend_schema(
        summary="Reject a requested window",
        request=ExceptionWindowRejectInput,
        responses={200: ExceptionWindowSerializer, **WINDOW_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        window = self._decidable()
        data = self._input(ExceptionWindowRejectInput)
        return self._respond(
            services.exception_window_reject(window=window, actor=request.user, note=data["note"])
        )

    @extend_schema(
        summary="End a window now (an approved window under way), or cancel it (one not "
        "started yet, or a request not decided)",
        request=ExceptionWindowEndInput,
        responses={200: ExceptionWindowSerializer, **WINDOW_END_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        window = self.get_object()
        if not services.can_end_window(request.user, window):
            raise PermissionDenied(
                "Only whoever asked for the window, a lead of the provider team or staff may "
                "end it."
            )
        data = self._input(ExceptionWindowEndInput)
        return self._respond(
            services.exception_window_end(window=window, actor=request.user, note=data["note"])
        )
