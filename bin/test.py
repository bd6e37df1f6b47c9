"""`make test`: lint, migration check and the whole suite on PostgreSQL and Redis.

DATABASE_URL and REDIS_URL default to the local services; when one is unreachable the run
stops before anything else, with a message naming it and how to start it.
"""

import os
import subprocess
import sys
from pathlib import Path

import environ

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/csplatform")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
sys.path.insert(0, str(ROOT))

from tests.required_services import required_services_problem  # noqa: E402  (needs ROOT on the path)

# The migration check needs no database, and the suite's database is test_<name>: Django's
# warning that <name> itself does not exist would only be noise.
QUIET_MIGRATION_HISTORY = "ignore:Got an error checking a consistent migration history:RuntimeWarning"


def step(title: str, *command: str, env: dict | None = None) -> None:
    print(f"==> {title}", flush=True)
    result = subprocess.run(command, cwd=ROOT, env=env)
    if result.returncode != 0:
        print(f"FAILED: {title}", file=sys.stderr)
        sys.exit(result.returncode)


def main() -> None:
    print("==> PostgreSQL and Redis are reachable", flush=True)
    problem = required_services_problem(environ.Env.db_url_config(os.environ["DATABASE_URL"]), os.environ["REDIS_URL"])
    if problem:
        print(problem, file=sys.stderr)
        print("FAILED: PostgreSQL and Redis are reachable", file=sys.stderr)
        sys.exit(2)
    step("ruff check", str(BIN / "ruff"), "check", ".")
    step("ruff format --check", str(BIN / "ruff"), "format", "--check", ".")
    step(
        "migrations are up to date",
        sys.executable,
        "-W",
        QUIET_MIGRATION_HISTORY,
        "manage.py",
        "makemigrations",
        "--check",
        "--dry-run",
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    workers = os.environ.get("PYTEST_WORKERS", "2")
    step("pytest", sys.executable, "-m", "pytest", "-n", workers, "--dist", "loadfile", *sys.argv[1:])


if __name__ == "__main__":
    main()
