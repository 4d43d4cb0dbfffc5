"""Notifications: one row per recipient and channel (in-app, email, the team webhook) with a
unique dedup key (services.py: notify, reading, preferences), delivered after commit and
retried (delivery.py: claim, deliver, the periodic sender; mail.py and webhooks.py send), the inbox
pages and API, and the Celery delivery tasks (tasks.py, enqueued by name through queue.py)."""
