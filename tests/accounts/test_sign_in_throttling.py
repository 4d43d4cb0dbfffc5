"""Sign-in throttling: 5 failures for a username or 20 from an address within 15 minutes
lock further attempts out, on the sign-in page, the admin's and the API token endpoint."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from apps.accounts.models import FailedSignIn

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LOCKED = "Too many failed sign-in attempts. Try again in 15 minutes."


def sign_in(client, username, password, **extra):
    return client.post(
        reverse("accounts:login"), {"username": username, "password": password}, **extra
    )


def get_token(client, username, password, **extra):
    return client.post(
        reverse("api-token"),
        {"username": username, "password": password},
        content_type="application/json",
        **extra,
    )


def fail(client, username, times, **extra):
    for _ in range(times):
        response = sign_in(client, username, "wrong password", **extra)
        assert response.status_code == 200
        assert b"Please enter a correct username and password" in response.content


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == reverse("dashboard")


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(T0, tick=False)


def test_five_failures_lock_the_username_even_against_the_right_password(
    client, provider_member, password
):
    fail(client, "max", 5)

    response = sign_in(client, "max", password)

    assert response.status_code == 429
    assert response["Retry-After"] == str(15 * 60)
    assert response.context["form"].non_field_errors() == [LOCKED]
    assert LOCKED.encode() in response.content
    assert not response.context["user"].is_authenticated
    assert client.get("/").status_code == 302  # still signed out


def test_four_failures_do_not_lock(client, provider_member, password):
    fail(client, "max", 4)
    assert signed_in(sign_in(client, "max", password))


def test_the_username_is_counted_whatever_its_letter_case(client, provider_member, password):
    for typed in ["MAX", "Max", "mAx", "maX", "MAx"]:
        fail(client, typed, 1)

    assert sign_in(client, "max", password).status_code == 429


def test_the_lockout_lifts_when_the_oldest_failure_leaves_the_window(
    client, provider_member, password, time_machine
):
    for minute in range(5):
        time_machine.move_to(T0 + timedelta(minutes=minute), tick=False)
        fail(client, "max", 1)

    time_machine.move_to(T0 + timedelta(minutes=5), tick=False)
    response = sign_in(client, "max", password)
    assert response.status_code == 429
    # The first failure (at T0) leaves the 15-minute window at T0 + 15 min.
    assert response.context["form"].non_field_errors() == [
        "Too many failed sign-in attempts. Try again in 10 minutes."
    ]

    time_machine.move_to(T0 + timedelta(minutes=14, seconds=30), tick=False)
    response = sign_in(client, "max", password)
    assert response.context["form"].non_field_errors() == [
        "Too many failed sign-in attempts. Try again in 1 minute."
    ]

    time_machine.move_to(T0 + timedelta(minutes=15), tick=False)
    assert signed_in(sign_in(client, "max", password))


def test_refused_attempts_do_not_extend_the_lockout(
    client, provider_member, password, time_machine
):
    fail(client, "max", 5)
    for minute in range(1, 15):
        time_machine.move_to(T0 + timedelta(minutes=minute), tick=False)
        assert sign_in(client, "max", "still guessing").status_code == 429

    time_machine.move_to(T0 + timedelta(minutes=15), tick=False)
    assert signed_in(sign_in(client, "max", password))


def test_a_successful_sign_in_resets_the_username_count(client, provider_member, password):
    fail(client, "max", 4)
    assert signed_in(sign_in(client, "max", password))
    client.post(reverse("accounts:logout"))

    fail(client, "max", 4)
    assert signed_in(sign_in(client, "max", password))


def test_twenty_failures_from_one_address_lock_it_for_every_username(
    client, provider_member, password
):
    # Four guesses at each of five names: no username reaches its limit, the address does.
    for name in ["ana", "bob", "cy", "dee", "eve"]:
        fail(client, name, 4, REMOTE_ADDR="198.51.100.7")

    response = sign_in(client, "max", password, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 429
    assert response.context["form"].non_field_errors() == [LOCKED]

    # Max himself, from his own machine, is not locked out.
    assert signed_in(sign_in(client, "max", password, REMOTE_ADDR="192.0.2.10"))


def test_a_success_does_not_reset_the_address_count(client, provider_member, password):
    fail(client, "max", 4, REMOTE_ADDR="198.51.100.7")
    assert signed_in(sign_in(client, "max", password, REMOTE_ADDR="198.51.100.7"))
    client.post(reverse("accounts:logout"))
    for name in ["ana", "bob", "cy", "dee"]:
        fail(client, name, 4, REMOTE_ADDR="198.51.100.7")

    assert sign_in(client, "max", password, REMOTE_ADDR="198.51.100.7").status_code == 429


def test_a_forged_forwarded_for_header_does_not_dodge_the_address_limit(client, provider_member):
    # No proxy is configured (NUM_PROXIES=0): X-Forwarded-For is whatever the client says.
    for n in range(20):
        fail(client, f"guess{n}", 1, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")

    response = sign_in(client, "max", "x", HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert response.status_code == 429


def test_behind_a_proxy_the_address_comes_from_forwarded_for(
    client, provider_member, password, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for n in range(20):
        fail(client, f"guess{n}", 1, HTTP_X_FORWARDED_FOR="203.0.113.5")

    response = sign_in(client, "max", password, HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert response.status_code == 429
    # Another client behind the same proxy (the same REMOTE_ADDR) is not locked out.
    assert signed_in(sign_in(client, "max", password, HTTP_X_FORWARDED_FOR="192.0.2.44"))
    assert set(FailedSignIn.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}


def test_limits_and_window_come_from_settings(client, provider_member, password, settings):
    settings.SIGN_IN_USERNAME_FAILURES = 2
    settings.SIGN_IN_WINDOW_MINUTES = 60
    fail(client, "max", 2)

    response = sign_in(client, "max", password)
    assert response.context["form"].non_field_errors() == [
        "Too many failed sign-in attempts. Try again in 60 minutes."
    ]


# --- the API token endpoint shares the count -----------------------------------------


def test_page_failures_lock_the_token_endpoint(client, provider_member, password):
    fail(client, "max", 5)

    response = get_token(client, "max", password)

    assert response.status_code == 429
    assert response.json() == {"non_field_errors": [LOCKED]}
    assert response["Retry-After"] == str(15 * 60)


def test_token_endpoint_failures_lock_the_sign_in_page(client, provider_member, password):
    for _ in range(5):
        response = get_token(client, "Max", "wrong password")
        assert response.status_code == 400
        assert "non_field_errors" in response.json()

    assert get_token(client, "max", password).status_code == 429
    assert sign_in(client, "max", password).status_code == 429


def test_a_token_success_resets_the_username_count(client, provider_member, password):
    for _ in range(4):
        assert get_token(client, "max", "wrong password").status_code == 400
    assert get_token(client, "max", password).status_code == 200
    fail(client, "max", 4)

    response = get_token(client, "max", password)
    assert response.status_code == 200
    assert response.json()["token"]


# --- the admin's sign-in page too -----------------------------------------------------


def test_the_admin_sign_in_page_is_locked_by_the_same_count(client, staff, password):
    fail(client, "stella", 5)

    response = client.post(
        reverse("admin:login"),
        {"username": "stella", "password": password, "next": reverse("admin:index")},
    )

    assert response.status_code == 200
    assert LOCKED.encode() in response.content
    assert client.get(reverse("admin:index")).status_code == 302  # still signed out


def test_admin_sign_in_failures_count_too(client, staff, password):
    for _ in range(5):
        client.post(reverse("admin:login"), {"username": "stella", "password": "nope"})

    assert sign_in(client, "stella", password).status_code == 429
