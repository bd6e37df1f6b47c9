"""POST /api/v1/events/: per-event validation, partial acceptance, idempotency by event id,
the batch limit, and the health recompute of the accounts touched."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.core.cache import cache
from django_scopes import scopes_disabled

from api.ingest import MAX_BATCH
from api.models import IngestedEvent
from health.models import Invoice, MarketingEngagement, NotableEvent, SupportTicket, SurveyResponse, UsageDay
from tests.factories import AccountFactory, ContactFactory
from tests.health.factories import TrackedFeatureFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"


@pytest.fixture
def acme(tenant_a):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, external_id="CRM-1")
        ContactFactory(account=account, external_id="P-1")
    cache.delete(f"health:pending:{tenant_a.pk}:{account.pk}")
    return account


@pytest.fixture
def enqueue():
    with mock.patch("health.tasks.recompute_accounts.apply_async") as patched:
        yield patched


def _post(client, events, capture=None):
    if capture is None:
        return client.post(URL, {"events": events}, content_type="application/json")
    with capture(execute=True):
        return client.post(URL, {"events": events}, content_type="application/json")


def usage(event_id, day="2026-11-20", account="CRM-1", **extra):
    return {
        "event_id": event_id,
        "type": "usage_day",
        "account_external_id": account,
        "day": day,
        "active_users": 12,
        "licensed_seats": 20,
        **extra,
    }


ONE_OF_EACH = [
    usage("u1"),
    {
        "event_id": "s1",
        "type": "survey_response",
        "account_external_id": "CRM-1",
        "contact_external_id": "P-1",
        "kind": "nps",
        "score": 9,
        "responded_on": "2026-11-19",
    },
    {
        "event_id": "t1",
        "type": "support_ticket",
        "account_external_id": "CRM-1",
        "subject": "Export fails",
        "priority": "high",
        "opened_at": "2026-11-18T09:30:00Z",
    },
    {
        "event_id": "i1",
        "type": "invoice",
        "account_external_id": "CRM-1",
        "number": "INV-7",
        "amount": "1200.50",
        "issued_on": "2026-10-01",
        "due_on": "2026-10-31",
    },
    {"event_id": "m1", "type": "marketing_engagement", "account_external_id": "CRM-1", "day": "2026-11-17", "opens": 3},
    {
        "event_id": "n1",
        "type": "notable_event",
        "account_external_id": "CRM-1",
        "kind": "outage",
        "occurred_on": "2026-11-16",
    },
]


def _signal_counts(tenant):
    with scopes_disabled():
        return {
            model.__name__: model.objects.filter(tenant=tenant).count()
            for model in (UsageDay, SurveyResponse, SupportTicket, Invoice, MarketingEngagement, NotableEvent)
        }


def test_one_event_of_each_kind_is_written_and_the_account_recomputed_after_commit(
    api, acme, tenant_a, enqueue, django_capture_on_commit_callbacks
):
    response = _post(api, ONE_OF_EACH, django_capture_on_commit_callbacks)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body == {"accepted": ["u1", "s1", "t1", "i1", "m1", "n1"], "duplicates": [], "rejected": []}
    assert set(_signal_counts(tenant_a).values()) == {1}
    with scopes_disabled():
        survey = SurveyResponse.objects.get(tenant=tenant_a)
        assert survey.contact.external_id == "P-1"
        assert survey.score == 9
        assert Invoice.objects.get(tenant=tenant_a).amount == Decimal("1200.50")
        assert SupportTicket.objects.get(tenant=tenant_a).opened_at == dt.datetime(2026, 11, 18, 9, 30, tzinfo=dt.UTC)
    enqueue.assert_called_once_with(kwargs={"tenant_id": tenant_a.pk, "account_ids": [acme.pk]}, countdown=1)


def test_a_replayed_batch_changes_nothing(api, acme, tenant_a, enqueue, django_capture_on_commit_callbacks):
    _post(api, ONE_OF_EACH)
    with scopes_disabled():
        UsageDay.objects.filter(tenant=tenant_a).update(active_users=99)  # corrected by someone since
    enqueue.reset_mock()
    cache.delete(f"health:pending:{tenant_a.pk}:{acme.pk}")
    response = _post(api, ONE_OF_EACH, django_capture_on_commit_callbacks)
    body = response.json()
    assert body["accepted"] == []
    assert body["duplicates"] == ["u1", "s1", "t1", "i1", "m1", "n1"]
    assert set(_signal_counts(tenant_a).values()) == {1}
    with scopes_disabled():
        assert UsageDay.objects.get(tenant=tenant_a).active_users == 99
    assert not enqueue.called


def test_valid_events_are_kept_when_others_are_rejected_with_index_field_and_reason(api, acme, tenant_a, enqueue):
    events = [
        usage("ok-1"),
        usage("bad-date", day="20-11-2026"),
        usage("unknown-account", account="CRM-404"),
        {**usage("negative"), "active_users": -1},
        {"event_id": "bad-type", "type": "page_view", "account_external_id": "CRM-1"},
        {
            "event_id": "late",
            "type": "invoice",
            "account_external_id": "CRM-1",
            "number": "X",
            "amount": 5,
            "issued_on": "2026-10-02",
            "due_on": "2026-10-01",
        },
        {
            "event_id": "csat",
            "type": "survey_response",
            "account_external_id": "CRM-1",
            "kind": "csat",
            "score": 9,
            "responded_on": "2026-11-01",
        },
        "not an object",
        usage("ok-1", day="2026-11-21"),  # same id again in the batch
        {"type": "usage_day"},
        usage("ok-2", day="2026-11-21"),
    ]
    body = _post(api, events).json()
    assert body["accepted"] == ["ok-1", "ok-2"]
    rejected = {(r["index"], r["event_id"], r["field"]) for r in body["rejected"]}
    assert rejected == {
        (1, "bad-date", "day"),
        (2, "unknown-account", "account_external_id"),
        (3, "negative", "active_users"),
        (4, "bad-type", "type"),
        (5, "late", "due_on"),
        (6, "csat", "score"),
        (7, None, None),
        (8, "ok-1", "event_id"),
        (9, None, "event_id"),
    }
    assert all(r["message"] for r in body["rejected"])
    assert "CRM-404" in next(r["message"] for r in body["rejected"] if r["index"] == 2)
    with scopes_disabled():
        assert UsageDay.objects.filter(tenant=tenant_a).count() == 2


def test_the_latest_usage_of_a_day_wins_and_features_map_to_their_bits(api, acme, tenant_a, enqueue):
    with scopes_disabled():
        TrackedFeatureFactory(tenant=tenant_a, name="Dashboards", bit=0)
        TrackedFeatureFactory(tenant=tenant_a, name="Alerts", bit=3)
    _post(api, [usage("a"), usage("b", active_users=15, features=["Alerts", "Dashboards"])])
    _post(api, [usage("c", active_users=17)])
    with scopes_disabled():
        row = UsageDay.objects.get(tenant=tenant_a)
    assert (row.active_users, row.feature_mask) == (17, 0)
    body = _post(api, [usage("d", features=["Nope"])]).json()
    assert body["rejected"][0]["field"] == "features"


def test_a_later_event_with_the_tickets_external_id_closes_that_ticket(api, acme, tenant_a, enqueue):
    opened = {
        "type": "support_ticket",
        "account_external_id": "CRM-1",
        "external_id": "ZD-881",
        "subject": "Export fails",
        "opened_at": "2026-11-18T09:30:00Z",
    }
    _post(api, [{**opened, "event_id": "open-881"}, {**opened, "event_id": "other", "external_id": "ZD-882"}])
    body = _post(api, [{**opened, "event_id": "close-881", "closed_at": "2026-11-19T10:00:00Z"}]).json()

    assert body["accepted"] == ["close-881"]
    with scopes_disabled():
        tickets = dict(SupportTicket.objects.filter(tenant=tenant_a).values_list("external_id", "closed_at"))
    assert set(tickets) == {"ZD-881", "ZD-882"}  # closed in place, not a third ticket
    assert tickets["ZD-881"] is not None
    assert tickets["ZD-882"] is None


def test_a_contact_of_another_account_is_rejected(api, acme, tenant_a, enqueue):
    with scopes_disabled():
        other = AccountFactory(tenant=tenant_a, external_id="CRM-2")
        ContactFactory(account=other, external_id="P-2")
    event = {**ONE_OF_EACH[1], "contact_external_id": "P-2"}
    body = _post(api, [event]).json()
    assert body["rejected"][0]["field"] == "contact_external_id"


def test_another_tenants_external_ids_are_unknown(api_client, key_b, acme, tenant_b, enqueue):
    body = _post(api_client(key_b), [usage("x")]).json()
    assert body["accepted"] == []
    assert body["rejected"][0]["field"] == "account_external_id"
    with scopes_disabled():
        assert not IngestedEvent.objects.filter(tenant=tenant_b).exists()


def test_the_same_event_id_in_two_tenants_is_two_events(api, api_client, key_b, acme, tenant_b, enqueue):
    with scopes_disabled():
        AccountFactory(tenant=tenant_b, external_id="CRM-1")
    assert _post(api, [usage("shared")]).json()["accepted"] == ["shared"]
    assert _post(api_client(key_b), [usage("shared")]).json()["accepted"] == ["shared"]


def test_a_batch_over_the_limit_is_refused_whole(api, acme, tenant_a, enqueue):
    events = [usage(f"e{n}", day=str(dt.date(2000, 1, 1) + dt.timedelta(days=n))) for n in range(MAX_BATCH + 1)]
    response = _post(api, events)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "events"
    assert "10,000" in response.json()["errors"][0]["message"]
    with scopes_disabled():
        assert not UsageDay.objects.filter(tenant=tenant_a).exists()


@pytest.mark.parametrize("body", [{}, {"events": "x"}, [1, 2]])
def test_a_body_without_a_list_of_events_is_a_400_naming_events(api, body):
    response = api.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "events"


def test_a_full_batch_is_written_set_based(api, tenant_a, enqueue, django_assert_max_num_queries):
    with scopes_disabled():
        accounts = [AccountFactory(tenant=tenant_a, external_id=f"A{n}") for n in range(20)]
    events = [
        usage(f"e{n}", day=str(dt.date(2026, 1, 1) + dt.timedelta(days=n // 20)), account=f"A{n % 20}")
        for n in range(MAX_BATCH)
    ]
    with django_assert_max_num_queries(20):
        body = _post(api, events).json()
    assert len(body["accepted"]) == MAX_BATCH
    assert body["rejected"] == []
    with scopes_disabled():
        assert UsageDay.objects.filter(tenant=tenant_a, account__in=accounts).count() == MAX_BATCH


def test_a_read_only_key_cannot_ingest(api_client, read_key_a, acme):
    assert _post(api_client(read_key_a), [usage("x")]).status_code == 403


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("opened_at", "9999-12-31T23:59:59-14:00"),  # beyond the last representable UTC time
        ("subject", "Export\x00fails"),  # PostgreSQL text cannot hold a null character
        ("priority", ["high"]),
    ],
)
def test_values_the_database_would_refuse_are_rejected_not_a_server_error(api, acme, enqueue, field, value):
    event = {**ONE_OF_EACH[2], field: value}
    response = _post(api, [event, usage("fine")])
    assert response.status_code == 200
    assert response.json()["accepted"] == ["fine"]
    assert [r["field"] for r in response.json()["rejected"]] == [field]


def test_an_offset_postgresql_would_refuse_is_stored_as_its_utc_instant(api, acme, tenant_a, enqueue):
    body = _post(api, [{**ONE_OF_EACH[2], "opened_at": "2026-11-18T09:30:00-23:20"}]).json()
    assert body["accepted"] == ["t1"]
    with scopes_disabled():
        opened_at = SupportTicket.objects.get(tenant=tenant_a).opened_at
    assert opened_at == dt.datetime(2026, 11, 19, 8, 50, tzinfo=dt.UTC)


@pytest.mark.parametrize("backend", ["redis", "locmem"])
def test_a_batch_leaves_out_accounts_already_pending_a_recompute(backend, settings, tenant_a, enqueue):
    from api.ingest import recompute_enqueue

    if backend == "locmem":
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.delete_many([f"health:pending:{tenant_a.pk}:{n}" for n in (101, 102, 103)])
    cache.add(f"health:pending:{tenant_a.pk}:102", 1, timeout=1)  # e.g. an activity just logged
    recompute_enqueue(tenant_id=tenant_a.pk, account_ids=[101, 102, 103])
    recompute_enqueue(tenant_id=tenant_a.pk, account_ids=[101, 103])  # within the second: coalesced
    enqueue.assert_called_once_with(kwargs={"tenant_id": tenant_a.pk, "account_ids": [101, 103]}, countdown=1)
