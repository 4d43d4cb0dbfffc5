"""Handoff pages: filing a handoff, its detail page with the actions the viewer may take,
and the team queues (inbound and outgoing).

Every state change is a small POST view that validates a tiny form and calls exactly one
service (the `ACTIONS` table). From the queue, acknowledge and claim are htmx requests:
they answer with the re-rendered row, and without htmx they redirect back with a message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.models import User
from apps.agreements.models import Agreement
from apps.core import limits
from apps.core.exceptions import Conflict
from apps.teams.models import Team

from . import selectors, services
from .filters import QUEUE_TABS
from .forms import (
    ActionForm,
    AssignForm,
    CloseForm,
    CommentForm,
    HandoffForm,
    NoInputForm,
    PlanForm,
    PriorityForm,
    QuestionForm,
    ReasonForm,
    ReplyForm,
    ResolutionForm,
    triage_form,
)
from .models import OPEN_STATUSES, Handoff, Status

PER_PAGE = 50

# --- filing a handoff --------------------------------------------------------------------


def _agreement_for_filing(user, agreement_id: str = "", series_id: str = "") -> Agreement:
    """The agreement version to file under: visible to the user and one their team hands
    work over through (403 otherwise). A filing link names the series (`?series=`) and
    files under its active version; an older `?agreement=` link of a version since
    superseded does the same, so saved links survive amendments."""
    pk = limits.parse_id(series_id or agreement_id)  # "²" passes isdigit() and fails int()
    if pk is None:
        raise Http404("No such agreement.")
    versions = (
        Agreement.objects.visible_to(user)
        .select_related("series__provider_team", "series__requesting_team")
        .prefetch_related("targets", "triage_fields")
    )
    if series_id:
        agreement = versions.filter(series_id=pk).active().first()
        if agreement is None:
            # A series without an active version (retired, or still a draft): say which.
            agreement = versions.filter(series_id=pk).order_by("-version").first()
        if agreement is None:
            raise Http404("No such agreement.")
    else:
        agreement = get_object_or_404(versions, pk=pk)
        if agreement.status == "superseded":
            agreement = versions.filter(series_id=agreement.series_id).active().first() or agreement
    requesting = agreement.series.requesting_team
    if not (user.is_staff or Team.objects.of_member(user).filter(pk=requesting.pk).exists()):
        raise PermissionDenied(f"Only members of {requesting} file handoffs under this agreement.")
    return agreement


def _agreements_to_file_under(user):
    agreements = Agreement.objects.visible_to(user).active()
    if not user.is_staff:
        agreements = agreements.filter(
            series__requesting_team__in=Team.objects.of_member(user).values("pk")
        )
    return agreements.select_related("series__provider_team", "series__requesting_team").order_by(
        "series__provider_team__name", "title"
    )


def _put_create_errors(exc: ValidationError, form: forms.Form, triage: forms.Form) -> None:
    """Service errors onto the field they concern: `triage.<key>` on the triage form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for key, errors in exc.message_dict.items():
        part, _, name = key.partition(".")
        if part == "triage":
            triage.add_error(name if name in triage.fields else None, errors)
        elif key in form.fields:
            form.add_error(key, errors)
        else:
            form.add_error(None, errors)


@require_http_methods(["GET", "POST"])
def handoff_new(request):
    agreement_id = request.GET.get("agreement", "")
    series_id = request.GET.get("series", "")
    if not (agreement_id or series_id):
        return render(
            request,
            "handoffs/handoff_choose.html",
            {"agreements": _agreements_to_file_under(request.user)},
        )
    agreement = _agreement_for_filing(request.user, agreement_id, series_id)
    if request.method == "GET" and agreement.status != "active":
        # On POST the service says so on the form, keeping what was typed.
        messages.error(
            request,
            f"Version {agreement.version} of “{agreement.title}” is "
            f"{agreement.get_status_display().lower()}: file under an active agreement.",
        )
        return redirect("handoffs:new")
    if request.method == "POST":
        form = HandoffForm(request.POST, agreement=agreement)
        triage = triage_form(agreement, request.POST)
        valid = [form.is_valid(), triage.is_valid()]
        if all(valid):
            data = form.cleaned_data
            try:
                handoff = services.handoff_create(
                    actor=request.user,
                    agreement=agreement,
                    title=data["title"],
                    priority=data["priority"],
                    triage=triage.cleaned_data,
                    description=data["description"],
                    customer_segment=data["customer_segment"],
                    impacted_customers=data["impacted_customers"],
                )
            except ValidationError as exc:
                _put_create_errors(exc, form, triage)
            else:
                messages.success(request, _filed_message(handoff, agreement))
                return redirect(handoff)
    else:
        form = HandoffForm(agreement=agreement)
        triage = triage_form(agreement)
    return render(
        request,
        "handoffs/handoff_form.html",
        {"agreement": agreement, "form": form, "triage_form": triage},
    )


