"""The team queues (inbound and outgoing) and the queue index: presets of one FilterSet, soonest
due first, a row per handoff read with the one verdict. A page is three queries of its own
(`selectors.pages`): the team with every team's name, the rows' columns with their current
clocks and a capped count, the calendars' hours; its rows' markup is built in Python
(`rows.RowMarkup`). The outgoing queue is the requesting team's side: "My requests" narrows
it to what I filed, my team's, what waits on us and what I am to confirm."""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from apps.accounts.models import User
from apps.agreements.models import Priority
from apps.teams.models import Team

from .. import selectors
from ..filters import QUEUE_TABS, REQUEST_VIEWS, HandoffFilter
from ..models import OPEN_STATUSES, Handoff, Status
from ..selectors import pages
from .rows import RowMarkup

PER_PAGE = 50


# --- queues ------------------------------------------------------------------------------

INBOUND_TABS = {**QUEUE_TABS, "all": ("Everything", {})}
OUTGOING_TABS = {
    "open": QUEUE_TABS["open"],
    # Its filters are one of REQUEST_VIEWS, chosen by `?show=` (mine unless said).
    "requests": ("My requests", {}),
    "waiting": ("Waiting on us", QUEUE_TABS["waiting"][1]),
    "resolved": ("Resolved, to confirm", {"status": [Status.RESOLVED]}),
    "at_risk": QUEUE_TABS["at_risk"],
    "breached": QUEUE_TABS["breached"],
    "all": ("Everything", {}),
}


def _tab_filters(request, tabs: dict) -> tuple[str, str, dict]:
    """The chosen tab (and, on "My requests", the chosen view) and the filters they stand
    for: the presets over what the filter form sent."""
    tab = request.GET.get("tab", "")
    if tab not in tabs:
        tab = next(iter(tabs))
    show = ""
    data = request.GET.copy()
    for key in ("tab", "page", "show"):
        data.pop(key, None)
    presets = dict(tabs[tab][1])
    if tab == "requests":
        show = request.GET.get("show", "")
        if show not in REQUEST_VIEWS:
            show = next(iter(REQUEST_VIEWS))
        presets.update(REQUEST_VIEWS[show][1])
    for key, value in presets.items():
        data.setlist(key, [str(v) for v in value] if isinstance(value, list) else [value])
    return tab, show, data


# What a queue page's address may carry besides filters: with nothing else, the page is
# its tab's presets alone, and its rows query is compiled once per process (`_presets`).
PAGE_KEYS = frozenset({"tab", "page", "show"})


def _queue_page(request, slug: str, *, direction: str):
    team, teams = pages.queue_team(request.user, slug)
    if team is None:
        raise Http404("No such team.")
    inbound = direction == "inbound"
    tabs = INBOUND_TABS if inbound else OUTGOING_TABS
    tab, show, data = _tab_filters(request, tabs)
    select = selectors.queue if inbound else selectors.outgoing
    counterpart = "requesting_team" if inbound else "provider_team"
    now = timezone.now()
    if PAGE_KEYS.issuperset(request.GET):
        source, errors = _presets(select, f"{direction}:{tab}:{show}", data, request, team, now), {}
    else:
        filterset = select(user=request.user, team=team, filters=data, request=request, now=now)
        source, errors = pages.QueueQuery.of(filterset.qs), filterset.form.errors
    page, rows = pages.queue_page(
        source,
        request.GET.get("page"),
        per_page=PER_PAGE,
        now=now,
        inbound=inbound,
        team_names={pk: name for pk, _, name in teams},
    )
    markup = RowMarkup.for_request(
        request, inbound=inbound, show_actions=inbound, next_url=request.get_full_path()
    )
    # Escaped part by part in RowMarkup.markup.
    rows_html = mark_safe("".join(markup.markup(row) for row in rows))  # noqa: S308
    return render(
        request,
        "handoffs/queue.html",
        {
            "team": team,
            "direction": direction,
            "inbound": inbound,
            "tabs": [(key, label) for key, (label, _) in tabs.items()],
            "tab": tab,
            "request_views": [(key, label) for key, (label, _) in REQUEST_VIEWS.items()],
            "show": show,
            "filter": _filter_fields(data, errors, counterpart, teams),
            "counterpart_field": counterpart,
            "page_obj": page,
            "rows": rows,
            "rows_html": rows_html,
            "show_actions": inbound,
            "now": now,
        },
    )


