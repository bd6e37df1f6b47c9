from django.apps import AppConfig
from django.db.backends.signals import connection_created


class _BitOr:
    """SQLite has no BIT_OR aggregate; PostgreSQL's is built in."""

    def __init__(self) -> None:
        self.value = 0

    def step(self, value: int | None) -> None:
        if value is not None:
            self.value |= value

    def finalize(self) -> int:
        return self.value


def _register_sqlite_functions(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("BIT_OR", 1, _BitOr)


class HealthConfig(AppConfig):
    name = "health"

    def ready(self) -> None:
        connection_created.connect(_register_sqlite_functions, dispatch_uid="health_sqlite_functions")
