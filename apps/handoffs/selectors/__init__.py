"""Read queries for handoffs (every one starts from `visible_to(user)`) and the figures a
queue row shows, computed for a page of rows with no query per row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import EmptyResultSet
from django.db.models import (
    Case,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Subquery,
    TextField,
    Value,
    When,
    prefetch_related_objects,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.shortcuts import get_object_or_404

from apps.agreements import cache as version_cache
from apps.agreements.models import Agreement, ExceptionWindow
from apps.calendars.businesstime import BusinessHours
from apps.calendars.models import BusinessCalendar
from apps.teams.models import Membership

from .clockwork import arithmetic as clockwork
from .filters import AWAITING_REQUESTER, HandoffFilter
from .models import OPEN_STATUSES, Clock, ClockStatus, Handoff, HandoffEvent, Status


def handoff_get(*, user, pk: int) -> Handoff:
    """A handoff the user may see (else 404) with what its page shows: teams, people, the
    agreement version and its calendar in the one query; the clocks with their breach
    reviews in one; the calendar's hours and holidays in two; the version's targets and
    triage template from this process's copy (apps.agreements.cache); the viewer's roles in
    the two teams as columns of the handoff's query (`permissions.remember_roles`)."""
    handoff = get_object_or_404(
        _with_viewer_roles(Handoff.objects.visible_to(user), user)
        .select_related(
            "requesting_team",
            "provider_team",
            "assignee",
            "created_by",
            "agreement__series",
            "agreement__calendar",
        )
        .prefetch_related(
            # The reviews app's breach review of each clock, shown beside a breached one.
            Prefetch("clocks", queryset=Clock.objects.select_related("breach_review")),
            "agreement__calendar__intervals",
            "agreement__calendar__holidays",
        ),
        pk=pk,
    )
    version_cache.prime([handoff.agreement])
    return handoff


def _with_viewer_roles(queryset, user):
    """The user's role in the provider and in the requesting team (None: not a member), as
    columns of the handoff's own query (`permissions.remember_roles`)."""
    if not user.is_authenticated:
        return queryset
    roles = Membership.objects.filter(user_id=user.pk)
    return queryset.annotate(
        viewer_provider_role=Subquery(
            roles.filter(team_id=OuterRef("provider_team_id")).values("role")[:1]
        ),
        viewer_requesting_role=Subquery(
            roles.filter(team_id=OuterRef("requesting_team_id")).values("role")[:1]
        ),
    )


# Soonest due first; the id makes the order total, so a page read from either end of the
# list (queue_rows.page) holds the same rows.
QUEUE_ORDER = (F("due_at").asc(nulls_last=True), "created_at", "pk")


def queue(*, user, team, filters: dict | None = None, request=None) -> HandoffFilter:
    """A team's inbound work, soonest due first, filtered (rows: `queue_rows`)."""
    queryset = Handoff.objects.visible_to(user).filter(provider_team=team).order_by(*QUEUE_ORDER)
    return HandoffFilter(filters or {}, queryset=queryset, request=request)


def outgoing(*, user, team, filters: dict | None = None, request=None) -> HandoffFilter:
    """What a team handed over, soonest due first (rows: `queue_rows`)."""
    queryset = Handoff.objects.visible_to(user).filter(requesting_team=team).order_by(*QUEUE_ORDER)
    return HandoffFilter(filters or {}, queryset=queryset, request=request)


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


