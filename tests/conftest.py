"""Shared cast and fixtures.

Tenant A ("Acme Analytics"): alice (admin), lena (leader), bob (CSM), bea (CSM).
Tenant B ("Globex Cloud"): charlie (CSM): he must never see a row of tenant A.
Fixtures build rows with scopes disabled; test bodies run with no scope, so the code under
test must enter the tenant itself (as a view, task or service does in production).
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.conf import settings
from django.test import Client
from django_scopes import scopes_disabled

from accounts.services import segments_create_defaults
from csplatform.models import Role

from .factories import MembershipFactory, TenantFactory, UserFactory
from .required_services import required_services_problem
from .workers import celery_worker


def pytest_configure(config):
    """Fail at once, and say how to fix it, when a real service the suite needs is down."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    problem = required_services_problem(settings.DATABASES["default"], settings.REDIS_URL)
    if problem:
        pytest.exit(problem, returncode=2)


@pytest.fixture
def tenant_a(db):
    with scopes_disabled():
        tenant = TenantFactory(name="Acme Analytics", slug="acme", currency="USD", time_zone="America/New_York")
        segments_create_defaults(tenant=tenant)
    return tenant


@pytest.fixture
def tenant_b(db):
    with scopes_disabled():
        tenant = TenantFactory(name="Globex Cloud", slug="globex", currency="EUR", time_zone="Europe/Berlin")
        segments_create_defaults(tenant=tenant)
    return tenant


def _member(tenant, role, email, full_name):
    user = UserFactory(email=email, full_name=full_name)
    MembershipFactory(tenant=tenant, user=user, role=role)
    return user


@pytest.fixture
def alice(tenant_a):
    return _member(tenant_a, Role.ADMIN, "alice@acme.example", "Alice Admin")


@pytest.fixture
def lena(tenant_a):
    return _member(tenant_a, Role.LEADER, "lena@acme.example", "Lena Leader")


@pytest.fixture
def bob(tenant_a):
    return _member(tenant_a, Role.CSM, "bob@acme.example", "Bob Csm")


@pytest.fixture
def bea(tenant_a):
    return _member(tenant_a, Role.CSM, "bea@acme.example", "Bea Csm")


@pytest.fixture
def charlie(tenant_b):
    return _member(tenant_b, Role.CSM, "charlie@globex.example", "Charlie Other")


@pytest.fixture
def client_for():
    """``client_for(user)``: a test client signed in as that user."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install chromium)"
)


@pytest.fixture
def browser(settings, monkeypatch):
    """Debian's Chromium driven by Playwright (``playwright install`` needs a download this
    machine cannot make). Use with ``live_server`` and ``transaction=True``."""
    from playwright.sync_api import sync_playwright

    # The live server speaks plain HTTP; the ORM is called from the test while Playwright's
    # event loop runs in the same thread.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def worker(transactional_db):
    """``celery -A csplatform worker`` in a subprocess, on the suite's Redis and test database;
    yields the worker's log lines as they come. Give each concurrent suite its own Redis
    database (``REDIS_URL=redis://127.0.0.1:6379/N``): workers on one queue take each other's
    tasks."""
    from csplatform.celery import app

    app.control.purge()  # stale messages of earlier runs
    with celery_worker(REDIS_URL=settings.REDIS_URL) as log:
        yield log


def _delete_own_cache_keys() -> None:
    """Delete this test process's cache keys, and only those. ``cache.clear()`` on Redis
    flushes the whole database: the other xdist worker's keys and Celery's queued tasks."""
    from django.core.cache import caches

    backend = caches["default"]
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    if not prefix or not hasattr(backend, "_cache"):  # local memory: per process anyway
        backend.clear()
        return
    client = backend._cache.get_client(write=True)
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        client.delete(key)


@pytest.fixture(scope="session", autouse=True)
def _no_cache_keys_of_an_earlier_run():
    """Ids and versions restart with each test database: a key left by an earlier run of the
    same database could otherwise be read as current."""
    _delete_own_cache_keys()


@pytest.fixture
def own_cache_cleared():
    _delete_own_cache_keys()
