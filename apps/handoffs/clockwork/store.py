"""Loading, locking and saving clocks, and writing their timeline events.

The one place that writes clock rows and clock events. Lock order everywhere: the handoff
first, then its clocks, both `FOR NO KEY UPDATE` (no key column ever changes, and the
foreign-key checks of the events and notifications inserted meanwhile take `FOR KEY
SHARE`, which a NO KEY lock does not block — a plain `FOR UPDATE` would).

How firing the ladder writes is a Ledger: at once, each step its own conditional UPDATE
(the transitions, the sweep's one-handoff path), or Planned in memory by the sweep and
written for a group of handoffs in a few statements (`lock_planned`, `claim_planned`,
`record_many`), only where the rows are still the versions the plan read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL

from apps.agreements.models import Agreement, ExceptionWindow
from apps.core import sql

from ..models import Clock, ClockStatus, Handoff, HandoffEvent
from . import arithmetic

STATE_FIELDS = (
    "target_seconds",
    "around_the_clock",
    "status",
    "segment_started_at",
    "segments",
    "carried_seconds",
    "consumed_seconds",
    "paused_seconds",
    "pauses",
    "due_at",
    "warning_at",
    "breach_at",
    "next_step_at",
    "rebased_at",
    "fired_percent",
    "met_at",
    "breached_at",
    "stopped_at",
    "sweep_failures",
    # What the clock adds to the rollups (clockwork.rollups.settle sets it).
    "rollup",
)
DEADLINE_FIELDS = (
    "segment_started_at",
    "consumed_seconds",
    "due_at",
    "warning_at",
    "breach_at",
    "next_step_at",
    "breached_at",
    "fired_percent",
)


class ClockContext:
    """What the arithmetic needs for the clocks of one agreement version, loaded once:
    the calendar, the escalation ladder and the approved exception windows covering it."""

    def __init__(self, agreement: Agreement, windows: Sequence[ExceptionWindow]):
        self.agreement = agreement
        self.windows = list(windows)
        self._hours: dict = {}
        self._rungs: dict = {}

    @classmethod
    def load(cls, agreement_id: int) -> ClockContext:
        agreement = (
            Agreement.objects.select_related("series", "calendar")
            .prefetch_related("calendar__intervals", "calendar__holidays", "escalation_steps")
            .get(pk=agreement_id)
        )
        windows = ExceptionWindow.objects.approved().covering(agreement)
        return cls(agreement, windows)

    def hours(self, around_the_clock: bool):
        if around_the_clock not in self._hours:
            self._hours[around_the_clock] = arithmetic.business_hours(
                self.agreement, around_the_clock=around_the_clock, windows=self.windows
            )
        return self._hours[around_the_clock]

    def steps(self, metric: str) -> list:
        return [s for s in self.agreement.escalation_steps.all() if s.metric == metric]

    def rungs(self, metric: str) -> list[arithmetic.Rung]:
        if metric not in self._rungs:
            self._rungs[metric] = arithmetic.ladder(
                self.agreement.warning_threshold, self.steps(metric)
            )
        return self._rungs[metric]

    def recount(self, clock: Clock) -> None:
        arithmetic.recount(clock, self.hours(clock.around_the_clock))

    def refresh(self, clock: Clock) -> None:
        arithmetic.refresh(
            clock,
            self.hours(clock.around_the_clock),
            warning_threshold=self.agreement.warning_threshold,
            steps=self.steps(clock.metric),
        )


class Contexts(dict):
    """ClockContexts by agreement id, loaded on first use (a sweep or a batch meets many
    handoffs of few agreement versions)."""

    def __missing__(self, agreement_id: int) -> ClockContext:
        context = self[agreement_id] = ClockContext.load(agreement_id)
        return context


# --- locking -------------------------------------------------------------------------------


def lock_handoff(handoff_id: int, *, skip_locked: bool = False) -> Handoff | None:
    """The handoff, locked (None if `skip_locked` and someone else holds it)."""
    return (
        Handoff.objects.select_for_update(no_key=True, skip_locked=skip_locked, of=("self",))
        .filter(pk=handoff_id)
        .first()
    )


def lock_clocks(handoff_id: int) -> list[Clock]:
    """The handoff's clocks, locked, in one order (the caller holds the handoff)."""
    return list(
        Clock.objects.select_for_update(no_key=True).filter(handoff_id=handoff_id).order_by("pk")
    )


