"""Handoffs: the unit of work in a queue, its timeline (HandoffEvent) and its SLA clocks.

- services.py — one function per action (handoff_create, handoff_acknowledge, …,
  handoff_change_priority, handoff_comment), on the machinery of transitions.py;
- permissions.py — who may act: sides and the agreement's responsibilities;
- clockwork/ — the clock: arithmetic (pure), verdict (SQL), store, services
  (clock_warn, clock_breach, clock_escalate, transitions, recomputation), notices, sweep;
- compliance.py — compliance figures over clocks (reports, reviews, the dashboard);
- selectors.py, filters.py — the queues and the one FilterSet; views/ — filing, a
  handoff's page and actions, the queues; api.py — the REST API;
- reminders.py, tasks.py — waiting reminders, auto-close, digests, the sweep task."""
