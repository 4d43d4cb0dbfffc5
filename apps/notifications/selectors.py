"""Read queries for notifications, always starting from `visible_to(user)`."""

from __future__ import annotations

from django.db.models import Count, Prefetch

from apps.accounts.models import User
from apps.core import sql
from apps.teams.models import Team

from .models import (
    KIND_GROUPS,
    PERSONAL_CHANNELS,
    Channel,
    Notification,
    NotificationPreference,
    TeamChannelPreference,
    default_enabled,
)


def inbox(*, user):
    """The person's inbox entries, newest first, each with the notifications folded into
    it (oldest first) in one more query."""
    folded = Notification.objects.order_by("created_at", "pk")
    return (
        Notification.objects.visible_to(user)
        .inbox()
        .heads()
        .prefetch_related(Prefetch("coalesced", queryset=folded))
    )


def inbox_row(*, user):
    """Any of the person's in-app notifications, folded or not (opening and marking)."""
    return Notification.objects.visible_to(user).inbox()


def unread_count(*, user) -> int:
    """The bell's figure, on every page: its SQL compiled once per process (building and
    compiling the count cost a page ~0.7 ms, running it ~0.1 ms)."""
    if not user.is_authenticated:
        return 0
    rows = sql.fetch("notifications:unread", _unread, [user.pk], Notification.objects.db)
    return rows[0][0] if rows else 0


def _unread(user_id: int):
    mine = Notification.objects.visible_to(User(pk=user_id)).inbox().heads().unread()
    return mine.order_by().values("recipient_id").annotate(n=Count("pk")).values_list("n")


def preference_grid(*, user) -> list[dict]:
    """The kinds in their groups: for each channel whether it is on and whether it can be
    changed. [{group, rows: [{kind, cells: [{channel, name, enabled, editable}]}]}]"""
    chosen = {
        (p.kind, p.channel): p.enabled for p in NotificationPreference.objects.filter(user=user)
    }
    personal = {c.value for c in PERSONAL_CHANNELS}
    groups = []
    for group, kinds in KIND_GROUPS:
        rows = []
        for kind in kinds:
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
        groups.append({"group": group, "rows": rows})
    return groups


def team_channel_choices(*, team) -> dict[str, bool]:
    """Every kind → whether the team's webhook hears of it (its leads' choice, else the
    default)."""
    chosen = dict(TeamChannelPreference.objects.filter(team=team).values_list("kind", "enabled"))
    return {
        kind.value: chosen.get(kind.value, default_enabled(kind, Channel.WEBHOOK))
        for _, kinds in KIND_GROUPS
        for kind in kinds
    }


def team_channel_grid(*, team) -> list[dict]:
    """The team's webhook choices in the kinds' groups: [{group, rows: [{kind, name,
    enabled}]}]."""
    choices = team_channel_choices(team=team)
    return [
        {
            "group": group,
            "rows": [
                {"kind": kind, "name": kind.value, "enabled": choices[kind.value]} for kind in kinds
            ],
        }
        for group, kinds in KIND_GROUPS
    ]


def channel_teams(*, user):
    """The teams whose webhook this person chooses for: the teams they lead (staff: all)."""
    teams = Team.objects.visible_to(user)
    if not user.is_staff:
        teams = teams.led_by(user)
    return teams.order_by("name")
