"""State changes of teams and memberships."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import slugify

from apps.calendars.models import BusinessCalendar
from apps.core.destinations import check_webhook_url

from .models import Membership, Role, Team, is_lead

# What a team's leads may change themselves; the rest is administered in the admin.
SETTINGS_FIELDS = ("webhook_url", "email")
# What staff administer (the admin's team form).
TEAM_FIELDS = (
    "name",
    "slug",
    "email",
    "webhook_url",
    "description",
    "calendar",
    "manager",
    "director",
)


@transaction.atomic
def team_create(
    *,
    name: str,
    calendar: BusinessCalendar,
    slug: str = "",
    email: str = "",
    webhook_url: str = "",
    description: str = "",
    manager=None,
    director=None,
) -> Team:
    """Create a team; the slug defaults to the name's."""
    team = Team(
        name=name,
        slug=slug or slugify(name),
        email=email,
        webhook_url=webhook_url,
        description=description,
        calendar=calendar,
        manager=manager,
        director=director,
    )
    team.full_clean()
    if webhook_url:
        check_webhook_url(webhook_url)
    team.save()
    return team


@transaction.atomic
def team_update(*, team: Team, **fields) -> Team:
    """Change what staff administer (`TEAM_FIELDS`): the team stays valid as its model
    says, and a new webhook never points inside the network (as `team_create`)."""
    unknown = set(fields) - set(TEAM_FIELDS)
    if unknown:
        raise TypeError(f"Not a team field staff set: {', '.join(sorted(unknown))}.")
    previous_webhook = team.webhook_url
    for name, value in fields.items():
        setattr(team, name, value)
    team.full_clean()
    if team.webhook_url and team.webhook_url != previous_webhook:
        check_webhook_url(team.webhook_url)
    team.save()
    return team


def can_edit_settings(user, team: Team) -> bool:
    """A lead of the team, or staff."""
    return user.is_authenticated and (user.is_staff or is_lead(user, team))


def _cleaned_settings(team: Team, values: dict) -> dict:
    """Each value as its model field cleans it, the webhook checked for where it points
    (only when it changes: an unchanged URL is checked again at every delivery anyway)."""
    cleaned, errors = {}, {}
    for name, value in values.items():
        try:
            value = (value or "").strip()
            try:  # NUL and lone surrogates: not text, and PostgreSQL refuses them
                value.encode("utf-8")
                if "\x00" in value:
                    raise UnicodeError
            except UnicodeError:
                raise ValidationError("This holds characters that are not text.") from None
            value = Team._meta.get_field(name).clean(value, team)
            if name == "webhook_url" and value and value != team.webhook_url:
                check_webhook_url(value)
        except ValidationError as exc:
            errors[name] = exc.messages
        else:
            cleaned[name] = value
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def team_update_settings(
    *, team: Team, actor, webhook_url: str | None = None, email: str | None = None
) -> Team:
    """A team's lead (or staff) sets where the team's notifications go; a webhook never
    points inside the network unless WEBHOOK_ALLOW_PRIVATE says it may. None keeps a
    value, "" clears it."""
    if not can_edit_settings(actor, team):
        raise PermissionDenied("Only a lead of the team may change its settings.")
    given = {"webhook_url": webhook_url, "email": email}
    cleaned = _cleaned_settings(team, {k: v for k, v in given.items() if v is not None})
    for name, value in cleaned.items():
        setattr(team, name, value)
    team.save(update_fields=[*cleaned, "updated_at"])
    return team


@transaction.atomic
def membership_set(*, team: Team, user, role: str = Role.MEMBER) -> Membership:
    """Make `user` a member of `team` with `role` (one membership per user and team)."""
    membership, _ = Membership.objects.update_or_create(
        team=team, user=user, defaults={"role": role}
    )
    return membership


@transaction.atomic
def membership_remove(*, team: Team, user) -> None:
    """Remove `user` from `team`."""
    Membership.objects.filter(team=team, user=user).delete()
