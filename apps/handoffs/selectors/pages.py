"""The queue page's rows: a page of a queue read as columns in one query (with its count
capped at COUNT_CAP and each row's current clock as a JSON column), the calendars' hours
and holidays in one, each row read with the one verdict (`ClockReader`) and, on the
requester's side, when a resolution closes unless confirmed (`ConfirmationClock`). No model
instance per row: bench/queue_page.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.exceptions import EmptyResultSet
from django.db.models import (
    Case,
    DateField,
    Exists,
    F,
    IntegerField,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TimeField,
    Value,
    When,
)
from django.db.models.expressions import RawSQL

from apps.agreements.models import Agreement, ExceptionWindow
from apps.calendars.models import BusinessCalendar, Holiday, OpeningInterval
from apps.core import sql
from apps.core.sql import JSONRow, compiled_once
from apps.teams.models import Membership, Team

from ..models import OPEN_STATUSES, Clock, ClockStatus, Handoff, Status
from . import ClockReader, ConfirmationClock, windows_for

# Beyond this many rows a queue says "1,000+" instead of counting every open row; a page
# past them (or "last") counts exactly, once.
COUNT_CAP = 1_000

# What a row shows, read in the one rows query: the handoff's columns, the names it shows,
# and the agreement version's settings and calendar its clocks are read on.
ROW_COLUMNS = (
    "pk",
    "title",
    "priority",
    "status",
    "assignee_id",
    "assignee__first_name",
    "assignee__last_name",
    "assignee__username",
    "created_by_id",
    "provider_team_id",
    "resolved_at",
    "agreement_id",
    "agreement__series_id",
    "agreement__warning_threshold",
    "agreement__confirmation_days",
    "agreement__calendar_id",
    "agreement__calendar__time_zone",
    "agreement__calendar__is_24x7",
)
# The requesting team's name comes from the page's list of teams (`queue_team`) when it
# has one: a join less to plan and compile.
INBOUND_COLUMNS = ("requesting_team_id",)
# The requester's side also shows who filed it, and a resolution's close is counted in the
# provider team's calendar.
OUTGOING_COLUMNS = (
    "provider_team__name",
    "created_by__first_name",
    "created_by__last_name",
    "created_by__username",
    "provider_team__calendar_id",
    "provider_team__calendar__time_zone",
    "provider_team__calendar__is_24x7",
)
# What reading a clock needs (arithmetic.consumed_at and verdict): figures and moments.
CLOCK_FIGURES = (
    "metric",
    "status",
    "target_seconds",
    "around_the_clock",
    "consumed_seconds",
)
CLOCK_MOMENTS = ("segment_started_at", "due_at", "warning_at", "breach_at", "breached_at")


@dataclass(slots=True)
class ClockFigures:
    """What a queue row reads of a clock (the `Clock` fields of the same names)."""

    metric: str
    status: str
    target_seconds: int | None
    around_the_clock: bool
    consumed_seconds: int
    segment_started_at: datetime | None
    due_at: datetime | None
    warning_at: datetime | None
    breach_at: datetime | None
    breached_at: datetime | None


def _moment(text: str | None) -> datetime | None:
    """A moment the database gave as JSON text: PostgreSQL's carries its offset, SQLite's
    is UTC."""
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _name(first: str | None, last: str | None, username: str | None) -> str:
    # User.display_name from the row's columns.
    return f"{first or ''} {last or ''}".strip() or (username or "")


@dataclass(eq=False)
class QueueRow:
    """One handoff as its queue row shows it (no model instance: the page's rows are read
    as columns). `team_name` is the other side's: the requesting team inbound, the
    provider team outgoing."""

    pk: int
    title: str
    priority: str
    status: str
    assignee_id: int | None
    assignee_name: str
    created_by_id: int
    created_by_name: str
    team_name: str
    provider_team_id: int
    resolved_at: datetime | None
    agreement: Agreement  # an Agreement carrying the settings and calendar the clocks need
    provider_calendar: BusinessCalendar | None
    clock: ClockFigures | None  # the clock the row reads (`_current_clock`), if any
    windows: bool  # the provider team has approved exception windows (`_has_windows`)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def get_status_display(self) -> str:
        return Status(self.status).label if self.status in Status.values else self.status


@dataclass
class QueuePage:
    """A page of a queue, counted at most to COUNT_CAP (`capped`: there are more). Reads
    like Django's Page and Paginator (`page_obj.paginator.count`, `num_pages`)."""

    number: int
    rows: list[QueueRow]
    count: int
    capped: bool
    per_page: int

    @property
    def paginator(self) -> QueuePage:
        return self

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.per_page))

    def has_next(self) -> bool:
        return self.number < self.num_pages

    def has_previous(self) -> bool:
        return self.number > 1

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1


