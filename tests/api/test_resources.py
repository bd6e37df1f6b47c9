"""The resources: filtering, ordering, cursor pagination, error bodies naming the field, and
writes through the domain services (roll-ups, key-contact events, health recompute)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.core.cache import cache
from django_scopes import scopes_disabled

from accounts.models import Account, ContactEvent, ContactRole
from health.models import HealthScore
from renewals.models import ArrMovement, MovementKind, Renewal, SubscriptionLine
from renewals.tasks import rebuild_ledger_of_accounts
from tests.factories import AccountFactory, ContactFactory, ProductFactory, SubscriptionLineFactory
from tests.renewals.factories import RenewalFactory

pytestmark = pytest.mark.django_db

JSON = "application/json"


def _errors(response) -> dict[str | None, str]:
    return {error["field"]: error["message"] for error in response.json()["errors"]}


@pytest.fixture
def accounts(tenant_a, bob):
    with scopes_disabled():
        return [
            AccountFactory(tenant=tenant_a, name=name, arr=Decimal(arr), owner=bob if n % 2 else None)
            for n, (name, arr) in enumerate([("Acme", "1000"), ("Brio", "5000"), ("Cato", "3000"), ("Dune", "0")])
        ]


def test_lists_filter_and_order(api, accounts, bob):
    names = lambda response: [row["name"] for row in response.json()["results"]]  # noqa: E731
    assert names(api.get("/api/v1/accounts/?ordering=-arr")) == ["Brio", "Cato", "Acme", "Dune"]
    assert names(api.get(f"/api/v1/accounts/?owner={bob.pk}&ordering=name")) == ["Brio", "Dune"]
    assert names(api.get("/api/v1/accounts/?arr_min=1000&ordering=arr")) == ["Acme", "Cato", "Brio"]
    assert names(api.get("/api/v1/accounts/?search=cat")) == ["Cato"]


def test_cursor_pagination_walks_every_row_once(api, accounts):
    seen, url = [], "/api/v1/accounts/?page_size=3&ordering=name"
    while url:
        body = api.get(url).json()
        seen += [row["name"] for row in body["results"]]
        url = body["next"]
    assert seen == ["Acme", "Brio", "Cato", "Dune"]


def test_a_bad_filter_or_ordering_value_names_the_field(api, accounts):
    response = api.get("/api/v1/accounts/?arr_min=lots")
    assert response.status_code == 400
    assert "arr_min" in _errors(response)
    response = api.get("/api/v1/accounts/?lifecycle_stage=asleep")
    assert response.status_code == 400
    assert "lifecycle_stage" in _errors(response)


def test_listing_accounts_takes_a_fixed_number_of_queries(api, accounts, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):  # the key, its last-used mark at most, the page
        api.get("/api/v1/accounts/")


def test_creating_an_account_names_each_bad_field(api):
    response = api.post(
        "/api/v1/accounts/", {"name": "", "lifecycle_stage": "asleep", "employee_count": -3}, content_type=JSON
    )
    assert response.status_code == 400
    assert set(_errors(response)) == {"name", "lifecycle_stage", "employee_count"}
    assert all(error["code"] for error in response.json()["errors"])


def test_creating_an_account_puts_it_in_a_segment_and_keeps_external_ids_unique(api, tenant_a):
    response = api.post("/api/v1/accounts/", {"name": "Initech", "external_id": "CRM-9"}, content_type=JSON)
    assert response.status_code == 201, response.json()
    assert response.json()["segment"] is not None  # the band of 0 ARR
    again = api.post("/api/v1/accounts/", {"name": "Initech 2", "external_id": "CRM-9"}, content_type=JSON)
    assert again.status_code == 400
    assert "CRM-9" in _errors(again)["external_id"]


def test_an_owner_must_be_a_member_of_the_keys_tenant(api, accounts, charlie, bob):
    account = accounts[0]
    response = api.patch(f"/api/v1/accounts/{account.pk}/", {"owner": charlie.pk}, content_type=JSON)
    assert response.status_code == 400
    assert "owner" in _errors(response)
    response = api.patch(f"/api/v1/accounts/{account.pk}/", {"owner": bob.pk, "domain": "acme.test"}, content_type=JSON)
    assert response.status_code == 200
    with scopes_disabled():
        account.refresh_from_db()
    assert (account.owner_id, account.domain, account.name) == (bob.pk, "acme.test", "Acme")


def test_a_subscription_line_refreshes_the_accounts_arr(api, accounts, tenant_a):
    with scopes_disabled():
        product = ProductFactory(tenant=tenant_a)
    account = accounts[3]
    today = dt.date.today()
    body = {
        "account": account.pk,
        "product": product.pk,
        "arr": "24000.00",
        "start_date": str(today - dt.timedelta(days=30)),
        "end_date": str(today + dt.timedelta(days=300)),
    }
    response = api.post("/api/v1/subscription-lines/", body, content_type=JSON)
    assert response.status_code == 201, response.json()
    with scopes_disabled():
        assert Account.objects.get(pk=account.pk).arr == Decimal("24000.00")
    backwards = {**body, "end_date": str(today - dt.timedelta(days=60))}
    assert "end_date" in _errors(api.post("/api/v1/subscription-lines/", backwards, content_type=JSON))
    line_id = response.json()["id"]
    assert api.delete(f"/api/v1/subscription-lines/{line_id}/").status_code == 204
    with scopes_disabled():
        assert Account.objects.get(pk=account.pk).arr == Decimal("0")


def test_a_line_written_through_the_api_moves_the_retention_ledger_after_commit(
    api, accounts, tenant_a, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        product = ProductFactory(tenant=tenant_a)
    account = accounts[3]
    today = dt.date.today()
    body = {
        "account": account.pk,
        "product": product.pk,
        "arr": "24000.00",
        "start_date": str(today - dt.timedelta(days=40)),
        "end_date": str(today + dt.timedelta(days=300)),
    }

    def run_now(**kwargs):
        return rebuild_ledger_of_accounts(**kwargs)

    inline = mock.patch("renewals.tasks.rebuild_ledger_of_accounts.delay", side_effect=run_now)
    with inline as queued, django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/v1/subscription-lines/", body, content_type=JSON).status_code == 201

    queued.assert_called_once_with(tenant_id=tenant_a.pk, account_ids=[account.pk])
    with scopes_disabled():
        moves = list(ArrMovement.objects.filter(account=account).values_list("kind", "amount"))
    assert moves == [(MovementKind.NEW, Decimal("24000.00"))]


def test_a_product_on_lines_cannot_be_deleted(api, tenant_a):
    with scopes_disabled():
        line = SubscriptionLineFactory(account=AccountFactory(tenant=tenant_a))
    response = api.delete(f"/api/v1/products/{line.product_id}/")
    assert response.status_code == 400
    assert "subscription lines" in response.json()["errors"][0]["message"]
    with scopes_disabled():
        assert SubscriptionLine.objects.filter(pk=line.pk).exists()


def test_a_contact_role_change_from_champion_is_recorded(api, accounts, tenant_a):
    with scopes_disabled():
        contact = ContactFactory(account=accounts[0], role=ContactRole.CHAMPION)
    response = api.patch(f"/api/v1/contacts/{contact.pk}/", {"role": "end_user"}, content_type=JSON)
    assert response.status_code == 200, response.json()
    with scopes_disabled():
        assert ContactEvent.objects.filter(tenant=tenant_a, contact=contact).count() == 1


def test_logging_an_activity_queues_the_accounts_recompute(
    api, accounts, tenant_a, alice, django_capture_on_commit_callbacks
):
    account = accounts[0]
    cache.delete(f"health:pending:{tenant_a.pk}:{account.pk}")
    body = {"account": account.pk, "kind": "call", "occurred_at": "2026-11-20T15:00:00Z", "purpose": "Plan the QBR"}
    with (
        mock.patch("health.tasks.recompute_accounts.apply_async") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api.post("/api/v1/activities/", {**body, "team": [alice.pk]}, content_type=JSON)
    assert response.status_code == 201, response.json()
    assert response.json()["created_by"] == alice.pk
    assert response.json()["team"] == [alice.pk]
    enqueue.assert_called_once()


def test_the_renewal_forecast_is_updated_through_the_service(api, accounts):
    with scopes_disabled():
        renewal = RenewalFactory(account=accounts[1])
    url = f"/api/v1/renewals/{renewal.pk}/"
    lost = api.patch(url, {"forecast_category": "lost", "forecast_arr": "100.00"}, content_type=JSON)
    assert lost.status_code == 400
    assert "forecast_arr" in _errors(lost)
    ok = api.patch(url, {"forecast_category": "at_risk", "forecast_arr": "8000.00"}, content_type=JSON)
    assert ok.status_code == 200
    assert ok.json()["forecast_category"] == "at_risk"
    with scopes_disabled():
        assert Renewal.objects.get(pk=renewal.pk).forecast_arr == Decimal("8000.00")
    assert api.put(url, {}, content_type=JSON).status_code == 405


def test_health_scores_are_read_by_account(api, accounts, tenant_a):
    from health.services import health_config_active

    with scopes_disabled():
        config = health_config_active(tenant=tenant_a)
        HealthScore.objects.create(
            tenant=tenant_a,
            account=accounts[0],
            score=42,
            band="red",
            breakdown={},
            config=config,
            as_of=dt.date(2026, 11, 20),
            computed_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
        )
    body = api.get(f"/api/v1/health-scores/{accounts[0].pk}/").json()
    assert (body["score"], body["band"], body["config_version"]) == (42, "red", config.version)
    assert [row["account"] for row in api.get("/api/v1/health-scores/?band=red").json()["results"]] == [accounts[0].pk]
    assert api.get(f"/api/v1/health-scores/{accounts[1].pk}/").status_code == 404


def test_throttling_answers_429_with_retry_after(api, accounts, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "2/min", "api_ingest": "1/min"},
    }
    assert api.get("/api/v1/accounts/").status_code == 200
    assert api.get("/api/v1/accounts/").status_code == 200
    response = api.get("/api/v1/accounts/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["errors"][0]["code"] == "throttled"
