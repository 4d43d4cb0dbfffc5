from datetime import UTC, date, datetime, time

import pytest
from django.core.exceptions import ValidationError

from apps.calendars import services
from apps.calendars.models import BusinessCalendar, Holiday
from apps.calendars.tasks import extend_country_holidays

pytestmark = pytest.mark.django_db

NINE_TO_FIVE = {day: [(time(9), time(17))] for day in range(5)}


def save(**overrides):
    spec = dict(name="Ops", time_zone="Europe/Berlin", is_24x7=False, weekly=NINE_TO_FIVE)
    spec.update(overrides)
    return services.calendar_save(**spec)


def test_country_holidays_are_copied_into_the_calendar():
    calendar = save(holiday_country="DE")
    years = services.holiday_years()
    held = set(calendar.holidays.values_list("date", flat=True))
    for year in years:
        assert date(year, 12, 25) in held  # Christmas Day
        assert date(year, 10, 3) in held  # German Unity Day
    assert not calendar.holidays.exclude(source=Holiday.Source.COUNTRY).exists()


def test_subdivision_adds_regional_holidays():
    year = services.holiday_years()[1]
    bavaria = save(name="Munich", holiday_country="DE", holiday_subdivision="BY")
    berlin = save(name="Berlin", holiday_country="DE", holiday_subdivision="BE")
    epiphany = date(year, 1, 6)  # a holiday in Bavaria, not in Berlin
    assert bavaria.holidays.filter(date=epiphany).exists()
    assert not berlin.holidays.filter(date=epiphany).exists()


def test_custom_holidays_are_kept_when_the_country_changes():
    calendar = save(holiday_country="DE", custom_holidays={date(2026, 12, 24): "Christmas Eve"})
    services.calendar_save(
        calendar=calendar,
        name="Ops",
        time_zone="America/New_York",
        is_24x7=False,
        weekly=NINE_TO_FIVE,
        holiday_country="US",
    )
    assert calendar.holidays.get(date=date(2026, 12, 24)).name == "Christmas Eve"
    year = services.holiday_years()[1]
    assert calendar.holidays.filter(date=date(year, 7, 4)).exists()  # Independence Day
    assert not calendar.holidays.filter(date=date(year, 10, 3)).exists()


@pytest.mark.parametrize(
    ("weekly", "message"),
    [
        ({0: [(time(17), time(9))]}, "ends before it starts"),
        ({2: [(time(9), time(12)), (time(11), time(17))]}, "overlaps"),
        ({4: [(time(9), time(17)), (time(13), time(0))]}, "overlaps"),
    ],
)
def test_reversed_or_overlapping_intervals_are_refused_on_their_weekday(weekly, message):
    with pytest.raises(ValidationError) as caught:
        save(weekly=weekly)
    (field,) = caught.value.message_dict
    assert field == f"weekday_{next(iter(weekly))}"
    assert message in caught.value.message_dict[field][0]
    assert not BusinessCalendar.objects.exists()


def test_unknown_time_zone_country_and_subdivision_are_refused_by_field():
    with pytest.raises(ValidationError) as caught:
        save(time_zone="Europe/Atlantis", holiday_country="ZZ")
    assert set(caught.value.message_dict) == {"time_zone", "holiday_country"}
    with pytest.raises(ValidationError) as caught:
        save(holiday_country="DE", holiday_subdivision="XX")
    assert "not a subdivision of DE" in caught.value.message_dict["holiday_subdivision"][0]
    assert not BusinessCalendar.objects.exists()


def test_a_refused_change_leaves_the_stored_calendar_untouched():
    calendar = save(holiday_country="DE")
    before = (
        list(calendar.intervals.values_list("weekday", "start", "end")),
        calendar.holidays.count(),
    )
    with pytest.raises(ValidationError):
        services.calendar_save(
            calendar=calendar,
            name="Ops",
            time_zone="Europe/Berlin",
            is_24x7=False,
            weekly={0: [(time(9), time(12)), (time(10), time(11))]},
            holiday_country="DE",
        )
    calendar.refresh_from_db()
    after = (
        list(calendar.intervals.values_list("weekday", "start", "end")),
        calendar.holidays.count(),
    )
    assert after == before


def test_business_hours_of_a_calendar_skip_its_holidays():
    calendar = save(custom_holidays={date(2026, 3, 2): "Company day"})
    hours = calendar.business_hours()
    # Friday 27 Feb 2026 16:00 Berlin + 2 business hours: 1 h on Friday, Monday is a
    # holiday, so 1 h more on Tuesday from 09:00.
    start = datetime(2026, 2, 27, 15, 0, tzinfo=UTC)
    assert hours.add(start, 7200) == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def test_open_periods_follow_the_calendar_zone_across_dst():
    calendar = save()
    # Friday 27 March 2026 noon UTC; Berlin moves to summer time on Sunday 29 March.
    periods = calendar.open_periods(datetime(2026, 3, 27, 12, 0, tzinfo=UTC), days=3)
    as_utc = [(b.astimezone(UTC), e.astimezone(UTC)) for b, e in periods]
    assert as_utc == [
        (datetime(2026, 3, 27, 12, 0, tzinfo=UTC), datetime(2026, 3, 27, 16, 0, tzinfo=UTC)),
        (datetime(2026, 3, 30, 7, 0, tzinfo=UTC), datetime(2026, 3, 30, 15, 0, tzinfo=UTC)),
    ]


def test_24x7_reads_as_one_open_period():
    calendar = save(is_24x7=True, weekly={}, time_zone="UTC")
    start = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    assert calendar.open_periods(start, days=3) == [(start, datetime(2026, 5, 5, 0, 0, tzinfo=UTC))]
    assert calendar.is_open_at(start)


def test_extend_holidays_task_copies_the_next_years_once():
    calendar = save(holiday_country="DE")
    calendar.holidays.filter(date__year=services.holiday_years()[-1]).delete()
    added = extend_country_holidays()
    assert added > 0
    assert extend_country_holidays() == 0
    assert calendar.holidays.filter(date__year=services.holiday_years()[-1]).exists()
