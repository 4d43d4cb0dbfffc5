"""A real Celery worker on the configured broker (Redis in CI, the filesystem transport
by default) runs a periodic task published the way beat publishes it."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from apps.calendars import services
from apps.calendars.models import Holiday
from olaportal.celery import app as celery_app

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def test_beat_schedule_is_static_utc_and_every_entry_expires_before_it_repeats():
    assert settings.CELERY_TIMEZONE == "UTC"
    celery_app.loader.import_default_modules()  # what a worker does at start-up
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in celery_app.tasks, name
        assert entry["options"]["expires"] < entry["schedule"].total_seconds(), name


def test_a_real_worker_runs_the_holiday_extension_task():
    calendar = services.calendar_save(
        name="Ops", time_zone="Europe/Berlin", is_24x7=True, weekly={}, holiday_country="DE"
    )
    last_year = services.holiday_years()[-1]
    calendar.holidays.filter(date__year=last_year).delete()

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        celery_app.send_task("apps.calendars.tasks.extend_country_holidays")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if Holiday.objects.filter(calendar=calendar, date__year=last_year).exists():
                break
            time.sleep(0.2)
    assert Holiday.objects.filter(calendar=calendar, date__year=last_year).exists()
