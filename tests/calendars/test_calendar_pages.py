from datetime import time

import pytest
from django.urls import reverse

from apps.calendars.models import Holiday

pytestmark = pytest.mark.django_db


def form_data(**overrides):
    data = {
        "name": "Engineering Berlin",
        "time_zone": "Europe/Berlin",
        "holiday_country": "DE",
        "holiday_subdivision": "",
        "custom_holidays": "",
        "weekday_0": "09:00-12:00, 13:00-17:00",
        "weekday_1": "09:00-17:00",
        "weekday_2": "09:00-17:00",
        "weekday_3": "09:00-17:00",
        "weekday_4": "09:00-15:00",
        "weekday_5": "",
        "weekday_6": "",
    }
    data.update(overrides)
    return data


def test_lead_edits_the_team_calendar_with_split_shifts_and_holidays(
    client, provider_lead, provider_team
):
    client.force_login(provider_lead)
    calendar = provider_team.calendar
    url = reverse("calendars:edit", kwargs={"pk": calendar.pk})
    assert client.get(url).status_code == 200
    response = client.post(
        url, form_data(custom_holidays="2026-12-24 Christmas Eve\n2026-12-31"), follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("calendars:detail", kwargs={"pk": calendar.pk})
    assert "saved" in response.content.decode()
    calendar.refresh_from_db()
    assert calendar.weekly()[0] == [(time(9), time(12)), (time(13), time(17))]
    assert calendar.weekly()[4] == [(time(9), time(15))]
    assert calendar.weekly()[5] == []
    assert calendar.holidays.get(date="2026-12-31").name == "Closed"
    assert calendar.holidays.filter(source=Holiday.Source.COUNTRY).count() > 20


def test_edit_page_shows_the_next_open_hours(client, provider_lead, provider_team):
    client.force_login(provider_lead)
    response = client.get(reverse("calendars:edit", kwargs={"pk": provider_team.calendar_id}))
    assert 'data-testid="open-periods"' in response.content.decode()
    assert response.context["periods"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("weekday_0", "09:00-12:00, 11:00-17:00", "overlaps"),
        ("weekday_1", "17:00-09:00", "ends before it starts"),
        ("weekday_2", "nine to five", "Write intervals as HH:MM-HH:MM"),
        ("weekday_3", "09:00-25:00", "is not a time of day"),
        ("time_zone", "Europe/Atlantis", "not one of the available choices"),
        ("holiday_country", "ZZ", "not one of the available choices"),
        ("holiday_subdivision", "XX", "not a subdivision of DE"),
        ("custom_holidays", "24.12.2026 Christmas", "should start with a date"),
    ],
)
def test_bad_input_is_refused_on_its_field_and_keeps_what_was_typed(
    client, provider_lead, provider_team, field, value, message
):
    client.force_login(provider_lead)
    calendar = provider_team.calendar
    stored = list(calendar.intervals.values_list("weekday", "start", "end"))
    response = client.post(
        reverse("calendars:edit", kwargs={"pk": calendar.pk}),
        form_data(**{field: value, "name": "Typed name"}),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    html = response.content.decode()
    assert "Typed name" in html
    if field.startswith("weekday_"):
        assert value in html
    calendar.refresh_from_db()
    assert calendar.name != "Typed name"
    assert list(calendar.intervals.values_list("weekday", "start", "end")) == stored


def test_24x7_needs_no_intervals(client, provider_lead, provider_team):
    client.force_login(provider_lead)
    data = form_data(is_24x7="on", **{f"weekday_{d}": "" for d in range(7)})
    client.post(reverse("calendars:edit", kwargs={"pk": provider_team.calendar_id}), data)
    provider_team.calendar.refresh_from_db()
    assert provider_team.calendar.is_24x7
    assert provider_team.calendar.weekly()[6] == [(time(0), time(0))]


def test_a_calendar_with_no_open_hours_is_refused(client, provider_lead, provider_team):
    client.force_login(provider_lead)
    data = form_data(**{f"weekday_{d}": "" for d in range(7)})
    response = client.post(
        reverse("calendars:edit", kwargs={"pk": provider_team.calendar_id}), data
    )
    assert "at least one open interval" in response.context["form"].errors["weekday_0"][0]


def test_member_cannot_edit_the_calendar(client, provider_member, provider_team):
    client.force_login(provider_member)
    url = reverse("calendars:edit", kwargs={"pk": provider_team.calendar_id})
    assert client.get(url).status_code == 403
    assert client.post(url, form_data(name="Hijacked")).status_code == 403
    provider_team.calendar.refresh_from_db()
    assert provider_team.calendar.name != "Hijacked"


def test_lead_of_another_team_cannot_edit_the_calendar(client, requester_lead, provider_team):
    client.force_login(requester_lead)
    url = reverse("calendars:edit", kwargs={"pk": provider_team.calendar_id})
    assert client.post(url, form_data(name="Hijacked")).status_code == 403


def test_staff_may_edit_any_calendar(client, staff, provider_team):
    client.force_login(staff)
    url = reverse("calendars:edit", kwargs={"pk": provider_team.calendar_id})
    assert client.post(url, form_data(name="Fixed by staff")).status_code == 302


def test_calendar_detail_is_readable_by_anyone_signed_in(client, outsider, provider_team):
    client.force_login(outsider)
    response = client.get(reverse("calendars:detail", kwargs={"pk": provider_team.calendar_id}))
    assert response.status_code == 200
    assert not response.context["can_edit"]


def test_calendar_api_returns_weekly_hours_and_holidays(client, outsider, provider_team):
    client.force_login(outsider)
    response = client.get(f"/api/calendars/{provider_team.calendar_id}/")
    body = response.json()
    assert body["time_zone"] == "Europe/Berlin"
    assert body["intervals"][0] == {"weekday": 0, "start": "09:00", "end": "17:00"}
    assert client.post("/api/calendars/", {}).status_code == 405
