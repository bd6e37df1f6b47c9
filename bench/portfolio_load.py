"""Load benchmark of the portfolio and account pages (issue: Foundation, target p95 <= 100 ms
at 4 concurrent clients).

Usage (PostgreSQL; seeds the 100,000-account demo tenant when the database is empty):

    createdb -h 127.0.0.1 -U postgres csplatform_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csplatform_bench .venv/bin/python bench/portfolio_load.py

It uses the local Redis (``REDIS_URL``, default redis://127.0.0.1:6379/0, keys prefixed
``bench-portfolio-<database>``) as the shared cache, as a deployment does: sessions, the
signed-in identity and the member picker's version live there. It serves the app with gunicorn
on 127.0.0.1:8765 and drives each page with Debian's `hey` (apt-get install hey) on loopback.
Both share this machine's two cores, so the figures include the load generator's own CPU use.
Query counts are measured in-process with the same pages.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from importlib import import_module
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csplatform.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/csplatform_bench")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
# As deployed: Redis as the shared cache (sessions, the signed-in identity, the member picker's
# version). Without it the pages fall back to the database for each of those.
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("CACHE_KEY_PREFIX", f"bench-portfolio-{os.environ['DATABASE_URL'].rsplit('/', 1)[-1]}")
PORT = int(os.environ.get("BENCH_PORT", "8765"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "2000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
# gunicorn.conf.py decides by default (2 x cores + 1 sync workers); BENCH_GUNICORN_WORKERS overrides.
WORKERS = os.environ.get("BENCH_GUNICORN_WORKERS", "")


def manage(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, cwd=ROOT)


def prepare() -> None:
    manage("migrate", "--noinput", "-v", "0")
    manage("seed_demo", "--if-empty", "--accounts", os.environ.get("BENCH_ACCOUNTS", "100000"))
    manage("collectstatic", "--noinput", "-v", "0")


def pick_pages() -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Session cookies for a CSM with the largest book and for a leader, and the pages."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.db.models import Count
    from django_scopes import scopes_disabled

    from accounts.models import Account, Segment
    from csplatform.models import Membership, Role

    with scopes_disabled():
        biggest = (
            Account.objects.exclude(owner=None)
            .values("tenant_id", "owner_id")
            .annotate(n=Count("id"))
            .order_by("-n")
            .first()
        )
        tenant_id, csm_id = biggest["tenant_id"], biggest["owner_id"]
        leader = Membership.objects.filter(tenant_id=tenant_id, role=Role.LEADER).select_related("user").first().user
        csm = Membership.objects.get(tenant_id=tenant_id, user_id=csm_id).user
        segment = Segment.objects.filter(tenant_id=tenant_id, touch_model="low").first()
        busy_account = (
            Account.objects.filter(tenant_id=tenant_id)
            .annotate(n=Count("activities"))
            .order_by("-n")
            .values_list("id", flat=True)
            .first()
        )
        total = Account.objects.filter(tenant_id=tenant_id).count()

    def session_for(user) -> str:
        store = import_module(settings.SESSION_ENGINE).SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store["active_tenant_id"] = tenant_id
        store.create()
        return store.session_key

    cookies = {"csm": session_for(csm), "leader": session_for(leader)}
    pages = [
        (f"My book (CSM; tenant of {total} accounts)", "csm", "/accounts/mine/"),
        ("All accounts, low-touch filter, by ARR", "leader", f"/accounts/?segment={segment.pk}&sort=-arr"),
        ("All accounts, search + renewal window", "leader", "/accounts/?q=tech&window=0-3"),
        ("All accounts, page 40", "leader", "/accounts/?page=40"),
        ("Account 360 (busiest account)", "csm", f"/accounts/{busy_account}/"),
    ]
    return cookies, pages


def query_counts(cookies: dict[str, str], pages) -> dict[str, int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for label, who, url in pages:
        client = Client()
        client.cookies["sessionid"] = cookies[who]
        client.get(url)  # warm, as the served pages are: the member picker is cached per process
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        counts[label] = len(ctx.captured_queries)
    return counts


def hey(url: str, cookie: str, requests: int = REQUESTS) -> tuple[float, float, float]:
    out = subprocess.run(
        ["hey", "-n", str(requests), "-c", str(CONCURRENCY), "-H", f"Cookie: sessionid={cookie}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    p50 = float(re.search(r"50%+ in ([\d.]+) secs", out).group(1)) * 1000
    p95 = float(re.search(r"95%+ in ([\d.]+) secs", out).group(1)) * 1000
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    statuses = re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)
    if any(code != "200" for code, _ in statuses):
        raise SystemExit(f"non-200 responses for {url}: {statuses}")
    return p50, p95, rps


def main() -> None:
    if not shutil.which("hey"):
        raise SystemExit("hey is not installed: apt-get install hey")
    prepare()
    cookies, pages = pick_pages()
    counts = query_counts(cookies, pages)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "csplatform.wsgi",
            "-b",
            f"127.0.0.1:{PORT}",
            *(["-w", WORKERS] if WORKERS else []),
            "--access-logfile",
            "/dev/null",
            "--error-logfile",
            "-",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/signin/", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        workers = WORKERS or "gunicorn.conf.py's"
        load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
        print(f"\n{REQUESTS} requests per page, {CONCURRENCY} concurrent clients, gunicorn {workers} sync workers")
        print(f"load average before: {' '.join(load)} (other work on the same cores inflates the figures)")
        print(f"{'page':50} {'queries':>7} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>7}")
        for label, who, url in pages:
            hey(f"http://127.0.0.1:{PORT}{url}", cookies[who], requests=200)  # warm-up (connections, caches)
            p50, p95, rps = hey(f"http://127.0.0.1:{PORT}{url}", cookies[who])
            print(f"{label:50} {counts[label]:>7} {p50:>8.1f} {p95:>8.1f} {rps:>7.0f}", flush=True)
        if Path("/proc/loadavg").exists():
            print(f"load average after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
