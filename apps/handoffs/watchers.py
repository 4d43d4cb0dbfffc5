"""Who watches a handoff: the filer, the assignee and commenters by default (the services
that make them so call `watch`), and anyone who may see the handoff by choice. Watchers
hear of the events that concern the requester side (event_notices.py)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction

from .models import Handoff, Watcher
from .transitions import now_or


def watch(handoff: Handoff, users, now: datetime) -> None:
    """Add the users as watchers (those already watching stay as they were)."""
    rows = [Watcher(handoff=handoff, user=u, created_at=now) for u in users if u is not None]
    if rows:
        Watcher.objects.bulk_create(rows, ignore_conflicts=True)


def _may_see(handoff: Handoff, user) -> None:
    # Views and the API answer 404 before this (they start from visible_to); this is
    # the line behind them for the admin and scripts.
    if not Handoff.objects.visible_to(user).filter(pk=handoff.pk).exists():
        raise PermissionDenied("Only people who may see a handoff can watch it.")


@transaction.atomic
def handoff_watch(*, handoff: Handoff, actor, now: datetime | None = None) -> bool:
    """Start watching a handoff one may see; False when already watching."""
    _may_see(handoff, actor)
    _, created = Watcher.objects.get_or_create(
        handoff=handoff, user=actor, defaults={"created_at": now_or(now)}
    )
    return created


@transaction.atomic
def handoff_unwatch(*, handoff: Handoff, actor, now: datetime | None = None) -> bool:
    """Stop watching; False when one was not watching."""
    _may_see(handoff, actor)
    deleted, _ = Watcher.objects.filter(handoff=handoff, user=actor).delete()
    return bool(deleted)


def handoff_watchers(*, handoff: Handoff) -> list:
    """The people watching, in the order they started."""
    return [w.user for w in Watcher.objects.filter(handoff=handoff).select_related("user")]


def is_watching(user, handoff: Handoff) -> bool:
    return Watcher.objects.filter(handoff=handoff, user_id=user.pk).exists()
