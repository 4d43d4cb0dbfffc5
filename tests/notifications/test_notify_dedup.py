import pytest
from django.db import IntegrityError

from apps.notifications.models import Channel, Notification, Status
from tests.notifications.conftest import NOW, send

pytestmark = pytest.mark.django_db


def test_one_row_per_recipient_and_enabled_channel_plus_the_team_webhook(alice, bob, hooked_team):
    rows = send(recipients=[alice, bob], team=hooked_team)
    keys = sorted(r.dedup_key for r in rows)
    base = "handoff:7:clock:resolve:step:100:breach"
    assert keys == sorted(
        [
            f"{base}:email:{alice.pk}",
            f"{base}:email:{bob.pk}",
            f"{base}:in_app:{alice.pk}",
            f"{base}:in_app:{bob.pk}",
            f"{base}:webhook:team-{hooked_team.pk}",
        ]
    )
    assert all(r.pk for r in rows)
    assert Notification.objects.count() == 5
    webhook = Notification.objects.get(channel=Channel.WEBHOOK)
    assert webhook.recipient is None and webhook.team == hooked_team
    assert (webhook.subject_type, webhook.subject_id) == ("handoff", 7)


def test_calling_notify_twice_creates_nothing_new(alice, hooked_team):
    first = send(recipients=[alice], team=hooked_team)
    second = send(recipients=[alice], team=hooked_team)
    assert len(first) == 3
    assert second == []
    assert Notification.objects.count() == 3


def test_a_new_recipient_on_the_second_call_gets_only_their_own_rows(alice, bob):
    send(recipients=[alice])
    rows = send(recipients=[alice, bob])
    assert {r.recipient for r in rows} == {bob}


def test_the_dedup_key_is_unique_in_the_database(alice):
    (row, *_) = send(recipients=[alice])
    with pytest.raises(IntegrityError):
        Notification.objects.create(
            recipient=alice,
            kind="breach",
            channel="in_app",
            title="again",
            dedup_key=row.dedup_key,
        )


def test_a_team_without_webhook_gets_no_webhook_row(alice, provider_team):
    rows = send(recipients=[alice], team=provider_team)
    assert Channel.WEBHOOK not in {r.channel for r in rows}


def test_in_app_rows_are_delivered_by_being_written_and_outbound_ones_wait_for_a_worker(
    alice, hooked_team
):
    rows = {r.channel: r for r in send(recipients=[alice], team=hooked_team)}
    assert rows[Channel.IN_APP].status == Status.SENT
    assert rows[Channel.IN_APP].sent_at == NOW
    assert rows[Channel.EMAIL].status == Status.PENDING
    assert rows[Channel.WEBHOOK].status == Status.PENDING


def test_outbound_rows_are_enqueued_only_when_the_transaction_commits(
    alice, hooked_team, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        send(recipients=[alice], team=hooked_team)
        send(recipients=[alice], team=hooked_team)  # duplicates enqueue nothing
    assert len(callbacks) == 2  # email + webhook; in-app needs no delivery


def test_an_unknown_kind_is_refused(alice):
    with pytest.raises(ValueError, match="kind"):
        send(recipients=[alice], kind="gossip")
