from django.apps import AppConfig


class HandoffsConfig(AppConfig):
    name = "apps.handoffs"
    label = "handoffs"

    def ready(self) -> None:
        # Recompute clock deadlines when windows or calendars change (receivers.py).
        from . import receivers  # noqa: F401
