"""The OpenAPI documentation of the reviews API: the shape of the frozen JSON columns (the
pack, the recommendations) and the error answers every endpoint documents."""

from __future__ import annotations

from drf_spectacular.utils import (
    extend_schema_field,
)
from rest_framework import serializers

from apps.agreements.models import Metric, Priority
from apps.core.api import error_responses

# --- documentation of the JSON columns -------------------------------------------------------
# The pack and the recommendations are frozen JSON written by `apps.reviews.pack` and
# `recommend`; these serializers only describe their shape in the OpenAPI schema.


class _TierTargetsDoc(serializers.Serializer):
    acknowledge = serializers.IntegerField(allow_null=True, help_text="Seconds; null: best effort.")
    action_plan = serializers.IntegerField(allow_null=True)
    resolve = serializers.IntegerField(allow_null=True)


class _PackRowDoc(serializers.Serializer):
    priority = serializers.ChoiceField(choices=Priority.choices)
    metric = serializers.ChoiceField(choices=Metric.choices)
    target_seconds = serializers.IntegerField(allow_null=True)
    volume = serializers.IntegerField(help_text="Finished (met or breached) clocks.")
    with_target = serializers.IntegerField()
    met = serializers.IntegerField()
    breached = serializers.IntegerField()
    met_pct = serializers.FloatField(allow_null=True)
    p50 = serializers.IntegerField(allow_null=True, help_text="Business seconds.")
    p80 = serializers.IntegerField(allow_null=True)
    p95 = serializers.IntegerField(allow_null=True)
    paused_seconds_avg = serializers.FloatField(allow_null=True)
    reopen_pct = serializers.FloatField(allow_null=True)
    waiting_seconds_avg = serializers.FloatField(allow_null=True)


class _ExceptionWindowDoc(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    reason = serializers.CharField()
    scope = serializers.CharField()


class _PackSectionDoc(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField(help_text="Exclusive.")
    handoffs = serializers.IntegerField()
    rows = _PackRowDoc(many=True)
    breach_causes = serializers.DictField(
        child=serializers.IntegerField(), help_text='Root cause → count, and "unreviewed".'
    )
    exception_windows = _ExceptionWindowDoc(many=True)


class _HistoryRowDoc(serializers.Serializer):
    priority = serializers.CharField()
    metric = serializers.CharField()
    met_pct = serializers.FloatField(allow_null=True)


class _HistoryDoc(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    rows = _HistoryRowDoc(many=True)


class _PackDoc(serializers.Serializer):
    built_at = serializers.DateTimeField()
    period = _PackSectionDoc()
    previous = _PackSectionDoc()
    history = _HistoryDoc(
        many=True, help_text="Met % of the last three months of the period, the latest last."
    )


class _RecommendationDoc(serializers.Serializer):
    priority = serializers.CharField()
    metric = serializers.CharField()
    current_seconds = serializers.IntegerField(allow_null=True)
    recommended_seconds = serializers.IntegerField(allow_null=True)
    basis = serializers.ChoiceField(choices=["p80", "tighten", "keep", "no_data"])
    reason = serializers.CharField()


@extend_schema_field(_PackDoc(help_text="Frozen when the review starts; {} before."))
class PackField(serializers.JSONField):
    pass


@extend_schema_field(_RecommendationDoc(many=True))
class RecommendationsField(serializers.JSONField):
    pass


ERRORS = error_responses(
    invalid='Field-keyed messages, e.g. `{"proposed_targets": {"P2": {"acknowledge": ["…"]}}}`.',
    forbidden="Not allowed for you.",
    conflict="The current status does not allow this.",
)
