"""factory-boy factories for the domain. Personas live in conftest.py."""

from datetime import time

import factory
from factory.django import DjangoModelFactory

from apps.accounts.models import User
from apps.calendars.models import BusinessCalendar, Holiday, OpeningInterval
from apps.teams.models import Membership, Role, Team

PASSWORD = "correct horse battery staple"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    time_zone = "UTC"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])


class BusinessCalendarFactory(DjangoModelFactory):
    """Mon–Fri 09:00–17:00 in `time_zone` unless `is_24x7`."""

    class Meta:
        model = BusinessCalendar
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Calendar {n}")
    time_zone = "Europe/Berlin"
    is_24x7 = False

    @factory.post_generation
    def weekly(obj, create, extracted, **kwargs):
        if not create or obj.is_24x7:
            return
        weekly = extracted or {day: [(time(9), time(17))] for day in range(5)}
        OpeningInterval.objects.bulk_create(
            OpeningInterval(calendar=obj, weekday=day, start=s, end=e)
            for day, intervals in weekly.items()
            for s, e in intervals
        )


class HolidayFactory(DjangoModelFactory):
    class Meta:
        model = Holiday

    calendar = factory.SubFactory(BusinessCalendarFactory)
    date = factory.Faker("date_this_year")
    name = "Company day"


class TeamFactory(DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.LazyAttribute(lambda t: t.name.lower().replace(" ", "-"))
    email = factory.LazyAttribute(lambda t: f"{t.slug}@example.com")
    calendar = factory.SubFactory(BusinessCalendarFactory)


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    team = factory.SubFactory(TeamFactory)
    role = Role.MEMBER


# --- agreements ---------------------------------------------------------------------------

from apps.agreements.models import (  # noqa: E402
    Agreement,
    AgreementSeries,
    EscalationStep,
    PriorityTarget,
    Status,
    TriageField,
)

HOUR = 3600


def standard_targets() -> list[dict]:
    """Four tiers as the domain reading suggests (seeds 002/003)."""
    return [
        {
            "priority": "P1",
            "acknowledge_seconds": 30 * 60,
            "action_plan_seconds": 2 * HOUR,
            "resolve_seconds": 8 * HOUR,
            "around_the_clock": True,
        },
        {
            "priority": "P2",
            "acknowledge_seconds": 2 * HOUR,
            "action_plan_seconds": 24 * HOUR,
            "resolve_seconds": 72 * HOUR,
            "around_the_clock": True,
        },
        {
            "priority": "P3",
            "acknowledge_seconds": 8 * HOUR,
            "action_plan_seconds": 40 * HOUR,
            "resolve_seconds": 80 * HOUR,
        },
        {
            "priority": "P4",
            "acknowledge_seconds": 24 * HOUR,
            "action_plan_seconds": None,
            "resolve_seconds": None,
        },
    ]


def standard_triage() -> list[dict]:
    return [
        {"key": "steps", "label": "Steps to reproduce", "kind": "long_text", "required": True},
        {
            "key": "environment",
            "label": "Environment",
            "kind": "choice",
            "choices": ["production", "staging"],
            "required": True,
        },
        {"key": "logs", "label": "Logs / links", "kind": "url", "required": False},
    ]


def standard_steps() -> list[dict]:
    return [
        {"metric": "resolve", "percent": 75, "notify": "assignee"},
        {"metric": "resolve", "percent": 100, "notify": "provider_lead", "raise_priority": True},
    ]


class AgreementSeriesFactory(DjangoModelFactory):
    class Meta:
        model = AgreementSeries

    provider_team = factory.SubFactory(TeamFactory)
    requesting_team = factory.SubFactory(TeamFactory)


class AgreementFactory(DjangoModelFactory):
    """A version written straight to the database (status active unless given), with the
    standard tiers, triage template and ladder. Lifecycle tests use the services."""

    class Meta:
        model = Agreement
        skip_postgeneration_save = True

    series = factory.SubFactory(AgreementSeriesFactory)
    version = 1
    status = Status.ACTIVE
    title = factory.Sequence(lambda n: f"Agreement {n}")
    calendar = factory.LazyAttribute(lambda a: a.series.provider_team.calendar)

    @factory.post_generation
    def parts(obj, create, extracted, **kwargs):
        if not create or extracted is False:
            return
        PriorityTarget.objects.bulk_create(
            PriorityTarget(agreement=obj, **t) for t in standard_targets()
        )
        TriageField.objects.bulk_create(
            TriageField(agreement=obj, order=i, **f) for i, f in enumerate(standard_triage())
        )
        EscalationStep.objects.bulk_create(
            EscalationStep(agreement=obj, **s) for s in standard_steps()
        )
