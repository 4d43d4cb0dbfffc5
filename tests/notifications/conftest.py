"""Fixtures for notification tests: a real local HTTP server standing in for a team's
Slack-compatible webhook, and a helper that notifies through the real service."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.notifications import services
from tests.factories import TeamFactory, UserFactory

NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


class WebhookServer:
    """Records every POST; answers with the queued (status, delay) replies, then 200. A 3xx
    reply sends `Location: <location>`."""

    def __init__(self):
        self.received: list[dict] = []
        self.headers: list[dict] = []
        self.replies: list[tuple[int, float]] = []
        self.lock = threading.Lock()
        self.url = ""
        self.location = ""

    def reply_with(self, *replies: tuple[int, float]) -> None:
        self.replies.extend(replies)

    def next_reply(self) -> tuple[int, float]:
        with self.lock:
            return self.replies.pop(0) if self.replies else (200, 0)


@contextmanager
def _serving():
    hook = WebhookServer()

    class Handler(BaseHTTPRequestHandler):
        def _receive(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with hook.lock:
                hook.received.append(json.loads(body) if body else {})
                hook.headers.append(dict(self.headers))
            status, delay = hook.next_reply()
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                if 300 <= status < 400 and hook.location:
                    self.send_header("Location", hook.location)
                self.end_headers()
                self.wfile.write(b"ok" if status < 400 else b"server exploded")
            except OSError:
                pass  # the client gave up waiting (the timeout test)

        do_POST = do_GET = _receive

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_port}/hooks/team"
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def webhook_server():
    with _serving() as hook:
        yield hook


@pytest.fixture
def other_server():
    """A second receiver: where a redirect would lead."""
    with _serving() as hook:
        yield hook


@pytest.fixture(autouse=True)
def _notification_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://ola.example.com"
    settings.NOTIFICATION_WEBHOOK_TIMEOUT = 0.5
    settings.NOTIFICATION_RETRY_BACKOFF = 0.2
    settings.NOTIFICATION_CLAIM_TIMEOUT = 300
    # The receiver below listens on 127.0.0.1, which webhooks may not reach by default.
    settings.WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", email="alice@example.com")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", email="bob@example.com")


@pytest.fixture
def hooked_team(db, webhook_server):
    return TeamFactory(name="Engineering", slug="engineering", webhook_url=webhook_server.url)


def send(dedup_base: str = "handoff:7:clock:resolve:step:100:breach", **kwargs):
    """notify() with the arguments a clock sweep would pass, overridable."""
    arguments = {
        "kind": "breach",
        "title": "Breach: resolve of #7",
        "body": "Checkout fails — P2, Support → Engineering.",
        "url": "/handoffs/7/",
        "dedup_base": dedup_base,
        "subject_type": "handoff",
        "subject_id": 7,
        "now": NOW,
        **kwargs,
    }
    return services.notify(**arguments)
