"""Real worker processes (`celery -A olaportal worker`, as the Procfile starts them) on
Redis, a real local webhook receiver and a real SMTP server (tests/servers.py): webhooks
have their own queue, a killed worker and a flushed broker lose nothing, and a re-send
carries the key the receiver saw before."""

import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from apps.notifications.models import Channel, Notification, Status
from apps.notifications.queue import DEFAULT_QUEUE, SEND_DUE, WEBHOOK_QUEUE
from olaportal.celery import app as celery_app
from tests.notifications.conftest import send
from tests.servers import flush_broker, wait_until

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

# What the worker processes need beyond the environment of this run.
WORKER_SETTINGS = {
    "SITE_URL": "https://ola.example.com",
    "WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver listens on 127.0.0.1
    "NOTIFICATION_QUEUE_GRACE": "0",
}


@pytest.fixture(autouse=True)
def _no_coalescing_wait(settings):
    settings.NOTIFICATION_COALESCE_SECONDS = 0  # rows written here are due at once


def send_due() -> None:
    """What beat does every minute: the periodic sender, once per channel's queue."""
    celery_app.send_task(SEND_DUE, args=(Channel.EMAIL,), queue=DEFAULT_QUEUE)
    celery_app.send_task(SEND_DUE, args=(Channel.WEBHOOK,), queue=WEBHOOK_QUEUE)


def statuses(channel=None) -> dict:
    rows = Notification.objects.exclude(channel=Channel.IN_APP)
    rows = rows.filter(channel=channel) if channel else rows
    return dict(rows.values_list("pk", "status"))


def test_a_hanging_webhook_receiver_does_not_hold_email_back(
    alice, hooked_team, webhook_server, smtp_server, worker_processes
):
    # Each POST hangs past the webhook timeout (3 s): the webhook worker is busy for 12 s.
    webhook_server.reply_with(*[(200, 10)] * 4)
    env = {
        **WORKER_SETTINGS,
        "EMAIL_URL": smtp_server.url,
        "NOTIFICATION_WEBHOOK_TIMEOUT": "3",
        "NOTIFICATION_RETRY_BACKOFF": "60",  # no second try while we look
    }
    worker_processes("worker", [DEFAULT_QUEUE], **env)  # the Procfile's two workers
    worker_processes("webhooks", [WEBHOOK_QUEUE], **env)
    for n in range(4):
        send(f"hang:{n}", team=hooked_team, subject_id=n, now=timezone.now())
    assert wait_until(lambda: len(webhook_server.received) == 1, 30)  # one hangs now

    started = time.monotonic()
    send("mail", recipients=[alice], subject_id=99, now=timezone.now())
    assert wait_until(lambda: len(smtp_server.received()) == 1, 10, interval=0.02)
    took = time.monotonic() - started

    assert took < 3, f"the email took {took:.2f} s behind hanging webhooks"
    hooks = statuses(Channel.WEBHOOK)
    assert Status.SENT not in hooks.values()  # the webhooks were still hanging meanwhile
    (message,) = smtp_server.received()
    assert message["To"] == "alice@example.com"
    assert wait_until(lambda: set(statuses(Channel.WEBHOOK).values()) == {Status.FAILED}, 40)
    for error in Notification.objects.filter(channel=Channel.WEBHOOK).values_list(
        "last_error", flat=True
    ):
        assert error.startswith("Timed out after 3.0 s")


