"""The inbox works like an inbox: opening a notification marks it read and goes where it
points, the bell's count drops at once and is polled, filters by kind and unread, and
"mark all read" — only ever on the reader's own notifications."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from apps.notifications.models import Notification
from tests.helpers import client_for
from tests.notifications.conftest import NOW, send

pytestmark = pytest.mark.django_db


def one(user, base="handoff:7:x", **kwargs):
    return next(r for r in send(base, recipients=[user], **kwargs) if r.channel == "in_app")


def test_opening_a_notification_marks_it_read_and_lands_where_it_points(client, alice):
    row = one(alice, url="https://ola.example.com/handoffs/7/#reply")
    client.force_login(alice)
    html = client.get(reverse("notifications:inbox")).content.decode()
    assert f'href="/notifications/{row.pk}/open/"' in html

    response = client.get(reverse("notifications:open", args=[row.pk]))

    assert response.status_code == 302
    # On this site's own host, with the fragment that lands on the reply box.
    assert response.url == "/handoffs/7/#reply"
    row.refresh_from_db()
    assert row.read_at is not None


def test_opening_keeps_the_first_reading_time(client, alice):
    row = one(alice)
    client.force_login(alice)
    client.get(reverse("notifications:open", args=[row.pk]))
    first = Notification.objects.get(pk=row.pk).read_at
    client.get(reverse("notifications:open", args=[row.pk]))
    assert Notification.objects.get(pk=row.pk).read_at == first


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/phish",
        "//evil.example.com/",
        "/\\evil.example.com",
        "javascript:alert(1)",
        "https://ola.example.com.evil.example/",
        "",
    ],
)
def test_a_target_off_this_site_leads_to_the_inbox_instead(client, alice, url):
    row = one(alice, url=url)
    client.force_login(alice)
    response = client.get(reverse("notifications:open", args=[row.pk]))
    assert response.status_code == 302
    assert response.url == reverse("notifications:inbox")


def test_nobody_opens_someone_elses_notification(client, alice, bob):
    row = one(bob)
    client.force_login(alice)
    assert client.get(reverse("notifications:open", args=[row.pk])).status_code == 404
    row.refresh_from_db()
    assert row.read_at is None


def test_the_bell_is_polled_and_answers_its_count(client, alice):
    one(alice, "handoff:7:a")
    one(alice, "handoff:8:b", subject_id=8)
    client.force_login(alice)
    page = client.get(reverse("dashboard")).content.decode()
    bell = re.search(r'<li class="nav-item" id="notifications-bell"[^>]*>', page).group(0)
    assert 'hx-get="/notifications/bell/"' in bell
    assert 'hx-trigger="every 5s, notifications-changed from:body"' in bell

    response = client.get(reverse("notifications:bell"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'data-testid="unread-badge">2</span>' in response.content.decode()
    assert "<html" not in response.content.decode()


def test_marking_read_from_the_inbox_tells_the_bell_at_once(client, alice):
    row = one(alice)
    client.force_login(alice)
    response = client.post(
        reverse("notifications:mark-read", args=[row.pk]), HTTP_HX_REQUEST="true"
    )
    assert response["HX-Trigger"] == "notifications-changed"
    bell = client.get(reverse("notifications:bell"), HTTP_HX_REQUEST="true").content.decode()
    assert "unread-badge" not in bell


def test_a_signed_out_page_is_told_to_stop_polling(client):
    response = client.get(reverse("notifications:bell"), HTTP_HX_REQUEST="true")
    assert response.status_code == 286
    assert response.content == b""


def test_the_bell_costs_two_queries_at_most(client, alice, django_assert_max_num_queries):
    one(alice)
    client.force_login(alice)
    client.get(reverse("notifications:bell"))
    # The session (with its user) and the count.
    with django_assert_max_num_queries(3):
        client.get(reverse("notifications:bell"), HTTP_HX_REQUEST="true")


def test_the_inbox_filters_by_kind_and_unread(client, alice):
    breach = one(alice, "handoff:1:b", kind="breach", subject_id=1, title="A breach")
    one(alice, "handoff:2:w", kind="warning", subject_id=2, title="A warning")
    read = one(alice, "handoff:3:r", kind="breach", subject_id=3, title="An old breach")
    Notification.objects.filter(pk=read.pk).update(read_at=NOW)
    client.force_login(alice)

    def titles(**params):
        response = client.get(reverse("notifications:inbox"), params)
        assert response.status_code == 200
        return [n.title for n in response.context["page"].object_list]

    assert titles() == ["An old breach", "A warning", "A breach"]
    assert titles(kind="breach") == ["An old breach", "A breach"]
    assert titles(unread="true") == ["A warning", "A breach"]
    assert titles(kind="breach", unread="true") == [breach.title]
    assert titles(unread="false") == ["An old breach"]
    html = client.get(reverse("notifications:inbox"), {"kind": "breach"}).content.decode()
    assert '<option value="breach" selected>Breach</option>' in html


def test_an_unknown_kind_is_a_message_on_the_filter_not_an_error(client, alice):
    one(alice)
    client.force_login(alice)
    response = client.get(reverse("notifications:inbox"), {"kind": "<b>gossip</b>"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="filter-error"' in html
    assert "<b>gossip</b>" not in html


def test_pages_keep_the_filters(client, alice):
    for n in range(30):
        one(alice, f"handoff:{n}:w", kind="warning", subject_id=n, now=NOW + timedelta(minutes=n))
    client.force_login(alice)
    html = client.get(reverse("notifications:inbox"), {"kind": "warning"}).content.decode()
    assert 'href="?kind=warning&amp;page=2"' in html


def test_mark_all_read_from_a_filtered_inbox_returns_to_it(client, alice, bob):
    for n in range(3):
        one(alice, f"handoff:{n}:w", subject_id=n)
    one(bob, "handoff:9:bob", subject_id=9)
    client.force_login(alice)
    response = client.post(
        reverse("notifications:mark-all-read"), {"next": "/notifications/?unread=true"}
    )
    assert response.url == "/notifications/?unread=true"
    inbox = Notification.objects.filter(channel="in_app", read_at=None)
    assert not inbox.filter(recipient=alice).exists()
    assert inbox.filter(recipient=bob).exists()


def test_the_api_filters_the_same_way_and_refuses_an_unknown_kind(alice):
    one(alice, "handoff:1:b", kind="breach", subject_id=1)
    one(alice, "handoff:2:w", kind="warning", subject_id=2)
    api = client_for(alice)
    assert api.get("/api/notifications/?kind=warning").json()["count"] == 1
    response = api.get("/api/notifications/?kind=gossip")
    assert response.status_code == 400
    assert "kind" in response.json()


def test_the_inbox_page_runs_no_inline_script(client, alice):
    one(alice)
    client.force_login(alice)
    html = client.get(reverse("notifications:inbox")).content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\son[a-z]+=", html)


@pytest.mark.parametrize(
    "params",
    [
        {"unread": "maybe"},
        {"kind": "breach" * 1000},
        {"page": "99999999999999999999999"},
        {"page": "-1", "kind": "warning"},
    ],
)
def test_odd_filters_and_pages_never_break_the_inbox(client, alice, params):
    one(alice)
    client.force_login(alice)
    assert client.get(reverse("notifications:inbox"), params).status_code == 200


@pytest.mark.parametrize("params", [{"kind": "\x00"}, {"unread": "\x00"}])
def test_a_nul_in_the_filters_is_a_400_page(client, alice, params):
    client.force_login(alice)
    assert client.get(reverse("notifications:inbox"), params).status_code == 400


def test_a_page_and_the_bell_s_poll_show_the_same_bell(client, alice):
    one(alice)
    client.force_login(alice)
    for path in (reverse("dashboard"), reverse("notifications:inbox")):
        page = client.get(path).content.decode()
        shown = re.search(r'id="notifications-bell"[^>]*>(.*?)</li>', page, re.S).group(1)
        polled = client.get(
            reverse("notifications:bell"),
            HTTP_HX_REQUEST="true",
            HTTP_HX_CURRENT_URL=f"http://testserver{path}",
        ).content.decode()
        assert shown == polled
        assert 'aria-label="Notifications, 1 unread"' in polled
        # The inbox's own page lights the bell up.
        assert ("nav-link active" in polled) == (path == reverse("notifications:inbox"))
