from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse

pytestmark = pytest.mark.django_db

PAGES = ["/", "/teams/", "/teams/engineering/", "/accounts/profile/", "/queues/", "/reports/"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_sends_an_anonymous_visitor_to_sign_in(client, provider_team, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={url}"


def test_sign_in_page_is_open_to_anonymous_visitors(client):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    assert b'name="username"' in response.content


def test_signing_in_with_the_right_password_lands_on_the_dashboard(
    client, provider_member, password
):
    response = client.post(
        reverse("accounts:login"), {"username": "max", "password": password}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert response.context["user"] == provider_member
    assert b"Engineering" in response.content


def test_wrong_password_is_refused_and_keeps_the_username(client, provider_member):
    response = client.post(reverse("accounts:login"), {"username": "max", "password": "nope"})
    assert response.status_code == 200
    assert not response.context["user"].is_authenticated
    assert b"Please enter a correct username and password" in response.content
    assert b'value="max"' in response.content


def test_sign_in_honours_next(client, provider_member, password):
    response = client.post(
        f"{reverse('accounts:login')}?next=/teams/",
        {"username": "max", "password": password, "next": "/teams/"},
    )
    assert response["Location"] == "/teams/"


def test_sign_out_is_a_post_and_ends_the_session(client, provider_member):
    client.force_login(provider_member)
    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))
    assert response["Location"] == reverse("accounts:login")
    assert client.get("/").status_code == 302


def test_a_session_lasts_until_it_expires_and_not_a_moment_longer(
    client, provider_member, password, time_machine
):
    time_machine.move_to("2026-03-02 09:00:00+00:00", tick=False)
    client.post(reverse("accounts:login"), {"username": "max", "password": password})
    session = Session.objects.get()
    assert client.get("/teams/").status_code == 200
    time_machine.move_to(session.expire_date - timedelta(seconds=1), tick=False)
    assert client.get("/teams/").status_code == 200
    time_machine.move_to(session.expire_date, tick=False)
    response = client.get("/teams/")
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next=/teams/"


def test_a_session_signed_in_before_the_backend_changed_stays_signed_in(client, provider_member):
    client.force_login(provider_member, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/teams/")
    assert response.status_code == 200
    assert response.context["user"] == provider_member


def test_a_deactivated_person_is_signed_out_at_their_next_request(client, provider_member):
    client.force_login(provider_member)
    assert client.get("/teams/").status_code == 200
    provider_member.is_active = False
    provider_member.save(update_fields=["is_active"])
    response = client.get("/teams/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
