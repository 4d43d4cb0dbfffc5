import django_filters

from .models import BusinessCalendar


class BusinessCalendarFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name")
    time_zone = django_filters.CharFilter()
    team = django_filters.CharFilter(field_name="teams__slug", label="Team slug", distinct=True)

    class Meta:
        model = BusinessCalendar
        fields = ["q", "time_zone", "is_24x7", "holiday_country", "team"]
