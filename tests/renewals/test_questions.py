"""DOMAIN.md §2's leader questions, on small data computed by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.services import tenant_today
from csplatform.tenancy import tenant_scope
from renewals import metrics, questions
from renewals.ledger import ledger_rebuild
from tests.downloads import csv_text

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
    assert "-10.0%</a> <span" in html
    assert "1 more</a> have no list price recorded" in html
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


# --- The same answers in SQL, and the rows behind them ------------------------------------------


@pytest.fixture
def lines_in_db(tenant_a):
    """``LINES`` written to tenant A: {account number: account}, {product number: product}."""
    with scopes_disabled():
        products = {number: ProductFactory(tenant=tenant_a, name=f"P{number}") for number in (10, 20)}
        accounts = {number: AccountFactory(tenant=tenant_a, name=f"Customer {number}") for number in range(1, 6)}
        for row in LINES.itertuples(index=False):
            SubscriptionLineFactory(
                account=accounts[row.account_id],
                product=products[row.product_id],
                arr=Decimal(row.arr),
                list_price_arr=None if pd.isna(row.list_price_arr) else Decimal(row.list_price_arr),
                start_date=row.start_date,
                end_date=row.end_date,
            )
    return accounts, products


def test_the_sql_answers_equal_the_pure_functions(tenant_a, lines_in_db):
    accounts, _ = lines_in_db
    with tenant_scope(tenant_a):
        assert questions.discount_summary(tenant=tenant_a) == pytest.approx(
            metrics.discount_change_summary(metrics.first_renewal_discounts(LINES))
        )
        rows = questions.discount_rows(tenant=tenant_a)
        tenured = questions.tenured_summary(tenant=tenant_a, today=TODAY)
        every = questions.tenured_rows(tenant=tenant_a, today=TODAY)
    # Customer 2 went from 0 to 20% off (+20 points), customer 1 from 20% to 10% off (-10 points);
    # customer 3's first term has no list price: listed last, without a change.
    assert [(row["account"], round(row["change"], 4) if row["change"] is not None else None) for row in rows] == [
        ("Customer 2", 0.2),
        ("Customer 1", -0.1),
        ("Customer 3", None),
    ]
    assert (rows[1]["first_start"], rows[1]["renewal_start"]) == (D(2020, 1, 1), D(2021, 1, 1))
    assert (rows[1]["first_list_price"], rows[1]["renewal_arr"]) == (125, 90)
    # Customers 1 (100 -> 200) and 5 (80 -> 80) are older than three years and still customers.
    assert (tenured["customers"], tenured["original_arr"], tenured["current_arr"]) == (2, 180, 280)
    assert tenured["ratio"] == pytest.approx(280 / 180)
    assert [(row["account_id"], row["original_arr"], row["current_arr"]) for row in every] == [
        (accounts[1].pk, 100, 200),
        (accounts[5].pk, 80, 80),
    ]
    assert tenured["top"] == every


def test_the_discount_number_drills_to_the_lines_behind_it(client_for, lena, priced_tenant):
    client = client_for(lena)
    page = client.get(URL, {"period": "ttm"})
    assert reverse("renewals:discounts") in page.content.decode()
    drill = client.get(reverse("renewals:discounts"))
    assert drill.status_code == 200
    rows = drill.context["rows"]
    assert len(rows) == page.context["discounts"]["priced"] == 1
    average = sum(row["change"] for row in rows) / len(rows)
    assert average == pytest.approx(page.context["discounts"]["average_change"])
    assert "-10.0%" in drill.content.decode()
    unpriced = client.get(reverse("renewals:discounts"), {"priced": "0"})
    assert len(unpriced.context["rows"]) == page.context["discounts"]["unpriced"] == 1
    csv = csv_text(client.get(reverse("renewals:discounts"), {"format": "csv"})).splitlines()
    assert csv[0].startswith("account_id,account,product,first_line_id")
    assert len(csv) == 2
    assert client_for(lena).get(reverse("renewals:discounts")).status_code == 200


def test_a_csm_cannot_open_the_discount_rows(client_for, bob, priced_tenant):
    assert client_for(bob).get(reverse("renewals:discounts")).status_code == 403


def test_the_share_that_grew_drills_to_the_accounts_that_grew(client_for, lena, tenant_a, bob):
    """Two accounts in the cohort, one grows: the page's 1 of 2 lists exactly those accounts."""
    with scopes_disabled():
        product = ProductFactory(tenant=tenant_a)
        grower = AccountFactory(tenant=tenant_a, owner=bob, name="Grower")
        flat = AccountFactory(tenant=tenant_a, owner=bob, name="Flat")
        for account in (grower, flat):
            SubscriptionLineFactory(
                account=account, product=product, arr=Decimal("100"), start_date=D(2020, 1, 1), end_date=D(2040, 12, 31)
            )
        # An upsell this month: 100 -> 150 over the trailing twelve months.
        SubscriptionLineFactory(
            account=grower,
            product=product,
            arr=Decimal("50"),
            start_date=tenant_today(tenant_a).replace(day=1),
            end_date=D(2040, 12, 31),
        )
    with tenant_scope(tenant_a):
        ledger_rebuild(tenant=tenant_a)
    client = client_for(lena)
    page = client.get(URL, {"period": "ttm"})
    assert (page.context["grew"], page.context["cohort"]) == (1, 2)
    grew = client.get(reverse("renewals:drill"), {"period": "ttm", "slice": "segment", "metric": "expansion"})
    assert [row["account"] for row in grew.context["rows"]] == ["Grower"]
    assert grew.context["count"] == page.context["grew"]
    cohort = client.get(reverse("renewals:drill"), {"period": "ttm", "slice": "segment", "metric": "cohort"})
    assert cohort.context["count"] == page.context["cohort"]
    assert sorted(row["account"] for row in cohort.context["rows"]) == ["Flat", "Grower"]
    ledger = client.get(reverse("renewals:account_ledger", kwargs={"account_id": grower.pk}), {"period": "ttm"})
    assert ledger.context["total"] == Decimal("50")


def test_every_table_of_the_page_exports_csv(client_for, lena, priced_tenant):
    client = client_for(lena)
    for export, first_column in (("csv", "account"), ("industry.csv", "industry"), ("product.csv", "product")):
        response = client.get(URL, {"period": "ttm", "format": export})
        assert response["Content-Type"].startswith("text/csv")
        assert csv_text(response).splitlines()[0].split(",")[0] == first_column
    products = csv_text(client.get(URL, {"period": "ttm", "format": "product.csv"})).splitlines()
    assert len(products) == 2  # header + the one product
