"""Read queries for notifications, always starting from `visible_to(user)`."""

from __future__ import annotations

from .models import (
    PERSONAL_CHANNELS,
    Channel,
    Kind,
    Notification,
    NotificationPreference,
    default_enabled,
)


def inbox(*, user):
    return Notification.objects.visible_to(user).inbox()


def unread_count(*, user) -> int:
    return Notification.objects.visible_to(user).inbox().unread().count()


def preference_grid(*, user) -> list[dict]:
    """One row per kind: for each channel whether it is on and whether it can be changed."""
    chosen = {
        (p.kind, p.channel): p.enabled for p in NotificationPreference.objects.filter(user=user)
    }
    personal = {c.value for c in PERSONAL_CHANNELS}
    rows = []
    for kind in Kind:
        cells = []
        for channel in (Channel.IN_APP, Channel.EMAIL):
            cells.append(
                {
                    "channel": channel,
                    "name": f"{kind.value}:{channel.value}",
                    "enabled": chosen.get(
                        (kind.value, channel.value), default_enabled(kind, channel)
                    ),
                    "editable": channel.value in personal,
                }
            )
        rows.append({"kind": kind, "cells": cells})
    return rows
