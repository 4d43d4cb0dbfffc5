"""Review pages: the list of reviews, the quarterly review a support operations lead runs
the business review from, the breaches to review and the breach review form.

Reads start from `visible_to(user)` (anything else is a 404). Each state change is a small
POST view that validates a form and calls one service; the service's ValidationError goes
back onto the form as typed, a Conflict becomes a message and a redirect, and who sees the
review but may not act gets a 403 (PermissionDenied), as on every other page. The what-if
is an htmx POST that answers with a partial and changes nothing.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.agreements.durations import duration_input, format_duration
from apps.agreements.models import Metric, Priority
from apps.agreements.targets import TargetGrid
from apps.core.http import safe_next
from apps.core.views import post_action
from apps.handoffs.models import Clock, Handoff
from apps.handoffs.selectors import ClockReader, windows_for
from apps.teams.models import Membership, Role, Team

from . import selectors, services, whatif
from .forms import (
    ActionDoneForm,
    ActionItemForm,
    BreachReviewForm,
    ReviewNotesForm,
    SignOffForm,
    TargetsForm,
)
from .models import ActionItem, BreachReview, QuarterlyReview, ReviewStatus, RootCause

SIGNABLE = (ReviewStatus.IN_PROGRESS, ReviewStatus.AWAITING_SIGN_OFF)
EDITABLE = (ReviewStatus.IN_PROGRESS, ReviewStatus.AWAITING_SIGN_OFF)
STATUS_COLOURS = {
    ReviewStatus.SCHEDULED: "text-bg-secondary",
    ReviewStatus.IN_PROGRESS: "text-bg-primary",
    ReviewStatus.AWAITING_SIGN_OFF: "text-bg-warning",
    ReviewStatus.COMPLETED: "text-bg-success",
}
CAUSE_LABELS = {**dict(RootCause.choices), "unreviewed": "Not reviewed yet"}
CAUSE_ORDER = [*RootCause.values, "unreviewed"]


# --- presentation helpers ----------------------------------------------------------------


def period_in_words(start: date, end: date) -> str:
    """[1 Jan 2026, 1 Apr 2026) → 'Q1 2026 (1 Jan – 31 Mar 2026)'; the end is exclusive."""
    last = end - timedelta(days=1)
    if start.year == last.year:
        span = f"{start.day} {start:%b} – {last.day} {last:%b} {last.year}"
    else:
        span = f"{start.day} {start:%b} {start.year} – {last.day} {last:%b} {last.year}"
    # Three months on, whatever the month: November + 3 is February of the next year.
    year, month0 = divmod(start.month - 1 + 3, 12)
    quarter_end = date(start.year + year, month0 + 1, 1)
    if start.day == 1 and start.month in (1, 4, 7, 10) and end == quarter_end:
        return f"Q{(start.month - 1) // 3 + 1} {start.year} ({span})"
    whole_month = start.day == 1 and last.day == calendar.monthrange(last.year, last.month)[1]
    if whole_month and (start.year, start.month) == (last.year, last.month):
        return f"{start:%B} {start.year}"
    return span


def duration(seconds, *, business: bool = True) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return "under a minute" if seconds else "0 min"
    return format_duration(seconds, business=business)


def percent(value) -> str:
    return "—" if value is None else f"{value:.1f} %"


def hours(seconds) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def _safe_next(request, default: str) -> str:
    return safe_next(request, default)


def _provider_teams(user):
    """The teams whose breaches the user reviews: those they belong to (staff: any) that
    provide work under an agreement."""
    teams = Team.objects.all() if user.is_staff else Team.objects.of_member(user)
    return Team.objects.filter(pk__in=teams.filter(provided_agreements__isnull=False).values("pk"))


# --- the list of reviews -----------------------------------------------------------------


@require_GET
def review_index(request):
    user = request.user
    filterset = selectors.review_list(user=user, filters=request.GET, request=request)
    status = filterset.form.fields["status"]
    status.widget = forms.CheckboxSelectMultiple(
        choices=status.choices, attrs={"class": "form-check-input"}
    )
    reviews = list(filterset.qs)
    is_provider = _provider_teams(user).exists()
    breaches = selectors.breaches_to_review(user=user).count() if is_provider else 0
    # Open reviews first, soonest due; then completed ones, most recent first.
    reviews.sort(key=lambda r: (not r.is_open, r.due_date.toordinal() * (1 if r.is_open else -1)))
    rows = []
    for review in reviews:
        signed = {s.team_id: s for s in review.sign_offs.all()}
        rows.append(
            {
                "review": review,
                "period": period_in_words(review.period_start, review.period_end),
                "colour": STATUS_COLOURS.get(review.status, "text-bg-secondary"),
                "overdue": review.is_open and review.due_date < timezone.localdate(),
                "sides": [
                    {"team": team, "signed": signed.get(team.pk)}
                    for team in (review.series.requesting_team, review.series.provider_team)
                ],
            }
        )
    return render(
        request,
        "reviews/review_list.html",
        {
            "filter": filterset,
            "rows": rows,
            "is_provider": is_provider,
            "breaches_to_review": breaches,
        },
    )


# --- the review --------------------------------------------------------------------------


def _review_get(user, pk: int) -> QuarterlyReview:
    return selectors.review_get(user=user, pk=pk)


def _priorities(review: QuarterlyReview) -> list[str]:
    present = {t.priority for t in review.agreement.targets.all()} | set(review.proposed_targets)
    return [p for p in Priority.values if p in present]


def _grid(review: QuarterlyReview) -> TargetGrid:
    """The reviewed version's targets and which tiers run 24×7 (once per request)."""
    if not hasattr(review, "_grid"):
        review._grid = TargetGrid.from_agreement(review.agreement)
    return review._grid


