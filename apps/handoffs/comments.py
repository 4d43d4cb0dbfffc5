"""Comments on a handoff's timeline, with `@username` mentions: a mention reaches that
person, and only people who may see the handoff can be mentioned (anyone else is refused
on the comment field, and nothing is saved). The commenter watches the handoff from then
on; everyone else watching hears of the comment."""

from __future__ import annotations

import re
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from apps.accounts.models import User
from apps.teams.models import Membership

from . import event_notices, permissions
from .models import EventKind, Handoff, HandoffEvent
from .transitions import now_or, record
from .watchers import watch

# `@name` at the start or after a space or punctuation (not inside an email address);
# the characters Django allows in a username, less `@`.
MENTION = re.compile(r"(?<![\w.+@-])@([\w.+-]+)")


def mentioned_names(text: str) -> list[str]:
    """The usernames a text mentions, in order, each once (a full stop after a name ends
    the sentence, not the name)."""
    names = [m.group(1).rstrip(".") for m in MENTION.finditer(text or "")]
    return list(dict.fromkeys(n for n in names if n))


def mentioned_people(handoff: Handoff, text: str) -> list:
    """The people the text mentions (unknown names are plain text); ValidationError on the
    comment field naming each one who may not see the handoff."""
    names = mentioned_names(text)
    if not names:
        return []
    teams = [handoff.provider_team_id, handoff.requesting_team_id]
    people = list(
        User.objects.filter(username__in=names, is_active=True).annotate(
            sees=Q(is_staff=True)
            | Exists(Membership.objects.filter(user=OuterRef("pk"), team_id__in=teams))
        )
    )
    hidden = sorted((p for p in people if not p.sees), key=lambda p: names.index(p.username))
    if hidden:
        raise ValidationError(
            {"comment": [f"@{p.username} cannot see this handoff." for p in hidden]}
        )
    return sorted(people, key=lambda p: names.index(p.username))


@transaction.atomic
def handoff_comment(
    *, handoff: Handoff, actor, comment: str, now: datetime | None = None
) -> HandoffEvent:
    """Add a comment to the timeline (the provider's comments are its updates: the
    agreement says who sends them); the people it mentions and those watching are told."""
    now = now_or(now)
    who = permissions.check(actor, handoff, "comment")
    if not (comment or "").strip():
        raise ValidationError({"comment": ["Write something."]})
    mentioned = mentioned_people(handoff, comment)
    watch(handoff, [actor], now)
    event = record(
        handoff, EventKind.COMMENTED, actor, now, comment=comment.strip(), role=who.role(handoff)
    )
    event_notices.commented(event, mentioned)
    return event
