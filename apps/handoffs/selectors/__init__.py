"""Read queries for handoffs (every one starts from `visible_to(user)`) and the figures a
queue row shows, computed for a page of rows with no query per row (the queue page's own
rows: `selectors.pages`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import (
    Case,
    Exists,
    Expression,
    F,
    Func,
    IntegerField,
    OuterRef,
    Subquery,
    When,
)
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.shortcuts import get_object_or_404

from apps.accounts.models import User
from apps.agreements import cache as version_cache
from apps.agreements.models import Agreement, ExceptionWindow
from apps.calendars.businesstime import BusinessHours
from apps.calendars.models import BusinessCalendar, Holiday, OpeningInterval
from apps.core import limits, sql
from apps.core.sql import JSONRow, WholeRow, compiled_once
from apps.teams.models import Membership, Team

from ..clockwork import arithmetic as clockwork
from ..filters import AWAITING_REQUESTER, HandoffFilter
from ..models import Clock, ClockStatus, Handoff, HandoffEvent, Status, Watcher


def handoff_get(*, user, pk: int) -> Handoff:
    """A handoff the user may see (else 404) with what its page shows, in one query on
    PostgreSQL, joined to nothing: as columns of its row, its teams, assignee, filer,
    agreement version and calendar, the clocks with their breach reviews, the timeline's
    events, the calendar's hours and holidays, who watches it (`watcher_ids`), who may be
    assigned it (`assignable`), the viewer's roles in the two teams
    (`permissions.remember_roles`) and whether the provider team has exception windows
    (`has_windows`). The version's targets and triage template come from this process's
    copy (apps.agreements.cache). Other databases join and prefetch instead.

    A query costs the page about a millisecond of ORM work whatever it reads, and a join
    more planning than a correlated subquery (PostgreSQL plans every join order), so what
    the page shows rides on the handoff's row as JSON, its SQL compiled once per process,
    and is loaded as the ORM would have loaded it (every column)."""
    arrays = connection.vendor == "postgresql" and user.is_authenticated
    if arrays:
        # The whole query compiled once per process and prepared once per connection.
        staff = bool(user.is_staff)
        build = partial(_detail_query, staff=staff)
        name = f"detail:{'staff' if staff else 'member'}"
        found = sql.fetch_instances(name, build, [user.pk, pk]) if pk <= limits.INT_MAX else []
        if not found:
            raise Http404("No such handoff.")
        handoff = found[0]
    else:
        queryset = (
            Handoff.objects.visible_to(user)
            .annotate(**_viewer_roles(user))
            .select_related(*_RELATED, "agreement__calendar")
            .annotate(has_windows=_has_windows())
            .prefetch_related("agreement__calendar__intervals", "agreement__calendar__holidays")
        )
        handoff = get_object_or_404(queryset, pk=pk)
    if arrays:
        for name, model in _RELATED.items():
            row = getattr(handoff, f"{name}_row")
            loaded = _from_json(model, [row])[0] if row is not None else None
            Handoff._meta.get_field(name).set_cached_value(handoff, loaded)
        _attach_calendar(handoff.agreement, handoff.calendar_row)
        handoff.assignable = _people(handoff.assignable)
        handoff.filer = _people([handoff.filer])[0]
        _attach(handoff, "clocks", _clocks(handoff.clock_rows))
        handoff.page_events = _from_json(HandoffEvent, handoff.event_rows)
    else:
        # The reviews app's breach review of each clock, shown beside a breached one.
        clocks = Clock.objects.filter(handoff=handoff).select_related("breach_review")
        _attach(handoff, "clocks", clocks)
    version_cache.prime([handoff.agreement])
    return handoff


def _detail_query(user_id: int, pk: int, *, staff: bool):
    """The detail page's handoff (`handoff_get`) as `user_id` sees it, every list it shows
    a JSON column of its row."""
    viewer = User(pk=user_id, is_staff=staff)
    columns = {
        name: compiled_once(Handoff, f"detail:{name}", column)
        for name, column in _ROW_LISTS.items()
    }
    return (
        Handoff.objects.visible_to(viewer)
        .annotate(**_viewer_roles(viewer))
        .annotate(**columns)
        .filter(pk=pk)
    )


def _viewer_roles(user) -> dict[str, RawSQL]:
    """The user's role in the provider and in the requesting team (None: not a member), as
    columns of the handoff's own query (`permissions.remember_roles`)."""
    if not user.is_authenticated:
        return {}
    return {
        f"viewer_{side}_role": RawSQL(_ROLE_SQL.format(team=f"{side}_team_id"), [user.pk])  # noqa: S611
        for side in ("provider", "requesting")
    }