def _rebased(review: QuarterlyReview) -> dict:
    """For an open review: the version in force now, what signing would make of the
    targets (the review's own changes on top of that version) and the conflicts with a
    version approved while the review was open. Computed once per request."""
    if not hasattr(review, "_rebased"):
        targets, conflicts, active = (
            services.review_rebased(review) if review.is_open else (None, [], None)
        )
        newer = active is not None and active.pk != review.agreement_id
        review._rebased = {
            "active": active,
            "newer": active if newer else None,
            "targets": targets,
            "conflicts": conflicts,
            "conflict_text": services.conflict_words(conflicts, active=active) if conflicts else "",
        }
    return review._rebased


def _proposal(review: QuarterlyReview) -> dict:
    """The targets the grid shows: what signing would make active — the review's own
    changes over the version in force now, and its proposal where it conflicts."""
    rebased = _rebased(review)
    if rebased["targets"] is None:
        return review.proposed_targets or _grid(review).as_dict()
    shown = {p: dict(row) for p, row in rebased["targets"].items()}
    for c in rebased["conflicts"]:
        shown.setdefault(c["priority"], {})[c["metric"]] = c["proposed"]
    return shown


def _targets_form(review: QuarterlyReview, data=None) -> TargetsForm:
    return TargetsForm(data, priorities=_priorities(review), targets=_proposal(review))


def _section_rows(section: dict | None) -> dict[tuple[str, str], dict]:
    return {(r["priority"], r["metric"]): r for r in (section or {}).get("rows", [])}


