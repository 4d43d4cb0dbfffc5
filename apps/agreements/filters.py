"""One FilterSet for the agreements list page and the API."""

import django_filters
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from apps.teams.models import Team

from .models import Agreement, Kind, Status


class AgreementFilter(django_filters.FilterSet):
    team = django_filters.ModelChoiceFilter(
        queryset=Team.objects.all(),
        method="filter_team",
        label="Team (either side)",
        to_field_name="slug",
    )
    provider_team = django_filters.ModelChoiceFilter(
        field_name="series__provider_team", queryset=Team.objects.all(), to_field_name="slug"
    )
    requesting_team = django_filters.ModelChoiceFilter(
        field_name="series__requesting_team", queryset=Team.objects.all(), to_field_name="slug"
    )
    kind = django_filters.ChoiceFilter(choices=Kind.choices)
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    q = django_filters.CharFilter(method="filter_q", label="Search")

    class Meta:
        model = Agreement
        fields = ["team", "provider_team", "requesting_team", "kind", "status", "q"]

    @extend_schema_field(OpenApiTypes.STR)  # the query parameter is a team slug
    def filter_team(self, queryset, name, value):
        if value:
            return queryset.filter(
                Q(series__provider_team=value) | Q(series__requesting_team=value)
            )
        return queryset

    def filter_q(self, queryset, name, value):
        if value:
            return queryset.filter(
                Q(title__icontains=value) | Q(service_description__icontains=value)
            )
        return queryset
