"""The reply mailboxes: a Maildir on this machine and an IMAP folder. Each message taken
leaves the inbox, for the `Processed` folder, or `Rejected` with its reason."""

from __future__ import annotations

import contextlib
import imaplib
import logging
import mailbox
import re
import ssl
import time
from datetime import datetime
from urllib.parse import unquote, urlsplit

from django.conf import settings

from .message import MESSAGE_MAX_BYTES, TOO_LARGE
from .taking import TRANSIENT, Batch, handle, refuse, with_refusal

logger = logging.getLogger(__name__)

# Messages one run takes; the rest wait for the next run (every minute).
BATCH_MAX = 200
PROCESSED, REJECTED = "Processed", "Rejected"


def _deadline(seconds: float | None) -> float:
    return time.monotonic() + seconds if seconds is not None else float("inf")


def read_maildir(
    path: str, *, now: datetime, limit: int = BATCH_MAX, seconds: float | None = None
) -> Batch:
    """Take the replies in a Maildir's inbox (new and cur): each leaves it for the
    `Processed` folder, or `Rejected` with an X-OLA-Reply-Refused header saying why (one
    too large to read is moved there intact, its reason logged)."""
    deadline = _deadline(seconds)
    inbox = mailbox.Maildir(path, factory=None, create=True)
    batch = Batch()
    keys = sorted(inbox.keys())
    batch.more = len(keys) > limit
    for key in keys[:limit]:
        if time.monotonic() > deadline:
            batch.more = True
            break
        try:
            raw = _read(inbox, key)
        except (KeyError, FileNotFoundError):
            continue  # another run took it
        if raw is None:
            refuse(batch, TOO_LARGE, f"maildir {key}")
            with inbox.get_file(key) as file:
                _folder(inbox, REJECTED).add(file)  # intact, unread
            inbox.discard(key)
            continue
        try:
            outcome = handle(raw, now=now, batch=batch, where=f"maildir {key}")
        except TRANSIENT:
            logger.exception("email replies: the database is unavailable; trying again later")
            batch.left += 1
            break
        if outcome is None:
            _folder(inbox, REJECTED).add(with_refusal(batch.reasons[-1], raw))
        else:
            _folder(inbox, PROCESSED).add(raw)
        inbox.discard(key)
    return batch


def _read(inbox: mailbox.Maildir, key: str) -> bytes | None:
    """The message's bytes, or None when it is larger than MESSAGE_MAX_BYTES (unread)."""
    with inbox.get_file(key) as file:
        file.seek(0, 2)
        if file.tell() > MESSAGE_MAX_BYTES:
            return None
        file.seek(0)
        return file.read()


def _folder(inbox: mailbox.Maildir, name: str) -> mailbox.Maildir:
    try:
        return inbox.get_folder(name)
    except mailbox.NoSuchMailboxError:
        return inbox.add_folder(name)


def _connect(url: str) -> tuple[imaplib.IMAP4, str]:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    context = ssl.create_default_context()
    if parts.scheme == "imaps":
        conn = imaplib.IMAP4_SSL(host, parts.port or 993, ssl_context=context, timeout=30)
    else:
        conn = imaplib.IMAP4(host, parts.port or 143, timeout=30)
        # Plain IMAP only to this machine; anywhere else the password needs TLS.
        if host not in ("localhost", "127.0.0.1", "::1"):
            conn.starttls(ssl_context=context)
    conn.login(unquote(parts.username or ""), unquote(parts.password or ""))
    return conn, unquote(parts.path.lstrip("/")) or "INBOX"


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(answer: tuple, what: str):
    status, data = answer
    if status != "OK":
        raise imaplib.IMAP4.error(f"{what}: {status} {data!r}")
    return data