# A membership is unique per (user, team): at most one row.
_ROLE_SQL = (
    f'SELECT "role" FROM "{Membership._meta.db_table}" '  # noqa: S608 - table names only
    f'WHERE "user_id" = %s AND "team_id" = "{Handoff._meta.db_table}"."{{team}}"'
)


def _has_windows() -> Exists:
    """Whether the provider team has ever had an exception window approved: most have none,
    and then the clocks' hours need no windows query (`windows_for`)."""
    return Exists(
        ExceptionWindow.objects.approved().filter(provider_team_id=OuterRef("provider_team_id"))
    )


# The handoff's foreign keys read as a JSON column `<name>_row` each, not joined.
_RELATED = {
    "requesting_team": Team,
    "provider_team": Team,
    "assignee": User,
    "agreement": Agreement,
}


def _one(model, column: str):
    # One row: the model's default order would only lengthen the SQL.
    one = model.objects.filter(pk=OuterRef(column)).order_by()
    return lambda: Subquery(one.values(row=_as_json(model)))


def _calendar() -> Subquery:
    """The agreement version's calendar with its hours and holidays, in one column."""
    rows = {
        "intervals": OpeningInterval.objects.filter(calendar_id=OuterRef("pk")),
        "holidays": Holiday.objects.filter(calendar_id=OuterRef("pk")),
    }
    lists = {
        name: ArraySubquery(queryset.order_by("pk").values(row=_as_json(queryset.model)))
        for name, queryset in rows.items()
    }
    calendar = BusinessCalendar.objects.filter(agreements=OuterRef("agreement_id")).order_by()
    return Subquery(calendar.values(row=_as_json(BusinessCalendar, **lists)))


_ROW_LISTS: dict[str, Callable[[], Expression]] = {
    **{f"{name}_row": _one(model, f"{name}_id") for name, model in _RELATED.items()},
    "calendar_row": _calendar,
    "has_windows": _has_windows,
    "assignable": lambda: ArraySubquery(
        User.objects.filter(memberships__team_id=OuterRef("provider_team_id"), is_active=True)
        .order_by("first_name", "last_name", "username")
        .values(person=JSONRow(**{name: F(name) for name in PERSON}))
    ),
    "filer": lambda: Subquery(
        User.objects.filter(pk=OuterRef("created_by_id"))
        .order_by()
        .values(person=JSONRow(**{name: F(name) for name in PERSON}))
    ),
    "clock_rows": lambda: ArraySubquery(
        Clock.objects.filter(handoff_id=OuterRef("pk"))
        .order_by("metric")
        .values(
            row=_as_json(
                Clock,
                # The reviews app's breach review of a clock, shown beside a breached one.
                review_id=F("breach_review__id"),
                review_root_cause=F("breach_review__root_cause"),
            )
        )
    ),
    "event_rows": lambda: ArraySubquery(
        HandoffEvent.objects.filter(handoff_id=OuterRef("pk"))
        .order_by("created_at", "id")
        .values(row=_as_json(HandoffEvent))
    ),
    "watcher_ids": lambda: ArraySubquery(
        Watcher.objects.filter(handoff_id=OuterRef("pk"))
        .order_by("created_at", "id")
        .values("user_id")
    ),
}


