from datetime import timedelta

import pytest
from django.urls import reverse

from apps.notifications.models import Channel, Notification
from tests.notifications.conftest import NOW, send

pytestmark = pytest.mark.django_db


def notify_many(user, count: int, start: int = 0):
    for n in range(start, start + count):
        send(
            f"test:{n}",
            recipients=[user],
            kind="warning",
            title=f"Item {n}",
            now=NOW + timedelta(minutes=n),
        )


def test_inbox_lists_my_in_app_notifications_newest_first_unread_highlighted(client, alice, bob):
    notify_many(alice, 3)
    send("bob-only", recipients=[bob], title="Not for Alice")
    client.force_login(alice)

    response = client.get(reverse("notifications:inbox"))

    html = response.content.decode()
    assert response.status_code == 200
    titles = [n.title for n in response.context["page"].object_list]
    assert titles == ["Item 2", "Item 1", "Item 0"]
    assert "Not for Alice" not in html
    assert html.count('data-unread="true"') == 3


def test_the_inbox_uses_a_constant_number_of_queries(client, alice, django_assert_max_num_queries):
    client.force_login(alice)
    notify_many(alice, 3)
    with django_assert_max_num_queries(10) as few:
        client.get(reverse("notifications:inbox"))
    notify_many(alice, 27, start=3)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("notifications:inbox"))
    assert len(response.context["page"].object_list) == 25


def test_marking_one_read_records_it_and_redirects_back(client, alice):
    (row, *_) = send(recipients=[alice])
    client.force_login(alice)

    response = client.post(reverse("notifications:mark-read", args=[row.pk]))

    assert response.status_code == 302
    assert response.url == reverse("notifications:inbox")
    row.refresh_from_db()
    assert row.read_at is not None


def test_marking_read_by_htmx_answers_with_the_row(client, alice):
    (row, *_) = send(recipients=[alice])
    client.force_login(alice)
    response = client.post(
        reverse("notifications:mark-read", args=[row.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert f'id="notification-{row.pk}"' in response.content.decode()
    assert 'data-unread="false"' in response.content.decode()


def test_nobody_marks_someone_elses_notification(client, alice, bob):
    (row, *_) = send(recipients=[bob])
    client.force_login(alice)
    response = client.post(reverse("notifications:mark-read", args=[row.pk]))
    assert response.status_code == 404
    row.refresh_from_db()
    assert row.read_at is None


def test_mark_all_read_reads_only_mine(client, alice, bob):
    notify_many(alice, 3)
    send("bob-only", recipients=[bob])
    client.force_login(alice)

    response = client.post(reverse("notifications:mark-all-read"), follow=True)

    assert response.status_code == 200
    assert "3 notifications marked read." in response.content.decode()
    mine = Notification.objects.filter(recipient=alice, channel=Channel.IN_APP)
    assert not mine.filter(read_at=None).exists()
    assert Notification.objects.filter(recipient=bob, read_at=None).exists()


def test_marking_read_needs_a_post(client, alice):
    (row, *_) = send(recipients=[alice])
    client.force_login(alice)
    assert client.get(reverse("notifications:mark-read", args=[row.pk])).status_code == 405


def test_the_navigation_shows_the_unread_count(client, alice):
    notify_many(alice, 2)
    client.force_login(alice)
    html = client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="unread-badge">2</span>' in html
    assert 'href="/notifications/"' in html

    client.post(reverse("notifications:mark-all-read"))
    html = client.get(reverse("dashboard")).content.decode()
    assert "unread-badge" not in html


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("notifications:inbox"))
    assert response.status_code == 302
    assert "/accounts/login/" in response.url
