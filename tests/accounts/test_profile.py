from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def test_profile_shows_the_current_time_in_the_users_zone(client, provider_member):
    provider_member.time_zone = "Asia/Tokyo"
    provider_member.save()
    client.force_login(provider_member)
    with time_machine.travel(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), tick=False):
        response = client.get(reverse("accounts:profile"))
    # 12:00 UTC is 21:00 in Tokyo (JST, no DST).
    assert "Wed 1 Jul 2026, 21:00 JST" in response.content.decode()


def test_changing_the_time_zone_changes_the_times_shown(client, provider_member):
    client.force_login(provider_member)
    with time_machine.travel(datetime(2026, 1, 15, 8, 30, tzinfo=UTC), tick=False):
        response = client.post(
            reverse("accounts:profile"),
            {
                "first_name": "Max",
                "last_name": "Muster",
                "email": "max@example.com",
                "time_zone": "America/New_York",
            },
            follow=True,
        )
    provider_member.refresh_from_db()
    assert provider_member.time_zone == "America/New_York"
    assert provider_member.first_name == "Max"
    assert "Thu 15 Jan 2026, 03:30 EST" in response.content.decode()
    assert "Profile saved." in response.content.decode()


def test_an_unknown_time_zone_is_refused_on_the_field_and_nothing_is_lost(client, provider_member):
    client.force_login(provider_member)
    response = client.post(
        reverse("accounts:profile"),
        {
            "first_name": "Typed",
            "last_name": "Name",
            "email": "typed@example.com",
            "time_zone": "Mars/Olympus_Mons",
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "time_zone" in form.errors
    assert "Mars/Olympus_Mons is not one of the available choices" in form.errors["time_zone"][0]
    html = response.content.decode()
    assert 'value="Typed"' in html and 'value="typed@example.com"' in html
    provider_member.refresh_from_db()
    assert provider_member.time_zone == "UTC"
    assert provider_member.first_name != "Typed"


def test_token_can_be_created_replaced_and_revoked(client, provider_member):
    client.force_login(provider_member)
    client.post(reverse("accounts:token-regenerate"))
    first = Token.objects.get(user=provider_member).key
    assert first in client.get(reverse("accounts:profile")).content.decode()

    client.post(reverse("accounts:token-regenerate"))
    second = Token.objects.get(user=provider_member).key
    assert second != first

    client.post(reverse("accounts:token-revoke"))
    assert not Token.objects.filter(user=provider_member).exists()


def test_token_actions_refuse_get(client, provider_member):
    client.force_login(provider_member)
    assert client.get(reverse("accounts:token-regenerate")).status_code == 405
    assert not Token.objects.filter(user=provider_member).exists()
