"""Trigram indexes for the portfolio search (name or domain contains the text) on PostgreSQL.

Django writes ``icontains`` as ``UPPER(col::text) LIKE UPPER(%s)``, so the indexes are on that
expression. SQLite (the embedded default) has no such index type and skips this migration's SQL.
"""

from django.db import migrations

INDEXES = {
    "account_name_trgm": "name",
    "account_domain_trgm": "domain",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for index, column in INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {index} ON accounts_account USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for index in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {index}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_contactevent")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
