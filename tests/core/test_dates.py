"""The busy pages' moment formats (apps.core.dates) write exactly what Django's `date`
filter writes, for any moment in any zone and year: the DST days, the repeated hour
(where Django names no zone), 1 Jan of year 1 to 31 Dec 9999, zones twelve hours off."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import translation
from django.utils.dateformat import format as django_format
from hypothesis import given
from hypothesis import strategies as st

from apps.core.dates import format_moment

ZONES = [
    UTC,
    *(
        ZoneInfo(name)
        for name in (
            "Europe/Berlin",
            "America/New_York",
            "Etc/GMT+12",
            "Etc/GMT-14",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
            "America/St_Johns",
        )
    ),
]
FORMATS = ["D j M Y, H:i T", "D j M, H:i T", "D j M, H:i"]


@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(ZONES),
    ),
    fmt=st.sampled_from(FORMATS),
)
def test_a_moment_reads_as_the_date_filter_writes_it(moment, fmt):
    assert format_moment(moment, fmt) == django_format(moment, fmt)


def test_the_repeated_hour_and_the_dst_days_read_as_django_writes_them():
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    for quarter in range(4 * 24 * 2):
        moment = (start + timedelta(minutes=15 * quarter)).astimezone(berlin)
        for fmt in FORMATS:
            assert format_moment(moment, fmt) == django_format(moment, fmt)
    repeated = datetime(2026, 10, 25, 2, 30, tzinfo=berlin)
    assert format_moment(repeated, "D j M, H:i T") == "Sun 25 Oct, 02:30 "
    assert format_moment(datetime(2026, 3, 29, 3, 0, tzinfo=berlin), FORMATS[0]) == (
        "Sun 29 Mar 2026, 03:00 CEST"
    )


def test_another_language_s_names_are_its_own():
    moment = datetime(2026, 12, 31, 23, 59, tzinfo=ZoneInfo("Europe/Berlin"))
    with translation.override("de"):
        assert format_moment(moment, FORMATS[0]) == django_format(moment, FORMATS[0])
    assert format_moment(moment, FORMATS[0]) == "Thu 31 Dec 2026, 23:59 CET"


def test_another_format_or_a_naive_moment_goes_to_django():
    moment = datetime(2026, 2, 28, 9, 5)
    assert format_moment(moment, "D j M, H:i") == django_format(moment, "D j M, H:i")
    aware = moment.replace(tzinfo=UTC)
    assert format_moment(aware, "Y-m-d H:i") == "2026-02-28 09:05"
