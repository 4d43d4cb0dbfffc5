"""Quiet hours: a person who keeps them gets non-urgent email at the start of their next
working hour (Monday to Friday, their own zone); urgent email, the inbox and the team's
webhook never wait for them. Set on the profile page and through the API."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from apps.notifications import services
from apps.notifications.models import Channel, Status
from apps.notifications.quiet_hours import is_working, next_working_start
from tests.factories import UserFactory
from tests.helpers import client_for
from tests.notifications.conftest import send

pytestmark = pytest.mark.django_db

NINE, FIVE = time(9, 0), time(17, 0)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: str, *args) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))


# --- the arithmetic (no database) -------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "moment", "expected"),
    [
        # Inside working hours: nothing to wait for.
        ("Europe/Berlin", local("Europe/Berlin", 2026, 3, 2, 10, 0), None),
        # A weekday evening waits for the next morning.
        (
            "Europe/Berlin",
            local("Europe/Berlin", 2026, 3, 2, 20, 0),
            local("Europe/Berlin", 2026, 3, 3, 9, 0),
        ),
        # Before the day starts: later the same day.
        (
            "Europe/Berlin",
            local("Europe/Berlin", 2026, 3, 3, 7, 30),
            local("Europe/Berlin", 2026, 3, 3, 9, 0),
        ),
        # The end is not inside: 17:00 on Friday waits for Monday.
        (
            "Europe/Berlin",
            local("Europe/Berlin", 2026, 3, 6, 17, 0),
            local("Europe/Berlin", 2026, 3, 9, 9, 0),
        ),
        # The weekend the clocks go forward (29 March 2026): Monday 09:00 is CEST, 07:00 UTC.
        ("Europe/Berlin", utc(2026, 3, 28, 12, 0), utc(2026, 3, 30, 7, 0)),
        # New York falls back on 1 November 2026: Monday 09:00 EST is 14:00 UTC.
        ("America/New_York", utc(2026, 10, 31, 12, 0), utc(2026, 11, 2, 14, 0)),
        # UTC−12 (Etc/GMT+12, the sign is POSIX's): Monday 20:00 UTC is 08:00 there.
        ("Etc/GMT+12", utc(2026, 3, 2, 20, 0), utc(2026, 3, 2, 21, 0)),
        # UTC+14: Friday 19:00 UTC is already Saturday 09:00 in Kiritimati → Monday there.
        ("Pacific/Kiritimati", utc(2026, 3, 6, 19, 0), utc(2026, 3, 8, 19, 0)),
    ],
)
def test_the_next_working_start_in_the_persons_zone(zone, moment, expected):
    assert next_working_start(moment, zone=zone, starts=NINE, ends=FIVE) == expected


def test_a_start_inside_the_gap_of_a_dst_change_is_inside_working_hours():
    # Cairo moved its clocks from 00:00 to 01:00 on Friday 26 April 2024 (a working day):
    # 00:30 never showed on its clocks that night.
    start, end = time(0, 30), time(8, 0)
    moment = local("Africa/Cairo", 2024, 4, 25, 23, 0)
    held = next_working_start(moment, zone="Africa/Cairo", starts=start, ends=end)
    assert held is not None and held > moment
    assert held - moment <= timedelta(hours=2, minutes=30)
    assert is_working(held, zone="Africa/Cairo", starts=start, ends=end)


def test_an_unknown_zone_reads_as_utc():
    assert next_working_start(
        utc(2026, 3, 2, 20, 0), zone="Mars/Olympus_Mons", starts=NINE, ends=FIVE
    ) == utc(2026, 3, 3, 9, 0)


# --- notify() ---------------------------------------------------------------------------

EVENING_BERLIN = local("Europe/Berlin", 2025, 3, 3, 20, 0)  # Monday
NEXT_MORNING = local("Europe/Berlin", 2025, 3, 4, 9, 0)


@pytest.fixture
def quiet(db):
    return UserFactory(
        username="quiet", email="quiet@example.com", time_zone="Europe/Berlin", quiet_hours=True
    )


def by_channel(rows):
    return {r.channel: r for r in rows}


def test_non_urgent_email_waits_for_the_next_working_hour_and_the_inbox_does_not(quiet):
    rows = by_channel(send(recipients=[quiet], kind="breach", urgent=False, now=EVENING_BERLIN))
    email = rows[Channel.EMAIL]
    assert (email.status, email.deliver_after, email.next_attempt_at) == (
        Status.SCHEDULED,
        NEXT_MORNING,
        NEXT_MORNING,
    )
    assert rows[Channel.IN_APP].status == Status.SENT


def test_urgent_email_is_never_held(quiet):
    rows = by_channel(send(recipients=[quiet], kind="breach", urgent=True, now=EVENING_BERLIN))
    assert rows[Channel.EMAIL].status == Status.PENDING
    assert rows[Channel.EMAIL].deliver_after is None


def test_inside_working_hours_email_goes_as_usual(quiet):
    noon = local("Europe/Berlin", 2025, 3, 4, 12, 0)
    rows = by_channel(send(recipients=[quiet], kind="breach", urgent=False, now=noon))
    assert rows[Channel.EMAIL].status == Status.PENDING


def test_only_those_who_keep_quiet_hours_wait(quiet, alice):
    alice.time_zone = "Europe/Berlin"
    alice.save()
    rows = send(recipients=[quiet, alice], kind="breach", urgent=False, now=EVENING_BERLIN)
    emails = {r.recipient.username: r.status for r in rows if r.channel == Channel.EMAIL}
    assert emails == {"quiet": Status.SCHEDULED, "alice": Status.PENDING}


def test_the_team_webhook_does_not_wait_for_a_persons_quiet_hours(quiet, hooked_team):
    rows = by_channel(
        send(recipients=[quiet], team=hooked_team, kind="breach", urgent=False, now=EVENING_BERLIN)
    )
    assert rows[Channel.WEBHOOK].status == Status.PENDING
    assert rows[Channel.EMAIL].status == Status.SCHEDULED


def test_held_for_open_hours_then_for_the_persons_own_working_hours(db, hooked_team):
    # The team opens at 09:00 Berlin; the person works 09:00–17:00 in New York, six hours
    # behind: their email waits until 09:00 New York (15:00 Berlin).
    person = UserFactory(email="ny@example.com", time_zone="America/New_York", quiet_hours=True)
    rows = by_channel(
        send(
            recipients=[person],
            team=hooked_team,
            kind="warning",
            urgent=False,
            deliver_after=NEXT_MORNING,
            now=EVENING_BERLIN,
        )
    )
    assert rows[Channel.WEBHOOK].deliver_after == NEXT_MORNING
    assert Channel.EMAIL not in rows  # warnings are in-app only by default
    services.preference_set(user=person, kind="warning", channel="email", enabled=True)
    rows = by_channel(
        send(
            "again",
            recipients=[person],
            kind="warning",
            urgent=False,
            deliver_after=NEXT_MORNING,
            now=EVENING_BERLIN,
        )
    )
    assert rows[Channel.EMAIL].deliver_after == local("America/New_York", 2025, 3, 4, 9, 0)


# --- the profile page and the API -------------------------------------------------------


def test_the_profile_page_sets_quiet_hours(client, alice):
    client.force_login(alice)
    page = client.get(reverse("accounts:profile")).content.decode()
    assert 'data-testid="quiet-hours"' in page
    response = client.post(
        reverse("accounts:profile"),
        {"form": "quiet_hours", "quiet_hours": "on", "work_starts": "08:00", "work_ends": "16:30"},
        follow=True,
    )
    assert "Quiet hours saved." in response.content.decode()
    alice.refresh_from_db()
    assert (alice.quiet_hours, alice.work_starts, alice.work_ends) == (
        True,
        time(8, 0),
        time(16, 30),
    )


@pytest.mark.parametrize(
    ("starts", "ends", "field"),
    [
        ("17:00", "09:00", "work_ends"),
        ("09:00", "09:00", "work_ends"),
        ("25:00", "17:00", "work_starts"),
        ("", "17:00", "work_starts"),
    ],
)
def test_the_profile_page_refuses_hours_that_make_no_day(client, alice, starts, ends, field):
    client.force_login(alice)
    response = client.post(
        reverse("accounts:profile"),
        {"form": "quiet_hours", "quiet_hours": "on", "work_starts": starts, "work_ends": ends},
    )
    assert response.status_code == 200
    assert field in response.context["quiet_form"].errors
    alice.refresh_from_db()
    assert alice.quiet_hours is False


def test_the_api_reads_and_sets_quiet_hours(alice):
    api = client_for(alice)
    assert api.get("/api/notifications/preferences/").json()["quiet_hours"] == {
        "enabled": False,
        "work_starts": "09:00:00",
        "work_ends": "17:00:00",
        "time_zone": alice.time_zone,
    }
    response = api.patch(
        "/api/notifications/preferences/",
        {"quiet_hours": {"enabled": True, "work_starts": "07:30", "work_ends": "15:30"}},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["quiet_hours"]["work_starts"] == "07:30:00"
    alice.refresh_from_db()
    assert alice.quiet_hours and alice.work_ends == time(15, 30)


@pytest.mark.parametrize(
    "quiet_hours",
    [
        {"enabled": True, "work_starts": "18:00", "work_ends": "08:00"},
        {"enabled": True, "work_starts": "nine", "work_ends": "17:00"},
        {"enabled": "maybe", "work_starts": "09:00", "work_ends": "17:00"},
        {"enabled": True},
        "on",
    ],
)
def test_the_api_refuses_bad_quiet_hours_with_a_400(alice, quiet_hours):
    response = client_for(alice).patch(
        "/api/notifications/preferences/", {"quiet_hours": quiet_hours}, format="json"
    )
    assert response.status_code == 400
    assert "quiet_hours" in response.json()
    alice.refresh_from_db()
    assert alice.quiet_hours is False
