"""What the agreements API answers with: a version with its parts, an exception window."""

from rest_framework import serializers

from .. import services
from ..models import (
    Agreement,
    AgreementApproval,
    EscalationStep,
    ExceptionWindow,
    PriorityTarget,
    TriageField,
)


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
            "confirmation_days",
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