def _pack_context(review: QuarterlyReview) -> dict:
    """The frozen pack arranged for the page: per metric a table and two charts' data,
    breach causes, exception windows."""
    pack = review.pack or {}
    if not pack.get("period"):
        return {"ready": False}
    now_rows = _section_rows(pack.get("period"))
    before_rows = _section_rows(pack.get("previous"))
    grid = _grid(review)
    priorities = _priorities(review)
    metrics, charts = [], []
    for metric in Metric:
        rows, chart = (
            [],
            {
                "key": metric.value,
                "label": metric.label,
                "priorities": [],
                "met_pct": [],
                "met_pct_previous": [],
                "p50": [],
                "p80": [],
                "p95": [],
                "target": [],
            },
        )
        for priority in priorities:
            row = now_rows.get((priority, metric.value), {})
            previous = before_rows.get((priority, metric.value), {})
            business = grid.business(priority)
            rows.append(
                {
                    "priority": priority,
                    "target": duration(row.get("target_seconds"), business=business)
                    if row.get("target_seconds") is not None
                    else "best effort",
                    "volume": row.get("volume", 0),
                    "met": row.get("met", 0),
                    "breached": row.get("breached", 0),
                    "met_pct": percent(row.get("met_pct")),
                    "met_pct_previous": percent(previous.get("met_pct")),
                    "p50": duration(row.get("p50"), business=business),
                    "p80": duration(row.get("p80"), business=business),
                    "p95": duration(row.get("p95"), business=business),
                    "paused": duration(row.get("paused_seconds_avg"), business=False),
                    "reopen_pct": percent(row.get("reopen_pct")),
                    "waiting": duration(row.get("waiting_seconds_avg"), business=False),
                }
            )
            chart["priorities"].append(priority)
            chart["met_pct"].append(row.get("met_pct"))
            chart["met_pct_previous"].append(previous.get("met_pct"))
            for p in ("p50", "p80", "p95"):
                chart[p].append(hours(row.get(p)))
            chart["target"].append(hours(row.get("target_seconds")))
        metrics.append({"key": metric.value, "label": metric.label, "rows": rows})
        charts.append(chart)
    causes_now = pack["period"].get("breach_causes") or {}
    causes_before = (pack.get("previous") or {}).get("breach_causes") or {}
    causes = [
        {
            "key": cause,
            "label": CAUSE_LABELS.get(cause, cause),
            "count": causes_now.get(cause, 0),
            "previous": causes_before.get(cause, 0),
        }
        for cause in CAUSE_ORDER
        if causes_now.get(cause) or causes_before.get(cause)
    ]
    return {
        "ready": True,
        "built_at": pack.get("built_at"),
        "period": pack["period"],
        "previous": pack.get("previous") or {},
        "previous_words": _section_words(pack.get("previous")),
        "metrics": metrics,
        "causes": causes,
        "windows": [_window(w) for w in pack["period"].get("exception_windows") or []],
        "chart_data": {
            "metrics": charts,
            "causes": {
                "labels": [c["label"] for c in causes],
                "now": [c["count"] for c in causes],
                "previous": [c["previous"] for c in causes],
            },
        },
    }


def _window(window: dict) -> dict:
    start, end = parse_datetime(window.get("start") or ""), parse_datetime(window.get("end") or "")
    scope = {"team": "all of the team's agreements", "agreement": "this agreement only"}
    return {
        **window,
        "start_at": start if start and end else None,
        "end_at": end if start and end else None,
        "scope_words": scope.get(window.get("scope"), window.get("scope", "")),
    }


def _section_words(section: dict | None) -> str:
    if not section or not section.get("start"):
        return ""
    return period_in_words(
        date.fromisoformat(str(section["start"])), date.fromisoformat(str(section["end"]))
    )


def _recommendations(review: QuarterlyReview) -> list[dict]:
    grid = _grid(review)
    # "Current" is the version in force now (an amendment may have been approved since
    # the review started); a completed review shows what it was compared with.
    active = _rebased(review)["active"]
    in_force = TargetGrid.from_agreement(active).as_dict() if active is not None else None
    rows = []
    for rec in review.recommendations or []:
        business = grid.business(rec["priority"])
        current, recommended = rec.get("current_seconds"), rec.get("recommended_seconds")
        if in_force is not None:
            current = (in_force.get(rec["priority"]) or {}).get(rec["metric"])
        rows.append(
            {
                **rec,
                "metric_label": Metric(rec["metric"]).label
                if rec["metric"] in Metric.values
                else rec["metric"],
                "current": duration(current, business=business) if current else "best effort",
                "recommended": duration(recommended, business=business)
                if recommended
                else "no change",
                "changed": bool(recommended) and recommended != current,
                "tighter": bool(recommended and current) and recommended < current,
            }
        )
    order = {p: i for i, p in enumerate(Priority.values)}
    metric_order = {m: i for i, m in enumerate(Metric.values)}
    rows.sort(key=lambda r: (order.get(r["priority"], 9), metric_order.get(r["metric"], 9)))
    return rows


