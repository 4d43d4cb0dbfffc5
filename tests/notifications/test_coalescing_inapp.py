"""Several notifications to one person about one subject within a minute read as one
inbox entry listing what happened, oldest first; every notification keeps its own row
(exactly once per dedup key), and each outbound row carries the time it is due."""

from datetime import timedelta

import pytest
from django.urls import reverse

from apps.notifications import selectors
from apps.notifications.models import Channel, Notification, Status
from tests.factories import UserFactory
from tests.helpers import client_for
from tests.notifications.conftest import NOW, send

pytestmark = pytest.mark.django_db


def burst(user, *moments_and_titles, subject_id=7):
    for seconds, title in moments_and_titles:
        send(
            f"handoff:{subject_id}:{title}",
            recipients=[user],
            kind="comment",
            title=title,
            subject_id=subject_id,
            now=NOW + timedelta(seconds=seconds),
        )


def test_a_burst_about_one_handoff_is_one_entry_listing_what_happened_oldest_first(client, alice):
    burst(alice, (0, "Acknowledged by Erin"), (20, "Assigned to Dana"), (45, "Priority P3 → P1"))
    client.force_login(alice)

    response = client.get(reverse("notifications:inbox"))

    entries = list(response.context["page"].object_list)
    assert [e.title for e in entries] == ["Acknowledged by Erin"]
    assert [u.title for u in entries[0].coalesced.all()] == [
        "Assigned to Dana",
        "Priority P3 → P1",
    ]
    html = response.content.decode()
    listed = html[html.index('data-testid="coalesced"') :]
    assert (
        listed.index("Acknowledged by Erin")
        < listed.index("Assigned to Dana")
        < listed.index("Priority P3 → P1")
    )
    assert "3 updates: Acknowledged by Erin" in html
    # Every notification is still its own row, once.
    rows = Notification.objects.filter(recipient=alice, channel=Channel.IN_APP)
    assert rows.count() == 3
    head = rows.get(title="Acknowledged by Erin")
    assert set(rows.exclude(pk=head.pk).values_list("coalesced_into", flat=True)) == {head.pk}
    assert selectors.unread_count(user=alice) == 1
    assert 'data-testid="unread-badge">1</span>' in html


def test_after_the_window_a_new_entry_starts(alice):
    burst(alice, (0, "first"), (59, "second"), (60, "third"))
    entries = list(selectors.inbox(user=alice))
    assert [e.title for e in entries] == ["third", "first"]
    assert [u.title for u in entries[1].coalesced.all()] == ["second"]


def test_other_subjects_and_other_people_are_not_folded_together(alice, bob):
    burst(alice, (0, "about 7"))
    burst(alice, (10, "about 8"), subject_id=8)
    send("handoff:7:bob", recipients=[bob], kind="comment", now=NOW + timedelta(seconds=5))
    assert selectors.unread_count(user=alice) == 2
    assert selectors.unread_count(user=bob) == 1
    assert not Notification.objects.exclude(coalesced_into=None).exists()


def test_an_entry_already_read_is_not_extended(alice):
    burst(alice, (0, "first"))
    head = Notification.objects.get(title="first")
    head.read_at = NOW
    head.save()
    burst(alice, (10, "second"))
    assert Notification.objects.get(title="second").coalesced_into is None
    assert selectors.unread_count(user=alice) == 1


def test_a_notification_without_a_subject_is_never_folded(alice):
    for n in range(3):
        send(f"misc:{n}", recipients=[alice], kind="other", subject_type="", subject_id=None)
    assert selectors.unread_count(user=alice) == 3


def test_a_window_of_zero_seconds_switches_coalescing_off(settings, alice):
    settings.NOTIFICATION_COALESCE_SECONDS = 0
    burst(alice, (0, "first"), (1, "second"))
    assert selectors.unread_count(user=alice) == 2


def test_opening_or_marking_the_entry_reads_everything_folded_into_it(client, alice):
    burst(alice, (0, "first"), (10, "second"))
    head = Notification.objects.get(title="first")
    client.force_login(alice)
    client.post(reverse("notifications:mark-read", args=[head.pk]))
    assert not Notification.objects.filter(recipient=alice, read_at=None).exists()


