"""Breach reviews: the provider team's account of a breached clock — its root cause, what
happened and what would have prevented it. One per clock, written again as it is edited."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from apps.core.exceptions import Conflict
from apps.handoffs.models import Clock

from .models import BreachReview, RootCause
from .permissions import can_review_breach


@transaction.atomic
def breach_review_save(
    *,
    clock: Clock,
    actor,
    root_cause: str,
    what_happened: str,
    prevention: str = "",
    now: datetime,
) -> BreachReview:
    """Write (or rewrite) the one breach review of a breached clock: its root cause, what
    happened and what would have prevented it. Provider-team members and leads only."""
    clock = Clock.objects.select_for_update(of=("self",)).select_related("handoff").get(pk=clock.pk)
    if not can_review_breach(actor, clock):
        raise PermissionDenied("Only a member of the provider team may review this breach.")
    if clock.breached_at is None:
        raise Conflict("This clock has not breached; there is nothing to review.")
    errors: dict[str, list[str]] = {}
    if root_cause not in RootCause.values:
        errors["root_cause"] = [
            "Choose the root cause: capacity, skills, process, systems, customer or other."
        ]
    what_happened = (what_happened or "").strip()
    if not what_happened:
        errors["what_happened"] = ["Say what happened."]
    if errors:
        raise ValidationError(errors)
    values = {
        "root_cause": root_cause,
        "what_happened": what_happened,
        "prevention": (prevention or "").strip(),
        "reviewed_by": actor,
    }
    existing = BreachReview.objects.filter(clock=clock).first()
    if existing is None:
        return BreachReview.objects.create(clock=clock, **values)
    for name, value in values.items():
        setattr(existing, name, value)
    existing.save(update_fields=[*values, "updated_at"])
    return existing