def _what_if_context(review: QuarterlyReview, form: TargetsForm) -> dict:
    """Replay the proposed targets (the cells that parse) over the period's handoffs and
    put each beside what really happened."""
    if form.is_bound:
        form.is_valid()
        proposed = form.valid_targets()
    else:
        proposed = _proposal(review)
    replayable = {
        priority: {m: s for m, s in row.items()} for priority, row in proposed.items() if row
    }
    replayed = whatif.replay(
        series=review.series,
        period_start=review.period_start,
        period_end=review.period_end,
        targets=replayable,
        tz=review.agreement.calendar.time_zone,
    )
    by_cell = {(r["priority"], r["metric"]): r for r in replayed}
    real = _section_rows((review.pack or {}).get("period"))
    grid = _grid(review)
    errors = form.errors if form.is_bound else {}
    rows = []
    for priority in form.priorities:
        business = grid.business(priority)
        cells = []
        for metric in Metric:
            name = f"{priority}_{metric.value}"
            result = by_cell.get((priority, metric.value), {})
            actual = real.get((priority, metric.value), {})
            target = proposed.get(priority, {}).get(metric.value)
            cells.append(
                {
                    "name": name,
                    "metric": metric.value,
                    "error": " ".join(errors.get(name, [])),
                    "target": duration(target, business=business) if target else "best effort",
                    "volume": result.get("volume", 0),
                    "met": result.get("met", 0),
                    "met_pct": result.get("met_pct"),
                    "met_pct_text": percent(result.get("met_pct")),
                    "has_real": bool(actual),
                    "real_pct_text": percent(actual.get("met_pct")),
                    "real_target": duration(actual.get("target_seconds"), business=business)
                    if actual.get("target_seconds")
                    else "",
                }
            )
        rows.append({"priority": priority, "cells": cells})
    return {"what_if_rows": rows, "metrics": list(Metric)}


def _sides(review: QuarterlyReview) -> list[dict]:
    teams = [review.series.requesting_team, review.series.provider_team]
    leads: dict[int, list] = {}
    for m in Membership.objects.filter(team__in=teams, role=Role.LEAD).select_related("user"):
        leads.setdefault(m.team_id, []).append(m.user)
    signed = {s.team_id: s for s in review.sign_offs.all()}
    return [
        {"team": team, "sign_off": signed.get(team.pk), "leads": leads.get(team.pk, [])}
        for team in teams
    ]


def _with_toggles(items, user, *, manage: bool) -> list[ActionItem]:
    """The items with whether the viewer may tick each off (`services.can_set_done`'s
    rule, without a query per item): the owner, or whoever manages the parent's items."""
    items = list(items)
    for item in items:
        item.can_toggle = manage or item.owner_id == user.pk
    return items


def _teams_of(review: QuarterlyReview) -> list[Team]:
    return [review.series.provider_team, review.series.requesting_team]


def _grid_rows(form: TargetsForm, review: QuarterlyReview) -> list[dict]:
    """The proposed-targets grid with each cell's recommended value as typed text, for
    the "fill in the recommendations" button."""
    recommended = {
        (r["priority"], r["metric"]): r.get("recommended_seconds")
        for r in review.recommendations or []
    }
    rows = form.rows()
    for row in rows:
        for cell in row["cells"]:
            seconds = recommended.get((row["priority"], cell["metric"]))
            cell["recommended"] = duration_input(seconds) if seconds else ""
    return rows


