"""A handoff's page and its actions: the detail page with the actions the viewer may take,
and one small POST view per action (the `ACTIONS` table) that validates a tiny form and calls
exactly one service. From the queue, acknowledge and claim are htmx requests answered with
the re-rendered row; without htmx they redirect back with a message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.models import User
from apps.core.http import safe_next
from apps.core.views import post_action

from .. import actions, permissions, selectors, services, watchers
from ..forms import (
    ActionForm,
    AssignForm,
    CloseForm,
    CommentForm,
    NoInputForm,
    PlanForm,
    PriorityForm,
    QuestionForm,
    ReasonForm,
    ReplyForm,
    ResolutionForm,
)
from ..models import Handoff, HandoffEvent
from .queues import row_response

# --- the detail page ---------------------------------------------------------------------


def _people(events, *, known=(), ids=()) -> dict[int, User]:
    """The users the page names by id: whom the timeline mentions (assignees before and
    after, who an escalation reached) and `ids` (the filer, the watchers). Most are already
    in hand (the events' actors, the `known`: assignee, viewer); the others in one query."""
    people = {user.pk: user for user in known if user is not None}
    loaded = [e for e in events if HandoffEvent.actor.is_cached(e)]  # select_related
    people.update((e.actor_id, e.actor) for e in loaded if e.actor is not None)
    ids = {*ids, *(e.actor_id for e in events if e.actor_id is not None)}
    for event in events:
        for side in (event.before or {}, event.after or {}):
            for key, value in side.items():
                if key == "assignee" and isinstance(value, int):
                    ids.add(value)
                elif key == "to" and isinstance(value, list):
                    ids.update(v for v in value if isinstance(v, int))
    missing = ids - people.keys()
    if missing:
        people.update((user.pk, user) for user in User.objects.filter(pk__in=missing))
    for event in events:  # the timeline names each event's actor
        if event.actor_id is not None and not HandoffEvent.actor.is_cached(event):
            event.actor = people[event.actor_id]
    return people


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


def _action_url(page: str, action: str) -> str:
    """`/handoffs/<id>/<slug>/` (apps.handoffs.actions) from the handoff's own address: one
    URL reversal a page instead of one per action."""
    return f"{page}{ACTIONS[action].slug}/"


def _detail_context(request, handoff: Handoff, *, failed: ActionForm | None = None) -> dict:
    with permissions.one_lookup():  # one membership query for every question below
        return _read_detail(request, handoff, failed=failed)


def _read_detail(request, handoff: Handoff, *, failed: ActionForm | None) -> dict:
    user = request.user
    if hasattr(handoff, "viewer_provider_role"):  # read with the handoff (handoff_get)
        permissions.remember_roles(
            user, handoff, handoff.viewer_provider_role, handoff.viewer_requesting_role
        )
    now = timezone.now()
    # Whether there are any was read with the handoff (`selectors.handoff_get`).
    windows = (
        selectors.windows_for([handoff.provider_team_id], now)
        if getattr(handoff, "has_windows", True)
        else []
    )
    reader = selectors.ClockReader(now, windows)
    events = getattr(handoff, "page_events", None)  # read with the handoff (handoff_get)
    if events is None:
        events = list(selectors.timeline(handoff=handoff))
    watcher_ids = getattr(handoff, "watcher_ids", None)  # read with the handoff (handoff_get)
    assignable = getattr(handoff, "assignable", None)
    known = [user, handoff.assignee, getattr(handoff, "filer", None), *(assignable or [])]
    filer = [handoff.created_by_id]
    if watcher_ids is None:
        watching = watchers.handoff_watchers(handoff=handoff)
        people = _people(events, known=[*known, *watching], ids=filer)
    else:
        people = _people(events, known=known, ids=[*filer, *watcher_ids])
        watching = [people[pk] for pk in watcher_ids]
    handoff.created_by = people[handoff.created_by_id]
    page = handoff.get_absolute_url()
    actions = services.available_actions(user, handoff)
    action_forms = {
        name: ACTIONS[name].form(handoff=handoff, user=user, action=name)
        for name in actions
        if name in ACTIONS and name != "assign"
    }
    if "assign" in actions:  # the provider team's members were read with the handoff
        action_forms["assign"] = AssignForm(
            handoff=handoff, user=user, action="assign", people=assignable
        )
    open_action = ""
    if failed is not None:
        open_action = failed.action
        action_forms[failed.action] = failed
        if isinstance(failed, AssignForm):
            failed.show(assignable)
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
                "url": _action_url(page, name),
                "title": title,
                "button": button,
                "form": action_forms[name],
            }
            for name, title, button in PANELS
            if name in action_forms
        ],
        "action_urls": {name: _action_url(page, name) for name in action_forms},
        "readings": [reader.read(handoff, clock) for clock in handoff.clocks.all()],
        "events": events,
        "people": people,
        "triage": triage,
        "actions": actions,
        "action_forms": action_forms,
        "open_action": open_action,
        "queue_team": queue_team,
        "queue_url": reverse(queue_name, kwargs={"slug": queue_team.slug}),
        "provider_side": provider_side,
        "watchers": watching,
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


