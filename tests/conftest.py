"""Shared cast and fixtures.

Tenant A ("Acme Analytics"): alice (admin), lena (leader), bob (CSM), bea (CSM).
Tenant B ("Globex Cloud"): charlie (CSM): he must never see a row of tenant A.
Fixtures build rows with scopes disabled; test bodies run with no scope, so the code under
test must enter the tenant itself (as a view, task or service does in production).
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.test import Client
from django_scopes import scopes_disabled

from accounts.services import segments_create_defaults
from csplatform.models import Role

from .factories import MembershipFactory, TenantFactory, UserFactory


def _reachable(url: str, default_port: int) -> tuple[bool, str]:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port
    try:
        socket.create_connection((host, port), timeout=3).close()
        return True, f"{host}:{port}"
    except OSError as exc:
        return False, f"{host}:{port} ({exc.strerror or exc})"


def pytest_configure(config):
    """Fail at once, and say how to fix it, when a real service the suite needs is down."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    database = settings.DATABASES["default"]
    if "postgresql" not in database["ENGINE"]:
        pytest.exit("The test suite runs on PostgreSQL: set DATABASE_URL=postgres://... (see README).", returncode=2)
    ok, where = _reachable(f"postgres://{database.get('HOST') or '127.0.0.1'}:{database.get('PORT') or 5432}", 5432)
    if not ok:
        pytest.exit(
            f"PostgreSQL is unreachable at {where}. Start it with:\n"
            "  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"
            "or point DATABASE_URL at a running server.",
            returncode=2,
        )
    ok, where = _reachable(settings.REDIS_URL, 6379)
    if not ok:
        pytest.exit(
            f"Redis is unreachable at {where}. Start it with:\n"
            '  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no\n'
            "or point REDIS_URL at a running server.",
            returncode=2,
        )


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
