"""Every change to a clock: firing the ladder (warn, breach, escalate), the transitions the
handoff services ask for (start, pause, resume, stop, reopen, cancel, retarget), the
recomputation of deadlines when windows or calendars change, and the withdrawal of a
breach an exception window excuses.

Data flows one way: the sweep and the handoff services call these; these call the store
(rows and events) and the arithmetic (numbers). Callers hold the handoff's lock.

Decisions (README "How clocks decide"):
- A breach is recorded once, at the moment business time passed beyond the target, by the
  sweep or — if the clock stops or pauses first — by the transition itself; it notifies
  either way. A recorded breach is a fact: a later priority change keeps it.
- An exception window (or a calendar change) that, recomputed, leaves a breached clock
  within its target *withdraws* the breach: a timeline event, a notice to whoever was told
  of it, and it leaves "breaches to review". That is what the window is for.
- Simultaneous steps of one clock reach each person as one notification listing them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings

from apps.accounts.models import User
from apps.agreements.models import Metric, Notify
from apps.notifications import services as notifications
from apps.notifications.models import Channel, Notification

from ..models import Clock, ClockStatus, EventKind, Handoff
from . import arithmetic, rollups, store
from .notices import URGENT_PRIORITIES, Notice, Outbox, recipients
from .store import AT_ONCE, ClockContext, Contexts, Ledger

LIVE = (ClockStatus.RUNNING, ClockStatus.PAUSED)


# --- the ladder: warn, breach, escalate ------------------------------------------------------


@dataclass
class Fired:
    """What firing did on one clock (the sweep adds these up)."""

    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    raise_priority: bool = False
    percents: list[int] = field(default_factory=list)


def _context(clock: Clock, context: ClockContext | None) -> ClockContext:
    return context or ClockContext.load(clock.handoff.agreement_id)


def _rung(ctx: ClockContext, clock: Clock, percent: int) -> arithmetic.Rung:
    return next(r for r in ctx.rungs(clock.metric) if r.percent == percent)


def _due(clock: Clock, ctx: ClockContext, now: datetime, kind: str) -> arithmetic.Rung | None:
    fire, _ = arithmetic.due_rungs(
        clock, ctx.hours(clock.around_the_clock), ctx.rungs(clock.metric), now
    )
    return next((r for r in fire if r.kind == kind), None)


def _escalation_notices(outbox: Outbox, clock: Clock, rung, fired: Fired, now, ledger) -> list:
    """Notices and timeline events of a rung's escalation steps."""
    handoff = clock.handoff
    metric = clock.get_metric_display()
    events = []
    for step in rung.steps:
        people = recipients(handoff, step.notify, user=step.user, memo=ledger.people)
        events.append(
            store.clock_event(
                handoff,
                EventKind.ESCALATED,
                clock=clock,
                now=now,
                percent=step.percent,
                notify=step.notify,
                raise_priority=step.raise_priority,
                to=[p.pk for p in people],
            )
        )
        if step.percent == arithmetic.BREACH_PERCENT:
            kind = "breach"
        elif rung.kind == "warning":
            kind = "warning"
        else:
            kind = "escalation"
        outbox.add(
            Notice(
                kind=kind,
                percent=step.percent,
                title=f"Escalation: {metric} of #{handoff.pk} at {step.percent} %",
                recipients=people,
                team=handoff.provider_team if step.notify == Notify.PROVIDER_TEAM else None,
                urgent=step.percent >= 100 or handoff.priority in URGENT_PRIORITIES,
            )
        )
        fired.escalations += 1
        fired.raise_priority |= step.raise_priority
    return events


def clock_warn(
    *,
    clock: Clock,
    now: datetime,
    context: ClockContext | None = None,
    outbox: Outbox | None = None,
    fired: Fired | None = None,
    ledger: Ledger = AT_ONCE,
) -> bool:
    """Fire the warning (or the ladder's steps at the warning threshold) if it is what is
    due on the clock at `now`; once."""
    ctx = _context(clock, context)
    rung = _due(clock, ctx, now, "warning")
    return rung is not None and _fire_early(clock, ctx, rung, now, outbox, fired, ledger)


def clock_escalate(
    *,
    clock: Clock,
    now: datetime,
    context: ClockContext | None = None,
    outbox: Outbox | None = None,
    fired: Fired | None = None,
    ledger: Ledger = AT_ONCE,
) -> bool:
    """Fire the escalation steps due on the clock at `now` (the highest due rung); once."""
    ctx = _context(clock, context)
    rung = _due(clock, ctx, now, "escalation")
    return rung is not None and _fire_early(clock, ctx, rung, now, outbox, fired, ledger)