def _as_json(model, **extra) -> Expression:
    """A row of `model` (every column) as a JSON object, for a list column."""
    if not extra:
        return WholeRow(model)
    return Func(WholeRow(model), JSONRow(**extra), template="(%(expressions)s)", arg_joiner=" || ")


def _from_json(model, rows) -> list:
    """Instances of `model` from `_as_json` objects, as the ORM would have loaded them: JSON
    gives times and dates as text, which each field's `to_python` reads back."""
    fields = model._meta.concrete_fields
    names = [f.attname for f in fields]
    return [
        model.from_db(
            "default",
            names,
            [_python(field, row[field.attname]) for field in fields],
        )
        for row in rows
    ]


def _python(field, value):
    return None if value is None else field.to_python(value)


def _clocks(rows) -> list[Clock]:
    """The clocks from their list column, each with its breach review (or none) in place,
    as `select_related("breach_review")` leaves them."""
    clocks = _from_json(Clock, rows)
    related = Clock.breach_review.related  # the reviews app's model, above this one
    reviews = related.related_model
    for clock, row in zip(clocks, rows, strict=True):
        review = None
        if row["review_id"] is not None:
            review = reviews(id=row["review_id"], root_cause=row["review_root_cause"])
            review.clock = clock
        related.set_cached_value(clock, review)
    return clocks


# What the page shows of a person (`User.display_name`).
PERSON = ("id", "first_name", "last_name", "username")


def _people(rows) -> list[User]:
    """Users from a list column's objects (only `PERSON` is loaded)."""
    # from_db takes the values in the model's column order.
    names = [f.attname for f in User._meta.concrete_fields if f.attname in PERSON]
    return [User.from_db("default", names, [row[name] for name in names]) for row in rows]


def _attach(instance, name: str, rows) -> None:
    """Put `rows` where `prefetch_related(name)` would have: `.all()` costs no query."""
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    queryset = getattr(instance, name).all()
    queryset._result_cache = list(rows)
    queryset._prefetch_done = True
    instance._prefetched_objects_cache[name] = queryset


def _attach_calendar(agreement: Agreement, row: dict) -> None:
    """The version's calendar, its hours and its holidays from their JSON column."""
    calendar = _from_json(BusinessCalendar, [row])[0]
    Agreement._meta.get_field("calendar").set_cached_value(agreement, calendar)
    _attach(calendar, "intervals", _from_json(OpeningInterval, row["intervals"]))
    _attach(calendar, "holidays", _from_json(Holiday, row["holidays"]))


# Soonest due first; the id makes the order total, so a page read from either end of the
# list (pages.queue_page) holds the same rows.
QUEUE_ORDER = (F("due_at").asc(nulls_last=True), "created_at", "pk")


def queue(*, user, team, filters: dict | None = None, request=None, now=None) -> HandoffFilter:
    """A team's inbound work, soonest due first, filtered (rows: `pages.queue_page`)."""
    queryset = Handoff.objects.visible_to(user).filter(provider_team=team).order_by(*QUEUE_ORDER)
    return HandoffFilter(filters or {}, queryset=queryset, request=request, now=now)


def outgoing(*, user, team, filters: dict | None = None, request=None, now=None) -> HandoffFilter:
    """What a team handed over, soonest due first (rows: `pages.queue_page`)."""
    queryset = Handoff.objects.visible_to(user).filter(requesting_team=team).order_by(*QUEUE_ORDER)
    return HandoffFilter(filters or {}, queryset=queryset, request=request, now=now)


def for_requester(queryset):
    """What the requester's rows show besides a queue row's: who filed each handoff, and
    the provider team's calendar a resolution's confirmation days are counted in."""
    return (
        queryset.for_queue()
        .select_related("created_by", "provider_team__calendar")
        .prefetch_related("provider_team__calendar__intervals", "provider_team__calendar__holidays")
    )