def windows_for(team_ids, now: datetime) -> list[ExceptionWindow]:
    """Approved exception windows of these provider teams that ended less than 400 days
    ago: enough for the clocks of the open work on one page, in a single query."""
    return list(
        ExceptionWindow.objects.approved().filter(
            provider_team_id__in=set(team_ids), end__gt=now - timedelta(days=400)
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


# --- the queue page: a page of rows in one query ------------------------------------------

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
INBOUND_COLUMNS = ("requesting_team__name",)
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
    "handoff_id",
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

    handoff_id: int
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
    """A moment the database gave as text: PostgreSQL's carries its offset, SQLite's is UTC."""
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


def queue_page(queryset, requested, *, per_page: int, now: datetime, inbound: bool):
    """A page of a queue (`queue` or `outgoing`'s filtered queryset) and its rows. A page
    within the cap: its rows' columns and the count capped at COUNT_CAP in one query. A page
    past the cap (or "last", or past the end): an exact count, then the rows, a page in the
    second half read from the end, not past every row before it. Then the rows' running
    and paused clocks in one query, the calendars' hours and holidays in two."""
    number = _page_number(requested)
    columns = _columns(inbound)
    if number is not None and number <= COUNT_CAP // per_page:
        start = (number - 1) * per_page
        values = list(
            queryset.values(*columns, capped_count=_capped_count(queryset))[
                start : start + per_page
            ]
        )
        if values or number == 1:
            count = values[0]["capped_count"] if values else 0
            page = QueuePage(
                number, _rows(values, inbound=inbound), count, count > COUNT_CAP, per_page
            )
            return page, read_queue_rows(page.rows, now, requester=not inbound)
    count = queryset.order_by().count()
    pages = max(1, -(-count // per_page))
    number = pages if number is None else min(number, pages)
    start = (number - 1) * per_page
    if start > count // 2:
        end = min(start + per_page, count)
        values = list(queryset.reverse().values(*columns)[count - end : count - start])
        values.reverse()
    else:
        values = list(queryset.values(*columns)[start : start + per_page])
    page = QueuePage(number, _rows(values, inbound=inbound), count, False, per_page)
    return page, read_queue_rows(page.rows, now, requester=not inbound)


def _capped_count(queryset) -> RawSQL | Value:
    """The number of rows, counted to COUNT_CAP + 1 at most, as a column of the rows query
    (an uncorrelated subquery: the database counts it once, not per row)."""
    try:
        sql, params = queryset.order_by().values("pk")[: COUNT_CAP + 1].query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing ("filed by" an id out of range)
        return Value(0)
    return RawSQL(f"SELECT COUNT(*) FROM ({sql}) capped", params)  # noqa: S608, S611 - the ORM's SQL


def _columns(inbound: bool) -> tuple[str, ...]:
    return ROW_COLUMNS + (INBOUND_COLUMNS if inbound else OUTGOING_COLUMNS)


def queue_rows(queryset, *, now: datetime, inbound: bool) -> list[dict]:
    """The read queue rows of these handoffs (one, re-read after an htmx action)."""
    rows = _rows(list(queryset.values(*_columns(inbound))), inbound=inbound)
    return read_queue_rows(rows, now, requester=not inbound)


def _rows(values: list[dict], *, inbound: bool) -> list[QueueRow]:
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
                team_name=v["requesting_team__name"] if inbound else v["provider_team__name"],
                provider_team_id=v["provider_team_id"],
                resolved_at=v["resolved_at"],
                agreement=agreement,
                provider_calendar=provider_calendar,
            )
        )
    if calendars:
        prefetch_related_objects(list(calendars.values()), "intervals", "holidays")
    return rows


def read_queue_rows(rows: list[QueueRow], now: datetime, *, requester: bool) -> list[dict]:
    """Each row with its current clock reading (and, on the requester's side, when a
    resolution closes unless confirmed): the running and paused clocks of the page in one
    query, the approved exception windows in one, business hours built once per calendar."""
    if not rows:
        return []
    clocks: dict[int, list[ClockFigures]] = {row.pk: [] for row in rows}
    running = Clock.objects.filter(
        handoff_id__in=list(clocks), status__in=(ClockStatus.RUNNING, ClockStatus.PAUSED)
    ).order_by("handoff_id", "metric")
    # The moments come as text and are read by datetime.fromisoformat: the database driver's
    # time-zone-aware loader costs ~15 µs a value, two thirds of this query's time.
    moments = [Cast(name, TextField()) for name in CLOCK_MOMENTS]
    for values in running.values_list(*CLOCK_FIGURES, *moments):
        figures = values[: len(CLOCK_FIGURES)] + tuple(
            _moment(v) for v in values[len(CLOCK_FIGURES) :]
        )
        clocks[values[0]].append(ClockFigures(*figures))
    reader = ClockReader(now, windows_for({row.provider_team_id for row in rows}, now))
    confirmation = ConfirmationClock() if requester else None
    read = []
    for row in rows:
        closes_at = None
        if confirmation and row.provider_calendar is not None and row.resolved_at:
            closes_at = confirmation.later(
                row.provider_calendar, row.resolved_at, row.agreement.confirmation_days
            )
        read.append(
            {"handoff": row, "reading": reader.current(row, clocks[row.pk]), "closes_at": closes_at}
        )
    return read
