"""`make run`: the embedded local run.

SQLite (WAL) and a real Celery worker + beat on kombu's filesystem transport, so nothing but
Python is needed. Set DATABASE_URL / REDIS_URL to run against PostgreSQL / Redis instead.
Migrates, seeds the demo tenants when the database is empty, prints the logins, then serves
http://127.0.0.1:8000 until Ctrl-C (which stops the worker too).
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csplatform.settings")


def manage(*args: str) -> None:
    subprocess.run([PYTHON, str(ROOT / "manage.py"), *args], check=True, cwd=ROOT)


def main() -> int:
    # A plain `kill` of this launcher must stop the worker too, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    (ROOT / "var").mkdir(exist_ok=True)
    manage("migrate", "--noinput", "-v", "0")
    manage("seed_demo", "--if-empty")
    manage("demo_logins")
    worker = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "csplatform",
            "worker",
            "--beat",
            "--loglevel",
            "WARNING",
            "--concurrency",
            "2",
        ],
        cwd=ROOT,
    )
    print(f"Background worker and beat started (pid {worker.pid}).", flush=True)
    print("Serving http://127.0.0.1:8000  (Ctrl-C to stop)", flush=True)
    server = subprocess.Popen([PYTHON, str(ROOT / "manage.py"), "runserver", "127.0.0.1:8000"], cwd=ROOT)
    try:
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for process in (server, worker):
            process.send_signal(signal.SIGTERM)
        for process in (server, worker):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    sys.exit(main())
