"""Reading one reply email, without the database: who it is for and from, whether a
person wrote it, and what they wrote (quoted history and signature left out)."""

from __future__ import annotations

import hashlib
import logging
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from html.parser import HTMLParser

from apps.core import limits
from apps.notifications.replies import PREFIXES, parse_reply_address

logger = logging.getLogger(__name__)

# The largest message read: the common limit of mail services (a reply with a photo or
# two). Larger ones are set aside unread, with that reason.
MESSAGE_MAX_BYTES = 25 * 1024 * 1024
TOO_LARGE = f"larger than {MESSAGE_MAX_BYTES // (1024 * 1024)} MB"
# How much of the chosen body is looked at (characters): the reply comes first, quoted
# history after, and the comment keeps limits.HANDOFF_TEXT_MAX characters anyway; HTML is
# verbose. Bounds the time one message takes (about 0.5 s for the worst HTML).
BODY_SCAN_MAX = 200_000
NESTED_TOO_DEEP = "MIME parts nested too deeply to read"
TRUNCATED = "\n\n[…] The rest of this email was cut: a reply keeps to {limit:,} characters."


class Refused(Exception):
    """A message that is not a reply the portal may take; the reason says why."""


AUTOMATIC_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
# The line that introduces the quoted history: "On <date>, <name> wrote:" (Gmail, Apple
# Mail, Thunderbird; German and French too), which clients may wrap over two lines, and
# Outlook's separators. Matched line by line, so a crafted body costs linear time.
QUOTE_OPENS = re.compile(r"(?:On|Am|Le)\b", re.IGNORECASE)
QUOTE_CLOSES = re.compile(r"(?:\bwrote|\bschrieb\b.{0,100}|\ba écrit ?):$", re.IGNORECASE)
OUTLOOK_SEPARATOR = re.compile(r"-{2,} ?Original Message ?-{2,}|_{10,}", re.IGNORECASE)
SIGNATURE = re.compile(r"^(?:--[ \t]*|Sent from my [^\n]{1,40})$", re.MULTILINE)


def parse(raw: bytes) -> EmailMessage:
    try:
        return BytesParser(policy=policy.default).parsebytes(raw)
    except RecursionError as exc:
        # The stdlib parser recurses once per level of multipart nesting.
        raise Refused(NESTED_TOO_DEEP) from exc


def clean(text: str) -> str:
    """Text a column stores: no NUL, lone surrogates (undecodable bytes) as U+FFFD."""
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    return limits.SURROGATE.sub("\ufffd", text)


def header(message: EmailMessage, name: str) -> list[str]:
    """Every value of a header as text; none when it is too malformed to read (the
    parser's header classes raise on some values)."""
    try:
        return [str(value) for value in message.get_all(name, [])]
    except Exception:
        logger.info("an unreadable %s header was ignored", name)
        return []


def is_automatic(message: EmailMessage) -> bool:
    """An out-of-office answer, a bounce or a list mail: nobody replied."""
    auto = " ".join(header(message, "Auto-Submitted")).strip().lower()
    precedence = " ".join(header(message, "Precedence")).strip().lower()
    return (
        (auto not in ("", "no"))
        or precedence in AUTOMATIC_PRECEDENCE
        or bool(header(message, "X-Autoreply") or header(message, "X-Autorespond"))
        or message.get_content_type() == "multipart/report"
    )


def recipients(message: EmailMessage) -> list[str]:
    """The addresses the message was delivered to, the envelope's first."""
    names = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")
    values = [value for name in names for value in header(message, name)]
    return [addr for _name, addr in getaddresses(values) if addr]


def reply_target(message: EmailMessage) -> tuple[int, int]:
    """(handoff id, user id) of the signed reply address the message was sent to."""
    ours = [
        a
        for a in recipients(message)
        if a.lower().startswith(tuple(f"{p}+" for p in PREFIXES.values()))
    ]
    for address in ours:
        parsed = parse_reply_address(address)
        if parsed is not None:
            return parsed
    if ours:
        raise Refused("the reply address's signature does not match (altered or foreign)")
    raise Refused("not sent to a reply address")


