# The dashboard's partial indexes (issue 14, item 4): its queries read open handoffs and
# the clocks the verdict can flag, never every finished clock in history.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("handoffs", "0007_clock_rollup"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="handoff",
            index=models.Index(
                condition=models.Q(
                    ("status__in", ("new", "acknowledged", "in_progress", "waiting_on_requester"))
                ),
                fields=["assignee", "due_at", "created_at"],
                name="handoff_open_assignee_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="clock",
            index=models.Index(
                condition=models.Q(("status__in", ["met", "cancelled"]), _negated=True),
                fields=["handoff", "status", "breached_at", "breach_at", "warning_at"],
                name="clock_verdict_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="clock",
            index=models.Index(
                condition=models.Q(
                    ("status", "breached"),
                    models.Q(("breached_at__isnull", False), ("status__in", ["running", "paused"])),
                    _connector="OR",
                ),
                fields=["provider_team", "id"],
                name="clock_breach_recorded_idx",
            ),
        ),
    ]