def _fire_early(clock, ctx, rung, now, outbox, fired, ledger: Ledger = AT_ONCE) -> bool:
    if not ledger.claim_percent(clock, rung.percent):
        return False
    box = outbox or Outbox(clock.handoff, clock)
    fired = fired if fired is not None else Fired()
    handoff = clock.handoff
    events = []
    if rung.kind == "warning" and not rung.steps:
        metric = clock.get_metric_display()
        events.append(
            store.clock_event(handoff, EventKind.WARNED, clock=clock, now=now, percent=rung.percent)
        )
        box.add(
            Notice(
                kind="warning",
                percent=rung.percent,
                title=f"At risk: {metric} of #{handoff.pk} at {rung.percent} %",
                recipients=recipients(handoff, Notify.ASSIGNEE, memo=ledger.people),
                team=None,
                urgent=handoff.priority in URGENT_PRIORITIES,
            )
        )
        fired.warnings += 1
    else:
        if rung.kind == "warning":
            fired.warnings += 1
        events += _escalation_notices(box, clock, rung, fired, now, ledger)
    fired.percents.append(rung.percent)
    ledger.record(events)
    if outbox is None:
        ledger.send(box, now)
    return True


def clock_breach(
    *,
    clock: Clock,
    now: datetime,
    context: ClockContext | None = None,
    outbox: Outbox | None = None,
    fired: Fired | None = None,
    escalate: bool = True,
    ledger: Ledger = AT_ONCE,
) -> bool:
    """Record the breach of a clock past its target, once: when it went over, a timeline
    event, the breach notice, and (`escalate`) the ladder's steps at 100 %."""
    ctx = _context(clock, context)
    hours = ctx.hours(clock.around_the_clock)
    if (
        clock.breached_at is not None
        or clock.status not in LIVE
        or not arithmetic.overdue(clock, hours, now)
    ):
        return False
    moment = arithmetic.breach_moment(clock, hours, now)
    previous = clock.fired_percent
    if not ledger.claim_breach(clock, moment, max(previous, arithmetic.BREACH_PERCENT)):
        return False  # recorded meanwhile by someone else
    box = outbox or Outbox(clock.handoff, clock)
    fired = fired if fired is not None else Fired()
    handoff = clock.handoff
    events = [
        store.clock_event(
            handoff,
            EventKind.CLOCK_BREACHED,
            clock=clock,
            now=now,
            target_seconds=clock.target_seconds,
            consumed_seconds=arithmetic.consumed_at(clock, hours, now),
            breached_at=moment.isoformat(),
        )
    ]
    box.add(
        Notice(
            kind="breach",
            percent=arithmetic.BREACH_PERCENT,
            title=f"Breached: {clock.get_metric_display()} target of #{handoff.pk}",
            recipients=recipients(handoff, Notify.ASSIGNEE, memo=ledger.people),
            team=handoff.provider_team,
            urgent=True,
        )
    )
    fired.breaches += 1
    fired.percents.append(arithmetic.BREACH_PERCENT)
    if escalate and previous < arithmetic.BREACH_PERCENT:
        events += _escalation_notices(
            box, clock, _rung(ctx, clock, arithmetic.BREACH_PERCENT), fired, now, ledger
        )
    ledger.record(events)
    if outbox is None:
        ledger.send(box, now)
    return True


def clock_advance(
    *, clock: Clock, now: datetime, context: ClockContext | None = None, ledger: Ledger = AT_ONCE
) -> Fired:
    """Fire what is due on a running clock at `now` — the sweep's unit of work — and store
    its next step. `ledger` says how: at once, under the handoff's lock (each step its own
    claim), or planned in memory for the sweep to write with its group (store.Planned). A
    priority raise the steps ask for is the caller's (a change of the handoff, not of this
    clock)."""
    ctx = _context(clock, context)
    hours = ctx.hours(clock.around_the_clock)
    fired = Fired()
    fire, passed = arithmetic.due_rungs(clock, hours, ctx.rungs(clock.metric), now)
    outbox = Outbox(clock.handoff, clock)
    for rung in fire:
        if rung.kind == "breach":
            clock_breach(
                clock=clock, now=now, context=ctx, outbox=outbox, fired=fired, ledger=ledger
            )
        else:
            _fire_early(clock, ctx, rung, now, outbox, fired, ledger)
    if passed > clock.fired_percent:
        # Rungs passed over (stale warnings below a breach, steps a raise skipped).
        ledger.claim_percent(clock, passed)
    ledger.send(outbox, now)
    ctx.refresh(clock)
    ledger.advanced(clock)
    return fired


