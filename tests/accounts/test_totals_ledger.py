"""The account totals ledger: whatever writes the accounts (the ORM, a bulk UPDATE, COPY, a
delete, a rolled-back transaction), the tenant's totals read from it equal counting them, and
the unfiltered "All accounts" page shows them."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import Account, AccountTotalsDelta, Segment, TouchModel
from accounts.services import account_rollups_refresh, account_totals, account_totals_recount
from csplatform import bulk
from csplatform.tenancy import tenant_scope
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def counted(tenant, segment=None) -> dict:
    with scopes_disabled():
        accounts = Account.objects.filter(tenant=tenant)
        if segment is not None:
            accounts = accounts.filter(segment=segment)
        totals = accounts.aggregate(count=Count("*"), arr=Sum("arr"))
    return {"count": totals["count"], "arr": totals["arr"] or Decimal("0.00")}


def ledger(tenant, segment=None) -> dict:
    with tenant_scope(tenant):
        return account_totals(tenant=tenant, segment=segment)


@pytest.fixture
def books(tenant_a, tenant_b):
    with scopes_disabled():
        low = Segment.objects.get(tenant=tenant_a, touch_model=TouchModel.LOW)
        mine = [AccountFactory(tenant=tenant_a, arr=Decimal(arr), segment=low) for arr in ("1000.10", "250000")]
        mine.append(AccountFactory(tenant=tenant_a, arr=Decimal("0")))
        theirs = [AccountFactory(tenant=tenant_b, arr=Decimal("99"))]
    return mine, theirs


def test_the_ledger_totals_equal_counting_the_accounts_of_each_tenant_and_segment(tenant_a, tenant_b, books):
    low = books[0][0].segment
    assert ledger(tenant_a) == counted(tenant_a) == {"count": 3, "arr": Decimal("251000.10")}
    assert ledger(tenant_a, low.pk) == counted(tenant_a, low) == {"count": 2, "arr": Decimal("251000.10")}
    assert ledger(tenant_b) == counted(tenant_b) == {"count": 1, "arr": Decimal("99.00")}


def test_moving_an_account_between_segments_moves_its_count_and_arr(tenant_a, books):
    low = books[0][0].segment
    with scopes_disabled():
        high = Segment.objects.get(tenant=tenant_a, touch_model=TouchModel.HIGH)
        Account.objects.filter(pk=books[0][1].pk).update(segment=high)

    assert ledger(tenant_a, low.pk) == counted(tenant_a, low) == {"count": 1, "arr": Decimal("1000.10")}
    assert ledger(tenant_a, high.pk) == counted(tenant_a, high) == {"count": 1, "arr": Decimal("250000.00")}
    assert ledger(tenant_a) == counted(tenant_a)


def test_bulk_updates_deletes_copies_and_bulk_creates_are_followed(tenant_a, tenant_b, books):
    mine, _ = books
    with scopes_disabled():
        Account.objects.filter(tenant=tenant_a, pk=mine[0].pk).update(arr=Decimal("5000"))
        Account.objects.filter(tenant=tenant_a, pk=mine[1].pk).delete()
        Account.objects.bulk_create(
            [Account(tenant=tenant_a, name="Bulk", arr=Decimal("7")), Account(tenant=tenant_b, name="B", arr=1)]
        )
        now = timezone.now()
        bulk.rows_copy(
            Account,
            ["tenant_id", "name", "arr", "created_at", "updated_at"],
            [(tenant_a.pk, "Copied", Decimal("3.50"), now, now)],
        )
        # A statement that changes nothing the totals hold writes no ledger row.
        rows_before = AccountTotalsDelta.objects.count()
        Account.objects.filter(tenant=tenant_a).update(industry="Retail")
        assert AccountTotalsDelta.objects.count() == rows_before

    assert ledger(tenant_a) == counted(tenant_a) == {"count": 4, "arr": Decimal("5010.50")}
    assert ledger(tenant_b) == counted(tenant_b) == {"count": 2, "arr": Decimal("100.00")}


def test_a_rolled_back_write_leaves_the_totals_as_they_were(tenant_a, books):
    before = ledger(tenant_a)

    def add_then_fail():
        with transaction.atomic(), scopes_disabled():
            AccountFactory(tenant=tenant_a, arr=Decimal("1000000"))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        add_then_fail()

    assert ledger(tenant_a) == before == counted(tenant_a)


def test_the_rollup_refresh_moves_the_totals_and_recounts_the_ledger_into_one_row_a_segment(tenant_a, tenant_b, books):
    with tenant_scope(tenant_a):
        account_rollups_refresh(tenant=tenant_a)  # no subscription lines: every ARR becomes 0

    assert ledger(tenant_a) == counted(tenant_a) == {"count": 3, "arr": Decimal("0.00")}
    with scopes_disabled():
        # One row a segment with accounts (the refresh moved them all to the lowest band).
        assert AccountTotalsDelta.objects.filter(tenant=tenant_a).count() == 1
        assert AccountTotalsDelta.objects.filter(tenant=tenant_b).count() == 1  # other tenants untouched


def test_a_recount_mends_a_ledger_that_a_write_went_around(tenant_a, tenant_b, books):
    with scopes_disabled():
        # As if a write had bypassed the triggers.
        AccountTotalsDelta.objects.create(tenant=tenant_a, segment=None, accounts=5, arr=Decimal("12"))
    assert ledger(tenant_a) != counted(tenant_a)

    with tenant_scope(tenant_a):
        account_totals_recount(tenant=tenant_a)

    assert ledger(tenant_a) == counted(tenant_a)
    assert ledger(tenant_b) == counted(tenant_b)


def test_all_accounts_without_filters_or_by_segment_shows_the_ledger_totals(
    client_for, lena, tenant_a, books, settings
):
    settings.PORTFOLIO_PAGE_SIZE = 2
    with scopes_disabled():
        Account.objects.filter(tenant=tenant_a, arr=0).update(arr=Decimal("48999.90"))

    everything = client_for(lena).get("/accounts/", {"page": "2"}).content.decode()
    low = client_for(lena).get("/accounts/", {"segment": books[0][0].segment_id}).content.decode()

    assert re.search(r"<strong>3</strong> accounts\s*· <strong>\$300,000</strong> total ARR", everything)
    assert re.search(r"<strong>2</strong> accounts\s*· <strong>\$251,000</strong> total ARR", low)