def _detail_context(request, review: QuarterlyReview, **bound) -> dict:
    user = request.user
    can_edit = services.can_edit_review(user, review)
    editable = can_edit and review.status in EDITABLE
    sides_to_sign = services.sides_to_sign(user, review) if review.status in SIGNABLE else []
    targets_form = bound.get("targets_form") or _targets_form(review)
    context = {
        "review": review,
        "agreement": review.agreement,
        "period": period_in_words(review.period_start, review.period_end),
        "status_colour": STATUS_COLOURS.get(review.status, "text-bg-secondary"),
        "overdue": review.is_open and review.due_date < timezone.localdate(),
        "can_edit": can_edit,
        "editable": editable,
        "can_start": can_edit and review.status == ReviewStatus.SCHEDULED,
        "sides": _sides(review),
        "sides_to_sign": sides_to_sign,
        "pack": _pack_context(review),
        "rebased": _rebased(review),
        "period_over": services.review_period_over(
            review, now=timezone.now(), time_zone=review.agreement.calendar.time_zone
        ),
        "recommendations": _recommendations(review),
        "targets_form": targets_form,
        "grid_rows": _grid_rows(targets_form, review),
        "notes_form": bound.get("notes_form")
        or ReviewNotesForm(initial={"findings": review.findings, "decisions": review.decisions}),
        "sign_off_form": bound.get("sign_off_form") or SignOffForm(),
        "action_form": bound.get("action_form") or ActionItemForm(teams=_teams_of(review)),
        "action_items": _with_toggles(review.action_items.all(), user, manage=can_edit),
        "can_add_actions": can_edit,
        "today": timezone.localdate(),
    }
    context.update(_what_if_context(review, targets_form))
    return context


@require_GET
def review_detail(request, pk: int):
    review = _review_get(request.user, pk)
    return render(request, "reviews/review_detail.html", _detail_context(request, review))


def _may_edit_or_refuse(request, review: QuarterlyReview) -> None:
    """A 403 unless the user may edit the review."""
    if not services.can_edit_review(request.user, review):
        raise PermissionDenied("Only a lead of either team may edit this review.")


@require_POST
def review_start(request, pk: int):
    review = _review_get(request.user, pk)
    _may_edit_or_refuse(request, review)
    return post_action(
        request,
        act=lambda: services.review_start(review=review, actor=request.user, now=timezone.now()),
        done="Review started: the compliance pack and the recommendations are frozen.",
        back=review,
    )


def _detail_invalid(request, review: QuarterlyReview, name: str):
    """The review page re-rendered with the failed form `name` as typed (a 400)."""

    def render_with(form):
        context = _detail_context(request, review, **{name: form})
        return render(request, "reviews/review_detail.html", context, status=400)

    return render_with


@require_POST
def review_edit(request, pk: int):
    review = _review_get(request.user, pk)
    _may_edit_or_refuse(request, review)
    form = ReviewNotesForm(request.POST)
    return post_action(
        request,
        form=form,
        act=lambda: services.review_update(
            review=review,
            actor=request.user,
            findings=form.cleaned_data["findings"],
            decisions=form.cleaned_data["decisions"],
            now=timezone.now(),
        ),
        done="Findings and decisions saved.",
        back=review,
        then=f"{review.get_absolute_url()}#notes",
        invalid=_detail_invalid(request, review, "notes_form"),
    )


def _put_target_errors(form: TargetsForm, exc: ValidationError) -> None:
    form.add_service_errors(exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages})


@require_POST
def review_targets(request, pk: int):
    review = _review_get(request.user, pk)
    _may_edit_or_refuse(request, review)
    form = _targets_form(review, request.POST)
    return post_action(
        request,
        form=form,
        act=lambda: services.review_update(
            review=review,
            actor=request.user,
            proposed_targets=form.targets(),
            now=timezone.now(),
        ),
        done="Proposed targets saved.",
        back=review,
        then=f"{review.get_absolute_url()}#targets",
        invalid=_detail_invalid(request, review, "targets_form"),
        put=_put_target_errors,
    )


