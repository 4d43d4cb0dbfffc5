"""Two readers of the reply mailbox at once (beat's task during a deploy overlap, and
someone running the command) take the same email: it becomes one comment, not two."""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from apps.handoffs.inbound import take_reply
from apps.handoffs.models import EventKind, Handoff
from tests.handoffs.test_email_replies import REPLY_AT, address_for, reply_email


def lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_two_readers_taking_the_same_email_at_once_comment_once(settings, file_handoff, requester):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (CI runs it)")
    settings.REPLY_DOMAIN = "reply.ola.example"
    handoff = file_handoff("P3")
    raw = reply_email(
        to=address_for(handoff, requester), sender=requester.email, text="Only once, please."
    ).as_bytes()
    outcomes, errors = [], []

    def reader():
        try:
            outcomes.append(take_reply(raw, now=REPLY_AT))
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    readers = [threading.Thread(target=reader) for _ in range(2)]
    with transaction.atomic():
        # Someone is acting on the handoff: both readers queue behind them, then race.
        Handoff.objects.select_for_update().get(pk=handoff.pk)
        for thread in readers:
            thread.start()
        deadline = time.monotonic() + 20
        while lock_waiters() < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock_waiters() >= 2, "both readers should be waiting for the handoff"
    for thread in readers:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(outcomes) == ["commented", "duplicates"]
    assert list(
        handoff.events.filter(kind=EventKind.COMMENTED).values_list("comment", flat=True)
    ) == ["Only once, please."]
