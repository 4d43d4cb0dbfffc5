"""FilterSets of the reviews lists: one per list, shared by the pages and the API."""

import django_filters
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from apps.agreements.models import Agreement
from apps.core import limits
from apps.teams.models import Team

from .models import ActionItem, BreachReview, QuarterlyReview, ReviewStatus, RootCause

MAX_ID = limits.INT_MAX


class QuarterlyReviewFilter(django_filters.FilterSet):
    team = django_filters.ModelChoiceFilter(
        queryset=Team.objects.all(),
        method="filter_team",
        label="Team (either side)",
        to_field_name="slug",
    )
    series = django_filters.NumberFilter(
        field_name="series_id", min_value=1, max_value=MAX_ID, label="Agreement series"
    )
    agreement = django_filters.NumberFilter(
        method="filter_agreement",
        min_value=1,
        max_value=MAX_ID,
        label="Agreement (any version of its series)",
    )
    status = django_filters.MultipleChoiceFilter(choices=ReviewStatus.choices)
    open = django_filters.BooleanFilter(method="filter_open", label="Open only")
    due_after = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")

    class Meta:
        model = QuarterlyReview
        fields = ["team", "series", "agreement", "status", "open", "due_after", "due_before"]

    @extend_schema_field(OpenApiTypes.STR)  # the query parameter is a team slug
    def filter_team(self, queryset, name, value):
        if value:
            return queryset.filter(
                Q(series__provider_team=value) | Q(series__requesting_team=value)
            )
        return queryset

    def filter_agreement(self, queryset, name, value):
        # A review belongs to the series: the reviews of "this agreement" are those of every
        # version, whichever version's page the link came from.
        if value is None:
            return queryset
        return queryset.filter(series_id__in=Agreement.objects.filter(pk=value).values("series_id"))

    def filter_open(self, queryset, name, value):
        if value is None:
            return queryset
        completed = Q(status=ReviewStatus.COMPLETED)
        return queryset.exclude(completed) if value else queryset.filter(completed)


class BreachReviewFilter(django_filters.FilterSet):
    team = django_filters.ModelChoiceFilter(
        queryset=Team.objects.all(),
        method="filter_team",
        label="Team (either side of the handoff)",
        to_field_name="slug",
    )
    root_cause = django_filters.MultipleChoiceFilter(choices=RootCause.choices)
    priority = django_filters.CharFilter(field_name="clock__handoff__priority")
    metric = django_filters.CharFilter(field_name="clock__metric")

    class Meta:
        model = BreachReview
        fields = ["team", "root_cause", "priority", "metric"]

    @extend_schema_field(OpenApiTypes.STR)
    def filter_team(self, queryset, name, value):
        if value:
            return queryset.filter(
                Q(clock__handoff__provider_team=value) | Q(clock__handoff__requesting_team=value)
            )
        return queryset


class ActionItemFilter(django_filters.FilterSet):
    done = django_filters.BooleanFilter(field_name="done_at", lookup_expr="isnull", exclude=True)
    owner = django_filters.CharFilter(method="filter_owner", label="Owner (user id or “me”)")
    review = django_filters.NumberFilter(field_name="review_id", min_value=1, max_value=MAX_ID)
    breach_review = django_filters.NumberFilter(
        field_name="breach_review_id", min_value=1, max_value=MAX_ID
    )
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")

    class Meta:
        model = ActionItem
        fields = ["done", "owner", "review", "breach_review", "due_before"]

    def filter_owner(self, queryset, name, value):
        value = (value or "").strip().lower()
        if not value:
            return queryset
        if value == "me":
            user = getattr(self.request, "user", None)
            return (
                queryset.filter(owner=user) if user and user.is_authenticated else queryset.none()
            )
        # ASCII digits only: "²" passes isdigit() and fails int().
        owner_id = limits.parse_id(value)
        return queryset.none() if owner_id is None else queryset.filter(owner_id=owner_id)
