"""Sending one notification by email."""

from __future__ import annotations

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from .models import Notification


def send_email(notification: Notification) -> None:
    context = {"notification": notification, "link": notification.absolute_url}
    text = render_to_string("notifications/email/notification.txt", context)
    html = render_to_string("notifications/email/notification.html", context)
    message = EmailMultiAlternatives(
        subject=f"[OLA Portal] {notification.title}",
        body=text,
        to=[notification.recipient.email],
    )
    message.attach_alternative(html, "text/html")
    message.send()
