"""Posting one notification to a team's Slack-compatible webhook."""

from __future__ import annotations

import json
import urllib.request

from django.conf import settings

from .destinations import RefusedDestination, webhook_opener
from .models import Notification


def slack_escape(text: str) -> str:
    """Text as Slack shows it literally: `&`, `<` and `>` are its control characters
    (`<!channel>` pings everyone, `<url|text>` is a link), so they go as entities.
    https://api.slack.com/reference/surfaces/formatting#escaping"""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link_target(url: str) -> str:
    # Inside `<…|…>` a `|` or `>` would end the URL early; percent-encoded they cannot.
    return url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")


def webhook_payload(notification: Notification) -> dict:
    """Slack-compatible JSON: `text` for clients that show only that, `blocks` for the rest.
    Every text people wrote (titles, comments) is escaped: it is shown, never obeyed."""
    link = _slack_link_target(notification.absolute_url)
    title = slack_escape(notification.title)
    body = slack_escape(notification.body)
    kind = slack_escape(notification.get_kind_display())
    headline = f"*<{link}|{title}>*" if link else f"*{title}*"
    return {
        "text": f"{kind}: {title} {link}".strip(),
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"{headline}\n{body}".strip()},
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"{kind} · OLA Portal"}],
            },
        ],
    }


def idempotency_key(notification: Notification) -> str:
    """The same on every re-send of this notification: a receiver that saw it already (the
    worker died before recording the send, and it went again) can drop the duplicate."""
    return f"ola-notification-{notification.pk}"


def post_webhook(notification: Notification) -> None:
    url = notification.team.webhook_url
    if not url.lower().startswith(("http://", "https://")):
        raise RefusedDestination(f"Not an http(s) webhook URL: {url!r}")
    key = idempotency_key(notification)
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=json.dumps(webhook_payload(notification)).encode(),
        headers={
            "Content-Type": "application/json",
            "User-Agent": "OLA-Portal",
            "Idempotency-Key": key,
            "X-OLA-Delivery": key,
            # Which try this is (1 the first): a receiver's logs can tell re-sends apart.
            "X-OLA-Attempt": str(notification.attempts),
        },
        method="POST",
    )
    timeout = getattr(settings, "NOTIFICATION_WEBHOOK_TIMEOUT", 5)
    # The opener connects only to addresses webhooks may reach and follows no redirect.
    with webhook_opener().open(request, timeout=timeout) as response:
        response.read(1000)
