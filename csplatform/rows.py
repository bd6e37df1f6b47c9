"""Model instances from plain rows: for reads done in one SQL statement (the account page's
cards) whose templates still call model methods (``get_*_display``, ``days_to_renewal``)."""

from __future__ import annotations

from django.db import connection


def instance_from_values(model, **values):
    """A ``model`` instance holding ``values`` by attribute name, its other fields deferred, as
    a queryset's ``.only()`` would have loaded it (``from_db`` wants them in field order)."""
    names = [field.attname for field in model._meta.concrete_fields if field.attname in values]
    return model.from_db(connection.alias, names, [values[name] for name in names])
