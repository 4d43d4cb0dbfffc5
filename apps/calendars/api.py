from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, viewsets

from .filters import BusinessCalendarFilter
from .models import MIDNIGHT, BusinessCalendar, Holiday, OpeningInterval


class OpeningIntervalSerializer(serializers.ModelSerializer):
    end = serializers.SerializerMethodField(help_text="HH:MM; 24:00 is midnight at day end.")
    start = serializers.TimeField(format="%H:%M")

    class Meta:
        model = OpeningInterval
        fields = ["weekday", "start", "end"]

    def get_end(self, obj) -> str:
        return "24:00" if obj.end == MIDNIGHT else obj.end.strftime("%H:%M")


class HolidaySerializer(serializers.ModelSerializer):
    class Meta:
        model = Holiday
        fields = ["date", "name", "source"]


class BusinessCalendarSerializer(serializers.ModelSerializer):
    intervals = OpeningIntervalSerializer(many=True, read_only=True)
    holidays = HolidaySerializer(many=True, read_only=True)
    open_now = serializers.SerializerMethodField()

    class Meta:
        model = BusinessCalendar
        fields = [
            "id",
            "name",
            "time_zone",
            "is_24x7",
            "holiday_country",
            "holiday_subdivision",
            "intervals",
            "holidays",
            "open_now",
        ]

    @extend_schema_field(serializers.BooleanField())
    def get_open_now(self, obj) -> bool:
        return obj.is_open_at(timezone.now())


class BusinessCalendarViewSet(viewsets.ReadOnlyModelViewSet):
    """Business calendars with their weekly hours and holidays (read-only; leads edit
    them on the team's calendar page)."""

    serializer_class = BusinessCalendarSerializer
    filterset_class = BusinessCalendarFilter

    def get_queryset(self):
        return BusinessCalendar.objects.visible_to(self.request.user).with_schedule()
