from django.db import migrations

import apps.handoffs.models.clocks

# Buckets per bin (clockwork.rollups.BIN when this was written; spelled out so that the
# migration means the same whatever the code becomes).
BIN = 30


def fill_bins(apps, schema_editor):
    """Bin the histograms the rows already hold (the services keep the bins from now on)."""
    connection = schema_editor.connection
    ClockRollup = apps.get_model("handoffs", "ClockRollup")
    if connection.vendor == "postgresql":
        table = ClockRollup._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS r SET (bins, bin_counts) = ("  # noqa: S608 (names only)
                "SELECT COALESCE(array_agg(bin ORDER BY bin), '{}'), "
                "COALESCE(array_agg(n ORDER BY bin), '{}') FROM ("
                f"SELECT b / {BIN} AS bin, SUM(n)::int AS n FROM unnest(r.buckets, r.counts) "
                "AS u (b, n) GROUP BY 1 HAVING SUM(n) <> 0) AS binned)"
            )
        return
    for row in ClockRollup.objects.using(connection.alias).exclude(buckets=[]).iterator():
        binned: dict[int, int] = {}
        for b, n in zip(row.buckets, row.counts, strict=True):
            binned[b // BIN] = binned.get(b // BIN, 0) + n
        kept = sorted((b, n) for b, n in binned.items() if n)
        ClockRollup.objects.using(connection.alias).filter(pk=row.pk).update(
            bins=[b for b, _ in kept], bin_counts=[n for _, n in kept]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("handoffs", "0008_dashboard_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="clockrollup",
            name="bins",
            field=apps.handoffs.models.clocks.IntegerListField(default=list),
        ),
        migrations.AddField(
            model_name="clockrollup",
            name="bin_counts",
            field=apps.handoffs.models.clocks.IntegerListField(default=list),
        ),
        migrations.RunPython(fill_bins, migrations.RunPython.noop),
    ]
