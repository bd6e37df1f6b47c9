"""The forecast page: projected GRR of the current and next quarter from the renewals' forecasts,
the expansion needed for the NRR target, the renewals behind each number, CSV, leaders only."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from csplatform.tenancy import tenant_scope
from renewals.ledger import ledger_rebuild
from renewals.models import ExpansionStage, ForecastCategory
from renewals.queries import forecast_quarters
from tests.downloads import csv_text

from ..factories import AccountFactory, ProductFactory, SubscriptionLineFactory
from .factories import ExpansionOpportunityFactory, RenewalFactory

D = dt.date
TODAY = D(2026, 11, 23)  # Q4 2026 starts from ARR at 30 Sep; Q1 2027 has not begun: today's ARR


@pytest.fixture
def book(tenant_a, bob):
    """A-D renew on 15 Dec 2026 at 10,000 each; E on 28 Feb 2027 at 8,000.
    Forecasts: A commit 10,000; B at risk 6,000; C lost; D likely 12,000 (an upsell); E commit 8,000."""
    with scopes_disabled():
        product = ProductFactory(tenant=tenant_a)
        forecasts = {
            "A": (ForecastCategory.COMMIT, 10000),
            "B": (ForecastCategory.AT_RISK, 6000),
            "C": (ForecastCategory.LOST, 0),
            "D": (ForecastCategory.LIKELY, 12000),
        }
        for name, (category, forecast_arr) in forecasts.items():
            account = AccountFactory(tenant=tenant_a, owner=bob, name=f"Renewing {name}")
            SubscriptionLineFactory(
                account=account, product=product, arr=Decimal(10000), start_date=D(2026, 1, 1), end_date=D(2026, 12, 15)
            )
            RenewalFactory(
                account=account,
                renewal_date=D(2026, 12, 15),
                arr_up=Decimal(10000),
                forecast_category=category,
                forecast_arr=Decimal(forecast_arr),
            )
        account = AccountFactory(tenant=tenant_a, owner=bob, name="=Renewing E")
        SubscriptionLineFactory(
            account=account, product=product, arr=Decimal(8000), start_date=D(2026, 3, 1), end_date=D(2027, 2, 28)
        )
        RenewalFactory(account=account, renewal_date=D(2027, 2, 28), arr_up=Decimal(8000))
        ExpansionOpportunityFactory(account=account, product=product, arr=Decimal(3000), expected_close=D(2026, 12, 1))
        ExpansionOpportunityFactory(  # won already: not pipeline
            account=account, product=product, arr=Decimal(9000), expected_close=D(2026, 12, 1), stage=ExpansionStage.WON
        )
    with tenant_scope(tenant_a):
        ledger_rebuild(tenant=tenant_a, today=TODAY)
    return tenant_a


def test_projected_grr_and_expansion_needed_follow_the_stated_rule(book):
    with tenant_scope(book):
        current, following = forecast_quarters(tenant=book, today=TODAY)
    # Q4: start 48,000 (A-D 40,000 + E 8,000); loss B 4,000 + C 10,000; expansion D 2,000.
    assert current["period"].label == "Q4 2026"
    assert (current["arr_start"], current["arr_up"], current["loss"], current["expansion"]) == (
        48000,
        40000,
        14000,
        2000,
    )
    assert current["grr"] == Decimal(34000) / Decimal(48000)
    # Default NRR target 110%: 52,800 - (48,000 - 14,000 + 2,000) = 16,800.
    assert current["expansion_needed"] == Decimal("16800")
    assert current["pipeline"] == 3000
    assert current["by_category"]["lost"] == {"count": 1, "arr_up": 10000, "projected": 0}
    # Q1 2027 starts from today's ARR (48,000); E commits its 8,000: GRR 100%, 4,800 still needed.
    assert (following["arr_start"], following["loss"], following["grr"]) == (48000, 0, 1)
    assert following["expansion_needed"] == Decimal("4800")


@pytest.fixture
def fixed_today(monkeypatch):
    monkeypatch.setattr("renewals.views.tenant_today", lambda tenant: TODAY)


def test_the_forecast_page_drills_down_and_exports_csv_for_leaders_only(book, client_for, bob, lena, fixed_today):
    assert client_for(bob).get(reverse("renewals:forecast")).status_code == 403
    page = client_for(lena).get(reverse("renewals:forecast")).content.decode()
    assert "Projected GRR" in page
    assert "70.8%" in page  # 34,000 / 48,000
    lost = client_for(lena).get(reverse("renewals:forecast"), {"quarter": "current", "category": "lost"})
    assert "Renewing C" in lost.content.decode()
    assert "Renewing A" not in lost.content.decode()
    response = client_for(lena).get(reverse("renewals:forecast"), {"quarter": "next", "format": "csv"})
    rows = list(csv.reader(io.StringIO(csv_text(response))))
    assert rows[0][0] == "account"
    assert rows[1][0] == "'=Renewing E"


def test_the_forecast_page_issues_a_bounded_number_of_queries(
    book, client_for, lena, bob, fixed_today, django_assert_max_num_queries
):
    client = client_for(lena)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("renewals:forecast")).status_code == 200
    with scopes_disabled():
        for number in range(20):
            RenewalFactory(account=AccountFactory(tenant=book, owner=bob), renewal_date=D(2026, 12, 1 + number))
    with django_assert_max_num_queries(12):
        assert client.get(reverse("renewals:forecast")).status_code == 200
