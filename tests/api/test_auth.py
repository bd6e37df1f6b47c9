"""Who may call the API: no key, an unknown or a revoked key is 401; a read-only key may not
write (403); the key's tenant is the only one it sees. Admins manage keys in the settings."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from api.keys import api_key_authenticate, api_key_revoke, key_hash
from api.models import ApiKey
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/accounts/"


def _only_error(response) -> dict:
    body = response.json()
    assert list(body) == ["errors"], body
    assert len(body["errors"]) == 1, body
    return body["errors"][0]


def test_no_key_is_401_with_a_json_error_and_the_scheme_to_use(api_client):
    response = api_client().get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert _only_error(response)["field"] is None


def test_an_unknown_key_is_401(api_client, key_a):
    response = api_client().get(URL, headers={"Authorization": "Bearer csp_00000000_not-a-key"})
    assert response.status_code == 401
    assert "unknown or has been revoked" in _only_error(response)["message"]


def test_a_revoked_key_is_401_from_the_next_request_on(api_client, key_a, alice):
    client = api_client(key_a)
    assert client.get(URL).status_code == 200
    with scopes_disabled():
        api_key_revoke(api_key=key_a.api_key, by=alice)
    assert client.get(URL).status_code == 401


def test_a_session_sign_in_does_not_open_the_api(client_for, alice):
    assert client_for(alice).get(URL).status_code == 401


def test_a_read_only_key_reads_but_may_not_write(api_client, read_key_a):
    client = api_client(read_key_a)
    assert client.get(URL).status_code == 200
    response = client.post(URL, {"name": "Initech"}, content_type="application/json")
    assert response.status_code == 403
    assert "read-only" in _only_error(response)["message"]


def test_a_key_sees_only_its_own_tenants_rows(api_client, key_a, key_b, tenant_a, tenant_b):
    with scopes_disabled():
        AccountFactory(tenant=tenant_a, name="Ours")
        AccountFactory(tenant=tenant_b, name="Theirs")
    names = [row["name"] for row in api_client(key_a).get(URL).json()["results"]]
    assert names == ["Ours"]


def test_the_key_is_stored_only_as_a_hash(key_a):
    with scopes_disabled():
        stored = ApiKey.objects.get(pk=key_a.api_key.pk)
    assert stored.secret_hash == key_hash(key_a.plain_key)
    assert key_a.plain_key not in {stored.name, stored.prefix, stored.secret_hash}
    assert key_a.plain_key.startswith(f"csp_{stored.prefix}_")


def test_last_used_is_written_at_most_once_a_minute(key_a, django_assert_num_queries):
    start = timezone.now()
    assert api_key_authenticate(key_a.plain_key, now=start).last_used_at == start
    with django_assert_num_queries(1):  # the lookup only: no write 30 seconds later
        api_key_authenticate(key_a.plain_key, now=start + dt.timedelta(seconds=30))
    api_key_authenticate(key_a.plain_key, now=start + dt.timedelta(seconds=61))
    with scopes_disabled():
        assert ApiKey.objects.get(pk=key_a.api_key.pk).last_used_at == start + dt.timedelta(seconds=61)


# --- Settings: API keys -----------------------------------------------------------------------


def test_an_admin_creates_a_key_sees_it_once_and_it_works(client_for, alice, api_client, tenant_a):
    page = client_for(alice)
    response = page.post("/settings/api-keys/new/", {"name": "Billing sync", "access": "write"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    plain_key = response.context["new"].plain_key
    assert plain_key in response.content.decode()
    listing = page.get("/settings/api-keys/").content.decode()
    assert "Billing sync" in listing
    assert plain_key not in listing
    assert api_client().get(URL, headers={"Authorization": f"Bearer {plain_key}"}).status_code == 200


def test_an_admin_revokes_a_key(client_for, alice, key_a, api_client):
    response = client_for(alice).post(f"/settings/api-keys/{key_a.api_key.pk}/revoke/")
    assert response.status_code == 302
    assert api_client(key_a).get(URL).status_code == 401


def test_a_csm_cannot_see_or_manage_keys(client_for, bob, key_a):
    client = client_for(bob)
    assert client.get("/settings/api-keys/").status_code == 403
    assert client.post("/settings/api-keys/new/", {"name": "x", "access": "write"}).status_code == 403
    assert client.post(f"/settings/api-keys/{key_a.api_key.pk}/revoke/").status_code == 403


def test_a_blank_name_is_refused_with_the_field_named(client_for, alice):
    response = client_for(alice).post("/settings/api-keys/new/", {"name": "", "access": "write"})
    assert response.status_code == 422
    assert "name" in response.context["form"].errors


def test_the_settings_home_links_to_the_api_keys(client_for, alice):
    assert 'href="/settings/api-keys/"' in client_for(alice).get("/settings/").content.decode()
