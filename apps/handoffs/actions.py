"""The actions people take on a handoff, once for the page and the API: for each, the
service it calls, the permission key of `permissions.may`, the URL segment (the page's
`/handoffs/<id>/<slug>/` and the API's `/api/handoffs/<id>/<slug>/`) and what it does, in
a line. The page adds its form and its message (views/handoffs.py), the API its input
serializer (api.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import services


@dataclass(frozen=True)
class ActionSpec:
    slug: str
    service: Callable
    permission: str
    summary: str


ACTIONS: dict[str, ActionSpec] = {
    "acknowledge": ActionSpec(
        "acknowledge",
        services.handoff_acknowledge,
        "acknowledge",
        "Acknowledge a new handoff (provider team)",
    ),
    "start": ActionSpec("start", services.handoff_start, "start", "Start work (provider team)"),
    "action_plan": ActionSpec(
        "action-plan",
        services.handoff_post_action_plan,
        "action_plan",
        "Post the action plan (provider team)",
    ),
    "wait": ActionSpec(
        "wait",
        services.handoff_wait_on_requester,
        "wait",
        "Ask the requester something; pausable clocks pause",
    ),
    "resume": ActionSpec(
        "resume",
        services.handoff_resume,
        "resume",
        "Reply to a question (or resume); paused clocks run",
    ),
    "resolve": ActionSpec(
        "resolve",
        services.handoff_resolve,
        "resolve",
        "Resolve with a resolution note (provider team)",
    ),
    "close": ActionSpec("close", services.handoff_close, "close", "Confirm a resolution and close"),
    "reopen": ActionSpec(
        "reopen",
        services.handoff_reopen,
        "reopen",
        "Reopen a resolved handoff (requesting team)",
    ),
    "cancel": ActionSpec("cancel", services.handoff_cancel, "cancel", "Withdraw an open handoff"),
    "assign": ActionSpec(
        "assign",
        services.handoff_assign,
        "assign",
        "Assign, unassign or claim (provider team)",
    ),
    "claim": ActionSpec(
        "claim", services.handoff_claim, "assign", "Take an unassigned handoff (provider team)"
    ),
    "priority": ActionSpec(
        "priority",
        services.handoff_change_priority,
        "priority",
        "Change the priority, with a reason",
    ),
    "comment": ActionSpec(
        "comment",
        services.handoff_comment,
        "comment",
        "Add a comment to the timeline (returns the event)",
    ),
}