def my_requests(*, user):
    """What `user` filed that is still under way or back with them (open, or resolved and
    awaiting their confirmation): what needs them first, then soonest due."""
    return for_requester(
        Handoff.objects.visible_to(user).filter(created_by=user, status__in=AWAITING_REQUESTER)
    ).order_by(
        Case(
            When(status__in=[Status.WAITING, Status.RESOLVED], then=0),
            default=1,
            output_field=IntegerField(),
        ),
        F("due_at").asc(nulls_last=True),
        "created_at",
    )


def timeline(*, handoff: Handoff):
    return (
        HandoffEvent.objects.filter(handoff=handoff)
        .select_related("actor")
        .order_by("created_at", "id")
    )


@dataclass
class ClockReading:
    """A clock as a person reads it at `now`."""

    clock: Clock
    consumed: int
    remaining: int | None  # business seconds left (negative = overdue); None = best effort
    percent: int | None
    verdict: str  # clockwork.arithmetic.verdict: the one verdict
    rag: str  # "green" | "amber" | "red" | "grey", from the verdict


RAG_OF = {
    clockwork.ON_TRACK: "green",
    clockwork.AT_RISK: "amber",
    clockwork.BREACHED: "red",
    clockwork.MET: "grey",
    clockwork.CANCELLED: "grey",
    clockwork.PAUSED: "grey",
}


class ClockReader:
    """Reads clocks of many handoffs with business hours built once per calendar.

    Prefetch what `Handoff.objects.for_queue()` or `.for_detail()` prefetch; pass the
    approved exception windows of the teams on the page (one query, `windows_for`).
    The colour and words come from the one verdict (`clockwork.arithmetic.verdict`);
    the business time left is read live from the same hours the deadlines were set on.
    """

    def __init__(self, now: datetime, windows: list[ExceptionWindow] | None = None):
        self.now = now
        self.windows = windows or []
        self._hours: dict = {}

    def _hours_for(self, handoff: Handoff, around_the_clock: bool):
        agreement = handoff.agreement
        key = (agreement.calendar_id, agreement.series_id, around_the_clock)
        if key not in self._hours:
            windows = [
                w
                for w in self.windows
                if w.provider_team_id == handoff.provider_team_id
                and w.series_id in (None, agreement.series_id)
            ]
            self._hours[key] = clockwork.business_hours(
                agreement, around_the_clock=around_the_clock, windows=windows
            )
        return self._hours[key]

    def read(self, handoff: Handoff, clock: Clock) -> ClockReading:
        hours = self._hours_for(handoff, clock.around_the_clock)
        consumed = clockwork.consumed_at(clock, hours, self.now)
        verdict = clockwork.verdict(clock, self.now)
        rag = RAG_OF[verdict]
        if clock.target_seconds is None:
            return ClockReading(clock, consumed, None, None, verdict, "grey")
        remaining = clock.target_seconds - consumed
        percent = consumed * 100 // clock.target_seconds if clock.target_seconds else 100
        if verdict == clockwork.PAUSED and clock.breached_at is None and remaining > 0:
            # Paused: amber when it would resume inside the warning threshold.
            rag = "amber" if percent >= handoff.agreement.warning_threshold else "grey"
        return ClockReading(clock, consumed, remaining, percent, verdict, rag)

    def current(self, handoff: Handoff, clocks=None) -> ClockReading | None:
        """The clock that matters now: the running one due soonest, else the last paused
        (of `clocks` when given, else of the handoff's prefetched clocks)."""
        clocks = list(handoff.clocks.all()) if clocks is None else clocks
        running = [c for c in clocks if c.status == ClockStatus.RUNNING and c.due_at]
        if running:
            return self.read(handoff, min(running, key=lambda c: c.due_at))
        paused = [c for c in clocks if c.status == ClockStatus.PAUSED]
        return self.read(handoff, paused[0]) if paused else None


