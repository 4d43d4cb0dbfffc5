"""The reply mailboxes: a Maildir on this machine and an IMAP folder. Each message taken
leaves the inbox, for the `Processed` folder, or `Rejected` with its reason."""

from __future__ import annotations

import contextlib
import imaplib
import logging
import mailbox
import re
import ssl
from datetime import datetime
from urllib.parse import unquote, urlsplit

from django.conf import settings

from .message import MESSAGE_MAX_BYTES
from .taking import TRANSIENT, Batch, handle, refusal_header

logger = logging.getLogger(__name__)

# Messages one run takes; the rest wait for the next run (every minute).
BATCH_MAX = 200
PROCESSED, REJECTED = "Processed", "Rejected"


def read_maildir(path: str, *, now: datetime, limit: int = BATCH_MAX) -> Batch:
    """Take the replies in a Maildir's inbox (new and cur): each leaves it for the
    `Processed` folder, or `Rejected` with an X-OLA-Reply-Refused header saying why."""
    inbox = mailbox.Maildir(path, factory=None, create=True)
    batch = Batch()
    keys = sorted(inbox.keys())
    batch.more = len(keys) > limit
    for key in keys[:limit]:
        try:
            with inbox.get_file(key) as file:
                raw = file.read(MESSAGE_MAX_BYTES + 1)
        except (KeyError, FileNotFoundError):
            continue  # another run took it
        try:
            outcome = handle(raw, now=now, batch=batch, where=f"maildir {key}")
        except TRANSIENT:
            logger.exception("email replies: the database is unavailable; trying again later")
            batch.left += 1
            break
        if outcome is None:
            _folder(inbox, REJECTED).add(refusal_header(batch.reasons[-1]) + raw)
        else:
            _folder(inbox, PROCESSED).add(raw)
        inbox.discard(key)
    return batch


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


def read_imap(url: str, *, now: datetime, limit: int = BATCH_MAX) -> Batch:
    """Take the replies in an IMAP folder: each is moved to `Processed` or `Rejected`
    (created when missing); one too large is moved unread."""
    conn, folder = _connect(url)
    batch = Batch()
    try:
        for name in (PROCESSED, REJECTED):
            conn.create(_quoted(name))  # "already exists" is fine
        status, _ = conn.select(_quoted(folder))
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot open the folder {folder!r}")
        _, data = conn.uid("SEARCH", None, "ALL")
        uids = (data[0] or b"").split()
        batch.more = len(uids) > limit
        can_move = "MOVE" in conn.capabilities
        for uid in uids[:limit]:
            uid = uid.decode("ascii")
            raw = _fetch(conn, uid)
            try:
                if raw is None:
                    outcome = None
                    batch.refused += 1
                    batch.reasons.append(f"larger than {MESSAGE_MAX_BYTES // (1024 * 1024)} MB")
                    logger.warning("email reply imap %s set aside: too large", uid)
                else:
                    outcome = handle(raw, now=now, batch=batch, where=f"imap {uid}")
            except TRANSIENT:
                logger.exception("email replies: the database is unavailable; trying again later")
                batch.left += 1
                break
            target = REJECTED if outcome is None else PROCESSED
            if can_move:
                conn.uid("MOVE", uid, _quoted(target))
            else:
                conn.uid("COPY", uid, _quoted(target))
                conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
        if not can_move:
            conn.expunge()
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            conn.logout()
    return batch


def _fetch(conn: imaplib.IMAP4, uid: str) -> bytes | None:
    """The message's bytes, or None when it is larger than MESSAGE_MAX_BYTES."""
    _, data = conn.uid("FETCH", uid, "(RFC822.SIZE)")
    size = re.search(rb"RFC822\.SIZE (\d+)", b" ".join(d for d in data if isinstance(d, bytes)))
    if size is not None and int(size.group(1)) > MESSAGE_MAX_BYTES:
        return None
    _, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
    for item in data:
        if isinstance(item, tuple):
            return item[1]
    return b""


def read_replies(*, now: datetime, limit: int = BATCH_MAX) -> Batch:
    """Read every configured reply mailbox (REPLY_MAILDIR, REPLY_IMAP_URL); nothing when
    email replies are off (no REPLY_DOMAIN)."""
    batch = Batch()
    if not settings.REPLY_DOMAIN:
        return batch
    if settings.REPLY_MAILDIR:
        batch.add(read_maildir(settings.REPLY_MAILDIR, now=now, limit=limit))
    if settings.REPLY_IMAP_URL:
        batch.add(read_imap(settings.REPLY_IMAP_URL, now=now, limit=limit))
    return batch