# --- saving --------------------------------------------------------------------------------


def state(clock: Clock) -> tuple:
    return tuple(getattr(clock, f) for f in STATE_FIELDS)


def save(clocks: Iterable[Clock], before: dict[int, tuple]) -> None:
    """Write the clocks that changed: one plain UPDATE each (a transition touches one to
    three clocks; cheaper than bulk_update's CASE expressions)."""
    for clock in clocks:
        if before.get(clock.pk) != state(clock):
            Clock.objects.filter(pk=clock.pk).update(**{f: getattr(clock, f) for f in STATE_FIELDS})


def save_many(clocks: Sequence[Clock], fields: Sequence[str] = DEADLINE_FIELDS) -> None:
    """Write a batch of clocks in one statement."""
    if clocks:
        Clock.objects.bulk_update(clocks, list(fields))


def handoff_due(clocks: Iterable[Clock]) -> datetime | None:
    """The handoff's sort key: the soonest deadline among its running clocks."""
    due = [c.due_at for c in clocks if c.status == ClockStatus.RUNNING and c.due_at]
    return min(due) if due else None


def save_handoff_due(handoff: Handoff, clocks: Iterable[Clock]) -> None:
    due = handoff_due(clocks)
    if due != handoff.due_at:
        handoff.due_at = due
        Handoff.objects.filter(pk=handoff.pk).update(due_at=due)


def save_handoffs_due(due_by_handoff: dict[int, datetime | None]) -> None:
    """Write many handoffs' sort keys in one statement."""
    if not due_by_handoff:
        return
    rows = [Handoff(pk=pk, due_at=due) for pk, due in due_by_handoff.items()]
    Handoff.objects.bulk_update(rows, ["due_at"])


# --- events --------------------------------------------------------------------------------


def clock_event(
    handoff: Handoff | int, kind: str, *, clock: Clock, now: datetime, actor=None, **after
) -> HandoffEvent:
    """A clock's line on the timeline (met, breached, warned, escalated, withdrawn)."""
    return HandoffEvent(
        handoff_id=handoff if isinstance(handoff, int) else handoff.pk,
        kind=kind,
        actor=actor,
        created_at=now,
        after={"metric": clock.metric, **after},
    )


def record(events: Sequence[HandoffEvent]) -> None:
    """Write clock events (one INSERT for the lot)."""
    if events:
        HandoffEvent.objects.bulk_create(list(events))


# --- how firing the ladder writes -----------------------------------------------------------


class Ledger:
    """Firing writes at once: each claim is a conditional UPDATE (`fired_percent` moves up
    from the value read, `breached_at` is set where it is NULL), so of any number of
    callers one records a step; events and notices go as they come. The caller holds the
    handoff's lock (the transitions, and the sweep's one-handoff path)."""

    people: dict | None = None  # who hears, by step and teams (None: asked every time)
    opens: dict | None = None  # a calendar's next open hours (None: computed every time)

    def claim_percent(self, clock: Clock, percent: int) -> bool:
        """Move `fired_percent` up to `percent`, once."""
        if percent <= clock.fired_percent:
            return False
        if not Clock.objects.filter(pk=clock.pk, fired_percent=clock.fired_percent).update(
            fired_percent=percent
        ):
            return False
        clock.fired_percent = percent
        return True

    def claim_breach(self, clock: Clock, moment: datetime, percent: int) -> bool:
        """Record the breach at `moment`, once."""
        if not Clock.objects.filter(pk=clock.pk, breached_at__isnull=True).update(
            breached_at=moment, fired_percent=percent
        ):
            return False
        clock.breached_at, clock.fired_percent = moment, percent
        return True

    def record(self, events: Sequence[HandoffEvent]) -> None:
        record(events)

    def send(self, outbox, now: datetime) -> None:
        outbox.send(now)

    def advanced(self, clock: Clock) -> None:
        """Store the next step of a clock the sweep has fired."""
        Clock.objects.filter(pk=clock.pk).update(
            next_step_at=clock.next_step_at, breach_at=clock.breach_at, sweep_failures=0
        )