@require_POST
def review_what_if(request, pk: int):
    """The what-if partial: the typed targets replayed over the period. Reads only."""
    review = _review_get(request.user, pk)
    form = _targets_form(review, request.POST)
    return render(request, "reviews/_what_if.html", _what_if_context(review, form))


@require_POST
def review_sign_off(request, pk: int):
    review = _review_get(request.user, pk)
    form = SignOffForm(request.POST)
    sides: list[Team] = []

    def sign():
        sides.extend(services.sides_to_sign(request.user, review))
        return services.review_sign_off(
            review=review,
            actor=request.user,
            comment=form.cleaned_data["comment"],
            now=timezone.now(),
        )

    def signed(review: QuarterlyReview) -> str:
        names = " and ".join(str(t) for t in sides)
        text = f"Signed off for {names}." if names else "Signed off."
        if review.status == ReviewStatus.COMPLETED:
            text += " The review is complete."
            if review.resulting_agreement_id:
                text += (
                    f" Version {review.resulting_agreement.version} of the agreement is now "
                    "active with the agreed targets."
                )
        else:
            text += " Waiting for the other team's lead."
        return text

    return post_action(
        request,
        form=form,
        act=sign,
        done=signed,
        back=review,
        invalid=_detail_invalid(request, review, "sign_off_form"),
        # A refusal to sign (the grid no longer valid, say) is said above the page.
        errors_as_message=True,
    )


# --- action items ------------------------------------------------------------------------


def _action_added(item: ActionItem) -> str:
    return f"Action “{item.title}” added for {item.owner.display_name}."


@require_POST
def action_add(request, pk: int):
    review = _review_get(request.user, pk)
    if not services.can_manage_action_items(request.user, review=review):
        raise PermissionDenied("Only a lead of either team may add action items to the review.")
    form = ActionItemForm(request.POST, teams=_teams_of(review))
    return post_action(
        request,
        form=form,
        act=lambda: services.action_item_create(
            actor=request.user, review=review, now=timezone.now(), **form.cleaned_data
        ),
        done=_action_added,
        back=review,
        then=f"{review.get_absolute_url()}#actions",
        invalid=_detail_invalid(request, review, "action_form"),
    )


@require_POST
def action_done(request, pk: int):
    item = get_object_or_404(
        ActionItem.objects.visible_to(request.user).select_related("review", "breach_review"),
        pk=pk,
    )
    back = (
        item.review.get_absolute_url()
        if item.review_id
        else reverse("reviews:breach", args=[item.breach_review.clock_id])
    )
    form = ActionDoneForm(request.POST)
    done = form.is_valid() and form.cleaned_data["done"]
    # No form to re-render: a Conflict or a ValidationError is a message; PermissionDenied a 403.
    return post_action(
        request,
        act=lambda: services.action_item_set_done(
            item=item, actor=request.user, done=done, now=timezone.now()
        ),
        done=f"“{item.title}” {'done' if done else 'reopened'}.",
        back=_safe_next(request, f"{back}#actions"),
    )


# --- breach reviews ----------------------------------------------------------------------


@require_GET
def breach_list(request):
    user = request.user
    teams = _provider_teams(user)
    team = None
    if slug := request.GET.get("team"):
        team = get_object_or_404(teams, slug=slug)
    clocks = selectors.breaches_to_review(user=user, team=team).select_related(
        "handoff__provider_team", "handoff__requesting_team"
    )
    reviewed = (
        BreachReview.objects.visible_to(user)
        .filter(clock__handoff__provider_team__in=teams.values("pk"))
        .select_related("clock__handoff", "reviewed_by")
        .order_by("-created_at")
    )
    if team is not None:
        reviewed = reviewed.filter(clock__handoff__provider_team=team)
    return render(
        request,
        "reviews/breach_list.html",
        {
            "clocks": clocks,
            "reviewed": reviewed[:20],
            "team": team,
            "teams": teams.order_by("name"),
        },
    )


