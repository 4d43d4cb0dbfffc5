"""Sending one notification email — or one email for several notifications to one person
about one subject (coalesced), listing what happened oldest first.

Times are written in the recipient's zone, with the zone. The Message-ID is the same on
every re-send of the row, so a mail system (or a person) can tell a re-send from news.
"""

from __future__ import annotations

from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

from .models import Notification
from .replies import reply_to_address

SUBJECT_PREFIX = "[OLA Portal]"
SUBJECT_MAX = 150


def _zone(user) -> ZoneInfo:
    try:
        return ZoneInfo(getattr(user, "time_zone", "") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def subject_label(notification: Notification) -> str:
    """How the subject is named in a line: '#12' for a handoff."""
    if notification.subject_type == "handoff":
        return f"#{notification.subject_id}"
    kind = notification.subject_type.replace("_", " ")
    return f"{kind} {notification.subject_id}".strip()


def email_subject(items: list[Notification]) -> str:
    if len(items) == 1:
        text = items[0].title
    else:
        kinds = list(dict.fromkeys(item.get_kind_display() for item in items))
        text = f"{len(items)} updates on {subject_label(items[0])}: {', '.join(kinds)}"
    text = " ".join(text.split())  # no line breaks in a header
    if len(text) > SUBJECT_MAX:
        text = text[: SUBJECT_MAX - 1].rstrip() + "…"
    return f"{SUBJECT_PREFIX} {text}"


def message_id(notification: Notification) -> str:
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<ola-notification-{notification.pk}@{host}>"


def send_email(
    notification: Notification, *, items: list[Notification] | None = None, connection=None
) -> None:
    """`items`: the notifications this email tells about, oldest first (the row itself
    when alone); `connection`: an open mail connection to reuse (a batch), else one of
    its own."""
    items = items or [notification]
    zone = _zone(notification.recipient)
    link = notification.absolute_url
    context = {
        "notification": notification,
        # A line names its own link only where it leads elsewhere than the message's.
        "items": [
            {"notification": item, "link": "" if item.absolute_url == link else item.absolute_url}
            for item in items
        ],
        "link": link,
        "zone_name": str(zone),
        "reply_to": reply_to_address(notification),
    }
    # Every date in the templates is written in the reader's zone.
    with timezone.override(zone):
        text = render_to_string("notifications/email/notification.txt", context)
        html = render_to_string("notifications/email/notification.html", context)
    message = EmailMultiAlternatives(
        subject=email_subject(items),
        body=text,
        to=[notification.recipient.email],
        # Replies become comments (apps.handoffs.inbound); RFC 3834's Auto-Submitted keeps
        # vacation responders from answering at all.
        reply_to=[context["reply_to"]] if context["reply_to"] else None,
        headers={"Message-ID": message_id(notification), "Auto-Submitted": "auto-generated"},
        connection=connection,
    )
    message.attach_alternative(html, "text/html")
    message.send()
