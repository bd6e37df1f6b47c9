"""DOMAIN.md §2's leader questions, on small data computed by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from csplatform.tenancy import tenant_scope
from renewals import metrics
from renewals.ledger import ledger_rebuild

from ..factories import AccountFactory, ProductFactory, SubscriptionLineFactory

D = dt.date
COLUMNS = ["account_id", "product_id", "arr", "list_price_arr", "start_date", "end_date"]
# Account 1 renews product 10 at 10% off after 20% off the first term (-10 points), later grows,
# and buys product 20 (never renewed, no list price). Account 2 renews at 20% off after list
# price (+20 points), then leaves. Account 3's first term has no list price. Account 4 is young;
# account 5 started exactly three years before TODAY.
LINES = pd.DataFrame(
    [
        (1, 10, 100, 125, D(2020, 1, 1), D(2020, 12, 31)),
        (1, 10, 90, 100, D(2021, 1, 1), D(2021, 12, 31)),
        (1, 10, 150, None, D(2022, 1, 1), D(2026, 12, 31)),
        (1, 20, 50, None, D(2024, 1, 1), D(2026, 12, 31)),
        (2, 10, 200, 200, D(2021, 6, 1), D(2022, 5, 31)),
        (2, 10, 200, 250, D(2022, 6, 1), D(2023, 5, 31)),
        (3, 10, 100, None, D(2022, 1, 1), D(2022, 12, 31)),
        (3, 10, 100, 100, D(2023, 1, 1), D(2023, 12, 31)),
        (4, 10, 300, None, D(2024, 1, 1), D(2026, 12, 31)),
        (5, 10, 80, None, D(2023, 6, 15), D(2026, 12, 31)),
    ],
    columns=COLUMNS,
)
TODAY = D(2026, 6, 15)


def test_discount_change_at_first_renewal_averages_the_priced_pairs():
    discounts = metrics.first_renewal_discounts(LINES).set_index(["account_id", "product_id"])
    assert discounts.loc[(1, 10), "change"] == pytest.approx(-0.10)
    assert discounts.loc[(2, 10), "change"] == pytest.approx(0.20)
    assert pd.isna(discounts.loc[(3, 10), "change"])
    assert (1, 20) not in discounts.index  # never renewed
    summary = metrics.discount_change_summary(metrics.first_renewal_discounts(LINES))
    assert summary["average_change"] == pytest.approx(0.05)
    assert (summary["priced"], summary["unpriced"]) == (2, 1)


def test_without_any_list_price_there_is_no_average():
    summary = metrics.discount_change_summary(metrics.first_renewal_discounts(LINES.assign(list_price_arr=None)))
    assert summary == {"average_change": None, "priced": 0, "unpriced": 3}


def test_current_vs_original_size_of_customers_older_than_three_years():
    sizes = metrics.tenured_contract_sizes(LINES, today=TODAY).set_index("account_id")
    # 2 and 3 are no longer customers; 4 is too young; 5 turned three today.
    assert sorted(sizes.index) == [1, 5]
    assert (sizes.loc[1, "original_arr"], sizes.loc[1, "current_arr"], sizes.loc[1, "ratio"]) == (100, 200, 2.0)
    assert (sizes.loc[5, "original_arr"], sizes.loc[5, "current_arr"], sizes.loc[5, "ratio"]) == (80, 80, 1.0)


def test_share_grew_counts_expanded_accounts_of_the_cohort():
    changes = pd.DataFrame({"status": ["expanded", "expanded", "retained", "churned", "new", "reactivated"]})
    assert metrics.share_grew(changes) == (2, 4)


# --- The page -------------------------------------------------------------------------------

URL = reverse("renewals:questions")


@pytest.fixture
def priced_tenant(tenant_a, bob):
    """One account renewed at 10% off after 20% off (-10 points), one without list prices."""
    with scopes_disabled():
        product = ProductFactory(tenant=tenant_a)
        priced = AccountFactory(tenant=tenant_a, owner=bob, industry="Retail")
        unpriced = AccountFactory(tenant=tenant_a, owner=bob, industry="Banking")
        for account, prices in ((priced, (Decimal("125"), Decimal("100"))), (unpriced, (None, None))):
            SubscriptionLineFactory(
                account=account,
                product=product,
                arr=Decimal("100"),
                list_price_arr=prices[0],
                start_date=D(2024, 1, 1),
                end_date=D(2024, 12, 31),
            )
            SubscriptionLineFactory(
                account=account,
                product=product,
                arr=Decimal("90"),
                list_price_arr=prices[1],
                start_date=D(2025, 1, 1),
                end_date=D(2027, 12, 31),
            )
    with tenant_scope(tenant_a):
        ledger_rebuild(tenant=tenant_a)


def test_a_leader_sees_the_answers_and_the_missing_list_price(client_for, lena, priced_tenant):
    response = client_for(lena).get(URL, {"period": "ttm"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "-10.0% <span" in html
    assert "1 more have no list price recorded" in html
    assert response.context["industries"]
    assert {row["key"] for row in response.context["industries"]} == {"Retail", "Banking"}


def test_a_csm_is_refused(client_for, bob, priced_tenant):
    assert client_for(bob).get(URL).status_code == 403


def test_the_query_count_does_not_grow(client_for, lena, tenant_a, priced_tenant, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(lena)
    with scopes_disabled():  # one customer older than three years, so their names are read both times
        SubscriptionLineFactory(account=AccountFactory(tenant=tenant_a), start_date=D(2020, 1, 1))
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    with scopes_disabled():
        for _ in range(10):
            SubscriptionLineFactory(account=AccountFactory(tenant=tenant_a), start_date=D(2020, 1, 1))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(URL).status_code == 200
