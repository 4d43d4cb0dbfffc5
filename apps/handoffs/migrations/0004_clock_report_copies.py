"""Clocks carry copies of the handoff fields compliance reports read (teams, series,
priority, segment, reopen count, time waiting on the requester), so that a report reads
the clock table alone. Existing clocks are filled from their handoffs."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

COPIED = {
    "provider_team_id": "provider_team_id",
    "requesting_team_id": "requesting_team_id",
    "series_id": "agreement__series_id",
    "priority": "priority",
    "customer_segment": "customer_segment",
    "handoff_reopen_count": "reopen_count",
    "handoff_waiting_seconds": "waiting_seconds",
}


def fill_copies(apps, schema_editor):
    Clock = apps.get_model("handoffs", "Clock")
    Handoff = apps.get_model("handoffs", "Handoff")
    if schema_editor.connection.vendor == "postgresql":
        # One pass over both tables instead of a subquery per clock and column.
        schema_editor.execute(
            """
            UPDATE handoffs_clock AS c
            SET provider_team_id = h.provider_team_id,
                requesting_team_id = h.requesting_team_id,
                series_id = a.series_id,
                priority = h.priority,
                customer_segment = h.customer_segment,
                handoff_reopen_count = h.reopen_count,
                handoff_waiting_seconds = h.waiting_seconds
            FROM handoffs_handoff AS h
            JOIN agreements_agreement AS a ON a.id = h.agreement_id
            WHERE h.id = c.handoff_id
            """
        )
        return
    handoff = Handoff.objects.filter(pk=OuterRef("handoff_id"))
    Clock.objects.update(
        **{field: Subquery(handoff.values(source)[:1]) for field, source in COPIED.items()}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("agreements", "0001_initial"),
        ("handoffs", "0003_handoff_waiting_seconds"),
        ("teams", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="clock",
            name="customer_segment",
            field=models.CharField(
                blank=True,
                choices=[
                    ("enterprise", "Enterprise"),
                    ("business", "Business"),
                    ("self_serve", "Self-serve"),
                    ("internal", "Internal"),
                ],
                db_default="",
                default="",
                max_length=12,
            ),
        ),
        migrations.AddField(
            model_name="clock",
            name="handoff_reopen_count",
            field=models.PositiveSmallIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name="clock",
            name="handoff_waiting_seconds",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name="clock",
            name="priority",
            field=models.CharField(
                blank=True,
                choices=[
                    ("P1", "P1 critical"),
                    ("P2", "P2 high"),
                    ("P3", "P3 normal"),
                    ("P4", "P4 low"),
                ],
                db_default="",
                default="",
                max_length=2,
            ),
        ),
        migrations.AddField(
            model_name="clock",
            name="provider_team",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="teams.team",
            ),
        ),
        migrations.AddField(
            model_name="clock",
            name="requesting_team",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="teams.team",
            ),
        ),
        migrations.AddField(
            model_name="clock",
            name="series",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="agreements.agreementseries",
            ),
        ),
        migrations.RunPython(fill_copies, migrations.RunPython.noop, elidable=True),
    ]
