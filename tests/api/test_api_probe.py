"""The cross-tenant probe for the REST API: every API route that takes an object id, asked
with a key of tenant A for tenant B's object, by every method the route allows, is 404 and
changes nothing; ids of tenant B inside a request body are refused naming the field.

The routes come from the same walk of the URL resolver as ``tests/test_cross_tenant_probe.py``
(``API_ID_ROUTES``), so a route added later is probed without a new test."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import resolve
from django_scopes import scopes_disabled

from health.models import HealthScore
from health.services import health_config_active
from tests.test_cross_tenant_probe import API_ID_ROUTES, _unknown_kwargs_message, objects_by_kwarg

pytestmark = pytest.mark.django_db

JSON = "application/json"
WRITES = ("put", "patch", "delete", "post")


def _with_health_scores(tenant, objects):
    with scopes_disabled():
        HealthScore.objects.create(
            tenant=tenant,
            account=objects["account_id"],
            score=50,
            band="yellow",
            breakdown={},
            config=health_config_active(tenant=tenant),
            as_of=dt.date(2026, 11, 20),
            computed_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
        )
    return objects


@pytest.fixture
def objects_of_a_and_b(tenant_a, tenant_b, bob, charlie):
    own = _with_health_scores(tenant_a, objects_by_kwarg(tenant_a, bob))
    other = _with_health_scores(tenant_b, objects_by_kwarg(tenant_b, charlie))
    return own, other


def _methods(route) -> list[str]:
    callback = route.callback
    actions = getattr(callback, "actions", None)  # a viewset's method → action map
    methods = (
        set(actions) if actions else {m for m in ("get", "post", "put", "patch", "delete") if hasattr(callback.cls, m)}
    )
    return sorted(m for m in methods if m in callback.cls.http_method_names and m in ("get", *WRITES))


def _snapshot(obj):
    with scopes_disabled():
        fresh = type(obj)._base_manager.filter(pk=obj.pk).values().first()
    return fresh


@pytest.mark.parametrize("route", API_ID_ROUTES, ids=str)
def test_a_key_of_tenant_a_gets_404_for_tenant_bs_ids_by_every_method(route, api, objects_of_a_and_b):
    own_objects, other_objects = objects_of_a_and_b
    own = {kwarg: obj.pk for kwarg, obj in own_objects.items()}
    other = {kwarg: obj.pk for kwarg, obj in other_objects.items()}
    problem = _unknown_kwargs_message(route, own)
    assert problem is None, problem

    own_url = route.url(own)
    assert resolve(own_url).func is route.callback
    methods = _methods(route)
    # Tenant A's own ids must be found, or a 404 for B's would prove nothing: GET, or for an
    # action without GET an empty POST, which is refused as invalid only after the lookup.
    own_status = (
        api.get(own_url).status_code if "get" in methods else api.post(own_url, {}, content_type=JSON).status_code
    )
    assert own_status in (200, 400), f"{own_url} with tenant A's own ids is {own_status}: the probe proves nothing"

    before = {kwarg: _snapshot(other_objects[kwarg]) for kwarg in route.id_kwargs}
    failures = []
    variants = {"all of tenant B's ids": {**own, **{kwarg: other[kwarg] for kwarg in route.id_kwargs}}}
    for label, ids in variants.items():
        url = route.url(ids)
        for method in methods:
            body = (
                {"name": "Taken over", "forecast_category": "lost", "forecast_arr": "0"} if method in WRITES else None
            )
            response = getattr(api, method)(url, body, content_type=JSON) if body else getattr(api, method)(url)
            if response.status_code != 404:
                failures.append(f"{method.upper()} {url} ({label}): {response.status_code}")
            elif response.get("Content-Type") != "application/json" or "errors" not in response.json():
                failures.append(
                    f"{method.upper()} {url}: a 404 without the documented error body: {response.content!r}"
                )
    assert not failures, f"{route} lets tenant A's key reach tenant B:\n" + "\n".join(failures)
    assert {kwarg: _snapshot(other_objects[kwarg]) for kwarg in route.id_kwargs} == before


def test_the_api_probe_covers_every_resource():
    templates = {route.template for route in API_ID_ROUTES}
    for resource in (
        "accounts",
        "contacts",
        "products",
        "subscription-lines",
        "activities",
        "health-scores",
        "renewals",
    ):
        assert any(template.startswith(f"api/v1/{resource}/") for template in templates), resource


BODIES_WITH_THEIR_IDS = {
    "/api/v1/accounts/": lambda b, who: ({"name": "X", "segment": b["segment_id"].pk}, "segment"),
    "/api/v1/contacts/": lambda b, who: ({"name": "X", "account": b["account_id"].pk}, "account"),
    "/api/v1/subscription-lines/": lambda b, who: (
        {
            "account": b["account_id"].pk,
            "product": b["product_id"].pk,
            "arr": "1",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
        },
        "account",
    ),
    "/api/v1/activities/": lambda b, who: (
        {"account": b["account_id"].pk, "kind": "call", "occurred_at": "2026-11-20T10:00:00Z", "purpose": "x"},
        "account",
    ),
}


@pytest.mark.parametrize("url", sorted(BODIES_WITH_THEIR_IDS))
def test_tenant_bs_ids_in_a_body_are_refused_naming_the_field(url, api, objects_of_a_and_b, charlie):
    _, other = objects_of_a_and_b
    body, field = BODIES_WITH_THEIR_IDS[url](other, charlie)
    response = api.post(url, body, content_type=JSON)
    assert response.status_code == 400, response.content
    assert field in {error["field"] for error in response.json()["errors"]}


def test_another_tenants_people_cannot_be_an_owner_or_in_a_team(api, objects_of_a_and_b, charlie):
    own, other = objects_of_a_and_b
    account = own["account_id"]
    response = api.patch(f"/api/v1/accounts/{account.pk}/", {"owner": charlie.pk}, content_type=JSON)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "owner"
    activity = {"account": account.pk, "kind": "call", "occurred_at": "2026-11-20T10:00:00Z", "purpose": "x"}
    response = api.post("/api/v1/activities/", {**activity, "team": [charlie.pk]}, content_type=JSON)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"].startswith("team")
    response = api.post("/api/v1/activities/", {**activity, "contacts": [other["contact_id"].pk]}, content_type=JSON)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"].startswith("contacts")