AT_ONCE = Ledger()


class Planned(Ledger):
    """Firing planned, nothing written (the sweep's grouped path): claims move the clock
    in memory, events and notices are gathered. Nothing is decided until the sweep writes
    the plan with `lock_planned` and `claim_planned`, which take only clocks still as they
    were read (`row_version`): so each step is still recorded once. `people` and `opens` are
    the batch's, shared by its plans."""

    def __init__(self, people: dict, opens: dict):
        self.people, self.opens = people, opens
        self.events: list[HandoffEvent] = []
        self.deliveries: list[dict] = []

    def claim_percent(self, clock: Clock, percent: int) -> bool:
        if percent <= clock.fired_percent:
            return False
        clock.fired_percent = percent
        return True

    def claim_breach(self, clock: Clock, moment: datetime, percent: int) -> bool:
        if clock.breached_at is not None:
            return False
        clock.breached_at, clock.fired_percent = moment, percent
        return True

    def record(self, events: Sequence[HandoffEvent]) -> None:
        self.events.extend(events)

    def send(self, outbox, now: datetime) -> None:
        self.deliveries.extend(outbox.deliveries(now, opens=self.opens))

    def advanced(self, clock: Clock) -> None:
        pass  # written by claim_planned


# The namespace of the sweep's advisory locks (PostgreSQL's two-key form: this, and the
# handoff's id folded into an int4; a collision only makes a sweep leave a handoff to
# another one this round).
SWEEP_LOCKS = 0x5357
FOLD = "mod({}, 2147483647)::int"


def not_planned_elsewhere(clocks):
    """Clocks of handoffs no other sweep is planning now (`planning`): a second sweep
    reads the next due clocks instead of the first one's (PostgreSQL)."""
    held = RawSQL(
        "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
        "AND objsubid = 2 AND granted AND pid <> pg_backend_pid()",
        (SWEEP_LOCKS,),
    )
    return clocks.exclude(handoff_id__in=held)


@contextmanager
def planning(handoff_ids: Iterable[int]) -> Iterator[set[int]]:
    """The handoffs no other sweep is planning, for this one to plan and write: a session
    advisory lock each (PostgreSQL), released when the block ends. Only sweeps take them:
    two sweeps at once take a share each instead of planning the same handoffs twice;
    the row locks and versions of `lock_planned` still decide what is written."""
    ids = list(handoff_ids)
    if connection.vendor != "postgresql" or not ids:
        yield set(ids)
        return
    key = FOLD.format("id")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM unnest(%s::bigint[]) AS id "  # noqa: S608 (a constant)
            f"WHERE pg_try_advisory_lock(%s, {key})",
            [ids, SWEEP_LOCKS],
        )
        mine = {pk for (pk,) in cursor.fetchall()}
    try:
        yield mine
    finally:
        if mine:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT pg_advisory_unlock(%s, {key}) "  # noqa: S608 (a constant)
                    "FROM unnest(%s::bigint[]) AS id",
                    [SWEEP_LOCKS, list(mine)],
                )


class LostClaim(RuntimeError):
    """A clock held locked was not as read: the sweep's group is rolled back and worked
    again one handoff at a time."""


def with_version(queryset):
    """Rows with their `row_version`: PostgreSQL's xmin, which every UPDATE of the row changes
    (a lock does not). A plan made from a row is written only if the row's version is
    still the one read."""
    table = queryset.model._meta.db_table
    return queryset.annotate(row_version=RawSQL(f'"{table}".xmin::text', ()))  # noqa: S611


