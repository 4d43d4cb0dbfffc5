import pytest
from django.urls import reverse

from apps.notifications import services
from apps.notifications.models import Channel, NotificationPreference
from tests.factories import UserFactory
from tests.notifications.conftest import send

pytestmark = pytest.mark.django_db


def channels(rows):
    return sorted(r.channel for r in rows)


def test_breaches_go_in_app_and_by_email_by_default(alice):
    assert channels(send(recipients=[alice], kind="breach")) == ["email", "in_app"]


def test_warnings_go_only_in_app_by_default(alice):
    assert channels(send(recipients=[alice], kind="warning")) == ["in_app"]


def test_a_person_may_ask_for_warnings_by_email(alice):
    services.preference_set(user=alice, kind="warning", channel="email", enabled=True)
    assert channels(send(recipients=[alice], kind="warning")) == ["email", "in_app"]


def test_a_person_may_switch_breach_emails_off(alice, bob):
    services.preference_set(user=alice, kind="breach", channel="email", enabled=False)
    rows = send(recipients=[alice, bob], kind="breach")
    assert {(r.recipient.username, r.channel) for r in rows} == {
        ("alice", "in_app"),
        ("bob", "in_app"),
        ("bob", "email"),
    }


def test_nobody_gets_email_without_an_address(db):
    nomail = UserFactory(username="nomail", email="")
    assert channels(send(recipients=[nomail], kind="breach")) == ["in_app"]


def test_in_app_cannot_be_switched_off(alice):
    with pytest.raises(ValueError):
        services.preference_set(user=alice, kind="breach", channel=Channel.IN_APP, enabled=False)


def test_preferences_page_shows_the_grid_with_defaults(client, alice):
    client.force_login(alice)
    response = client.get(reverse("notifications:preferences"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="breach:email" id="pref-breach:email" aria-label="Breach – Email" checked' in html
    assert 'name="warning:email" id="pref-warning:email" aria-label="Warning – Email">' in html
    assert 'name="warning:in_app"' in html and "disabled" in html


def test_saving_the_grid_records_every_email_choice(client, alice):
    client.force_login(alice)
    response = client.post(reverse("notifications:preferences"), {"warning:email": "on"})
    assert response.status_code == 302
    chosen = dict(
        NotificationPreference.objects.filter(user=alice, channel="email").values_list(
            "kind", "enabled"
        )
    )
    assert chosen["warning"] is True
    assert chosen["breach"] is False
    assert channels(send(recipients=[alice], kind="breach")) == ["in_app"]
