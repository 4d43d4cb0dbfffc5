"""The Celery application: configuration comes from Django settings (CELERY_* names)."""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "olaportal.settings")

app = Celery("olaportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def ensure_filesystem_broker_folders() -> None:
    """The zero-setup filesystem transport needs its folders before anyone publishes."""
    if not str(app.conf.broker_url).startswith("filesystem://"):
        return
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


# Every process that publishes or consumes (web, worker, beat, management commands) loads
# the configuration first: the folders exist before anyone uses the broker.
@app.on_after_configure.connect
def _prepare_broker(sender, **kwargs):
    ensure_filesystem_broker_folders()
