"""Taking one reply: checked against the person its address was issued to, then written
by the handoff services as a comment, or as the requester's reply that resumes a handoff
waiting on them; once per email (its Message-ID is kept on the timeline event)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError, transaction

from apps.accounts.models import User
from apps.core import limits
from apps.core.exceptions import Conflict

from .. import permissions, services
from ..models import EventKind, Handoff, HandoffEvent, Status
from .message import (
    MESSAGE_MAX_BYTES,
    NESTED_TOO_DEEP,
    TOO_LARGE,
    Refused,
    is_automatic,
    message_id,
    parse,
    reply_target,
    reply_text,
    sender,
)

logger = logging.getLogger(__name__)

# The timeline event's record of the email it came from (the redelivery guard).
EMAIL_KEY = "email_message_id"
# A database outage: the batch stops and the message waits for the next run.
TRANSIENT = (OperationalError, InterfaceError)
# Neither is the message's fault: it stays in the inbox (the task's time limit too).
NOT_THE_MESSAGE = (*TRANSIENT, SoftTimeLimitExceeded)


@dataclass
class Batch:
    """What one run did. `left` messages stay in the inbox for the next run."""

    commented: int = 0
    resumed: int = 0
    duplicates: int = 0
    refused: int = 0
    left: int = 0
    more: bool = False
    reasons: list[str] = field(default_factory=list)

    def add(self, other: Batch) -> None:
        for name in ("commented", "resumed", "duplicates", "refused", "left"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.more = self.more or other.more
        self.reasons += other.reasons

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


@dataclass(frozen=True)
class Reply:
    handoff_id: int
    user: User
    text: str
    message_id: str


def read_reply(raw: bytes) -> Reply:
    """Check a raw message and take the reply out of it; Refused with the reason."""
    if len(raw) > MESSAGE_MAX_BYTES:
        raise Refused(TOO_LARGE)
    message = parse(raw)
    if is_automatic(message):
        raise Refused("an automatic answer (out of office, bounce or list mail)")
    handoff_id, user_id = reply_target(message)
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise Refused("the person this reply address was issued to is no longer active")
    if not user.email or sender(message) != user.email.strip().lower():
        raise Refused(
            f"sent from {limits.printable(sender(message))}, not by the person this reply "
            "address was issued to"
        )
    try:
        text = reply_text(message)
    except RecursionError as exc:
        raise Refused(NESTED_TOO_DEEP) from exc
    if not text:
        raise Refused("no reply text above the quoted message")
    return Reply(handoff_id, user, text, message_id(message, raw))


def take_reply(raw: bytes, *, now: datetime) -> str:
    """Turn one raw message into a comment (or a reply that resumes the handoff): the
    outcome, "commented", "resumed" or "duplicates" (already taken). Refused otherwise."""
    reply = read_reply(raw)
    try:
        with transaction.atomic():
            # The handoff locked first (the services' lock order): a second copy of the
            # same email, read at the same moment, waits here and then finds the first.
            handoff = (
                Handoff.objects.visible_to(reply.user)
                .select_for_update(no_key=True, of=("self",))
                .select_related("agreement")
                .filter(pk=reply.handoff_id)
                .first()
            )
            if handoff is None:
                raise Refused("the handoff does not exist or its sender may no longer see it")
            if HandoffEvent.objects.filter(
                handoff=handoff, **{f"after__{EMAIL_KEY}": reply.message_id}
            ).exists():
                return "duplicates"
            resumes = (
                handoff.status == Status.WAITING
                and permissions.standing(reply.user, handoff).requester
            )
            if resumes:
                services.handoff_resume(
                    handoff=handoff, actor=reply.user, reply=reply.text, now=now
                )
                kinds = (EventKind.REPLIED, EventKind.RESUMED)
            else:
                services.handoff_comment(
                    handoff=handoff, actor=reply.user, comment=reply.text, now=now
                )
                kinds = (EventKind.COMMENTED,)
            _mark_from_email(handoff, reply, kinds)
    except (PermissionDenied, Conflict) as exc:
        raise Refused(str(exc) or type(exc).__name__) from exc
    except ValidationError as exc:
        raise Refused("; ".join(exc.messages)) from exc
    return "resumed" if resumes else "commented"


def _mark_from_email(handoff: Handoff, reply: Reply, kinds) -> None:
    """Note on the event just written which email it came from (the redelivery guard),
    in the same transaction. Provenance, not a change of state: the services record the
    event, this only labels it."""
    event = (
        HandoffEvent.objects.filter(handoff=handoff, actor=reply.user, kind__in=kinds)
        .order_by("-id")
        .first()
    )
    if event is None:  # pragma: no cover - every service called records its event
        return
    after = {**event.after, "via": "email", EMAIL_KEY: reply.message_id}
    HandoffEvent.objects.filter(pk=event.pk).update(after=after)


def handle(raw: bytes, *, now: datetime, batch: Batch, where: str) -> str | None:
    """Take one message into the batch's counts: the outcome, or None when it was
    refused (its reason logged and kept). A database outage propagates."""
    try:
        outcome = take_reply(raw, now=now)
    except NOT_THE_MESSAGE:
        raise
    except Refused as exc:
        reason = str(exc)
    except Exception as exc:  # one unreadable message must not stop the batch
        logger.exception("email reply %s could not be read", where)
        reason = f"could not be read ({type(exc).__name__})"
    else:
        batch.count(outcome)
        logger.info("email reply %s: %s", where, outcome)
        return outcome
    refuse(batch, reason, where)
    return None


def refuse(batch: Batch, reason: str, where: str) -> None:
    batch.refused += 1
    batch.reasons.append(reason)
    logger.warning("email reply %s set aside: %s", where, limits.printable(reason, 300))


def with_refusal(reason: str, raw: bytes) -> bytes:
    """The message as set aside: an X-OLA-Reply-Refused header saying why, then the
    message as it came (in its own line endings)."""
    text = limits.printable(reason, 300).encode("ascii", "replace").decode("ascii")
    newline = "\r\n" if b"\r\n" in raw[:4096] else "\n"
    return f"X-OLA-Reply-Refused: {' '.join(text.split())}{newline}".encode("ascii") + raw
