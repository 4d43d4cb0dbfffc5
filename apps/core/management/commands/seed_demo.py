"""`manage.py seed_demo`: idempotent demo data, built by each app's `demo.seed`.

Each app that has demo data provides `apps/<app>/demo.py` with
`seed(*, context: dict, stdout) -> None`; they run in INSTALLED_APPS order (so teams
exist before agreements, agreements before handoffs) and share `context`. Keeping the
seeding in the apps keeps dependencies one way: core knows no domain model.
"""

from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Create (or complete) the demo teams, people and data. Safe to run repeatedly."

    def handle(self, *args, **options):
        context: dict = {"logins": []}
        with transaction.atomic():
            for config in apps.get_app_configs():
                try:
                    module = import_module(f"{config.name}.demo")
                except ModuleNotFoundError as exc:
                    if exc.name != f"{config.name}.demo":
                        raise
                    continue
                module.seed(context=context, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data is in place. Sign in with:"))
        for username, password, description in context["logins"]:
            self.stdout.write(f"  {username:<10} {password:<12} {description}")
