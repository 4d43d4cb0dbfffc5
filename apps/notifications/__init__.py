"""Notifications: one row per recipient and channel (in-app, email, the team webhook) with a
unique dedup key, delivered after commit and retried (services.py: notify,
notification_deliver, the reaper); preferences per person; the inbox pages and API; the
Celery delivery tasks (tasks.py, enqueued by name through queue.py)."""