def _page_number(requested) -> int | None:
    """The page asked for (None: the last); anything else is the first, as Django's
    `get_page` reads it."""
    if requested == "last":
        return None
    try:
        return max(int(requested), 1)
    except (TypeError, ValueError):
        return 1


@dataclass(frozen=True)
class QueueQuery:
    """A queue's filtered handoffs: `build(*args)`. With a `name`, `build` is the same
    query for any arguments (who reads it, whose queue, when: ids and a time that it only
    passes on as parameters), so that a page's rows query is compiled once per process
    under that name (`sql.fetch_values`) instead of built by a FilterSet on each request."""

    build: Callable[..., QuerySet]
    args: tuple = ()
    name: str = ""

    @classmethod
    def of(cls, queryset: QuerySet) -> QueueQuery:
        return cls(lambda: queryset)


def queue_page(
    source: QueueQuery,
    requested,
    *,
    per_page: int,
    now: datetime,
    inbound: bool,
    team_names: dict[int, str] | None = None,
):
    """A page of a queue (`queue` or `outgoing`'s filtered handoffs) and its rows. A page
    within the cap: its rows' columns, each row's current clock and the count capped at
    COUNT_CAP in one query (compiled once per process when `source` is named). A page past
    the cap (or "last", or past the end): an exact count, then the rows, a page in the
    second half read from the end, not past every row before it. Then the calendars' hours
    and holidays in one query. `team_names` (id → name, every team) spares the rows a join
    for the other side's name."""
    number = _page_number(requested)
    if number is not None and number <= COUNT_CAP // per_page:
        start = (number - 1) * per_page

        def page_values(*args) -> QuerySet:
            queryset = source.build(*args)
            values = _values(queryset, inbound, team_names, capped_count=_capped_count(queryset))
            return values[start : start + per_page]

        if source.name:
            # Its name says all that shapes its SQL besides the arguments.
            shape = f"{source.name}:{inbound}:{team_names is None}:{COUNT_CAP}:{per_page}:{number}"
            values = sql.fetch_values(
                f"queue:{shape}", page_values, source.args, Handoff.objects.db
            )
        else:
            values = list(page_values(*source.args))
        if values or number == 1:
            count = values[0]["capped_count"] if values else 0
            rows = _rows(values, inbound=inbound, team_names=team_names)
            page = QueuePage(number, rows, count, count > COUNT_CAP, per_page)
            return page, read_queue_rows(page.rows, now, requester=not inbound)
    queryset = source.build(*source.args)
    count = queryset.order_by().count()
    pages = max(1, -(-count // per_page))
    number = pages if number is None else min(number, pages)
    start = (number - 1) * per_page
    if start > count // 2:
        end = min(start + per_page, count)
        values = list(_values(queryset.reverse(), inbound, team_names)[count - end : count - start])
        values.reverse()
    else:
        values = list(_values(queryset, inbound, team_names)[start : start + per_page])
    rows = _rows(values, inbound=inbound, team_names=team_names)
    page = QueuePage(number, rows, count, False, per_page)
    return page, read_queue_rows(page.rows, now, requester=not inbound)


def _capped_count(queryset) -> RawSQL | Value:
    """The number of rows, counted to COUNT_CAP + 1 at most, as a column of the rows query
    (an uncorrelated subquery: the database counts it once, not per row)."""
    try:
        sql, params = queryset.order_by().values("pk")[: COUNT_CAP + 1].query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing ("filed by" an id out of range)
        return Value(0)
    return RawSQL(f"SELECT COUNT(*) FROM ({sql}) capped", params)  # noqa: S608, S611 - the ORM's SQL


def _values(queryset, inbound: bool, team_names: dict[int, str] | None, **extra):
    """The rows' columns (`ROW_COLUMNS` and those of the queue's side), their current
    clocks and whether their teams have exception windows, as `.values()` dicts."""
    columns = ROW_COLUMNS + (INBOUND_COLUMNS if inbound else OUTGOING_COLUMNS)
    if inbound and team_names is None:
        columns += ("requesting_team__name",)
    return queryset.values(
        *columns,
        clock=compiled_once(Handoff, "queue:clock", _current_clock, queryset.db),
        windows=compiled_once(Handoff, "queue:windows", _has_windows, queryset.db),
        **extra,
    )


def _has_windows() -> Exists:
    """Whether the row's provider team has ever had an exception window approved: most
    have none, and then their clocks' hours need no windows query (`windows_for`)."""
    return Exists(
        ExceptionWindow.objects.approved().filter(provider_team_id=OuterRef("provider_team_id"))
    )


def _current_clock() -> Subquery:
    """The clock a row reads, as a JSON column: the running clock due soonest, else the
    first paused one in metric order — `ClockReader.current`'s choice, made by the database
    so that a page's clocks cost no query of their own (its index on (handoff, metric)
    finds a row's two or three clocks)."""
    running = Q(status=ClockStatus.RUNNING)
    clocks = (
        Clock.objects.filter(handoff_id=OuterRef("pk"))
        .filter((running & Q(due_at__isnull=False)) | Q(status=ClockStatus.PAUSED))
        .order_by(
            Case(When(running, then=Value(0)), default=Value(1), output_field=IntegerField()),
            Case(When(running, then=F("due_at"))),
            "metric",
        )
        .values(figures=JSONRow(**{name: F(name) for name in CLOCK_FIGURES + CLOCK_MOMENTS}))
    )
    return Subquery(clocks[:1], output_field=JSONField())


def _teams(user_id: int) -> QuerySet:
    mine = Exists(Membership.objects.filter(team_id=OuterRef("pk"), user_id=user_id))
    return Team.objects.order_by("name").values_list("pk", "slug", "name", mine)


def queue_team(user, slug: str) -> tuple[Team | None, list[tuple[int, str, str]]]:
    """The team of a queue page if the user may open it (their own; staff: any; else
    None), and every team's id, slug and name (the filter's choice of the other side, the
    rows' names of it), in one query. The team carries its id, name and slug; its other
    fields load if read."""
    teams = sql.fetch("teams", _teams, [user.pk or 0], Team.objects.db)
    found = next((t for t in teams if t[1] == slug and (t[3] or user.is_staff)), None)
    team = None
    if found is not None:
        # Values in the order of the model's fields.
        team = Team.from_db(Team.objects.db, ["id", "name", "slug"], [found[0], found[2], slug])
    return team, [(pk, team_slug, name) for pk, team_slug, name, _ in teams]


def queue_rows(queryset, *, now: datetime, inbound: bool) -> list[dict]:
    """The read queue rows of these handoffs (one, re-read after an htmx action)."""
    rows = _rows(list(_values(queryset, inbound, None)), inbound=inbound, team_names=None)
    return read_queue_rows(rows, now, requester=not inbound)


def _clock(figures: dict | None) -> ClockFigures | None:
    if figures is None:
        return None
    return ClockFigures(
        *(figures[name] for name in CLOCK_FIGURES),
        *(_moment(figures[name]) for name in CLOCK_MOMENTS),
    )


def _rows(values: list[dict], *, inbound: bool, team_names: dict | None) -> list[QueueRow]:
    calendars: dict[int, BusinessCalendar] = {}
    agreements: dict[int, Agreement] = {}

    def calendar(pk, zone, always) -> BusinessCalendar:
        if pk not in calendars:
            calendars[pk] = BusinessCalendar(pk=pk, time_zone=zone, is_24x7=always)
        return calendars[pk]

    rows = []
    for v in values:
        agreement = agreements.get(v["agreement_id"])
        if agreement is None:
            agreement = agreements[v["agreement_id"]] = Agreement(
                pk=v["agreement_id"],
                series_id=v["agreement__series_id"],
                warning_threshold=v["agreement__warning_threshold"],
                confirmation_days=v["agreement__confirmation_days"],
                calendar_id=v["agreement__calendar_id"],
            )
            agreement.calendar = calendar(
                v["agreement__calendar_id"],
                v["agreement__calendar__time_zone"],
                v["agreement__calendar__is_24x7"],
            )
        provider_calendar = None
        if not inbound and v["status"] == Status.RESOLVED:
            provider_calendar = calendar(
                v["provider_team__calendar_id"],
                v["provider_team__calendar__time_zone"],
                v["provider_team__calendar__is_24x7"],
            )
        rows.append(
            QueueRow(
                pk=v["pk"],
                title=v["title"],
                priority=v["priority"],
                status=v["status"],
                assignee_id=v["assignee_id"],
                assignee_name=_name(
                    v["assignee__first_name"], v["assignee__last_name"], v["assignee__username"]
                ),
                created_by_id=v["created_by_id"],
                created_by_name=""
                if inbound
                else _name(
                    v["created_by__first_name"],
                    v["created_by__last_name"],
                    v["created_by__username"],
                ),
                team_name=_team_name(v, inbound, team_names),
                provider_team_id=v["provider_team_id"],
                resolved_at=v["resolved_at"],
                agreement=agreement,
                provider_calendar=provider_calendar,
                clock=_clock(v["clock"]),
                windows=v["windows"],
            )
        )
    _load_hours(calendars)
    return rows


def _hours(*ids: int) -> QuerySet:
    intervals = OpeningInterval.objects.filter(calendar_id__in=ids).order_by()
    holidays = Holiday.objects.filter(calendar_id__in=ids).order_by()
    none = (Value(None, IntegerField()), Value(None, TimeField()), Value(None, TimeField()))
    return intervals.values_list(
        "calendar_id", "weekday", "start", "end", Value(None, DateField())
    ).union(holidays.values_list("calendar_id", *none, "date"), all=True)


def _team_name(v: dict, inbound: bool, team_names: dict | None) -> str:
    if not inbound:
        return v["provider_team__name"]
    if team_names is None:
        return v["requesting_team__name"]
    return team_names.get(v["requesting_team_id"], "")


def _load_hours(calendars: dict[int, BusinessCalendar]) -> None:
    """The calendars' opening intervals and holidays in one query (a UNION ALL, with no
    join and no sort: their models' default order joins the calendar for its name, and
    `BusinessCalendar.weekly` sorts the intervals itself), put where `prefetch_related`
    would put them."""
    if not calendars:
        return
    parts = {pk: {"intervals": [], "holidays": []} for pk in calendars}
    # SQLite gives times and dates as text.
    time_of, date_of = TimeField().to_python, DateField().to_python
    for calendar_id, weekday, start, end, day in sql.fetch(
        "hours", _hours, list(calendars), Holiday.objects.db
    ):
        if day is None:
            interval = OpeningInterval(
                calendar_id=calendar_id, weekday=weekday, start=time_of(start), end=time_of(end)
            )
            parts[calendar_id]["intervals"].append(interval)
        else:
            holiday = Holiday(calendar_id=calendar_id, date=date_of(day))
            parts[calendar_id]["holidays"].append(holiday)
    for pk, calendar in calendars.items():
        calendar._prefetched_objects_cache = {}
        for name, loaded in parts[pk].items():
            related = getattr(calendar, name).all()
            related._result_cache = loaded
            related._prefetch_done = True
            calendar._prefetched_objects_cache[name] = related


def read_queue_rows(rows: list[QueueRow], now: datetime, *, requester: bool) -> list[dict]:
    """Each row with its current clock reading (and, on the requester's side, when a
    resolution closes unless confirmed): the approved exception windows in one query (none
    when no row's team has any), business hours built once per calendar."""
    if not rows:
        return []
    teams = {row.provider_team_id for row in rows if row.windows}
    reader = ClockReader(now, windows_for(teams, now) if teams else [])
    confirmation = ConfirmationClock() if requester else None
    read = []
    for row in rows:
        closes_at = None
        if confirmation and row.provider_calendar is not None and row.resolved_at:
            closes_at = confirmation.later(
                row.provider_calendar, row.resolved_at, row.agreement.confirmation_days
            )
        clocks = [row.clock] if row.clock else []
        read.append(
            {"handoff": row, "reading": reader.current(row, clocks), "closes_at": closes_at}
        )
    return read