def test_deliveries_survive_a_killed_worker_and_a_flushed_broker_and_arrive_once(
    alice, bob, hooked_team, webhook_server, smtp_server, worker_processes
):
    env = {
        **WORKER_SETTINGS,
        "EMAIL_URL": smtp_server.url,
        # The first retry comes 8 s after a failure: the kill lands between attempts.
        "NOTIFICATION_RETRY_BACKOFF": "8",
        "NOTIFICATION_CLAIM_TIMEOUT": "5",
    }
    webhook_server.stop()  # the receiver is down
    smtp_server.stop()  # and so is the mail server
    for n in range(5):
        send(
            f"handoff:{n}",
            recipients=[alice, bob],
            team=hooked_team,
            subject_id=n,
            now=timezone.now(),
        )
    rows = statuses()
    assert len(rows) == 15  # 5 webhooks, 10 emails

    first = worker_processes("first", [DEFAULT_QUEUE, WEBHOOK_QUEUE], **env)
    assert wait_until(
        lambda: (
            set(statuses().values()) == {Status.FAILED}
            and not Notification.objects.filter(attempts=0).exclude(channel=Channel.IN_APP).exists()
        ),
        60,
    ), statuses()
    first.kill()  # between attempts: its retry messages are held in the broker
    assert flush_broker() > 0  # … and now they are gone
    webhook_server.start()  # the receiver is back
    smtp_server.start()

    second = worker_processes("second", [DEFAULT_QUEUE, WEBHOOK_QUEUE], **env)
    # Every retry is due now: with no message left, only the database knows about them.
    latest = max(
        Notification.objects.exclude(channel=Channel.IN_APP).values_list(
            "next_attempt_at", flat=True
        )
    )
    time.sleep(max((latest - timezone.now()).total_seconds(), 0) + 3)
    assert webhook_server.received == [] and smtp_server.received() == []

    send_due()
    assert wait_until(lambda: set(statuses().values()) == {Status.SENT}, 60), statuses()
    time.sleep(2)  # anything sent twice would arrive by now
    second.stop()

    webhooks = Notification.objects.filter(channel=Channel.WEBHOOK)
    emails = Notification.objects.filter(channel=Channel.EMAIL)
    assert webhook_server.keys() == {
        f"ola-notification-{pk}": 1 for pk in webhooks.values_list("pk", flat=True)
    }
    assert smtp_server.message_ids() == {
        f"<ola-notification-{pk}@ola.example.com>": 1 for pk in emails.values_list("pk", flat=True)
    }
    attempts = Notification.objects.exclude(channel=Channel.IN_APP).values_list(
        "attempts", flat=True
    )
    assert min(attempts) >= 2  # each failed at least once before it arrived


def test_a_resend_after_a_lost_record_carries_the_same_idempotency_key(
    hooked_team, webhook_server, worker_processes
):
    webhook_server.reply_with((200, 30))  # takes the POST, then keeps the worker waiting
    env = {**WORKER_SETTINGS, "NOTIFICATION_CLAIM_TIMEOUT": "2"}
    first = worker_processes("first", [WEBHOOK_QUEUE], **env)
    send(team=hooked_team, now=timezone.now())
    assert wait_until(lambda: len(webhook_server.received) == 1, 30)
    first.kill()  # the receiver has it; our record of the send dies with the worker
    flush_broker()
    (webhook,) = Notification.objects.filter(channel=Channel.WEBHOOK)
    assert (webhook.status, webhook.sent_at) == (Status.SENDING, None)

    worker_processes("second", [WEBHOOK_QUEUE], **env)
    time.sleep(2.5)  # the claim is older than the claim timeout: its worker is gone
    send_due()
    assert wait_until(lambda: statuses(Channel.WEBHOOK) == {webhook.pk: Status.SENT}, 30)

    key = f"ola-notification-{webhook.pk}"
    assert [h.get("Idempotency-Key") for h in webhook_server.headers] == [key, key]
    assert [h.get("X-OLA-Delivery") for h in webhook_server.headers] == [key, key]
    assert [h.get("X-OLA-Attempt") for h in webhook_server.headers] == ["1", "2"]


def test_a_delivery_held_for_hours_gets_no_broker_message_only_its_row(
    alice, hooked_team, worker_processes, settings
):
    """Redis hands a message held past its visibility timeout out again every hour; a
    long hold is the periodic sender's, a short one still gets its message."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    now = timezone.now()
    send("soon", team=hooked_team, urgent=False, deliver_after=now + timedelta(minutes=5), now=now)
    assert broker.llen(WEBHOOK_QUEUE) == 1
    send("hours", team=hooked_team, urgent=False, deliver_after=now + timedelta(hours=9), now=now)
    assert broker.llen(WEBHOOK_QUEUE) == 1

    held = Notification.objects.get(dedup_key__startswith="hours", channel=Channel.WEBHOOK)
    assert held.status == Status.SCHEDULED
    assert (held.next_attempt_at, held.deliver_after) == (now + timedelta(hours=9),) * 2
