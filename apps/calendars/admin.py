from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from . import services
from .models import BusinessCalendar, Holiday, OpeningInterval


class OpeningIntervalFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        weekly: dict[int, list] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or data.get("start") is None:
                continue
            if data.get("end") is None or data.get("weekday") is None:
                continue
            weekly.setdefault(data["weekday"], []).append((data["start"], data["end"]))
        errors = services.validate_weekly(weekly)
        if errors:
            raise ValidationError([msg for day_errors in errors.values() for msg in day_errors])


class OpeningIntervalInline(admin.TabularInline):
    model = OpeningInterval
    formset = OpeningIntervalFormSet
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0
    fields = ("date", "name", "source")


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ("name", "time_zone", "is_24x7", "holiday_country", "holiday_subdivision")
    list_filter = ("is_24x7", "time_zone", "holiday_country")
    search_fields = ("name",)
    inlines = [OpeningIntervalInline, HolidayInline]
    actions = ["extend_holidays"]

    @admin.action(description="Copy country holidays for the coming years")
    def extend_holidays(self, request, queryset):
        added = sum(services.calendar_extend_holidays(calendar=c) for c in queryset)
        self.message_user(request, f"{added} holidays added.", messages.SUCCESS)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        calendar = form.instance
        # Choosing a country in the admin copies its holidays just as the page does.
        if "holiday_country" in form.changed_data or "holiday_subdivision" in form.changed_data:
            services.calendar_reimport_country_holidays(calendar=calendar)
        elif change:
            # Hours or holidays edited in the inlines move running clocks' deadlines.
            services.calendar_hours_edited(calendar=calendar)


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ("date", "name", "calendar", "source")
    list_filter = ("source", "calendar")
    date_hierarchy = "date"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.calendar_hours_edited(calendar=obj.calendar)

    def delete_model(self, request, obj):
        calendar = obj.calendar
        super().delete_model(request, obj)
        services.calendar_hours_edited(calendar=calendar)