def _filed_message(handoff: Handoff, agreement: Agreement) -> str:
    text = f"Handoff #{handoff.pk} filed with {agreement.series.provider_team}."
    if handoff.due_at:
        due = timezone.localtime(handoff.due_at)
        text += f" The first target falls due {date_format(due, 'D j M, H:i T')}."
    return text


# --- the detail page ---------------------------------------------------------------------


def _people(events) -> dict[int, User]:
    """Users the timeline mentions by id (assignees before and after, who an escalation
    reached), in one query."""
    ids = set()
    for event in events:
        for side in (event.before or {}, event.after or {}):
            for key, value in side.items():
                if key == "assignee" and isinstance(value, int):
                    ids.add(value)
                elif key == "to" and isinstance(value, list):
                    ids.update(v for v in value if isinstance(v, int))
    return {user.pk: user for user in User.objects.filter(pk__in=ids)} if ids else {}


# The actions with a text to type, in the order they appear on the detail page:
# (action, what the panel is called, its button).
PANELS = [
    ("action_plan", "Post the action plan", "Post plan"),
    ("wait", "Ask the requester", "Ask and pause the clocks"),
    ("resume", "Reply and resume", "Send and resume"),
    ("resolve", "Resolve", "Resolve"),
    ("close", "Confirm and close", "Close"),
    ("reopen", "Reopen", "Reopen"),
    ("priority", "Change priority", "Change priority"),
    ("cancel", "Cancel the handoff", "Cancel handoff"),
]


def _action_url(handoff: Handoff, action: str) -> str:
    return reverse(f"handoffs:{ACTIONS[action].slug}", kwargs={"pk": handoff.pk})


def _detail_context(request, handoff: Handoff, *, failed: ActionForm | None = None) -> dict:
    user = request.user
    now = timezone.now()
    reader = selectors.ClockReader(now, selectors.windows_for([handoff.provider_team_id], now))
    events = list(selectors.timeline(handoff=handoff))
    actions = services.available_actions(user, handoff)
    action_forms = {
        name: ACTIONS[name].form(handoff=handoff, user=user, action=name)
        for name in actions
        if name in ACTIONS
    }
    open_action = ""
    if failed is not None:
        open_action = failed.action
        action_forms[failed.action] = failed
    fields = list(handoff.agreement.triage_fields.all())
    known = {f.key for f in fields}
    triage = [(f.label, handoff.triage.get(f.key)) for f in fields]
    triage += [(key, value) for key, value in handoff.triage.items() if key not in known]
    provider_side = services.is_provider(user, handoff)
    queue_team = handoff.provider_team if provider_side else handoff.requesting_team
    queue_name = "queues:inbound" if provider_side else "queues:outgoing"
    return {
        "handoff": handoff,
        "panels": [
            {
                "name": name,
                "url": _action_url(handoff, name),
                "title": title,
                "button": button,
                "form": action_forms[name],
            }
            for name, title, button in PANELS
            if name in action_forms
        ],
        "action_urls": {name: _action_url(handoff, name) for name in action_forms},
        "readings": [reader.read(handoff, clock) for clock in handoff.clocks.all()],
        "events": events,
        "people": _people(events),
        "triage": triage,
        "actions": actions,
        "action_forms": action_forms,
        "open_action": open_action,
        "queue_team": queue_team,
        "queue_url": reverse(queue_name, kwargs={"slug": queue_team.slug}),
        "provider_side": provider_side,
        "now": now,
    }


@require_GET
def handoff_detail(request, pk: int):
    handoff = selectors.handoff_get(user=request.user, pk=pk)
    return render(request, "handoffs/handoff_detail.html", _detail_context(request, handoff))