# --- transitions asked for by the handoff services ------------------------------------------

Change = Callable[[Clock, ClockContext, Outbox], None]


def clocks_start(*, handoff: Handoff, target, now: datetime) -> list[Clock]:
    """The handoff's clocks, one per metric, running from `now` on the target's terms."""
    ctx = ClockContext.load(handoff.agreement_id)
    clocks = []
    for metric in Metric.values:
        clock = Clock(
            handoff=handoff,
            metric=metric,
            provider_team_id=handoff.provider_team_id,
            requesting_team_id=handoff.requesting_team_id,
            series_id=ctx.agreement.series_id,
            priority=handoff.priority,
            customer_segment=handoff.customer_segment,
            target_seconds=target.seconds_for(metric),
            around_the_clock=target.around_the_clock,
        )
        arithmetic.start(clock, now)
        ctx.refresh(clock)
        clocks.append(clock)
    Clock.objects.bulk_create(clocks)
    store.save_handoff_due(handoff, clocks)
    return clocks


def clocks_change(*, handoff: Handoff, actor, now: datetime, change: Change) -> list[Clock]:
    """Lock the handoff's clocks (the caller holds the handoff), let `change` act on each,
    recompute every deadline, keep the rollups in step, save, and record the clocks met."""
    ctx = ClockContext.load(handoff.agreement_id)
    clocks = store.lock_clocks(handoff.pk)
    before = {c.pk: store.state(c) for c in clocks}
    status_before = {c.pk: c.status for c in clocks}
    outboxes = []
    for clock in clocks:
        clock.handoff = handoff
        outbox = Outbox(handoff, clock)
        change(clock, ctx, outbox)
        ctx.refresh(clock)
        outboxes.append(outbox)
    # Every clock of the handoff, after any verdict moved and after the handoff services
    # changed the copies (priority, reopen count, time waiting) in this transaction.
    rollups.settle(clocks)
    store.save(clocks, before)
    store.save_handoff_due(handoff, clocks)
    store.record(
        [
            store.clock_event(
                handoff,
                EventKind.CLOCK_MET,
                clock=clock,
                now=now,
                actor=actor,
                consumed_seconds=clock.consumed_seconds,
                target_seconds=clock.target_seconds,
            )
            for clock in clocks
            if clock.status == ClockStatus.MET and status_before[clock.pk] != ClockStatus.MET
        ]
    )
    for outbox in outboxes:
        outbox.send(now)
    return clocks


def settle(clock: Clock, ctx: ClockContext, outbox: Outbox, now: datetime) -> None:
    """Before a clock stops running (stop, pause, a new target), record the breach it has
    run into, if the sweep has not yet: the verdict never depends on the sweep's timing.
    The breach is told as the sweep would tell it; the ladder's escalation steps are not
    fired (the clock is stopping, pausing or taking a new target: there is nothing left
    to escalate on these terms)."""
    if clock.status == ClockStatus.RUNNING:
        clock_breach(clock=clock, now=now, context=ctx, outbox=outbox, escalate=False)


def stopping(metrics: Iterable[str], now: datetime) -> Change:
    metrics = set(metrics)

    def change(clock: Clock, ctx: ClockContext, outbox: Outbox) -> None:
        if clock.metric in metrics and clock.status in LIVE:
            settle(clock, ctx, outbox, now)
            arithmetic.stop(clock, ctx.hours(clock.around_the_clock), now)

    return change


def pausing(pausable: Callable[[str], bool], now: datetime) -> Change:
    def change(clock: Clock, ctx: ClockContext, outbox: Outbox) -> None:
        if clock.status == ClockStatus.RUNNING and pausable(clock.metric):
            settle(clock, ctx, outbox, now)
            arithmetic.pause(clock, ctx.hours(clock.around_the_clock), now)

    return change


def resuming(now: datetime) -> Change:
    def change(clock: Clock, ctx: ClockContext, outbox: Outbox) -> None:
        if clock.status == ClockStatus.PAUSED:
            arithmetic.resume(clock, ctx.hours(clock.around_the_clock), now)

    return change


def reopening(metrics: Iterable[str], now: datetime) -> Change:
    metrics = set(metrics)

    def change(clock: Clock, ctx: ClockContext, outbox: Outbox) -> None:
        if clock.metric in metrics and clock.status in (ClockStatus.MET, ClockStatus.BREACHED):
            arithmetic.reopen(clock, ctx.hours(clock.around_the_clock), now)

    return change