def _page(name: str, form: type[ActionForm], done: Callable[[Handoff, dict], str]) -> Action:
    """The page's side of an action of the table (apps.handoffs.actions)."""
    spec = actions.ACTIONS[name]
    return Action(spec.slug, form, spec.service, spec.permission, done)


def _assigned(handoff: Handoff, kwargs: dict) -> str:
    who = kwargs["assignee"]
    return f"#{handoff.pk} assigned to {who.display_name}." if who else f"#{handoff.pk} unassigned."


ACTIONS: dict[str, Action] = {
    "acknowledge": _page(
        "acknowledge",
        NoInputForm,
        lambda h, kw: f"#{h.pk} acknowledged: the acknowledge clock has stopped.",
    ),
    "start": _page("start", NoInputForm, lambda h, kw: f"#{h.pk} is in progress."),
    "action_plan": _page(
        "action_plan",
        PlanForm,
        lambda h, kw: f"Action plan posted on #{h.pk}: its clock has stopped.",
    ),
    "wait": _page(
        "wait",
        QuestionForm,
        lambda h, kw: f"#{h.pk} is waiting on {h.requesting_team}; the pausable clocks paused.",
    ),
    "resume": _page(
        "resume",
        ReplyForm,
        lambda h, kw: f"#{h.pk} is back in progress; the paused clocks run again.",
    ),
    "resolve": _page(
        "resolve",
        ResolutionForm,
        lambda h, kw: f"#{h.pk} resolved; {h.requesting_team} confirms and closes it.",
    ),
    "close": _page("close", CloseForm, lambda h, kw: f"#{h.pk} closed."),
    "reopen": _page(
        "reopen",
        ReasonForm,
        lambda h, kw: f"#{h.pk} reopened; the resolve clock runs again from where it stopped.",
    ),
    "cancel": _page("cancel", ReasonForm, lambda h, kw: f"#{h.pk} cancelled."),
    "assign": _page("assign", AssignForm, _assigned),
    "claim": _page("claim", NoInputForm, lambda h, kw: f"You took #{h.pk}."),
    "priority": _page(
        "priority",
        PriorityForm,
        lambda h, kw: (
            f"#{h.pk} is now {kw['priority']}: the clocks keep the time used and take the "
            "new targets."
        ),
    ),
    "comment": _page("comment", CommentForm, lambda h, kw: f"Comment added to #{h.pk}."),
}


@require_POST
def handoff_action(request, pk: int, action: str):
    spec = ACTIONS[action]
    handoff = selectors.handoff_get(user=request.user, pk=pk)
    # Who may act is checked before the state or the input: a requester trying a provider
    # action is told 403 whatever they typed and whatever the status.
    if not services.may(request.user, handoff, spec.permission):
        raise PermissionDenied("Your team may not do that on this handoff.")
    form = spec.form(request.POST, handoff=handoff, user=request.user, action=action)

    def failed(form) -> HttpResponse:
        # Re-read: the page shows the handoff as it is, the failed form as it was typed.
        fresh = selectors.handoff_get(user=request.user, pk=pk)
        context = _detail_context(request, fresh, failed=form)
        return render(request, "handoffs/handoff_detail.html", context, status=400)

    return post_action(
        request,
        form=form,
        act=lambda: spec.service(handoff=handoff, actor=request.user, **form.service_kwargs()),
        done=lambda _: spec.done(handoff, form.service_kwargs()),
        back=safe_next(request, handoff.get_absolute_url()),
        invalid=failed,
        # From the queue (htmx): the re-rendered row, with what happened or why not.
        partial=lambda **said: row_response(request, pk, **said),
    )


# --- watching ------------------------------------------------------------------------------


@require_POST
def handoff_watch(request, pk: int):
    handoff = selectors.handoff_get(user=request.user, pk=pk)
    return post_action(
        request,
        act=lambda: watchers.handoff_watch(handoff=handoff, actor=request.user),
        done=f"You are watching #{handoff.pk}: you will hear of its changes.",
        back=safe_next(request, handoff.get_absolute_url()),
    )


@require_POST
def handoff_unwatch(request, pk: int):
    handoff = selectors.handoff_get(user=request.user, pk=pk)
    return post_action(
        request,
        act=lambda: watchers.handoff_unwatch(handoff=handoff, actor=request.user),
        done=f"You stopped watching #{handoff.pk}.",
        back=safe_next(request, handoff.get_absolute_url()),
    )