# --- actions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One POST view's worth: the form it validates, the one service it calls, the
    permission key of `services.may`, and the message it leaves on success."""

    slug: str
    form: type[ActionForm]
    service: Callable
    permission: str
    done: Callable[[Handoff, dict], str]


def _assigned(handoff: Handoff, kwargs: dict) -> str:
    who = kwargs["assignee"]
    return f"#{handoff.pk} assigned to {who.display_name}." if who else f"#{handoff.pk} unassigned."


ACTIONS: dict[str, Action] = {
    "acknowledge": Action(
        "acknowledge",
        NoInputForm,
        services.handoff_acknowledge,
        "acknowledge",
        lambda h, kw: f"#{h.pk} acknowledged: the acknowledge clock has stopped.",
    ),
    "start": Action(
        "start",
        NoInputForm,
        services.handoff_start,
        "start",
        lambda h, kw: f"#{h.pk} is in progress.",
    ),
    "action_plan": Action(
        "action-plan",
        PlanForm,
        services.handoff_post_action_plan,
        "action_plan",
        lambda h, kw: f"Action plan posted on #{h.pk}: its clock has stopped.",
    ),
    "wait": Action(
        "wait",
        QuestionForm,
        services.handoff_wait_on_requester,
        "wait",
        lambda h, kw: f"#{h.pk} is waiting on {h.requesting_team}; the pausable clocks paused.",
    ),
    "resume": Action(
        "resume",
        ReplyForm,
        services.handoff_resume,
        "resume",
        lambda h, kw: f"#{h.pk} is back in progress; the paused clocks run again.",
    ),
    "resolve": Action(
        "resolve",
        ResolutionForm,
        services.handoff_resolve,
        "resolve",
        lambda h, kw: f"#{h.pk} resolved; {h.requesting_team} confirms and closes it.",
    ),
    "close": Action(
        "close",
        CloseForm,
        services.handoff_close,
        "close",
        lambda h, kw: f"#{h.pk} closed.",
    ),
    "reopen": Action(
        "reopen",
        ReasonForm,
        services.handoff_reopen,
        "reopen",
        lambda h, kw: f"#{h.pk} reopened; the resolve clock runs again from where it stopped.",
    ),
    "cancel": Action(
        "cancel",
        ReasonForm,
        services.handoff_cancel,
        "cancel",
        lambda h, kw: f"#{h.pk} cancelled.",
    ),
    "assign": Action("assign", AssignForm, services.handoff_assign, "assign", _assigned),
    "claim": Action(
        "claim",
        NoInputForm,
        services.handoff_claim,
        "assign",
        lambda h, kw: f"You took #{h.pk}.",
    ),
    "priority": Action(
        "priority",
        PriorityForm,
        services.handoff_change_priority,
        "priority",
        lambda h, kw: (
            f"#{h.pk} is now {kw['priority']}: the clocks keep the time used and take the "
            "new targets."
        ),
    ),
    "comment": Action(
        "comment",
        CommentForm,
        services.handoff_comment,
        "comment",
        lambda h, kw: f"Comment added to #{h.pk}.",
    ),
}


def _next_url(request, handoff: Handoff) -> str:
    target = request.POST.get("next") or ""
    # Only a path: redirect() takes a word without "/" or "." for a URL pattern's name,
    # so `next=x` would be a NoReverseMatch (a 500).
    if (
        target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return handoff.get_absolute_url()


def _put_action_errors(form: ActionForm, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for key, errors in exc.message_dict.items():
        form.add_error(key if key in form.fields else None, errors)


@require_POST
def handoff_action(request, pk: int, action: str):
    spec = ACTIONS[action]
    handoff = selectors.handoff_get(user=request.user, pk=pk)
    # Who may act is checked before the state or the input: a requester trying a provider
    # action is told 403 whatever they typed and whatever the status.
    if not services.may(request.user, handoff, spec.permission):
        raise PermissionDenied("Your team may not do that on this handoff.")
    form = spec.form(request.POST, handoff=handoff, user=request.user, action=action)
    if form.is_valid():
        kwargs = form.service_kwargs()
        try:
            spec.service(handoff=handoff, actor=request.user, **kwargs)
        except ValidationError as exc:
            _put_action_errors(form, exc)
        except Conflict as exc:
            # Someone else got there first (or the status moved on): say who, keep the page.
            if request.htmx:
                return _row_response(request, pk, error=exc.message)
            messages.error(request, exc.message)
            return redirect(_next_url(request, handoff))
        else:
            done = spec.done(handoff, kwargs)
            if request.htmx:
                return _row_response(request, pk, notice=done)
            messages.success(request, done)
            return redirect(_next_url(request, handoff))
    if request.htmx:
        return _row_response(request, pk, error=" ".join(_all_errors(form)))
    # Re-read: the page shows the handoff as it is, the failed form as it was typed.
    handoff = selectors.handoff_get(user=request.user, pk=pk)
    context = _detail_context(request, handoff, failed=form)
    return render(request, "handoffs/handoff_detail.html", context, status=400)


def _all_errors(form: forms.Form) -> list[str]:
    return [message for errors in form.errors.values() for message in errors]


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


def _row_response(request, pk: int, *, notice: str = "", error: str = "") -> HttpResponse:
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