WINDOWS_LOOKBACK = timedelta(days=400)


def windows_for(team_ids, now: datetime) -> list[ExceptionWindow]:
    """Approved exception windows of these provider teams that ended less than 400 days
    ago: enough for the clocks of the open work on one page, in a single query."""
    return list(
        ExceptionWindow.objects.approved().filter(
            provider_team_id__in=set(team_ids), end__gt=now - WINDOWS_LOOKBACK
        )
    )


def read_rows(handoffs: list[Handoff], now: datetime, *, requester: bool = False) -> list[dict]:
    """Each handoff with its current clock reading, from prefetched rows (`for_queue`): the
    business hours are built once per calendar, no query per row. On the requester's side
    (`for_requester` rows) a resolution also says when it closes unless confirmed."""
    team_ids = {h.provider_team_id for h in handoffs}
    reader = ClockReader(now, windows_for(team_ids, now) if team_ids else [])
    confirmation = ConfirmationClock() if requester else None
    return [
        {
            "handoff": h,
            "reading": reader.current(h),
            "closes_at": confirmation.closes_at(h) if confirmation else None,
        }
        for h in handoffs
    ]


# --- resolved, awaiting the requester's confirmation -------------------------------------

# A calendar with no open day for this long never reaches a business-day deadline.
NO_OPEN_DAY_LIMIT = 366


def _is_business_day(hours: BusinessHours, zone: ZoneInfo, day: date) -> bool:
    # The engine decides (weekly hours, holidays, custom closed days): a business day is
    # a local date with any open time in it.
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return hours.between(start, end) > 0


def business_days_later(
    hours: BusinessHours, zone: ZoneInfo, start: datetime, days: int
) -> datetime | None:
    """The same local time of day, `days` business days after `start` (Friday 15:00 + 1
    → Monday 15:00; a holiday or closed day is skipped like a weekend). None if the
    calendar has no open day for a year."""
    local = start.astimezone(zone)
    day, counted, idle = local.date(), 0, 0
    while counted < days:
        day += timedelta(days=1)
        if _is_business_day(hours, zone, day):
            counted, idle = counted + 1, 0
        else:
            idle += 1
            if idle > NO_OPEN_DAY_LIMIT:
                return None
    return datetime.combine(day, local.time(), tzinfo=zone).astimezone(UTC)


class ConfirmationClock:
    """When a resolved handoff closes unless its requester confirms or reopens it, and
    when they are reminded: counted in business days of the provider team's calendar,
    whose hours are built once per calendar (no query per handoff when the calendars'
    intervals and holidays are prefetched)."""

    def __init__(self):
        self._hours: dict[int, BusinessHours] = {}

    def _hours_of(self, calendar: BusinessCalendar) -> BusinessHours:
        if calendar.pk not in self._hours:
            self._hours[calendar.pk] = calendar.business_hours()
        return self._hours[calendar.pk]

    def _later(self, handoff: Handoff, days: int) -> datetime | None:
        return self.later(handoff.provider_team.calendar, handoff.resolved_at, days)

    def later(self, calendar: BusinessCalendar, start: datetime, days: int) -> datetime | None:
        """`days` business days of `calendar` after `start`."""
        return business_days_later(self._hours_of(calendar), calendar.zone, start, days)

    def closes_at(self, handoff: Handoff) -> datetime | None:
        """The moment the resolution closes itself (None: not resolved)."""
        if handoff.status != Status.RESOLVED or handoff.resolved_at is None:
            return None
        return self._later(handoff, handoff.agreement.confirmation_days)

    def reminds_at(self, handoff: Handoff) -> datetime | None:
        """One business day before the close. None with a one-day limit: the resolution's
        own notice is then the only reminder there is room for."""
        days = handoff.agreement.confirmation_days
        if handoff.status != Status.RESOLVED or handoff.resolved_at is None or days < 2:
            return None
        return self._later(handoff, days - 1)