def _presets(select, preset: str, data, request, team, now) -> pages.QueueQuery:
    """A tab's presets alone, as the same FilterSet filters them, for any reader, team and
    moment of the same kind: built with the reader's and the team's ids (and, for the tabs
    that read the clocks' verdict, the moment) as arguments, so that its SQL is compiled
    once per tab and kind of reader (staff see every team's handoffs)."""
    staff = request.user.is_staff
    timed = "at_risk" in data or "breached" in data

    def build(user_id: int, team_id: int, *moment):
        reader = User(pk=user_id, is_staff=staff)
        filterset = select(
            user=reader,
            team=Team(pk=team_id),
            filters=data,
            request=SimpleNamespace(user=reader),
            now=moment[0] if moment else None,
        )
        return filterset.qs

    args = (request.user.pk, team.pk, now) if timed else (request.user.pk, team.pk)
    return pages.QueueQuery(build, args, name=f"{preset}:{'staff' if staff else 'member'}")


@cache
def _label(name: str) -> str:
    """The filter form's label of one of its fields (its fields are the same on every
    request)."""
    return HandoffFilter(queryset=Handoff.objects.none()).form.fields[name].label


def _filter_fields(data, errors, counterpart: str, teams: list[tuple[int, str, str]]) -> dict:
    """What the filter form shows, for plain markup (no widget templates, no crispy): the
    search text, the other side's teams with the chosen one, the priorities ticked."""
    ticked = set(data.getlist("priority")) if hasattr(data, "getlist") else set()
    return {
        "q": data.get("q", ""),
        "team_label": _label(counterpart),
        "teams": [(team_slug, name) for _, team_slug, name in teams],
        "team": data.get(counterpart, ""),
        "team_errors": errors.get(counterpart, []),
        "priorities": [(value, value in ticked) for value in Priority.values],
    }


@require_GET
def queue_inbound(request, slug: str):
    return _queue_page(request, slug, direction="inbound")


@require_GET
def queue_outgoing(request, slug: str):
    return _queue_page(request, slug, direction="outgoing")


def _open_count(field: str, **filters) -> Coalesce:
    handoffs = (
        Handoff.objects.filter(**{field: OuterRef("pk")}, status__in=OPEN_STATUSES, **filters)
        .order_by()
        .values(field)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(handoffs, output_field=IntegerField()), 0)


@require_GET
def queue_index(request):
    teams = Team.objects.of_member(request.user)
    others = Team.objects.none()
    if request.user.is_staff:
        others = Team.objects.exclude(pk__in=teams.values("pk"))
    counts = {
        "inbound_open": _open_count("provider_team"),
        "inbound_unassigned": _open_count("provider_team", assignee__isnull=True),
        "outgoing_open": _open_count("requesting_team"),
    }
    return render(
        request,
        "handoffs/queue_index.html",
        {
            "teams": teams.annotate(**counts).order_by("name"),
            "other_teams": others.annotate(**counts).order_by("name"),
        },
    )


def row_response(request, pk: int, *, notice: str = "", error: str = "") -> HttpResponse:
    """The queue row of one handoff, re-read after an htmx action (always 200: htmx swaps
    only successful responses, and a refusal belongs in the row)."""
    handoffs = Handoff.objects.visible_to(request.user).filter(pk=pk)
    rows = pages.queue_rows(handoffs, now=timezone.now(), inbound=True)
    if not rows:
        raise Http404("No such handoff.")
    markup = RowMarkup.for_request(
        request, inbound=True, show_actions=True, next_url=request.POST.get("next", "")
    )
    return HttpResponse(markup.render(rows[0], notice=notice, error=error))