def cancelling(now: datetime) -> Change:
    """Clocks stop without a verdict (nobody failed a target)."""

    def change(clock: Clock, ctx: ClockContext, outbox: Outbox) -> None:
        if clock.status in LIVE:
            arithmetic.cancel(clock, ctx.hours(clock.around_the_clock), now)

    return change


def retargeting(target, now: datetime) -> Change:
    """A priority change: a breach already run into under the old target is recorded
    first (and kept); the new target applies from `now`."""

    def change(clock: Clock, ctx: ClockContext, outbox: Outbox) -> None:
        if clock.status in LIVE:
            settle(clock, ctx, outbox, now)
            arithmetic.retarget(
                clock,
                target.seconds_for(clock.metric),
                target.around_the_clock,
                ctx.hours(clock.around_the_clock),
                now,
            )

    return change


# --- deadlines moved from outside: exception windows and calendars -------------------------

RECOMPUTE_BATCH = 200


def clocks_recompute(*, clocks, now: datetime, reason: str) -> int:
    """Recompute the deadlines of many live clocks (an exception window approved or ended,
    a calendar or its holidays edited), in the caller's transaction, a batch of handoffs
    at a time: lock the handoffs (in id order) and their clocks, recount each clock's
    history under today's hours, withdraw breaches the new hours excuse, save the batch
    in one statement. Returns the number of clocks recomputed."""
    handoff_ids = sorted(set(clocks.values_list("handoff_id", flat=True)))
    contexts = Contexts()
    done = 0
    for i in range(0, len(handoff_ids), RECOMPUTE_BATCH):
        chunk = handoff_ids[i : i + RECOMPUTE_BATCH]
        handoffs = {
            h.pk: h
            for h in Handoff.objects.select_for_update(no_key=True, of=("self",))
            .filter(pk__in=chunk)
            .select_related("provider_team__calendar", "requesting_team", "assignee")
            .order_by("pk")
        }
        batch = list(
            Clock.objects.select_for_update(no_key=True)
            .filter(handoff_id__in=chunk, status__in=LIVE)
            .order_by("handoff_id", "pk")
        )
        withdrawn = []
        for clock in batch:
            clock.handoff = handoffs[clock.handoff_id]
            ctx = contexts[clock.handoff.agreement_id]
            ctx.recount(clock)
            if clock.breached_at is not None and not arithmetic.overdue(
                clock, ctx.hours(clock.around_the_clock), now
            ):
                withdrawn.append(clock)
                clock.breached_at = None
            ctx.refresh(clock)
        store.save_many(batch)
        due: dict[int, list[Clock]] = {}
        for clock in batch:
            due.setdefault(clock.handoff_id, []).append(clock)
        store.save_handoffs_due(
            {
                pk: store.handoff_due(clocks_of)
                for pk, clocks_of in due.items()
                if store.handoff_due(clocks_of) != handoffs[pk].due_at
            }
        )
        _withdraw(withdrawn, now, reason)
        done += len(batch)
    return done


def _withdraw(clocks: Sequence[Clock], now: datetime, reason: str) -> None:
    """Say so when a recorded breach no longer stands: on the timeline, and to everyone
    who was told of it."""
    if not clocks:
        return
    store.record(
        [
            store.clock_event(
                clock.handoff,
                EventKind.CLOCK_BREACH_WITHDRAWN,
                clock=clock,
                now=now,
                reason=reason,
                consumed_seconds=clock.consumed_seconds,
                target_seconds=clock.target_seconds,
            )
            for clock in clocks
        ]
    )
    for clock in clocks:
        handoff = clock.handoff
        told = Notification.objects.filter(
            subject_type="handoff",
            subject_id=handoff.pk,
            kind="breach",
            channel=Channel.IN_APP,
            dedup_key__startswith=f"handoff:{handoff.pk}:clock:{clock.metric}:",
        ).values("recipient_id")
        metric = clock.get_metric_display()
        notifications.notify(
            kind="breach",
            title=f"Breach withdrawn: {metric} of #{handoff.pk}",
            body=f"{reason} {handoff.title}: the {metric.lower()} target is no longer "
            "breached, and the breach leaves the list to review.",
            url=f"{settings.SITE_URL}{handoff.get_absolute_url()}",
            dedup_base=f"handoff:{handoff.pk}:clock:{clock.metric}:withdrawn:"
            f"{int(now.timestamp())}",
            recipients=list(User.objects.filter(pk__in=told)),
            urgent=True,
            subject_type="handoff",
            subject_id=handoff.pk,
            now=now,
        )
