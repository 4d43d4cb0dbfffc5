"""Several emails to one person about one handoff within the coalescing window arrive as
ONE email listing what happened, oldest first, with times in the reader's zone — through
a real SMTP server (tests/servers.py)."""

from datetime import timedelta

import pytest

from apps.notifications import delivery, services
from apps.notifications.models import Channel, Notification, Status
from tests.factories import UserFactory
from tests.helpers import berlin

pytestmark = pytest.mark.django_db

T0 = berlin(2026, 3, 2, 10, 0)  # 09:00 UTC


@pytest.fixture
def dana(db):
    return UserFactory(username="dana", email="dana@example.com", time_zone="Europe/Berlin")


def email_row(user, *, at, title, kind="comment", subject_id=12, **fields) -> Notification:
    """An email row as notify() writes it: due one coalescing window after creation."""
    return Notification.objects.create(
        recipient=user,
        channel=Channel.EMAIL,
        kind=kind,
        title=title,
        body=f"Body of {title}",
        url=f"/handoffs/{subject_id}/",
        subject_type="handoff",
        subject_id=subject_id,
        dedup_key=f"test:{title}:{user.pk}",
        created_at=at,
        next_attempt_at=at + timedelta(seconds=60),
        **fields,
    )


def test_three_updates_in_the_same_minute_arrive_as_one_email_oldest_first(dana, smtp_server):
    first = email_row(dana, at=T0, title="#12 acknowledged by Eli", kind="acknowledged")
    second = email_row(dana, at=T0 + timedelta(seconds=20), title="#12 which build?")
    third = email_row(dana, at=T0 + timedelta(seconds=40), title="#12 priority P3 → P1")

    assert delivery.notification_deliver(notification_id=second.pk, now=T0) is None  # held
    sent = delivery.notification_deliver(notification_id=first.pk, now=T0 + timedelta(seconds=60))

    (message,) = smtp_server.received()
    assert message["To"] == "dana@example.com"
    assert message["Subject"] == (
        "[OLA Portal] 3 updates on #12: Acknowledged, Comment on a handoff you watch"
    )
    text = message.get_body(("plain",)).get_content()
    lines = [line for line in text.splitlines() if line[:3] in ("1. ", "2. ", "3. ")]
    assert lines == [
        "1. Mon 2 Mar 2026, 10:00 CET — Acknowledged: #12 acknowledged by Eli",
        "2. Mon 2 Mar 2026, 10:00 CET — Comment on a handoff you watch: #12 which build?",
        "3. Mon 2 Mar 2026, 10:00 CET — Comment on a handoff you watch: #12 priority P3 → P1",
    ]
    assert "Times are in Europe/Berlin" in text
    html = message.get_body(("html",)).get_content()
    assert html.index("acknowledged by Eli") < html.index("which build?") < html.index("P3 → P1")

    assert sent.status == Status.SENT
    for row in (second, third):
        row.refresh_from_db()
        assert (row.status, row.coalesced_into_id) == (Status.SENT, first.pk)
        assert row.sent_at is not None
    # Their own messages (or the periodic sender) later find nothing to send.
    later = T0 + timedelta(minutes=5)
    assert delivery.notification_deliver(notification_id=third.pk, now=later) is None
    assert delivery.notifications_send_due(now=later).taken == 0
    assert len(smtp_server.received()) == 1


def test_times_are_in_each_readers_zone_with_the_zone(dana, smtp_server):
    ny = UserFactory(username="nyla", email="nyla@example.com", time_zone="America/New_York")
    email_row(dana, at=T0, title="#12 filed")
    email_row(ny, at=T0, title="#12 filed")

    assert delivery.notifications_send_due(now=T0 + timedelta(minutes=5)).sent == 2

    bodies = {m["To"]: m.get_body(("plain",)).get_content() for m in smtp_server.received()}
    assert "Mon 2 Mar 2026, 10:00 CET" in bodies["dana@example.com"]
    assert "Times are in Europe/Berlin" in bodies["dana@example.com"]
    assert "Mon 2 Mar 2026, 04:00 EST" in bodies["nyla@example.com"]
    assert "Times are in America/New_York" in bodies["nyla@example.com"]


