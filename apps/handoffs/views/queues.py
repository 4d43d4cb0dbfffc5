"""The team queues (inbound and outgoing) and the queue index: presets of one FilterSet, soonest
due first, a row per handoff read with the one verdict."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.teams.models import Team

from .. import selectors
from ..filters import QUEUE_TABS
from ..models import OPEN_STATUSES, Handoff, Status

PER_PAGE = 50


# --- queues ------------------------------------------------------------------------------

INBOUND_TABS = {**QUEUE_TABS, "all": ("Everything", {})}
OUTGOING_TABS = {
    "open": QUEUE_TABS["open"],
    "waiting": ("Waiting on us", QUEUE_TABS["waiting"][1]),
    "resolved": ("Resolved, to confirm", {"status": [Status.RESOLVED]}),
    "at_risk": QUEUE_TABS["at_risk"],
    "breached": QUEUE_TABS["breached"],
    "all": ("Everything", {}),
}


def _team_of_user(request, slug: str) -> Team:
    """A team whose queues the user may open: their own (staff: any); else 404."""
    teams = Team.objects.all() if request.user.is_staff else Team.objects.of_member(request.user)
    return get_object_or_404(teams, slug=slug)


def _tab_filters(request, tabs: dict) -> tuple[str, dict]:
    """The chosen tab and the filters it stands for: the tab's preset over what the
    filter form sent."""
    tab = request.GET.get("tab", "")
    if tab not in tabs:
        tab = next(iter(tabs))
    data = request.GET.copy()
    for key in ("tab", "page"):
        data.pop(key, None)
    for key, value in tabs[tab][1].items():
        data.setlist(key, [str(v) for v in value] if isinstance(value, list) else [value])
    return tab, data


def _row_context(rows_of: list[Handoff], now) -> list[dict]:
    """Each handoff with its current clock reading, computed from prefetched rows: the
    business hours are built once per calendar, no query per row."""
    team_ids = {h.provider_team_id for h in rows_of}
    reader = selectors.ClockReader(now, selectors.windows_for(team_ids, now) if team_ids else [])
    return [{"handoff": h, "reading": reader.current(h)} for h in rows_of]


def _queue_page(request, slug: str, *, direction: str):
    team = _team_of_user(request, slug)
    inbound = direction == "inbound"
    tabs = INBOUND_TABS if inbound else OUTGOING_TABS
    tab, data = _tab_filters(request, tabs)
    select = selectors.queue if inbound else selectors.outgoing
    filterset = select(user=request.user, team=team, filters=data, request=request)
    form = filterset.form
    form.fields["priority"].widget = forms.CheckboxSelectMultiple(
        choices=form.fields["priority"].choices, attrs={"class": "form-check-input"}
    )
    page = Paginator(filterset.qs, PER_PAGE).get_page(request.GET.get("page"))
    now = timezone.now()
    return render(
        request,
        "handoffs/queue.html",
        {
            "team": team,
            "direction": direction,
            "inbound": inbound,
            "tabs": [(key, label) for key, (label, _) in tabs.items()],
            "tab": tab,
            "filter_form": form,
            "counterpart_field": "requesting_team" if inbound else "provider_team",
            "page_obj": page,
            "rows": _row_context(list(page), now),
            "show_actions": inbound,
            "next_url": request.get_full_path(),
            "now": now,
        },
    )


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
    handoff = get_object_or_404(Handoff.objects.visible_to(request.user).for_queue(), pk=pk)
    now = timezone.now()
    row = _row_context([handoff], now)[0]
    html = render_to_string(
        "handoffs/_queue_row.html",
        {
            **row,
            "show_actions": True,
            "inbound": True,
            "next_url": request.POST.get("next", ""),
            "notice": notice,
            "error": error,
        },
        request=request,
    )
    return HttpResponse(html)
