"""Write many rows fast, for seeds and imports: reserve a block of ids, then send plain tuples
with COPY on PostgreSQL or batched INSERTs elsewhere (15-30 times faster than one ``save()`` a
row). No signals, no ``save()``, no validation: the caller hands over finished rows, tenant id
included, inside its own transaction.

Not ``bulk_create``: it overwrites ``auto_now_add`` fields with "now", and a seed or an import
needs to keep the dates it was given.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models


def ids_reserve(model: type[models.Model], count: int) -> int:
    """The first of ``count`` consecutive ids for rows the caller is about to write, so child
    rows can name their parents before anything is sent. On PostgreSQL the identity sequence
    jumps past the block; elsewhere it is the id after the largest used. Meant for a writer that
    runs alone on the table (a seed, an import): an insert by someone else between the two
    steps could take an id of the block."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if count == 0:
                return 0
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), nextval(pg_get_serial_sequence(%s, 'id')) + %s - 1)",
                [table, table, count],
            )
            return cursor.fetchone()[0] - count + 1
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        largest = cursor.fetchone()[0]
        if connection.vendor == "sqlite":  # AUTOINCREMENT never reuses the id of a deleted row
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            largest = max(largest, row[0] if row else 0)
        return largest + 1


def _completed(model: type[models.Model], columns: Sequence[str]) -> tuple[list[models.Field], tuple]:
    """The fields of ``columns`` plus any the model has gained since this module was written,
    which are filled with their defaults: a new field with a default needs no change here."""
    fields = [model._meta.get_field(name) for name in columns]
    given = {f.attname for f in fields}
    extra = [f for f in model._meta.concrete_fields if f.attname not in given and not f.primary_key]
    return fields + extra, tuple(f.get_default() for f in extra)


def rows_copy(model: type[models.Model], columns: Sequence[str], rows: list[tuple]) -> None:
    """Stream ``rows`` (tuples in the order of ``columns``, attnames) with COPY. PostgreSQL only."""
    from psycopg import sql

    fields, tail = _completed(model, columns)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(model._meta.db_table), sql.SQL(", ").join(sql.Identifier(f.column) for f in fields)
    )
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row + tail if tail else row)


def rows_insert(model: type[models.Model], columns: Sequence[str], rows: list[tuple], batch: int = 1_000) -> None:
    """Batched INSERTs with each value prepared by its field, as ``bulk_create`` does."""
    fields, tail = _completed(model, columns)
    quote = connection.ops.quote_name
    statement = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            cursor.executemany(
                statement,
                [
                    [f.get_db_prep_save(value, connection) for f, value in zip(fields, row + tail, strict=True)]
                    for row in rows[start : start + batch]
                ],
            )
