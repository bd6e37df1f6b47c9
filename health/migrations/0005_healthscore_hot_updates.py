from django.db import migrations

HEALTHSCORE_FILLFACTOR = 60  # percent of each page filled by inserts; the rest is room for HOT updates


def fillfactor_set(apps, schema_editor, percent=HEALTHSCORE_FILLFACTOR):
    """PostgreSQL only (SQLite has no fillfactor). Pages already full get room as VACUUM frees
    the versions a recompute replaced; no rewrite of the table is needed here."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE health_healthscore SET (fillfactor = {int(percent)})")


def fillfactor_reset(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE health_healthscore RESET (fillfactor)")


class Migration(migrations.Migration):
    """A full recompute rewrites every current score: let those updates be HOT (see the comment
    on ``HealthScore``)."""

    dependencies = [
        ("health", "0004_signal_external_ids"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="healthscore", name="healthscore_tenant_score"),
        migrations.RunPython(fillfactor_set, fillfactor_reset),
    ]
