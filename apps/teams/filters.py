import django_filters

from .models import Team


class TeamFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name")
    slug = django_filters.CharFilter(field_name="slug")
    member = django_filters.NumberFilter(
        field_name="memberships__user", label="Member (user id)", distinct=True
    )
    mine = django_filters.BooleanFilter(method="filter_mine", label="Only my teams")

    class Meta:
        model = Team
        fields = ["q", "slug", "member", "mine"]

    def filter_mine(self, queryset, name, value):
        if value:
            return queryset.filter(memberships__user=self.request.user).distinct()
        return queryset
