"""`manage.py seed_demo`: idempotent demo data, built by each app's `demo.seed`.

Each app that has demo data provides `apps/<app>/demo.py` with
`seed(*, context: dict, stdout) -> None`; they run in INSTALLED_APPS order (so teams
exist before agreements, agreements before handoffs) and share `context`. Keeping the
seeding in the apps keeps dependencies one way: core knows no domain model.

The demo's history is a story told in order: an agreement version approved in spring
governs the handoffs filed that summer, a review signed in the autumn creates the version
that governs the winter's. So besides what it creates at once, a `seed` may add dated
events to `context["timeline"]` as `(moment, action)`; once every app has planned its part,
the events run in the order of their moments (ties in the order they were added), each
against the world as it was then. Last, each app's optional `finish(*, context, stdout)`
adds what comes after the history (the current review, the open work) and reports.
"""

from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Create (or complete) the demo teams, people and data. Safe to run repeatedly."

    def handle(self, *args, **options):
        context: dict = {"logins": [], "timeline": []}
        modules = []
        for config in apps.get_app_configs():
            try:
                modules.append(import_module(f"{config.name}.demo"))
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.demo":
                    raise
        with transaction.atomic():
            for module in modules:
                module.seed(context=context, stdout=self.stdout)
            for _moment, action in sorted(context["timeline"], key=lambda event: event[0]):
                action()
            for module in modules:
                if hasattr(module, "finish"):
                    module.finish(context=context, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data is in place. Sign in with:"))
        for username, password, description in context["logins"]:
            self.stdout.write(f"  {username:<10} {password:<12} {description}")