class _Folder:
    """The IMAP folder replies arrive in, on one connection."""

    def __init__(self, conn: imaplib.IMAP4, name: str):
        self.conn = conn
        # What the server offers once signed in (imaplib keeps the greeting's list).
        data = _ok(conn.capability(), "CAPABILITY")
        self.capabilities = set(data[0].decode("ascii", "replace").upper().split())
        for folder in (PROCESSED, REJECTED):
            if _ok(conn.list('""', _quoted(folder)), "LIST") in ([None], []):
                _ok(conn.create(_quoted(folder)), f"CREATE {folder}")
        _ok(conn.select(_quoted(name)), f"SELECT {name}")

    def uids(self) -> list[str]:
        data = _ok(self.conn.uid("SEARCH", None, "ALL"), "SEARCH")
        return [uid.decode("ascii") for uid in (data[0] or b"").split()]

    def fetch(self, uid: str) -> bytes | None:
        """The message's bytes (left unread), or None when larger than MESSAGE_MAX_BYTES."""
        data = _ok(self.conn.uid("FETCH", uid, "(RFC822.SIZE)"), "FETCH")
        answer = b" ".join(d for d in data if isinstance(d, bytes))
        size = re.search(rb"RFC822\.SIZE (\d+)", answer)
        if size is not None and int(size.group(1)) > MESSAGE_MAX_BYTES:
            return None
        data = _ok(self.conn.uid("FETCH", uid, "(BODY.PEEK[])"), "FETCH")
        return next((item[1] for item in data if isinstance(item, tuple)), b"")

    def move(self, uid: str, target: str, *, copy: bytes | None = None) -> None:
        """Move the message to `target`, or put `copy` there in its place."""
        if copy is not None:
            _ok(self.conn.append(_quoted(target), None, None, copy), f"APPEND {target}")
        elif "MOVE" in self.capabilities:
            _ok(self.conn.uid("MOVE", uid, _quoted(target)), f"MOVE {target}")
            return
        else:
            _ok(self.conn.uid("COPY", uid, _quoted(target)), f"COPY {target}")
        _ok(self.conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
        if "UIDPLUS" in self.capabilities:
            _ok(self.conn.uid("EXPUNGE", uid), "EXPUNGE")
        else:
            _ok(self.conn.expunge(), "EXPUNGE")


def read_imap(
    url: str, *, now: datetime, limit: int = BATCH_MAX, seconds: float | None = None
) -> Batch:
    """Take the replies in an IMAP folder: each leaves it for `Processed`, or for
    `Rejected` with an X-OLA-Reply-Refused header saying why (folders created when
    missing); one too large to read is moved there unread."""
    deadline = _deadline(seconds)
    conn, name = _connect(url)
    batch = Batch()
    try:
        folder = _Folder(conn, name)
        uids = folder.uids()
        batch.more = len(uids) > limit
        for uid in uids[:limit]:
            if time.monotonic() > deadline:
                batch.more = True
                break
            raw = folder.fetch(uid)
            if raw is None:
                refuse(batch, TOO_LARGE, f"imap {uid}")
                folder.move(uid, REJECTED)  # intact, unread
                continue
            try:
                outcome = handle(raw, now=now, batch=batch, where=f"imap {uid}")
            except TRANSIENT:
                logger.exception("email replies: the database is unavailable; trying again later")
                batch.left += 1
                break
            if outcome is None:
                folder.move(uid, REJECTED, copy=with_refusal(batch.reasons[-1], raw))
            else:
                folder.move(uid, PROCESSED)
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            conn.logout()
    return batch


def read_replies(*, now: datetime, limit: int = BATCH_MAX, seconds: float | None = None) -> Batch:
    """Read every configured reply mailbox (REPLY_MAILDIR, REPLY_IMAP_URL), at most `limit`
    messages from each and for at most `seconds` (then `more` says some wait); nothing
    when email replies are off (no REPLY_DOMAIN)."""
    deadline = _deadline(seconds)
    batch = Batch()
    if not settings.REPLY_DOMAIN:
        return batch
    if settings.REPLY_MAILDIR:
        batch.add(read_maildir(settings.REPLY_MAILDIR, now=now, limit=limit, seconds=seconds))
    if settings.REPLY_IMAP_URL:
        left = max(0.0, deadline - time.monotonic()) if seconds is not None else None
        batch.add(read_imap(settings.REPLY_IMAP_URL, now=now, limit=limit, seconds=left))
    return batch
