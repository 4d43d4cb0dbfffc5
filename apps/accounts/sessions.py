"""Sessions in the database, as Django keeps them, read by a query compiled once per
process (`SESSION_ENGINE`): every signed-in request reads its session, and building and
compiling that one-row query cost each page more than running it."""

from __future__ import annotations

from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from apps.core import sql

from . import backends


def _session(key: str, now):
    return Session.objects.filter(session_key=key, expire_date__gt=now)


class SessionStore(DatabaseSessionStore):
    def load(self) -> dict:
        data = super().load()
        if data.get(BACKEND_SESSION_KEY) == backends.DJANGOS:  # signed in before it changed
            data[BACKEND_SESSION_KEY] = backends.OURS
        return data

    def _get_session_from_db(self):
        found = sql.fetch_instances(
            "sessions:load", _session, [self.session_key, timezone.now()], Session.objects.db
        )
        if not found:
            self._session_key = None
            return None
        return found[0]
