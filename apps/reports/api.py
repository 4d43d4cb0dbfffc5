"""`GET /api/reports/compliance/?group_by=…&from=…&to=…`: the report page's compliance
table as JSON (DESIGN.md's public contract), with the page's filters.

The same form as the page reads the query string (`apps.reports.forms.ReportForm`), so
the API accepts and refuses what the page does, with messages keyed by parameter. The
same visibility: only handoffs the caller may see count. Dates are local dates in the
caller's time zone (their profile's), both ends included.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.agreements.models import Metric, Priority
from apps.core import limits
from apps.core.api import nest_error_keys

from .forms import GROUPS, ReportForm, local_today, user_zone
from .report import Namer, compliance_rows, report_clocks


class ComplianceRowSerializer(serializers.Serializer):
    """One group and metric (the group's fields are those of `group_by`)."""

    group = serializers.CharField(help_text="The group's name as the page shows it.")
    team = serializers.CharField(required=False, help_text="group_by=team: the slug.")
    team_name = serializers.CharField(required=False)
    agreement = serializers.IntegerField(
        required=False, help_text="group_by=agreement: the agreement series id."
    )
    agreement_title = serializers.CharField(required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    priority_label = serializers.CharField(required=False)
    segment = serializers.CharField(required=False)
    segment_label = serializers.CharField(required=False)
    month = serializers.CharField(required=False, help_text="group_by=month: YYYY-MM.")
    month_label = serializers.CharField(required=False)
    metric = serializers.ChoiceField(choices=Metric.choices)
    metric_label = serializers.CharField()
    volume = serializers.IntegerField(help_text="Finished clocks: with_target + best_effort.")
    with_target = serializers.IntegerField(
        help_text="Finished clocks with a target: the denominator of met_pct."
    )
    best_effort = serializers.IntegerField(
        help_text="Finished clocks without a target (best effort): in no percentage."
    )
    met = serializers.IntegerField()
    breached = serializers.IntegerField()
    met_pct = serializers.FloatField(allow_null=True)
    p50 = serializers.IntegerField(allow_null=True, help_text="Business seconds.")
    p80 = serializers.IntegerField(allow_null=True, help_text="Business seconds.")
    p95 = serializers.IntegerField(allow_null=True, help_text="Business seconds.")
    handoffs = serializers.IntegerField()
    reopened = serializers.IntegerField()
    reopen_pct = serializers.FloatField(allow_null=True)
    waiting_seconds_avg = serializers.IntegerField(
        allow_null=True, help_text="Time in the requester's court per handoff, wall-clock."
    )
    paused_seconds = serializers.IntegerField()


REPORT = inline_serializer(
    "ComplianceReport",
    {
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        "group_by": serializers.ChoiceField(choices=list(GROUPS.items())),
        "time_zone": serializers.CharField(),
        "rows": ComplianceRowSerializer(many=True),
    },
)

PARAMETERS = [
    OpenApiParameter(
        "from",
        OpenApiTypes.DATE,
        description="First day of the period (local date in your time zone). "
        "Default: 89 days before `to`, or 90 days ago.",
    ),
    OpenApiParameter(
        "to",
        OpenApiTypes.DATE,
        description="Last day of the period, included. Default: today. "
        f"At most {limits.REPORT_DAYS_MAX} days.",
    ),
    OpenApiParameter(
        "group_by",
        OpenApiTypes.STR,
        enum=list(GROUPS),
        description="One row per group and metric. Default: team (the provider team).",
    ),
    OpenApiParameter("provider_team", OpenApiTypes.STR, description="A team slug."),
    OpenApiParameter("requesting_team", OpenApiTypes.STR, description="A team slug."),
    OpenApiParameter("agreement", OpenApiTypes.INT, description="An agreement series id."),
    OpenApiParameter("priority", OpenApiTypes.STR, enum=list(Priority.values)),
]


class ComplianceReportView(APIView):
    """Compliance per group and metric over a period: met %, p50/p80/p95, volume, reopen
    rate and time in the requester's court, over the handoffs you may see."""

    @extend_schema(
        operation_id="reports_compliance",
        summary="Compliance report",
        parameters=PARAMETERS,
        responses={200: REPORT},
    )
    def get(self, request: Request) -> Response:
        tz = user_zone(request.user)
        form = ReportForm(request.query_params, user=request.user, today=local_today(tz))
        if not form.is_valid():
            return Response(nest_error_keys(form.errors), status=400)
        query = form.query()
        namer = Namer(teams=form.teams, agreements=form.agreements)
        clocks = report_clocks(user=request.user, query=query, tz=tz)
        return Response(
            {
                "from": query.since,
                "to": query.until,
                "group_by": query.group_by,
                "time_zone": tz,
                "rows": compliance_rows(clocks, user=request.user, query=query, tz=tz, namer=namer),
            }
        )