def sender(message: EmailMessage) -> str:
    found = [addr for _name, addr in getaddresses(header(message, "From")) if addr]
    if len(found) != 1:
        raise Refused("no single sender address (From)")
    return clean(found[0]).strip().lower()


def message_id(message: EmailMessage, raw: bytes) -> str:
    """The Message-ID, or for a message without one a digest of its bytes."""
    ids = header(message, "Message-ID")
    value = clean(ids[0]).strip() if ids else ""
    return value[:200] if value else f"sha256:{hashlib.sha256(raw).hexdigest()}"


class _HTMLText(HTMLParser):
    """The visible text of an HTML body, without quoted history (blockquotes, Gmail's and
    Outlook's quote blocks) or anything that is not text (scripts, styles)."""

    SKIP_TAGS = {"script", "style", "head", "title", "blockquote"}
    QUOTE_MARKERS = ("gmail_quote", "moz-cite-prefix", "yahoo_quoted", "divrplyfwdmsg")
    BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr"}
    VOID = {"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[str] = []
        self.skip_depth: int | None = None  # the stack depth where skipping started

    def handle_starttag(self, tag, attrs):
        if tag in self.BREAKS:
            self.parts.append("\n")
        if tag in self.VOID:
            return
        self.stack.append(tag)
        marks = " ".join(f"{v}" for k, v in attrs if k in ("class", "id") and v).lower()
        quoted = tag in self.SKIP_TAGS or any(m in marks for m in self.QUOTE_MARKERS)
        if quoted and self.skip_depth is None:
            self.skip_depth = len(self.stack)

    def handle_endtag(self, tag):
        if tag in self.BREAKS:
            self.parts.append("\n")
        if tag not in self.stack:
            return  # a stray end tag
        while self.stack:
            if self.stack.pop() == tag:
                break
        if self.skip_depth is not None and len(self.stack) < self.skip_depth:
            self.skip_depth = None

    def handle_data(self, data):
        if self.skip_depth is None:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(lines)


def quote_starts(lines: list[str]) -> int | None:
    """The index of the line where the quoted history starts, if any."""
    for index, line in enumerate(lines):
        text = line.strip().lstrip("> ").strip()
        following = lines[index + 1].strip() if index + 1 < len(lines) else ""
        if OUTLOOK_SEPARATOR.fullmatch(text):
            return index
        if text[:5].lower() == "from:" and following[:5].lower() in ("sent:", "date:"):
            return index
        if QUOTE_OPENS.match(text) and (
            QUOTE_CLOSES.search(text) or QUOTE_CLOSES.search(following)
        ):
            return index
    return None


def strip_quoted(text: str) -> str:
    """The reply itself: cut at the quoted history's header ("On … wrote:") and at the
    signature ("-- "), without lines quoted with ">"."""
    lines = text.split("\n")
    cut = quote_starts(lines)
    if cut is not None:
        lines = lines[:cut]
    text = "\n".join(lines)
    signature = SIGNATURE.search(text)
    if signature is not None:
        text = text[: signature.start()]
    lines = [line.rstrip() for line in text.split("\n") if not line.lstrip().startswith(">")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _decoded(part: EmailMessage) -> str:
    try:
        return part.get_content()
    except (LookupError, ValueError, AssertionError):
        # An unknown or lying charset: the bytes as UTF-8, what cannot be read replaced.
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")


def reply_text(message: EmailMessage) -> str:
    """What the person wrote: the plain-text body (else the HTML one as text), without
    quoted history or signature, at most limits.HANDOFF_TEXT_MAX characters (longer
    replies are cut, and say so)."""
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    content = clean(_decoded(body)[:BODY_SCAN_MAX])
    if body.get_content_subtype() == "html":
        content = html_to_text(content)
    text = strip_quoted(content)
    if len(text) > limits.HANDOFF_TEXT_MAX:
        marker = TRUNCATED.format(limit=limits.HANDOFF_TEXT_MAX)
        text = text[: limits.HANDOFF_TEXT_MAX - len(marker)].rstrip() + marker
    return text
