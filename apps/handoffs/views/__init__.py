"""Handoff pages: filing a handoff (filing.py), a handoff's page and its actions
(handoffs.py), and the team queues (queues.py)."""

from .filing import handoff_new
from .handoffs import ACTIONS, handoff_action, handoff_detail
from .queues import queue_inbound, queue_index, queue_outgoing

__all__ = [
    "ACTIONS",
    "handoff_action",
    "handoff_detail",
    "handoff_new",
    "queue_inbound",
    "queue_index",
    "queue_outgoing",
]
