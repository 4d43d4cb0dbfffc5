"""Teams and who belongs to them. Roles drive every permission in the portal."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Count, Prefetch, Q

from apps.core import urls
from apps.core.models import TimeStampedModel


class Role(models.TextChoices):
    LEAD = "lead", "Lead"
    MEMBER = "member", "Member"


# The escalation path, lowest first.
ESCALATION_ROLES = ("lead", "manager", "director")


class TeamQuerySet(models.QuerySet):
    def visible_to(self, user) -> TeamQuerySet:
        """Anyone signed in sees every team (DESIGN: "Who may do what")."""
        if not user.is_authenticated:
            return self.none()
        return self.all()

    def of_member(self, user) -> TeamQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)

    def led_by(self, user) -> TeamQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user, memberships__role=Role.LEAD)

    def for_list(self) -> TeamQuerySet:
        return self.select_related("calendar").annotate(
            member_count=Count("memberships", distinct=True),
            lead_count=Count("memberships", filter=Q(memberships__role=Role.LEAD), distinct=True),
        )

    def for_detail(self) -> TeamQuerySet:
        return self.select_related("calendar", "manager", "director").prefetch_related(
            Prefetch(
                "memberships",
                queryset=Membership.objects.select_related("user").order_by(
                    "role", "user__first_name", "user__username"
                ),
            ),
            "calendar__intervals",
            "calendar__holidays",
        )


class Team(TimeStampedModel):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    email = models.EmailField(blank=True, help_text="Where team-wide notifications go.")
    webhook_url = models.URLField(
        blank=True, help_text="Slack-compatible incoming webhook for team notifications."
    )
    description = models.TextField(blank=True)
    calendar = models.ForeignKey(
        "calendars.BusinessCalendar",
        on_delete=models.PROTECT,
        related_name="teams",
        help_text="The team's business hours and holidays.",
    )
    # The escalation path beyond the leads (seed 003: team lead, manager, director). Roles,
    # not names, so a ladder survives people changing jobs; see `escalation_contacts`.
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="teams_managed",
        help_text="Escalations to the team's manager go here; empty: to the team's leads.",
    )
    director = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="teams_directed",
        help_text="Escalations to the team's director go here; empty: to the manager, "
        "then the leads.",
    )

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return urls.reverse("teams:detail", slug=self.slug)

    def leads(self) -> list:
        """The team's leads, from prefetched memberships when they are at hand."""
        return [m.user for m in self.memberships.all() if m.role == Role.LEAD]

    def escalation_contacts(self, role: str) -> list:
        """Who an escalation to `role` ("lead", "manager" or "director") reaches.

        An empty role falls back down the path: director → manager → leads, manager →
        leads, so a step naming a role nobody holds still reaches someone responsible.
        Reads `manager`/`director` (select_related them) and the prefetched memberships.
        """
        if role not in ESCALATION_ROLES:
            raise ValueError(f"Unknown escalation role {role!r}: use one of {ESCALATION_ROLES}.")
        path = ESCALATION_ROLES[: ESCALATION_ROLES.index(role) + 1]
        for step in reversed(path):
            if step == "director" and self.director_id is not None:
                return [self.director]
            if step == "manager" and self.manager_id is not None:
                return [self.manager]
        return self.leads()


class MembershipQuerySet(models.QuerySet):
    def visible_to(self, user) -> MembershipQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.all()


class Membership(TimeStampedModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["team", "role", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="membership_unique_user_team"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.team} ({self.get_role_display()})"


# Permission predicates: small, named, reused by views, the API and later apps.
def is_member(user, team: Team) -> bool:
    return user.is_authenticated and team.memberships.filter(user=user).exists()


def is_lead(user, team: Team) -> bool:
    return user.is_authenticated and team.memberships.filter(user=user, role=Role.LEAD).exists()
