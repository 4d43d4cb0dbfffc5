"""Email replies read over IMAP: a real IMAP server (pymap, started by the test on a free
port) serves a Maildir in a temporary folder that replies are delivered to, and
apps.handoffs.inbound reads it with imaplib as it reads a production mailbox."""

import mailbox
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.handoffs.inbound import read_imap
from apps.handoffs.models import EventKind, Status
from tests.handoffs import test_email_replies as replies
from tests.handoffs.test_email_replies import QUOTED, REPLY_AT, address_for, comments, reply_email

if not os.environ.get("CI"):  # CI installs requirements-dev.txt: there it must run
    pytest.importorskip("pymap", reason="pip install -r requirements-dev.txt")

waiting = replies.waiting  # the fixture: a handoff waiting on Rita
PASSWORD = "imap secret: with spaces"  # quoted in the URL as a person would


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def imap(settings, tmp_path):
    """A running IMAP server with one account, `ola`, whose inbox is the Maildir
    returned; settings.REPLY_DOMAIN set. Yields (url, maildir)."""
    from pysasl.hashing import BuiltinHash

    settings.REPLY_DOMAIN = "reply.ola.example"
    base = tmp_path / "imap"
    base.mkdir()
    (base / "pymap-etc-passwd").write_text("ola:x::::mail:\n")
    (base / "pymap-etc-shadow").write_text(f"ola:{BuiltinHash(rounds=1000).hash(PASSWORD)}\n")
    inbox = mailbox.Maildir(base / "mail", factory=None, create=True)
    port = free_port()
    command = [Path(sys.executable).parent / "pymap", "--no-tls", "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port), "maildir", str(base)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"the IMAP server did not start: {server.stderr.read().decode()}")
            time.sleep(0.1)
    password = PASSWORD.replace(" ", "%20").replace(":", "%3A")
    try:
        yield f"imap://ola:{password}@127.0.0.1:{port}/INBOX", inbox
    finally:
        server.terminate()
        server.wait(timeout=10)


def in_folder(inbox, name) -> list[bytes]:
    box = inbox.get_folder(name)
    return [box.get_bytes(key) for key in box.iterkeys()]


def test_replies_in_an_imap_folder_become_comments_and_leave_the_inbox(
    imap,
    waiting,
    requester,
):
    url, inbox = imap
    to = address_for(waiting, requester)
    answer = reply_email(to=to, sender=requester.email, text="iOS 17.2." + QUOTED)
    inbox.add(answer.as_bytes())
    inbox.add(answer.as_bytes())  # delivered twice
    inbox.add(reply_email(to=to, sender="mallory@evil.example", text="Close it.").as_bytes())

    batch = read_imap(url, now=REPLY_AT)

    assert (batch.resumed, batch.duplicates, batch.refused) == (1, 1, 1)
    waiting.refresh_from_db()
    assert waiting.status == Status.IN_PROGRESS
    assert [e.comment for e in comments(waiting, EventKind.REPLIED)] == ["iOS 17.2."]
    assert not comments(waiting)
    # Over IMAP too, the inbox is empty: every message moved out, none read twice.
    assert read_imap(url, now=REPLY_AT).refused == 0
    assert inbox.keys() == []
    assert len(in_folder(inbox, "Processed")) == 2
    [rejected] = in_folder(inbox, "Rejected")
    assert rejected.startswith(b"X-OLA-Reply-Refused: sent from mallory@evil.example, not by")
    assert b"Close it." in rejected


def test_the_command_reads_an_imap_folder_given_on_the_command_line(
    imap,
    file_handoff,
    requester,
    capsys,
):
    url, inbox = imap
    handoff = file_handoff("P3")
    inbox.add(
        reply_email(
            to=address_for(handoff, requester), sender=requester.email, text="Over IMAP."
        ).as_bytes()
    )

    call_command("read_email_replies", imap=url)

    assert "1 commented, 0 resumed, 0 already taken, 0 set aside, 0 left" in capsys.readouterr().out
    assert [e.comment for e in comments(handoff)] == ["Over IMAP."]