def lock_planned(
    handoffs: dict[int, str], clocks: dict[int, tuple[int, str]]
) -> tuple[set[int], set[int]]:
    """Lock the planned handoffs and their planned clocks, `FOR NO KEY UPDATE SKIP LOCKED`,
    in one statement, in the services' order (each handoff, then its clocks; handoffs by
    id). `handoffs`: id → version read; `clocks`: id → (handoff id, version read).
    Returns (fresh, stale): the handoffs locked with every planned row as read, and those
    locked that changed since (the caller works them again under the lock). The others
    were held by someone else: skipped (they stay due)."""
    h, c = Handoff._meta.db_table, Clock._meta.db_table
    sql = (
        f'SELECT h.id, h.xmin::text, c.id, c.xmin::text FROM "{h}" h '  # noqa: S608
        f'JOIN "{c}" c ON c.handoff_id = h.id WHERE h.id = ANY(%s) AND c.id = ANY(%s) '
        "ORDER BY h.id, c.id FOR NO KEY UPDATE OF h, c SKIP LOCKED"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(handoffs), list(clocks)])
        rows = cursor.fetchall()
    seen: dict[int, int] = {}
    stale: set[int] = set()
    for handoff_id, handoff_version, clock_id, clock_version in rows:
        seen[handoff_id] = seen.get(handoff_id, 0) + 1
        if handoff_version != handoffs[handoff_id] or clock_version != clocks[clock_id][1]:
            stale.add(handoff_id)
    planned: dict[int, int] = {}
    for handoff_id, _ in clocks.values():
        planned[handoff_id] = planned.get(handoff_id, 0) + 1
    # A handoff locked with one of its clocks held elsewhere (a breach review) is stale.
    stale |= {pk for pk, n in seen.items() if n != planned[pk]}
    return set(seen) - stale, stale


def claim_planned(clocks: Sequence[tuple[Clock, int, datetime | None]]) -> None:
    """Write planned clocks — their claims (`fired_percent`, `breached_at`) and next steps
    — in one UPDATE, each row only if still running with the `fired_percent` and
    `breached_at` the plan started from (the caller holds them locked, as read: anything
    else is a broken invariant, raised as LostClaim and rolled back). One array a column:
    the statement's text is the same whatever the number of clocks."""
    if not clocks:
        return
    columns = [
        list(column)
        for column in zip(
            *(
                (c.pk, fired, breached, c.fired_percent, c.breached_at, c.next_step_at, c.breach_at)
                for c, fired, breached in clocks
            ),
            strict=True,
        )
    ]
    sql = (
        f'UPDATE "{Clock._meta.db_table}" AS c SET fired_percent = v.fired, '  # noqa: S608
        "breached_at = v.breached, next_step_at = v.next_step, breach_at = v.breach, "
        "sweep_failures = 0 FROM unnest(%s::bigint[], %s::int[], %s::timestamptz[], "
        "%s::int[], %s::timestamptz[], %s::timestamptz[], %s::timestamptz[]) "
        "AS v(id, was_fired, was_breached, fired, breached, next_step, breach) "
        "WHERE c.id = v.id AND c.status = %s AND c.fired_percent = v.was_fired "
        "AND c.breached_at IS NOT DISTINCT FROM v.was_breached RETURNING c.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*columns, ClockStatus.RUNNING])
        written = {pk for (pk,) in cursor.fetchall()}
    if lost := {clock.pk for clock, _, _ in clocks} - written:
        raise LostClaim(f"clocks {sorted(lost)[:10]} changed under the sweep's lock")


def record_many(events: Sequence[HandoffEvent]) -> None:
    """Write many clock events in one INSERT of constant text (one array a column), on
    PostgreSQL; `record` elsewhere. The events get no ids back (nothing reads them)."""
    if connection.vendor != "postgresql":
        record(events)
        return
    if not events:
        return
    sql.insert_unnest(HandoffEvent, events)


# --- what a change of windows or calendar covers ------------------------------------------


def live_clocks_covered_by_window(window: ExceptionWindow):
    """Running and paused clocks an exception window applies to."""
    covered = Q(handoff__provider_team_id=window.provider_team_id)
    if window.series_id is not None:
        covered &= Q(handoff__agreement__series_id=window.series_id)
    return Clock.objects.filter(covered, status__in=(ClockStatus.RUNNING, ClockStatus.PAUSED))


def live_clocks_on_calendar(calendar_id: int):
    """Running and paused clocks that run on a calendar (not the 24×7 ones)."""
    return Clock.objects.filter(
        handoff__agreement__calendar_id=calendar_id,
        around_the_clock=False,
        status__in=(ClockStatus.RUNNING, ClockStatus.PAUSED),
    )
