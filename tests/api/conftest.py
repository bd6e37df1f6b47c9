"""API fixtures: keys of tenant A (read-write by alice, read-only) and of tenant B, and a
client that sends a key. The throttle's counters live in the shared Redis cache: each test
starts with its keys' counters cleared."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django_scopes import scopes_disabled

from api.keys import api_key_create
from api.models import ApiKeyAccess


def _key(tenant, user, access=ApiKeyAccess.WRITE, name="Integration"):
    with scopes_disabled():
        new = api_key_create(tenant=tenant, name=name, access=access, by=user)
    cache.delete_many([f"throttle_api_key_{new.api_key.pk}", f"throttle_api_ingest_{new.api_key.pk}"])
    return new


@pytest.fixture
def key_a(tenant_a, alice):
    return _key(tenant_a, alice)


@pytest.fixture
def read_key_a(tenant_a, alice):
    return _key(tenant_a, alice, access=ApiKeyAccess.READ, name="Reporting")


@pytest.fixture
def key_b(tenant_b, charlie):
    return _key(tenant_b, charlie)


@pytest.fixture
def api_client():
    """``api_client(new_key)``: a client sending ``Authorization: Bearer <key>``."""

    def make(new_key=None) -> Client:
        headers = {"Authorization": f"Bearer {new_key.plain_key}"} if new_key is not None else {}
        return Client(headers=headers)

    return make


@pytest.fixture
def api(api_client, key_a):
    """Tenant A's read-write client."""
    return api_client(key_a)
