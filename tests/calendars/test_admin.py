"""The calendars admin writes through calendar_save: a calendar added copies its country's
holidays, hours edited in the inline replace the schedule as on the page, and whatever
the admin changes on a calendar — fields, hours or holiday rows — the running clocks on
it are told (calendar_changed), after the change is written."""

from datetime import date, time

import pytest
from django.urls import reverse

from apps.calendars import services
from apps.calendars.models import BusinessCalendar, Holiday, OpeningInterval
from apps.calendars.signals import calendar_changed
from tests.factories import BusinessCalendarFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def saves(monkeypatch):
    """The calendars passed to calendar_save, which still does its work."""
    seen: list = []
    real = services.calendar_save

    def spy(**kwargs):
        seen.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(services, "calendar_save", spy)
    return seen


@pytest.fixture
def told():
    """What the clocks hear: per calendar_changed, the calendar's hours and holidays then."""
    heard: list[dict] = []

    def receiver(sender, *, calendar, now, **kwargs):
        heard.append(
            {
                "calendar": calendar.pk,
                "intervals": sorted(calendar.intervals.values_list("weekday", "start", "end")),
                "holidays": sorted(calendar.holidays.values_list("date", flat=True)),
            }
        )

    calendar_changed.connect(receiver, dispatch_uid="tests.calendars.admin")
    yield heard
    calendar_changed.disconnect(dispatch_uid="tests.calendars.admin")


def _data(calendar=None, *, intervals=(), holidays=(), **fields) -> dict:
    data = {
        "name": calendar.name if calendar else "Ops",
        "time_zone": calendar.time_zone if calendar else "Europe/Berlin",
        "holiday_country": calendar.holiday_country if calendar else "",
        "holiday_subdivision": calendar.holiday_subdivision if calendar else "",
        **fields,
    }
    for prefix, rows in (("intervals", intervals), ("holidays", holidays)):
        data[f"{prefix}-TOTAL_FORMS"] = str(len(rows))
        data[f"{prefix}-INITIAL_FORMS"] = str(sum(1 for r in rows if r.get("id")))
        for index, row in enumerate(rows):
            data.update({f"{prefix}-{index}-{k}": v for k, v in row.items()})
    return data


def _existing(calendar) -> list[dict]:
    return [
        {"id": i.pk, "calendar": calendar.pk, "weekday": i.weekday, "start": i.start,
         "end": i.end}
        for i in calendar.intervals.order_by("weekday", "start")
    ]  # fmt: skip


def test_a_calendar_added_in_the_admin_copies_its_countrys_holidays(admin_client, saves):
    data = _data(
        name="Berlin office",
        holiday_country="DE",
        intervals=[{"weekday": 0, "start": "09:00", "end": "17:00"}],
        _continue="1",
    )
    response = admin_client.post(reverse("admin:calendars_businesscalendar_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    calendar = BusinessCalendar.objects.get(name="Berlin office")
    assert response["Location"].endswith(
        reverse("admin:calendars_businesscalendar_change", args=[calendar.pk])
    )
    assert len(saves) == 1
    assert list(calendar.intervals.values_list("weekday", "start", "end")) == [
        (0, time(9), time(17))
    ]
    # calendar_save's rule: a new calendar with a country holds its holidays.
    assert calendar.holidays.filter(source=Holiday.Source.COUNTRY, date__month=12).exists()


def test_hours_edited_in_the_admin_go_through_calendar_save_and_move_the_clocks(
    admin_client, saves, told
):
    calendar = BusinessCalendarFactory()
    rows = _existing(calendar)
    rows[0]["end"] = "18:00"  # Monday until six
    rows[1]["DELETE"] = "on"  # closed on Tuesday
    url = reverse("admin:calendars_businesscalendar_change", args=[calendar.pk])
    response = admin_client.post(url, _data(calendar, intervals=rows))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert len(saves) == 1
    hours = sorted(calendar.intervals.values_list("weekday", "start", "end"))
    assert hours == [(0, time(9), time(18)), *((d, time(9), time(17)) for d in (2, 3, 4))]
    # The clocks heard once, with the new hours in place.
    assert [t["intervals"] for t in told] == [hours]


def test_a_holiday_added_in_the_inline_is_there_when_the_clocks_recompute(admin_client, told):
    calendar = BusinessCalendarFactory()
    url = reverse("admin:calendars_businesscalendar_change", args=[calendar.pk])
    holiday = {
        "calendar": calendar.pk,
        "date": "2026-05-04",
        "name": "Team day",
        "source": "custom",
    }
    response = admin_client.post(
        url, _data(calendar, intervals=_existing(calendar), holidays=[holiday])
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert [t["holidays"] for t in told] == [[date(2026, 5, 4)]]


def test_overlapping_hours_are_refused_in_the_admin_as_by_the_service(admin_client, saves):
    calendar = BusinessCalendarFactory()
    rows = [*_existing(calendar), {"weekday": 0, "start": "16:00", "end": "20:00"}]
    url = reverse("admin:calendars_businesscalendar_change", args=[calendar.pk])
    response = admin_client.post(url, _data(calendar, intervals=rows))
    assert response.status_code == 200
    assert "overlaps" in response.content.decode()
    assert saves == []
    assert OpeningInterval.objects.filter(calendar=calendar).count() == 5
