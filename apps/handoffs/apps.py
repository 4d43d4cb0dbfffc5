from django.apps import AppConfig


class HandoffsConfig(AppConfig):
    name = "apps.handoffs"
    label = "handoffs"

    def ready(self) -> None:
        # Connect the receivers that recompute clock deadlines when windows or calendars
        # change: Django's way, once the app registry is ready (models import at module
        # level in receivers.py).
        from . import receivers  # noqa: F401
