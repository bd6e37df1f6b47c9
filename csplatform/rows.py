"""Plain-statement reads: for the reads done in one SQL statement (the account page's cards,
the navigation badge) because Django took longer to build and convert them than the database
took to answer. Tables come from ``Model._meta.db_table`` and values go as named parameters;
the statements stay portable (PostgreSQL and the embedded SQLite)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection


def fetch_rows(sql: str, params: dict) -> list[tuple]:
    """Every row of ``sql`` run with ``params``."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fetch_row(sql: str, params: dict) -> tuple | None:
    """The first row of ``sql`` run with ``params`` (None without one)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def in_list(name: str, values: Iterable) -> tuple[str, dict]:
    """``%(name0)s, %(name1)s, …`` for an ``IN (…)`` and its parameters: one named parameter a
    value, as both databases take them."""
    params = {f"{name}{position}": value for position, value in enumerate(values)}
    return ", ".join(f"%({key})s" for key in params), params


def instance_from_values(model, **values):
    """A ``model`` instance holding ``values`` by attribute name, its other fields deferred, as
    a queryset's ``.only()`` would have loaded it (``from_db`` wants them in field order)."""
    names = [field.attname for field in model._meta.concrete_fields if field.attname in values]
    return model.from_db(connection.alias, names, [values[name] for name in names])
