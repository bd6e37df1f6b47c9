"""The real services the test suite needs, and the one message that says which are down.

Checked twice with the same function: by ``bin/test.py`` before the lint and migration steps,
so ``make test`` stops at once, and by ``tests/conftest.py`` when pytest is run directly.
It imports nothing from Django, so the test command can call it before Django is set up.
"""

from __future__ import annotations

import socket
from urllib.parse import urlparse

START_POSTGRESQL = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'


def _connect_error(host: str, port: int) -> str | None:
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def required_services_problem(database: dict, redis_url: str) -> str | None:
    """What is wrong with the services the suite needs, as a message for a person, or None.

    ``database`` is a Django database dict (``settings.DATABASES["default"]`` or
    ``environ.Env.db_url_config(DATABASE_URL)``); ``redis_url`` is ``REDIS_URL``. Every
    problem is named, with the command that starts the service.
    """
    problems = []
    if "postgresql" not in database.get("ENGINE", ""):
        problems.append(
            f"The test suite runs on PostgreSQL, but DATABASE_URL selects {database.get('ENGINE')}.\n"
            "  Set DATABASE_URL=postgres://USER@HOST:PORT/NAME (make test defaults to the local server)."
        )
    else:
        host, port = database.get("HOST") or "127.0.0.1", int(database.get("PORT") or 5432)
        error = _connect_error(host, port)
        if error:
            problems.append(
                f"PostgreSQL is unreachable at {host}:{port} ({error}), from DATABASE_URL. Start it with:\n"
                f"  {START_POSTGRESQL}\n"
                "  or point DATABASE_URL at a running server."
            )
    if not redis_url:
        problems.append("The test suite needs Redis: set REDIS_URL=redis://HOST:PORT/0.")
    else:
        parsed = urlparse(redis_url)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
        error = _connect_error(host, port)
        if error:
            problems.append(
                f"Redis is unreachable at {host}:{port} ({error}), from REDIS_URL. Start it with:\n"
                f"  {START_REDIS}\n"
                "  or point REDIS_URL at a running server."
            )
    if not problems:
        return None
    return "The tests did not run.\n\n" + "\n\n".join(problems)
