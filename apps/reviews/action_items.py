"""Action items: the follow-ups of a quarterly review (added by either team's leads) or a
breach review (by provider-team members), owned by a member of one of the two teams, ticked
off by their owner, and reminded on their due date and once when overdue (in the owner's
zone)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q

from apps.core import limits

from .models import ActionItem, BreachReview, QuarterlyReview
from .notices import date_text, link_to, notify
from .permissions import can_manage_action_items, can_set_done, team_ids_of
from .scheduling import ZONE_SLACK, local_today


def _parent_team_ids(review, breach_review) -> tuple[int, int]:
    if review is not None:
        return review.series.provider_team_id, review.series.requesting_team_id
    handoff = breach_review.clock.handoff
    return handoff.provider_team_id, handoff.requesting_team_id


@transaction.atomic
def action_item_create(
    *,
    actor,
    title: str,
    owner,
    due_date: date | None,
    review: QuarterlyReview | None = None,
    breach_review: BreachReview | None = None,
    now: datetime,
) -> ActionItem:
    """Add a follow-up to a quarterly review (leads of either team) or a breach review
    (provider-team members), owned by a member of one of the two teams, due on a date."""
    if (review is None) == (breach_review is None):
        raise ValidationError("An action item belongs to one review or one breach review.")
    if not can_manage_action_items(actor, review=review, breach_review=breach_review):
        raise PermissionDenied(
            "Only a lead of either team may add action items to the review."
            if review is not None
            else "Only a member of the provider team may add action items to a breach review."
        )
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = ["Say what is to be done."]
    elif len(title) > limits.TITLE_MAX:
        errors["title"] = [f"Keep the title within {limits.TITLE_MAX} characters."]
    elif problem := limits.bad_character(title):
        errors["title"] = [problem]
    if owner is None:
        errors["owner"] = ["Choose who owns it."]
    elif not team_ids_of(owner, _parent_team_ids(review, breach_review), lead=False):
        errors["owner"] = ["The owner must be a member of one of the two teams."]
    if due_date is None:
        errors["due_date"] = ["Give a due date."]
    elif not limits.DATE_MIN <= due_date <= limits.DATE_MAX:
        errors["due_date"] = [limits.date_range_message()]
    elif due_date < local_today(now, getattr(owner, "time_zone", "UTC")):
        errors["due_date"] = ["The due date has already passed."]
    if errors:
        raise ValidationError(errors)
    item = ActionItem.objects.create(
        review=review,
        breach_review=breach_review,
        title=title,
        owner=owner,
        due_date=due_date,
        created_by=actor,
    )
    if owner.pk != actor.pk:
        notify(
            kind="reminder",
            title=f"Action item for you: {title}",
            body=f"{actor} gave you an action item, due on {date_text(due_date)}.",
            url=link_to(review or breach_review),
            dedup_base=f"action:{item.pk}:assigned",
            recipients=[owner],
            subject_type="action_item",
            subject_id=item.pk,
            now=now,
        )
    return item


@transaction.atomic
def action_item_set_done(*, item: ActionItem, actor, done: bool, now: datetime) -> ActionItem:
    """Tick an action item off (the first time it was done is kept) or open it again."""
    item = (
        ActionItem.objects.select_for_update(of=("self",))
        .select_related(
            "review__series",
            "breach_review__clock__handoff",
        )
        .get(pk=item.pk)
    )
    if not can_set_done(actor, item):
        raise PermissionDenied("Only the owner or a lead of the review may change this item.")
    if done and item.done_at is None:
        item.done_at = now
    elif not done:
        item.done_at = None
    item.save(update_fields=["done_at", "updated_at"])
    return item


def action_items_remind(*, now: datetime) -> int:
    """Remind each owner of an open action item on its due date, and once when it is
    overdue (each exactly once; dates in the owner's zone). Returns how many went."""
    utc_today = now.astimezone(UTC).date()
    lo, hi = utc_today - ZONE_SLACK, utc_today + ZONE_SLACK
    # Open items only (the partial index on due_date), and only those with a step due.
    candidates = (
        ActionItem.objects.filter(done_at=None, due_date__lte=hi)
        .filter(
            Q(reminded_due_at=None, due_date__gte=lo, due_date__lte=hi)
            | Q(reminded_overdue_at=None, due_date__lt=hi)
        )
        .select_related("owner", "review", "breach_review")
        .order_by("due_date", "pk")
    )
    sent = 0
    for item in candidates:
        today = local_today(now, item.owner.time_zone)
        if item.due_date > today:
            continue
        if item.due_date == today:
            column, key, title = "reminded_due_at", "due", f"Due today: {item.title}"
        else:
            column, key, title = "reminded_overdue_at", "overdue", f"Overdue: {item.title}"
        with transaction.atomic():
            claimed = ActionItem.objects.filter(pk=item.pk, done_at=None, **{column: None}).update(
                **{column: now}
            )
            if not claimed:
                continue  # another run reminded, or the item was done meanwhile
            notify(
                kind="reminder",
                title=title,
                body=f"Action item due on {date_text(item.due_date)}: {item.title}",
                url=link_to(item.review or item.breach_review),
                dedup_base=f"action:{item.pk}:{key}",
                recipients=[item.owner],
                subject_type="action_item",
                subject_id=item.pk,
                now=now,
            )
        sent += 1
    return sent
