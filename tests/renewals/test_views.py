"""The renewals pages: who may see and do what, field errors, bounded queries, drill-down and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.services import tenant_today
from csplatform.exports import csv_cell
from csplatform.tenancy import tenant_scope
from renewals.ledger import ledger_rebuild
from renewals.models import ChurnReason, ForecastCategory, Renewal, RenewalOutcome, SubscriptionLine
from renewals.services import churn_reasons_create_defaults
from tests.downloads import csv_text

from ..factories import AccountFactory, ProductFactory, SubscriptionLineFactory
from .factories import RenewalFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


def _book(tenant, owner, count: int, *, name: str = "Account", today: dt.date):
    """``count`` accounts of ``owner``, each with a line ending in a month and an open renewal;
    half of them churned a product last year so the dashboard has every kind of number."""
    with scopes_disabled():
        product = ProductFactory(tenant=tenant)
        renewals = []
        for number in range(count):
            account = AccountFactory(tenant=tenant, owner=owner, name=f"{name} {number}")
            end = today + dt.timedelta(days=30 + number)
            SubscriptionLineFactory(
                account=account,
                product=product,
                arr=Decimal("10000"),
                start_date=today - dt.timedelta(days=400),
                end_date=end - dt.timedelta(days=365),
            )
            SubscriptionLineFactory(
                account=account,
                product=product,
                arr=Decimal("10000") + number,
                start_date=end - dt.timedelta(days=364),
                end_date=end,
            )
            renewals.append(RenewalFactory(account=account, renewal_date=end, arr_up=Decimal("10000") + number))
    with tenant_scope(tenant):
        ledger_rebuild(tenant=tenant)
    return renewals


@pytest.fixture
def today(tenant_a):
    return tenant_today(tenant_a)


def test_a_csm_sees_only_their_renewals_and_a_leader_sees_all(client_for, bob, bea, lena, tenant_a, today):
    _book(tenant_a, bob, 2, name="Bobs", today=today)
    _book(tenant_a, bea, 1, name="Beas", today=today)
    page = client_for(bob).get(reverse("renewals:pipeline")).content.decode()
    assert "Bobs 0" in page
    assert "Bobs 1" in page
    assert "Beas 0" not in page
    page = client_for(lena).get(reverse("renewals:pipeline")).content.decode()
    assert "Beas 0" in page
    assert "Bobs 0" in page
    assert "0-3 months" in page


@pytest.mark.parametrize("count", [2, 25])
def test_the_pipeline_and_dashboard_issue_a_bounded_number_of_queries(
    count, client_for, bob, lena, tenant_a, today, django_assert_max_num_queries
):
    _book(tenant_a, bob, count, today=today)
    client = client_for(lena)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("renewals:pipeline")).status_code == 200
    # Each database-side summary is a savepoint, a setting, the query and a release: 20 in all.
    with django_assert_max_num_queries(20):
        assert client.get(reverse("renewals:dashboard"), {"slice": "product"}).status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(reverse("renewals:drill"), {"metric": "cohort"}).status_code == 200


def test_the_forecast_is_edited_inline_and_a_bad_value_is_a_field_error(client_for, bob, bea, tenant_a, today):
    (renewal,) = _book(tenant_a, bob, 1, today=today)
    url = reverse("renewals:forecast", kwargs={"renewal_id": renewal.pk})
    client = client_for(bob)
    refused = client.post(url, {"forecast_category": "lost", "forecast_arr": "500"}, **HTMX)
    assert refused.status_code == 422
    assert "A renewal forecast as lost keeps no ARR" in refused.content.decode()
    saved = client.post(url, {"forecast_category": "at_risk", "forecast_arr": "8000"}, **HTMX)
    assert saved.status_code == 200
    assert f'id="renewal-{renewal.pk}"' in saved.content.decode()
    assert "<html" not in saved.content.decode()
    with scopes_disabled():
        renewal.refresh_from_db()
    assert (renewal.forecast_category, renewal.forecast_arr) == (ForecastCategory.AT_RISK, Decimal("8000"))
    assert client_for(bea).post(url, {"forecast_category": "commit", "forecast_arr": "1"}, **HTMX).status_code == 403


def test_closing_a_churn_without_a_reason_is_refused_with_a_field_message(client_for, bob, tenant_a, today):
    (renewal,) = _book(tenant_a, bob, 1, today=today)
    url = reverse("renewals:close", kwargs={"renewal_id": renewal.pk})
    with scopes_disabled():
        product_id = SubscriptionLine.objects.filter(account=renewal.account).first().product_id
    response = client_for(bob).post(url, {"outcome": "churned", f"arr_{product_id}": "0", "term_months": "12"})
    assert response.status_code == 422
    page = response.content.decode()
    assert "A churn or a contraction needs a reason" in page
    assert "Choose the products that were lost or reduced." in page
    with scopes_disabled():
        assert Renewal.objects.get(pk=renewal.pk).closed_at is None


def test_closing_a_churn_with_a_reason_shows_on_the_dashboard_at_once(client_for, bob, lena, tenant_a, today):
    (renewal,) = _book(tenant_a, bob, 1, today=today)
    with scopes_disabled():
        reason = churn_reasons_create_defaults(tenant=tenant_a)[0]
        product_id = SubscriptionLine.objects.filter(account=renewal.account).first().product_id
    response = client_for(bob).post(
        reverse("renewals:close", kwargs={"renewal_id": renewal.pk}),
        {
            "outcome": "churned",
            f"arr_{product_id}": "0",
            "term_months": "12",
            "churn_reason": reason.pk,
            "affected_products": [product_id],
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        assert Renewal.objects.get(pk=renewal.pk).outcome == RenewalOutcome.CHURNED
    # The renewal's term ends in this period's future, so its reason is on the next quarters' terms;
    # the trailing twelve months look back, so check the closed renewal is on the pipeline no more.
    assert "Account 0" not in client_for(bob).get(reverse("renewals:pipeline")).content.decode()


def test_the_dashboard_is_for_leaders_and_admins(client_for, bob, lena, alice):
    assert client_for(bob).get(reverse("renewals:dashboard")).status_code == 403
    assert client_for(bob).get(reverse("renewals:drill")).status_code == 403
    assert client_for(lena).get(reverse("renewals:dashboard")).status_code == 200
    assert client_for(alice).get(reverse("renewals:dashboard")).status_code == 200


def test_dashboard_numbers_drill_down_to_accounts_and_ledger_rows(client_for, lena, bob, tenant_a, today):
    _book(tenant_a, bob, 2, today=today)
    page = client_for(lena).get(reverse("renewals:dashboard"), {"period": "ttm"}).content.decode()
    assert "GRR" in page
    assert "ARR bridge" in page
    assert reverse("renewals:drill") in page
    drill = client_for(lena).get(reverse("renewals:drill"), {"period": "ttm", "metric": "cohort"}).content.decode()
    assert "Account 0" in drill
    assert "Account 1" in drill
    assert f"{reverse('renewals:drill')}?period=ttm&amp;slice=segment&amp;metric=end" in page
    end = client_for(lena).get(reverse("renewals:drill"), {"period": "ttm", "metric": "end"}).content.decode()
    assert "ARR at end, all accounts" in end
    with scopes_disabled():
        account = Renewal.objects.filter(tenant=tenant_a).first().account
    ledger = client_for(lena).get(reverse("renewals:account_ledger", kwargs={"account_id": account.pk}))
    assert "New business" in ledger.content.decode()


def test_csv_exports_neutralise_formula_cells(client_for, lena, bob, tenant_a, today):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob, name="=HYPERLINK(evil)")
        SubscriptionLineFactory(
            account=account, start_date=today - dt.timedelta(days=40), end_date=today + dt.timedelta(days=40)
        )
    with tenant_scope(tenant_a):
        ledger_rebuild(tenant=tenant_a)
    response = client_for(lena).get(reverse("renewals:drill"), {"metric": "new", "format": "csv"})
    rows = list(csv.reader(io.StringIO(csv_text(response))))
    assert rows[0][0] == "account"
    assert rows[1][0] == "'=HYPERLINK(evil)"
    assert [csv_cell(v) for v in ("+1", "-x", "@a", "ok", -5)] == ["'+1", "'-x", "'@a", "ok", -5]


def test_the_churn_reason_taxonomy_is_for_admins_and_a_used_reason_is_never_deleted(
    client_for, alice, lena, bob, tenant_a, today
):
    assert client_for(lena).get(reverse("renewals:churn_reasons")).status_code == 403
    assert client_for(bob).get(reverse("renewals:churn_reasons")).status_code == 403
    client = client_for(alice)
    assert client.get(reverse("renewals:churn_reasons")).status_code == 200
    refused = client.post(reverse("renewals:churn_reasons"), {"action": "add", "name": "", "category": "other"})
    assert refused.status_code == 422
    assert "This field is required." in refused.content.decode()
    (renewal,) = _book(tenant_a, bob, 1, today=today)
    with scopes_disabled():
        reason = ChurnReason.objects.get(tenant=tenant_a, name="Product gap")
        Renewal.objects.filter(pk=renewal.pk).update(
            churn_reason=reason, outcome=RenewalOutcome.CHURNED, new_arr=0, closed_at="2026-01-01T00:00Z"
        )
    client.post(reverse("renewals:churn_reason_delete", kwargs={"churn_reason_id": reason.pk}))
    with scopes_disabled():
        assert ChurnReason.objects.filter(pk=reason.pk).exists()
    client.post(reverse("renewals:churn_reason_retire", kwargs={"churn_reason_id": reason.pk}))
    with scopes_disabled():
        assert ChurnReason.objects.get(pk=reason.pk).retired_on is not None


def test_churn_reasons_drill_to_their_renewals_and_every_dashboard_table_exports_csv(
    client_for, lena, bob, tenant_a, today
):
    """Two renewals of the period closed as lost: one to poor adoption, one to a merger. The
    reasons table's count and ARR link to exactly those renewals; its rows sum to the table."""
    with scopes_disabled():
        reasons = {reason.name: reason for reason in churn_reasons_create_defaults(tenant=tenant_a)}
        product = ProductFactory(tenant=tenant_a, name="Core")
        for name, reason, arr_up, new_arr in (
            ("Lost A", reasons["Poor adoption"], "12000", "0"),
            ("Lost B", reasons["Merger"], "8000", "5000"),
        ):
            renewal = RenewalFactory(
                account=AccountFactory(tenant=tenant_a, owner=bob, name=name, industry="Retail"),
                renewal_date=today.replace(day=1) - dt.timedelta(days=1),
                arr_up=Decimal(arr_up),
                new_arr=Decimal(new_arr),
                outcome=RenewalOutcome.CHURNED if new_arr == "0" else RenewalOutcome.CONTRACTED,
                churn_reason=reason,
                closed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            )
            renewal.affected_products.add(product, through_defaults={"tenant": tenant_a})
    client = client_for(lena)
    page = client.get(reverse("renewals:dashboard"), {"period": "ttm", "slice": "industry"})
    reason_rows = {row["reason"]: row for row in page.context["reasons"]}
    assert set(reason_rows) == {"Poor adoption", "Hard to affect: Merger"}
    assert reverse("renewals:reason_drill") in page.content.decode()
    merger = client.get(
        reverse("renewals:reason_drill"),
        {"period": "ttm", "slice": "industry", "reason": "Hard to affect: Merger", "value": "Retail"},
    )
    assert [r.account.name for r in merger.context["renewals"]] == ["Lost B"]
    assert merger.context["arr_lost"] == Decimal(reason_rows["Hard to affect: Merger"]["arr_lost"]) == 3000
    by_product = client.get(
        reverse("renewals:reason_drill"),
        {"period": "ttm", "slice": "product", "reason": "Poor adoption", "value": "Core"},
    )
    assert [r.account.name for r in by_product.context["renewals"]] == ["Lost A"]
    csv_rows = csv_text(
        client.get(reverse("renewals:reason_drill"), {"period": "ttm", "reason": "Poor adoption", "format": "csv"})
    )
    assert "Lost A" in csv_rows
    assert "Lost B" not in csv_rows
    for export, header in (("csv", "industry"), ("trend.csv", "period"), ("reasons.csv", "reason")):
        response = client.get(reverse("renewals:dashboard"), {"period": "ttm", "slice": "industry", "format": export})
        assert response["Content-Type"].startswith("text/csv")
        assert csv_text(response).splitlines()[0].split(",")[0] == header
    assert client_for(bob).get(reverse("renewals:reason_drill")).status_code == 403


def test_every_trend_point_drills_to_the_accounts_behind_it(client_for, lena, bob, tenant_a, today):
    _book(tenant_a, bob, 3, today=today)
    client = client_for(lena)
    page = client.get(reverse("renewals:dashboard"), {"period": "quarter"})
    trend = page.context["trend"]
    assert "back=3" in page.content.decode()
    for back in (0, 3):
        point = trend[len(trend) - 1 - back]
        drill = client.get(reverse("renewals:drill"), {"period": "quarter", "metric": "cohort", "back": back})
        assert drill.context["period"].short_label == point["label"]
        assert drill.context["count"] == point["accounts_start"]
        assert drill.context["totals"]["arr_start"] == pytest.approx(point["arr_start"])
    assert client.get(reverse("renewals:drill"), {"period": "quarter", "back": "x"}).context["back"] == 0