def test_other_people_other_handoffs_and_webhooks_are_not_folded(dana, smtp_server):
    erin = UserFactory(username="erin", email="erin@example.com")
    mine = email_row(dana, at=T0, title="#12 filed")
    other_handoff = email_row(dana, at=T0, title="#13 filed", subject_id=13)
    other_person = email_row(erin, at=T0, title="#12 filed")

    result = delivery.notifications_send_due(now=T0 + timedelta(minutes=5))

    assert (result.taken, result.sent) == (3, 3)
    assert sorted(m["Subject"] for m in smtp_server.received()) == [
        "[OLA Portal] #12 filed",
        "[OLA Portal] #12 filed",
        "[OLA Portal] #13 filed",
    ]
    for row in (mine, other_handoff, other_person):
        row.refresh_from_db()
        assert (row.status, row.coalesced_into_id) == (Status.SENT, None)


def test_an_email_held_for_quiet_hours_stays_held(dana, smtp_server):
    now_row = email_row(dana, at=T0, title="#12 P1 filed", kind="filed")
    held = email_row(
        dana,
        at=T0,
        title="#12 comment",
        status=Status.SCHEDULED,
        deliver_after=T0 + timedelta(hours=20),
    )

    delivery.notification_deliver(notification_id=now_row.pk, now=T0 + timedelta(minutes=1))

    assert [m["Subject"] for m in smtp_server.received()] == ["[OLA Portal] #12 P1 filed"]
    held.refresh_from_db()
    assert (held.status, held.coalesced_into_id) == (Status.SCHEDULED, None)


def test_a_failed_coalesced_email_is_retried_as_one_with_what_came_meanwhile(
    dana, smtp_server, settings
):
    first = email_row(dana, at=T0, title="#12 filed", kind="filed")
    second = email_row(dana, at=T0 + timedelta(seconds=10), title="#12 acknowledged")
    smtp_server.stop()  # the mail server is down

    with pytest.raises(delivery.DeliveryFailed) as failure:
        delivery.notification_deliver(notification_id=first.pk, now=T0 + timedelta(seconds=60))

    second.refresh_from_db()
    assert (second.status, second.coalesced_into_id) == (Status.FAILED, first.pk)
    assert second.last_error.startswith(f"Part of notification {first.pk}:")
    third = email_row(dana, at=T0 + timedelta(seconds=70), title="#12 resolved", kind="resolved")

    smtp_server.start()  # back, on the same port
    retry_at = failure.value.next_attempt_at
    assert retry_at == T0 + timedelta(seconds=60) + delivery.backoff(1)
    assert delivery.notifications_send_due(now=retry_at + timedelta(minutes=1)).sent == 1

    (message,) = smtp_server.received()
    assert message["Subject"].startswith("[OLA Portal] 3 updates on #12:")
    for row in (first, second, third):
        row.refresh_from_db()
        assert row.status == Status.SENT


def test_notify_then_the_periodic_sender_makes_one_email_of_a_burst(dana, smtp_server, settings):
    settings.NOTIFICATION_QUEUE_GRACE = 0
    services.preference_set(user=dana, kind="comment", channel="email", enabled=True)
    for n, seconds in enumerate((0, 15, 30)):
        services.notify(
            kind="comment",
            title=f"#12 comment {n + 1}",
            body="",
            url="/handoffs/12/",
            dedup_base=f"handoff:12:comment:{n}",
            recipients=[dana],
            urgent=True,
            subject_type="handoff",
            subject_id=12,
            now=T0 + timedelta(seconds=seconds),
        )

    assert delivery.notifications_send_due(now=T0 + timedelta(seconds=59)).taken == 0  # window
    assert delivery.notifications_send_due(now=T0 + timedelta(seconds=60)).sent == 1

    (message,) = smtp_server.received()
    assert message["Subject"] == "[OLA Portal] 3 updates on #12: Comment on a handoff you watch"
    text = message.get_body(("plain",)).get_content()
    assert text.index("#12 comment 1") < text.index("#12 comment 2") < text.index("#12 comment 3")
