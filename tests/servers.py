"""Real local servers for tests that send: an HTTP receiver standing in for a team's
Slack-compatible webhook, an SMTP server (aiosmtpd) that collects what it is sent, and
real Celery worker processes.

The servers listen on 127.0.0.1 (a free port) in this process, so a Celery worker in a
thread of the test or in a process of its own reaches them the same way. tests/conftest.py
imports the fixtures, so every test can ask for `webhook_server`, `other_server`,
`smtp_server` or `worker_processes`.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def wait_until(condition, seconds: float = 30, interval: float = 0.1) -> bool:
    """Poll `condition` until it holds or `seconds` pass; its last answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the webhook receiver ------------------------------------------------------------------


class WebhookServer:
    """Records every POST; answers with the queued (status, delay) replies, then 200. A 3xx
    reply sends `Location: <location>`. `stop()` and `start()` take it down and bring it
    back on the same port (a receiver that is down refuses the connection)."""

    def __init__(self):
        self.received: list[dict] = []
        self.headers: list[email.message.Message] = []
        self.replies: list[tuple[int, float]] = []
        self.lock = threading.Lock()
        self.location = ""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/team"
        self._server: ThreadingHTTPServer | None = None

    def reply_with(self, *replies: tuple[int, float]) -> None:
        self.replies.extend(replies)

    def next_reply(self) -> tuple[int, float]:
        with self.lock:
            return self.replies.pop(0) if self.replies else (200, 0)

    def keys(self) -> Counter:
        """How many times each Idempotency-Key arrived."""
        with self.lock:
            return Counter(h.get("Idempotency-Key") for h in self.headers)

    def start(self) -> None:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def _receive(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hook.lock:
                    hook.received.append(json.loads(body) if body else {})
                    hook.headers.append(self.headers)  # names match in any letter case
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
                    pass  # the client gave up waiting (the timeout tests)

            do_POST = do_GET = _receive

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextmanager
def webhook_serving():
    hook = WebhookServer()
    hook.start()
    try:
        yield hook
    finally:
        hook.stop()


@pytest.fixture
def webhook_server():
    with webhook_serving() as hook:
        yield hook


@pytest.fixture
def other_server():
    """A second receiver: where a redirect would lead."""
    with webhook_serving() as hook:
        yield hook


# --- the SMTP server -----------------------------------------------------------------------


class SmtpServer:
    """An SMTP server on 127.0.0.1 that keeps every message it accepts (parsed with the
    standard library, as a mail client would read it)."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.host = "127.0.0.1"
        self.url = f"smtp://{self.host}:{self.port}"  # for EMAIL_URL in a subprocess
        self._controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def received(self) -> list[email.message.EmailMessage]:
        with self.lock:
            return list(self.messages)

    def message_ids(self) -> Counter:
        """How many times each Message-ID arrived."""
        return Counter(m["Message-ID"] for m in self.received())

    def start(self) -> None:
        """Listen (again, on the same port: a server that was down comes back)."""
        self._controller = Controller(self, hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        """Stop listening: a client's connection is refused."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server; Django's SMTP backend points at it for this test."""
    server = SmtpServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    try:
        yield server
    finally:
        server.stop()


# --- a real worker process -----------------------------------------------------------------


def database_url() -> str:
    """This test's database (pytest-django's test_… one) as a DATABASE_URL."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return (
        f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


class WorkerProcess:
    """`celery -A olaportal worker` in a process of its own (as the Procfile starts it), on
    this test's database and broker; `kill()` is SIGKILL: no clean shutdown, no goodbye."""

    def __init__(self, name: str, queues: list[str], env: dict[str, str], log_dir: Path):
        self.name, self.queues, self.env = name, queues, env
        self.log_path = log_dir / f"worker-{name}-{int(time.time() * 1000)}.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> WorkerProcess:
        command = [
            *(sys.executable, "-m", "celery", "-A", "olaportal", "worker"),
            *("-Q", ",".join(self.queues), "-n", f"{self.name}@%h", "--pool=solo"),
            *("--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"),
        ]
        env = {**os.environ, "DATABASE_URL": database_url(), **self.env}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        if not wait_until(
            lambda: " ready." in self.log() or self.process.poll() is not None, timeout
        ):
            raise AssertionError(f"worker {self.name} did not start:\n{self.log()[-3000:]}")
        if self.process.poll() is not None:
            raise AssertionError(f"worker {self.name} exited:\n{self.log()[-3000:]}")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker_processes(tmp_path):
    """Start real worker processes with `start(name, queues, **settings)`; every one still
    running at the end is stopped. Needs Redis (the broker a separate process shares), and
    starts from an empty broker database."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        if os.environ.get("CI"):
            pytest.fail("worker-process tests need CELERY_BROKER_URL=redis://… in CI")
        pytest.skip("worker-process tests need a Redis broker (CELERY_BROKER_URL=redis://…)")
    flush_broker()  # what earlier tests left queued is not this test's business
    started: list[WorkerProcess] = []

    def start(name: str, queues: list[str], **env: str) -> WorkerProcess:
        worker = WorkerProcess(name, queues, {k: str(v) for k, v in env.items()}, tmp_path)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


def flush_broker() -> int:
    """FLUSHDB on this run's Redis database (CELERY_BROKER_URL names it): every message,
    queued, held for later or unacknowledged, is gone. Returns how many keys there were."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    keys = client.dbsize()
    client.flushdb()
    return keys
