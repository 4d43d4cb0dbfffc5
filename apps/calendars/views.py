from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from . import services
from .forms import BusinessCalendarForm
from .models import BusinessCalendar


def _schedule_context(calendar: BusinessCalendar) -> dict:
    now = timezone.now()
    return {
        "calendar": calendar,
        "now": now,
        "periods": calendar.open_periods(now, days=7),
        "upcoming_holidays": [h for h in calendar.holidays.all() if h.date >= now.date()][:8],
        "teams": list(calendar.teams.all()),
    }


def calendar_detail(request, pk: int):
    calendar = get_object_or_404(
        BusinessCalendar.objects.visible_to(request.user).with_schedule(), pk=pk
    )
    context = _schedule_context(calendar)
    context["can_edit"] = BusinessCalendar.objects.editable_by(request.user).filter(pk=pk).exists()
    return render(request, "calendars/calendar_detail.html", context)


def calendar_edit(request, pk: int):
    calendar = get_object_or_404(
        BusinessCalendar.objects.visible_to(request.user).with_schedule(), pk=pk
    )
    if not BusinessCalendar.objects.editable_by(request.user).filter(pk=pk).exists():
        raise PermissionDenied("Only a lead of a team using this calendar may edit it.")
    if request.method == "POST":
        form = BusinessCalendarForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.calendar_save(
                    calendar=calendar,
                    name=data["name"],
                    time_zone=data["time_zone"],
                    is_24x7=data["is_24x7"],
                    weekly=data["weekly"],
                    holiday_country=data["holiday_country"],
                    holiday_subdivision=data["holiday_subdivision"],
                    custom_holidays=data["holidays"],
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, f"Calendar “{calendar.name}” saved.")
                return redirect("calendars:detail", pk=calendar.pk)
        # The service may have failed after touching the instance: re-read what is stored.
        calendar = BusinessCalendar.objects.with_schedule().get(pk=pk)
    else:
        form = BusinessCalendarForm(initial=BusinessCalendarForm.initial_for(calendar))
    context = _schedule_context(calendar)
    context["form"] = form
    return render(request, "calendars/calendar_form.html", context)
