"""Signed reply addresses: answering a notification email about a handoff reaches the
portal as a comment by the person it was sent to.

Each email's Reply-To is `handoff+<handoff id>.<user id>.<signature>@REPLY_DOMAIN`. The
signature is an HMAC (keyed by SECRET_KEY) of the subject type, the subject id and the
recipient's id, so an address names one handoff and one person and cannot be altered to
name another. It is written in lower-case base32 (a–z, 2–7): mail systems may fold the
case of a local part, and these characters survive that and need no quoting.

Pure apart from the settings it reads: no database, no model import.
"""

from __future__ import annotations

import base64
import re
from email.utils import parseaddr

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from apps.core import limits

SALT = "apps.notifications.replies"
# 20 base32 characters: 100 bits of the HMAC, beyond guessing by sending mail.
SIGNATURE_LENGTH = 20
# Subject types that take replies, and the local-part prefix that names each.
PREFIXES = {"handoff": "handoff"}
LOCAL_PART = re.compile(
    r"(?P<prefix>[a-z]+)\+(?P<subject>[0-9]{1,10})\.(?P<user>[0-9]{1,10})"
    rf"\.(?P<signature>[a-z2-7]{{{SIGNATURE_LENGTH}}})"
)


def reply_domain() -> str:
    """The domain replies are sent to; empty when email replies are off."""
    return (getattr(settings, "REPLY_DOMAIN", "") or "").strip().lower()


def _signature(subject_type: str, subject_id: int, user_id: int, secret: str) -> str:
    mac = salted_hmac(
        SALT, f"{subject_type}:{subject_id}:{user_id}", secret=secret, algorithm="sha256"
    ).digest()
    return base64.b32encode(mac).decode("ascii").lower()[:SIGNATURE_LENGTH]


def reply_address(*, subject_type: str, subject_id: int, user_id: int) -> str | None:
    """The address that turns a reply into a comment by `user_id` on the subject; None
    when replies are off or the subject type takes none."""
    domain = reply_domain()
    prefix = PREFIXES.get(subject_type)
    if not domain or prefix is None or not subject_id or not user_id:
        return None
    signature = _signature(subject_type, subject_id, user_id, settings.SECRET_KEY)
    return f"{prefix}+{subject_id}.{user_id}.{signature}@{domain}"


def reply_to_address(notification) -> str | None:
    """The Reply-To of a notification email: None when replies are off, or the
    notification is not about a handoff, or it has no single recipient (a team webhook)."""
    if notification.subject_type != "handoff" or not notification.recipient_id:
        return None
    return reply_address(
        subject_type=notification.subject_type,
        subject_id=notification.subject_id,
        user_id=notification.recipient_id,
    )


def parse_reply_address(address: str) -> tuple[int, int] | None:
    """(handoff id, user id) from a reply address (`Name <addr>` too, any letter case);
    None unless it is one of ours, for a handoff, with a signature that matches."""
    domain = reply_domain()
    if not domain or not isinstance(address, str) or limits.has_surrogate(address):
        return None
    _name, addr = parseaddr(address)
    local, _at, host = addr.strip().lower().rpartition("@")
    if host != domain:
        return None
    match = LOCAL_PART.fullmatch(local)
    if match is None or match["prefix"] != PREFIXES["handoff"]:
        return None
    subject_id = limits.parse_id(match["subject"])
    user_id = limits.parse_id(match["user"])
    if subject_id is None or user_id is None:
        return None
    # The fallbacks keep addresses in emails sent before a key rotation working.
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if any(
        constant_time_compare(match["signature"], _signature("handoff", subject_id, user_id, s))
        for s in secrets
    ):
        return subject_id, user_id
    return None
