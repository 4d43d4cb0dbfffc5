"""A delivery checks where it connects, follows no redirect, and sends people's text to
Slack as text — against real HTTP servers on 127.0.0.1 (tests/notifications/conftest.py)."""

import socket

import pytest

from apps.core import destinations
from apps.notifications import delivery, webhooks
from apps.notifications.models import Channel, Notification, Status
from tests.notifications.conftest import due, send

pytestmark = pytest.mark.django_db


def _webhook(team, **kwargs) -> Notification:
    send(team=team, **kwargs)
    return Notification.objects.get(channel=Channel.WEBHOOK)


def test_a_redirect_is_not_followed(hooked_team, webhook_server, other_server):
    webhook_server.reply_with((302, 0))
    webhook_server.location = other_server.url
    webhook = _webhook(hooked_team)

    with pytest.raises(delivery.DeliveryFailed):
        delivery.notification_deliver(notification_id=webhook.pk)

    assert len(webhook_server.received) == 1
    assert other_server.received == []  # never a second request, to wherever it pointed
    webhook.refresh_from_db()
    assert webhook.status == Status.FAILED
    assert webhook.last_error.startswith("HTTP 302")
    assert f"redirect to {other_server.url} not followed" in webhook.last_error


def test_a_redirect_to_the_metadata_service_is_not_followed(hooked_team, webhook_server):
    webhook_server.reply_with((307, 0))
    webhook_server.location = "http://169.254.169.254/latest/meta-data/"
    webhook = _webhook(hooked_team)

    with pytest.raises(delivery.DeliveryFailed):
        delivery.notification_deliver(notification_id=webhook.pk)

    webhook.refresh_from_db()
    assert "169.254.169.254" in webhook.last_error and "not followed" in webhook.last_error


def test_a_private_destination_saved_earlier_is_refused_at_delivery(
    hooked_team, webhook_server, settings
):
    """The team's URL was saved while private destinations were allowed (or by a script
    that skipped the check): the delivery checks again and never connects."""
    settings.WEBHOOK_ALLOW_PRIVATE = False
    webhook = _webhook(hooked_team)

    with pytest.raises(delivery.DeliveryFailed) as failure:
        delivery.notification_deliver(notification_id=webhook.pk)

    assert not failure.value.retryable  # refused by policy: trying again changes nothing
    assert webhook_server.received == []
    webhook.refresh_from_db()
    assert webhook.status == Status.FAILED
    assert webhook.last_error.startswith("Destination refused:")
    assert "127.0.0.1 is a loopback address" in webhook.last_error


def test_a_name_that_resolves_inward_by_delivery_time_is_refused(
    hooked_team, webhook_server, settings, monkeypatch
):
    """DNS rebinding: the name was public when the lead saved it, and points at the
    portal's own network when the delivery connects."""
    settings.WEBHOOK_ALLOW_PRIVATE = False
    port = int(webhook_server.url.split(":")[2].split("/")[0])
    answers = iter(["93.184.215.14", "127.0.0.1"])

    def resolve(host, port):
        assert host == "hooks.example.com"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(destinations, "resolve", resolve)
    url = f"http://hooks.example.com:{port}/hooks/team"
    destinations.check_webhook_url(url)  # what saving the URL does: public then
    hooked_team.webhook_url = url
    hooked_team.save()
    webhook = _webhook(hooked_team)

    with pytest.raises(delivery.DeliveryFailed):
        delivery.notification_deliver(notification_id=webhook.pk)

    assert webhook_server.received == []
    webhook.refresh_from_db()
    assert "hooks.example.com (127.0.0.1) is a loopback address" in webhook.last_error


def test_a_non_http_url_is_never_opened(hooked_team):
    hooked_team.webhook_url = "file:///etc/passwd"
    hooked_team.save()
    webhook = _webhook(hooked_team)
    with pytest.raises(delivery.DeliveryFailed) as failure:
        delivery.notification_deliver(notification_id=webhook.pk)
    assert not failure.value.retryable
    webhook.refresh_from_db()
    assert "Not an http(s) webhook URL" in webhook.last_error


def test_titles_and_bodies_reach_slack_as_text_not_mentions_or_links(hooked_team, webhook_server):
    title = "<!channel> refunds & <https://evil.example|click here> <@U123>"
    webhook = _webhook(hooked_team, title=title, body="Reply: <!here> 1 < 2 > 0 & done")

    delivery.notification_deliver(notification_id=webhook.pk)

    (payload,) = webhook_server.received
    shown = "&lt;!channel&gt; refunds &amp; &lt;https://evil.example|click here&gt; &lt;@U123&gt;"
    section = payload["blocks"][0]["text"]["text"]
    assert shown in payload["text"]
    assert f"<https://ola.example.com/handoffs/7/|{shown}>" in section
    assert "Reply: &lt;!here&gt; 1 &lt; 2 &gt; 0 &amp; done" in section
    everything = payload["text"] + section + payload["blocks"][1]["elements"][0]["text"]
    for control in ("<!channel>", "<!here>", "<https://evil", "<@U123>"):
        assert control not in everything


def test_the_link_target_cannot_be_cut_short_by_a_bar_or_bracket():
    notification = Notification(kind="breach", title="T", body="", url="/handoffs/7/?q=a|b>c")
    section = webhooks.webhook_payload(notification)["blocks"][0]["text"]["text"]
    assert "/handoffs/7/?q=a%7Cb%3Ec|T>" in section


def test_every_send_of_a_notification_carries_the_same_idempotency_key(hooked_team, webhook_server):
    webhook_server.reply_with((500, 0))
    webhook = _webhook(hooked_team)
    with pytest.raises(delivery.DeliveryFailed):
        delivery.notification_deliver(notification_id=webhook.pk)
    delivery.notification_deliver(notification_id=webhook.pk, now=due(webhook))

    keys = [h.get("Idempotency-Key") for h in webhook_server.headers]
    assert keys == [f"ola-notification-{webhook.pk}"] * 2
    assert [h.get("X-OLA-Delivery") for h in webhook_server.headers] == keys
    assert [h.get("X-OLA-Attempt") for h in webhook_server.headers] == ["1", "2"]