def _clock_get(user, clock_pk: int) -> Clock:
    """A breached clock of a handoff the user may see; anything else is a 404."""
    clock = get_object_or_404(
        Clock.objects.filter(
            handoff__in=Handoff.objects.visible_to(user).values("pk")
        ).select_related(
            "handoff__provider_team",
            "handoff__requesting_team",
            "handoff__agreement",
            "handoff__assignee",
        ),
        pk=clock_pk,
    )
    if clock.breached_at is None:
        raise Http404("This clock has not breached.")
    return clock


def _breach_review_of(clock: Clock) -> BreachReview | None:
    return BreachReview.objects.filter(clock=clock).select_related("reviewed_by").first()


def _consumed_now(clock: Clock) -> int:
    now = timezone.now()
    reader = ClockReader(now, windows_for([clock.handoff.provider_team_id], now))
    return reader.read(clock.handoff, clock).consumed


def _breach_page(request, clock: Clock, *, form=None, action_form=None, status=200):
    handoff = clock.handoff
    existing = _breach_review_of(clock)
    if form is None:
        initial = {}
        if existing is not None:
            initial = {
                "root_cause": existing.root_cause,
                "what_happened": existing.what_happened,
                "prevention": existing.prevention,
            }
        form = BreachReviewForm(initial=initial)
    teams = [handoff.provider_team, handoff.requesting_team]
    business = not clock.around_the_clock
    can_edit = services.can_review_breach(request.user, clock)
    items = []
    if existing is not None:
        items = _with_toggles(
            existing.action_items.select_related("owner"), request.user, manage=can_edit
        )
    context = {
        "clock": clock,
        "handoff": handoff,
        "target": duration(clock.target_seconds, business=business),
        # Read live, as the handoff page reads it (a running clock's stored figure is only
        # what it had consumed when it last changed).
        "consumed": duration(_consumed_now(clock), business=business),
        "existing": existing,
        "can_edit": can_edit,
        "form": form,
        "action_items": items,
        "action_form": action_form or ActionItemForm(teams=teams),
        "today": timezone.localdate(),
    }
    return render(request, "reviews/breach_review.html", context, status=status)


@require_http_methods(["GET", "POST"])
def breach_review(request, clock_pk: int):
    user = request.user
    clock = _clock_get(user, clock_pk)
    if request.method == "GET":
        return _breach_page(request, clock)
    if not services.can_review_breach(user, clock):
        raise PermissionDenied(
            f"Only members of {clock.handoff.provider_team} review its breaches."
        )
    form = BreachReviewForm(request.POST)
    return post_action(
        request,
        form=form,
        act=lambda: services.breach_review_save(
            clock=clock, actor=user, now=timezone.now(), **form.cleaned_data
        ),
        done=f"Breach review of #{clock.handoff_id} saved.",
        back=reverse("reviews:breach", kwargs={"clock_pk": clock.pk}),
        invalid=lambda form: _breach_page(request, clock, form=form, status=400),
        denied_as_message=True,
    )


@require_POST
def breach_action_add(request, clock_pk: int):
    user = request.user
    clock = _clock_get(user, clock_pk)
    existing = _breach_review_of(clock)
    if existing is None:
        messages.error(request, "Save the breach review first, then add its actions.")
        return redirect("reviews:breach", clock_pk=clock.pk)
    handoff = clock.handoff
    if not services.can_manage_action_items(user, breach_review=existing):
        raise PermissionDenied(f"Only members of {handoff.provider_team} add actions here.")
    form = ActionItemForm(request.POST, teams=[handoff.provider_team, handoff.requesting_team])
    return post_action(
        request,
        form=form,
        act=lambda: services.action_item_create(
            actor=user, breach_review=existing, now=timezone.now(), **form.cleaned_data
        ),
        done=_action_added,
        back=reverse("reviews:breach", kwargs={"clock_pk": clock.pk}),
        then=f"{reverse('reviews:breach', args=[clock.pk])}#actions",
        invalid=lambda form: _breach_page(request, clock, action_form=form, status=400),
        denied_as_message=True,
    )
