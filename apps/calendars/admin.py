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


WEEKLY_KEYS = ("weekday", "start", "end")


def _weekly(formset) -> services.Weekly:
    """The opening hours the intervals inline holds (rows not deleted)."""
    weekly: services.Weekly = {}
    for form in formset.forms:
        data = getattr(form, "cleaned_data", None)
        if not data or data.get("DELETE") or None in (data.get(k) for k in WEEKLY_KEYS):
            continue
        weekly.setdefault(data["weekday"], []).append((data["start"], data["end"]))
    return weekly


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

    # The calendar and its opening hours are written by calendar_save, as on the page: it
    # copies a newly chosen country's holidays and recomputes the running clocks on a
    # changed calendar. The holiday rows are the inline's (a service takes them whole).
    def save_model(self, request, obj, form, change):
        pass  # saved with its hours in save_related, where the inlines are at hand

    def save_related(self, request, form, formsets, change):
        hours = next(fs for fs in formsets if fs.model is OpeningInterval)
        others = [fs for fs in formsets if fs is not hours]
        if change:
            # Holidays first: the clocks calendar_save recomputes see them.
            for formset in others:
                self.save_formset(request, form, formset, change=change)
        data = form.cleaned_data
        saved = services.calendar_save(
            # A fresh copy when changing: the service compares with what is stored.
            calendar=BusinessCalendar.objects.get(pk=form.instance.pk) if change else form.instance,
            name=data["name"],
            time_zone=data["time_zone"],
            is_24x7=data["is_24x7"],
            weekly=_weekly(hours),
            holiday_country=data.get("holiday_country") or "",
            holiday_subdivision=data.get("holiday_subdivision") or "",
        )
        form.instance.__dict__.update(saved.__dict__)
        # For the admin's history message: the hours were replaced as a whole.
        hours.new_objects, hours.changed_objects, hours.deleted_objects = [], [], []
        if not change:
            for formset in others:
                self.save_formset(request, form, formset, change=change)


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
