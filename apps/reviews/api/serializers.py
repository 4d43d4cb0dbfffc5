"""What the reviews API answers: reviews with their pack, recommendations and sign-offs,
action items, breached clocks and breach reviews, the what-if rows; and `TargetsField`,
the targets in the shape every part of reviews uses."""

from __future__ import annotations

from drf_spectacular.utils import (
    extend_schema_field,
)
from rest_framework import serializers

from apps.agreements.models import Metric
from apps.handoffs.models import Clock, Handoff

from .. import services
from ..models import ActionItem, BreachReview, QuarterlyReview, ReviewSignOff
from .schema import PackField, RecommendationsField


@extend_schema_field(
    {
        "type": "object",
        "description": 'Priority → metric → seconds (null: best effort), e.g. `{"P1": '
        '{"acknowledge": 1800, "action_plan": 7200, "resolve": null}}`.',
        "additionalProperties": {
            "type": "object",
            "properties": {m: {"type": "integer", "nullable": True} for m in Metric.values},
        },
    }
)
class TargetsField(serializers.Field):
    """Targets in the shape every part of the reviews uses. Only "an object" is checked
    here: the priorities, metrics and seconds are checked by the service's one rule
    (`services.validate_targets`), whose errors are keyed `{"P2": {"acknowledge": […]}}`
    under the field."""

    default_error_messages = {
        # DRF formats these messages: braces doubled.
        "not_a_dict": 'Expected an object of priorities, e.g. {{"P1": {{"acknowledge": 1800}}}}.',
    }

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_a_dict")
        return data

    def to_representation(self, value):
        return value


class ReviewSignOffSerializer(serializers.ModelSerializer):
    team_slug = serializers.CharField(source="team.slug", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    user_name = serializers.CharField(source="user.display_name", read_only=True)

    class Meta:
        model = ReviewSignOff
        fields = ["team", "team_slug", "user", "username", "user_name", "signed_at", "comment"]
        read_only_fields = fields


class ActionItemSerializer(serializers.ModelSerializer):
    owner_name = serializers.CharField(source="owner.display_name", read_only=True)
    done = serializers.BooleanField(source="is_done", read_only=True)

    class Meta:
        model = ActionItem
        fields = [
            "id",
            "review",
            "breach_review",
            "title",
            "owner",
            "owner_name",
            "due_date",
            "done",
            "done_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class QuarterlyReviewSummarySerializer(serializers.ModelSerializer):
    """A review in a list: what it looks at, when it is due, where it stands."""

    title = serializers.CharField(source="agreement.title", read_only=True)
    agreement_version = serializers.IntegerField(source="agreement.version", read_only=True)
    provider_team = serializers.IntegerField(source="series.provider_team_id", read_only=True)
    provider_team_slug = serializers.CharField(source="series.provider_team.slug", read_only=True)
    requesting_team = serializers.IntegerField(source="series.requesting_team_id", read_only=True)
    requesting_team_slug = serializers.CharField(
        source="series.requesting_team.slug", read_only=True
    )
    sign_offs = ReviewSignOffSerializer(many=True, read_only=True)

    class Meta:
        model = QuarterlyReview
        fields = [
            "id",
            "series",
            "agreement",
            "agreement_version",
            "title",
            "provider_team",
            "provider_team_slug",
            "requesting_team",
            "requesting_team_slug",
            "period_start",
            "period_end",
            "due_date",
            "status",
            "started_at",
            "completed_at",
            "resulting_agreement",
            "sign_offs",
        ]
        read_only_fields = fields


class QuarterlyReviewSerializer(QuarterlyReviewSummarySerializer):
    """A review in full: the frozen pack, the recommended and proposed targets, the notes,
    sign-offs and action items, and what the requesting user may still do on it."""

    pack = PackField(read_only=True)
    recommendations = RecommendationsField(read_only=True)
    proposed_targets = TargetsField(read_only=True)
    action_items = ActionItemSerializer(many=True, read_only=True)
    can_edit = serializers.SerializerMethodField()
    sides_to_sign = serializers.SerializerMethodField(
        help_text="Slugs of the teams you lead and may still sign for."
    )

    class Meta(QuarterlyReviewSummarySerializer.Meta):
        fields = [
            *QuarterlyReviewSummarySerializer.Meta.fields,
            "started_by",
            "pack",
            "recommendations",
            "proposed_targets",
            "findings",
            "decisions",
            "action_items",
            "can_edit",
            "sides_to_sign",
        ]
        read_only_fields = fields

    def _user(self):
        request = self.context.get("request")
        return getattr(request, "user", None)

    def get_can_edit(self, review) -> bool:
        user = self._user()
        return bool(user and services.can_edit_review(user, review))

    def get_sides_to_sign(self, review) -> list[str]:
        user = self._user()
        if not user:
            return []
        return [team.slug for team in services.sides_to_sign(user, review)]


class WhatIfRowSerializer(serializers.Serializer):
    priority = serializers.CharField()
    metric = serializers.CharField()
    target_seconds = serializers.IntegerField(allow_null=True)
    volume = serializers.IntegerField(help_text="Finished clocks of the period.")
    met = serializers.IntegerField(allow_null=True)
    met_pct = serializers.FloatField(allow_null=True, help_text="Null for best effort.")


class WhatIfSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text="Exclusive.")
    targets = TargetsField()
    rows = WhatIfRowSerializer(many=True)


class BreachHandoffSerializer(serializers.ModelSerializer):
    provider_team_slug = serializers.CharField(source="provider_team.slug", read_only=True)
    requesting_team_slug = serializers.CharField(source="requesting_team.slug", read_only=True)

    class Meta:
        model = Handoff
        fields = [
            "id",
            "title",
            "priority",
            "status",
            "agreement",
            "provider_team_slug",
            "requesting_team_slug",
            "created_at",
        ]
        read_only_fields = fields


class BreachedClockSerializer(serializers.ModelSerializer):
    handoff = BreachHandoffSerializer(read_only=True)

    class Meta:
        model = Clock
        fields = [
            "id",
            "metric",
            "status",
            "target_seconds",
            "consumed_seconds",
            "breached_at",
            "handoff",
        ]
        read_only_fields = fields


class BreachReviewSerializer(serializers.ModelSerializer):
    clock = BreachedClockSerializer(read_only=True)
    reviewed_by_name = serializers.CharField(source="reviewed_by.display_name", read_only=True)
    action_items = ActionItemSerializer(many=True, read_only=True)

    class Meta:
        model = BreachReview
        fields = [
            "id",
            "clock",
            "root_cause",
            "what_happened",
            "prevention",
            "reviewed_by",
            "reviewed_by_name",
            "created_at",
            "updated_at",
            "action_items",
        ]
        read_only_fields = fields
