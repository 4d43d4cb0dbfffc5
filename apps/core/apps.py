from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from olaportal.celery import ensure_filesystem_broker_folders

        # Web processes publish tasks too: the filesystem broker's folders must exist.
        ensure_filesystem_broker_folders()
