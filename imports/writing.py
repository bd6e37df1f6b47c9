"""Writing a validated plan in a few set-based statements, inside the caller's transaction:
new rows get a block of ids and go in with COPY (batched INSERTs on SQLite); changed rows go
into a temporary table with COPY and are applied with one ``UPDATE … FROM`` (batched
``UPDATE``s on SQLite, the slower but equally correct path of the embedded default).
Every statement is pinned to the tenant: an id of another tenant's row updates nothing."""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from csplatform import bulk
from csplatform.models import Tenant

from .validation import Plan

UPDATE_TABLE = "import_update"


def _timestamps(model) -> list[str]:
    """``auto_now`` / ``auto_now_add`` fields: set by us, since no ``save()`` runs."""
    return [
        f.attname
        for f in model._meta.concrete_fields
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]


def plan_write(*, tenant: Tenant, plan: Plan) -> tuple[list[int], list[int], int]:
    """Insert the plan's new rows and update its matched ones; returns (created ids, matched
    ids, how many of the matched rows changed). A matched row whose values are all the same
    is not rewritten (PostgreSQL), so importing a file again costs little. Call inside
    ``transaction.atomic``."""
    model = plan.model
    now = timezone.now()
    stamps = _timestamps(model)
    new_rows = [values for _, pk, values in plan.rows if pk is None]
    matched = [(pk, values) for _, pk, values in plan.rows if pk is not None]

    created_ids: list[int] = []
    if new_rows:
        first = bulk.ids_reserve(model, len(new_rows))
        created_ids = list(range(first, first + len(new_rows)))
        defaults = tuple(plan.insert_defaults.values())
        columns = ["id", "tenant_id", *plan.fields, *plan.insert_defaults, *stamps]
        rows = [
            (pk, tenant.pk, *values, *defaults, *([now] * len(stamps)))
            for pk, values in zip(created_ids, new_rows, strict=True)
        ]
        if connection.vendor == "postgresql":
            bulk.rows_copy(model, columns, rows)
        else:
            bulk.rows_insert(model, columns, rows)

    changed = 0
    if matched:
        auto_now = [f.attname for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]
        if connection.vendor == "postgresql":
            changed = _update_from_copy(model, tenant, plan.fields, auto_now, now, matched)
        else:
            fields = [*plan.fields, *auto_now]
            changed = _update_batched(model, tenant, fields, [(pk, *v, *([now] * len(auto_now))) for pk, v in matched])
    return created_ids, [pk for pk, _ in matched], changed


def _update_from_copy(model, tenant: Tenant, fields: list[str], auto_now: list[str], now, rows) -> int:
    from psycopg import sql

    model_fields = [model._meta.get_field(name) for name in fields]
    columns = [(f.column, "bigint" if f.is_relation else f.db_type(connection)) for f in model_fields]
    names = [sql.Identifier(name) for name, _ in columns]
    temp = sql.Identifier(UPDATE_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(temp))
        cursor.execute(
            sql.SQL("CREATE TEMPORARY TABLE {} (id bigint PRIMARY KEY, {}) ON COMMIT DROP").format(
                temp,
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(name, sql.SQL(kind)) for name, (_, kind) in zip(names, columns, strict=True)
                ),
            )
        )
        with cursor.copy(sql.SQL("COPY {} (id, {}) FROM STDIN").format(temp, sql.SQL(", ").join(names))) as copy:
            for pk, values in rows:
                copy.write_row((pk, *values))
        sets = [sql.SQL("{0} = u.{0}").format(name) for name in names]
        sets += [sql.SQL("{} = %s").format(sql.Identifier(model._meta.get_field(f).column)) for f in auto_now]
        cursor.execute(
            sql.SQL(
                "UPDATE {table} AS t SET {sets} FROM {temp} AS u "
                "WHERE t.id = u.id AND t.tenant_id = %s AND ({old}) IS DISTINCT FROM ({new})"
            ).format(
                table=sql.Identifier(model._meta.db_table),
                temp=temp,
                sets=sql.SQL(", ").join(sets),
                old=sql.SQL(", ").join(sql.SQL("t.{}").format(name) for name in names),
                new=sql.SQL(", ").join(sql.SQL("u.{}").format(name) for name in names),
            ),
            [now] * len(auto_now) + [tenant.pk],
        )
        changed = cursor.rowcount
        cursor.execute(sql.SQL("DROP TABLE {}").format(temp))
    return changed


def _update_batched(model, tenant: Tenant, fields: list[str], rows: list[tuple], batch: int = 1_000) -> int:
    model_fields = [model._meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    statement = (
        f"UPDATE {quote(model._meta.db_table)} SET {', '.join(f'{quote(f.column)} = %s' for f in model_fields)} "  # noqa: S608
        f"WHERE id = %s AND tenant_id = %s"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            cursor.executemany(
                statement,
                [
                    [
                        *(
                            f.get_db_prep_save(value, connection)
                            for f, value in zip(model_fields, row[1:], strict=True)
                        ),
                        row[0],
                        tenant.pk,
                    ]
                    for row in rows[start : start + batch]
                ],
            )
    return len(rows)