def test_the_api_answers_one_entry_with_its_updates(alice):
    burst(alice, (0, "first"), (10, "second"), (20, "third"))
    body = client_for(alice).get("/api/notifications/").json()
    assert body["count"] == 1
    (entry,) = body["results"]
    assert entry["title"] == "first"
    assert [u["title"] for u in entry["updates"]] == ["second", "third"]
    assert client_for(alice).post("/api/notifications/read-all/").json() == {"marked": 1}
    assert not Notification.objects.filter(recipient=alice, read_at=None).exists()


def test_outbound_rows_carry_when_they_are_due(alice, hooked_team):
    rows = {r.channel: r for r in send(recipients=[alice], team=hooked_team, kind="breach")}
    # Email about a subject waits out the window, so that what follows goes in one message.
    assert rows[Channel.EMAIL].next_attempt_at == NOW + timedelta(seconds=60)
    assert rows[Channel.EMAIL].status == Status.PENDING
    assert rows[Channel.WEBHOOK].next_attempt_at == NOW
    stored = Notification.objects.get(pk=rows[Channel.EMAIL].pk)
    assert stored.next_attempt_at == NOW + timedelta(seconds=60)


def test_email_without_a_subject_and_held_rows_are_due_at_their_own_time(alice, hooked_team):
    (email,) = [
        r
        for r in send(recipients=[alice], kind="breach", subject_type="", subject_id=None)
        if r.channel == Channel.EMAIL
    ]
    assert email.next_attempt_at == NOW
    opens = NOW + timedelta(hours=14)
    held = send(
        "held",
        recipients=[alice],
        team=hooked_team,
        kind="breach",
        urgent=False,
        deliver_after=opens,
    )
    outbound = [r for r in held if r.channel != Channel.IN_APP]
    assert {(r.status, r.deliver_after, r.next_attempt_at) for r in outbound} == {
        (Status.SCHEDULED, opens, opens)
    }


def test_each_outbound_row_is_enqueued_once_after_commit(
    alice, bob, hooked_team, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        send(recipients=[alice, bob], team=hooked_team, kind="breach")
        send(recipients=[alice, bob], team=hooked_team, kind="breach")  # all duplicates
    assert len(callbacks) == 3  # two emails and the webhook


def test_notifying_fifty_people_costs_the_same_queries_as_five(
    db, hooked_team, django_assert_max_num_queries
):
    five = [UserFactory(email=f"five{n}@example.com") for n in range(5)]
    fifty = [UserFactory(email=f"fifty{n}@example.com") for n in range(50)]
    # Email preferences, the team's webhook choice, open entries, existing keys, one
    # INSERT, the read-back, and the savepoint around the last three: eight, however many
    # people (one savepoint, INSERT and release per row before).
    with django_assert_max_num_queries(8):
        assert len(send("five", recipients=five, team=hooked_team)) == 11
    with django_assert_max_num_queries(8):
        assert len(send("fifty", recipients=fifty, team=hooked_team)) == 101


def test_the_dashboard_lists_one_unread_entry_per_burst_and_opens_it_through_the_inbox(
    client, alice
):
    burst(alice, (0, "Acknowledged by Erin"), (20, "Assigned to Dana"))
    burst(alice, (0, "Filed: #8"), subject_id=8)
    client.force_login(alice)

    response = client.get(reverse("dashboard"))

    entries = response.context["latest_unread"]
    assert sorted(e.title for e in entries) == ["Acknowledged by Erin", "Filed: #8"]
    html = response.content.decode()
    for entry in entries:
        assert f'href="{reverse("notifications:open", args=[entry.pk])}"' in html


def test_opening_one_line_of_a_burst_goes_where_it_points_and_reads_the_whole_entry(client, alice):
    burst(alice, (0, "Acknowledged by Erin"))
    send(
        "handoff:7:question",
        recipients=[alice],
        kind="question",
        title="Engineering needs your answer",
        url="/handoffs/7/#reply",
        now=NOW + timedelta(seconds=30),
    )
    question = Notification.objects.get(channel=Channel.IN_APP, kind="question")
    assert question.coalesced_into is not None
    client.force_login(alice)

    response = client.get(reverse("notifications:open", args=[question.pk]))

    assert response.status_code == 302
    assert response["Location"] == "/handoffs/7/#reply"
    assert not Notification.objects.filter(channel=Channel.IN_APP, read_at=None).exists()
