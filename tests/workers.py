"""Real Celery workers for the tests that are about tasks: ``celery -A csplatform worker`` in a
subprocess, on the suite's test database, yielding its log lines as they come; and a second
thread with its own connection for the tests about locks (``waits_for_commit``)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]


def current_database_url() -> str:
    """The URL of the database this test process uses (the test database, not the configured one)."""
    from django.db import connection

    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def celery_worker(**env_overrides: str) -> Iterator[list[str]]:
    """Start a solo-pool worker with the production settings module, the test database and
    ``env_overrides``; wait until it is ready; stop it on exit."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "csplatform.settings",
        "DATABASE_URL": current_database_url(),
        "CONN_MAX_AGE": "0",
        "CACHE_KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
        "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        **env_overrides,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "csplatform", "worker", "--pool=solo", "-l", "INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    ready = threading.Event()
    log: list[str] = []

    def read():
        for line in process.stderr:
            log.append(line)
            if " ready." in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(60), "the worker did not start:\n" + "".join(log)
        yield log
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(condition, timeout: float) -> float:
    """Poll ``condition`` until it holds; the seconds it took. Fails after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def waits_for_commit(hold, act) -> tuple[bool, bool]:
    """Run ``act`` in another thread (its own database connection) once this thread's
    transaction has run ``hold``, and commit after a second. Returns (``act`` was still
    waiting after that second, ``act`` finished after the commit): a lock held by ``hold``'s
    transaction is proved by (True, True)."""
    from django.db import connection, transaction

    holding, done = threading.Event(), threading.Event()

    def run() -> None:
        try:
            holding.wait(10)
            act()
            done.set()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    with transaction.atomic():
        hold()
        holding.set()
        waited = not done.wait(1)
    thread.join(10)
    return waited, done.is_set()
