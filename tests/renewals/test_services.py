"""The ledger written to the database, renewals created from lines, and closing a renewal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import Account
from csplatform.tenancy import tenant_scope
from renewals.ledger import ledger_rebuild
from renewals.models import (
    ArrMovement,
    ChurnCategory,
    ChurnReason,
    ForecastCategory,
    Renewal,
    RenewalOutcome,
    SubscriptionLine,
)
from renewals.queries import open_renewals_due
from renewals.services import (
    NewLine,
    churn_reason_delete,
    churn_reason_retire,
    churn_reasons_create_defaults,
    renewal_close,
    renewal_forecast_update,
    renewals_create_upcoming,
)

from ..factories import AccountFactory, ProductFactory, SubscriptionLineFactory
from .factories import ChurnReasonFactory, RenewalFactory

D = dt.date
TODAY = D(2026, 1, 10)


@pytest.fixture
def book(tenant_a, bob):
    """One account of bob's with two products on a term ending 31 Dec 2025 (overdue by ten
    days on TODAY), and a renewal for it."""
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob, name="Initech")
        core, addon = ProductFactory(tenant=tenant_a, name="Core"), ProductFactory(tenant=tenant_a, name="Add-on")
        SubscriptionLineFactory(
            account=account, product=core, arr=Decimal("100000"), start_date=D(2025, 1, 1), end_date=D(2025, 12, 31)
        )
        SubscriptionLineFactory(
            account=account, product=addon, arr=Decimal("20000"), start_date=D(2025, 3, 10), end_date=D(2025, 12, 31)
        )
        renewal = RenewalFactory(account=account, renewal_date=D(2025, 12, 31), arr_up=Decimal("120000"))
        reasons = {reason.name: reason for reason in churn_reasons_create_defaults(tenant=tenant_a)}
    return {
        "tenant": tenant_a,
        "account": account,
        "core": core,
        "addon": addon,
        "renewal": renewal,
        "reasons": reasons,
    }


def ledger_rows(tenant, account):
    with tenant_scope(tenant):
        return [
            (row.month.isoformat()[:7], row.product.name, row.kind, row.amount)
            for row in ArrMovement.objects.filter(account=account)
            .select_related("product")
            .order_by("month", "product__name")
        ]


def test_ledger_rebuild_writes_the_movements_and_is_idempotent(book):
    tenant = book["tenant"]
    with tenant_scope(tenant):
        assert ledger_rebuild(tenant=tenant, today=TODAY) == 4
        assert ledger_rebuild(tenant=tenant, today=TODAY) == 4
    assert ledger_rows(tenant, book["account"]) == [
        ("2025-01", "Core", "new", Decimal("100000")),
        ("2025-03", "Add-on", "expansion", Decimal("20000")),  # a cross-sell while the account stays
        ("2026-01", "Add-on", "churn", Decimal("-20000")),  # overdue: the term lapsed on 31 Dec
        ("2026-01", "Core", "churn", Decimal("-100000")),
    ]


def test_ledger_rebuild_for_some_accounts_leaves_the_others_alone(book, tenant_a):
    with scopes_disabled():
        other = AccountFactory(tenant=tenant_a)
        SubscriptionLineFactory(account=other, product=book["core"], start_date=D(2025, 6, 1), end_date=D(2026, 5, 31))
    with tenant_scope(tenant_a):
        ledger_rebuild(tenant=tenant_a, today=TODAY)
        SubscriptionLine.objects.filter(account=other).update(arr=Decimal("99"))
        ledger_rebuild(tenant=tenant_a, account_ids=[book["account"].pk], today=TODAY)
        assert ArrMovement.objects.get(account=other).amount == Decimal("12000")
        assert ArrMovement.objects.filter(account=book["account"]).count() == 4


def test_upcoming_renewals_are_one_per_account_and_term_within_twelve_months(tenant_a, bob):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob)
        SubscriptionLineFactory(
            account=account, arr=Decimal("30000"), start_date=D(2025, 7, 1), end_date=D(2026, 6, 30)
        )
        SubscriptionLineFactory(account=account, arr=Decimal("5000"), start_date=D(2025, 9, 1), end_date=D(2026, 6, 30))
        SubscriptionLineFactory(account=account, arr=Decimal("7000"), start_date=D(2025, 2, 1), end_date=D(2026, 1, 31))
        # Ends beyond the horizon, and ended before today: neither is up for renewal now.
        SubscriptionLineFactory(account=account, arr=Decimal("1"), start_date=D(2026, 7, 1), end_date=D(2027, 6, 30))
        SubscriptionLineFactory(account=account, arr=Decimal("2"), start_date=D(2024, 1, 1), end_date=D(2024, 12, 31))
    with tenant_scope(tenant_a):
        assert renewals_create_upcoming(tenant=tenant_a, today=TODAY) == 2
        assert renewals_create_upcoming(tenant=tenant_a, today=TODAY) == 0
        renewals = list(
            Renewal.objects.order_by("renewal_date").values_list(
                "renewal_date", "arr_up", "owner_id", "forecast_category", "forecast_arr"
            )
        )
    assert renewals == [
        (D(2026, 1, 31), Decimal("7000"), bob.pk, ForecastCategory.LIKELY, Decimal("7000")),
        (D(2026, 6, 30), Decimal("35000"), bob.pk, ForecastCategory.LIKELY, Decimal("35000")),
    ]


def test_closing_as_expanded_writes_the_next_term_and_the_ledger_shows_expansion_at_once(book, bob):
    tenant, account = book["tenant"], book["account"]
    with tenant_scope(tenant):
        ledger_rebuild(tenant=tenant, today=TODAY)
        renewal = renewal_close(
            renewal=book["renewal"],
            closed_by=bob,
            outcome=RenewalOutcome.EXPANDED,
            today=TODAY,
            new_lines=[NewLine(book["core"], Decimal("130000")), NewLine(book["addon"], Decimal("20000"))],
        )
        lines = list(
            SubscriptionLine.objects.filter(account=account, start_date=D(2026, 1, 1))
            .order_by("product__name")
            .values_list("product__name", "arr", "end_date")
        )
        account.refresh_from_db()
    assert renewal.outcome == RenewalOutcome.EXPANDED
    assert renewal.new_arr == Decimal("150000")
    assert renewal.closed_at is not None
    assert lines == [("Add-on", Decimal("20000"), D(2026, 12, 31)), ("Core", Decimal("130000"), D(2026, 12, 31))]
    assert account.arr == Decimal("150000")
    # The lapse became an expansion of Core in January, not churn then new.
    assert ledger_rows(tenant, account)[2:] == [("2026-01", "Core", "expansion", Decimal("30000"))]


def test_closing_a_churn_without_a_reason_is_refused_on_the_reason_field_and_writes_nothing(book, bob):
    tenant = book["tenant"]
    with tenant_scope(tenant), pytest.raises(ValidationError) as refused:
        renewal_close(renewal=book["renewal"], closed_by=bob, outcome=RenewalOutcome.CHURNED, new_lines=[], today=TODAY)
    assert set(refused.value.message_dict) == {"churn_reason", "affected_products"}
    assert "needs a reason" in refused.value.message_dict["churn_reason"][0]
    with tenant_scope(tenant):
        assert Renewal.objects.get(pk=book["renewal"].pk).closed_at is None
        assert SubscriptionLine.objects.filter(start_date=D(2026, 1, 1)).count() == 0


def test_a_contraction_with_other_as_reason_needs_a_note(book, bob):
    with tenant_scope(book["tenant"]), pytest.raises(ValidationError) as refused:
        renewal_close(
            renewal=book["renewal"],
            closed_by=bob,
            outcome=RenewalOutcome.CONTRACTED,
            today=TODAY,
            new_lines=[NewLine(book["core"], Decimal("100000"))],
            churn_reason=book["reasons"]["Other"],
            affected_products=[book["addon"]],
        )
    assert list(refused.value.message_dict) == ["reason_note"]


def test_a_contraction_with_a_reason_records_it_and_the_products_lost(book, bob):
    with tenant_scope(book["tenant"]):
        renewal = renewal_close(
            renewal=book["renewal"],
            closed_by=bob,
            outcome=RenewalOutcome.CONTRACTED,
            today=TODAY,
            new_lines=[NewLine(book["core"], Decimal("100000"))],
            churn_reason=book["reasons"]["Product gap"],
            affected_products=[book["addon"]],
        )
        assert list(renewal.affected_products.values_list("name", flat=True)) == ["Add-on"]
    assert renewal.arr_lost == Decimal("20000")
    assert renewal.churn_reason.name == "Product gap"


def test_an_outcome_that_disagrees_with_the_numbers_is_refused(book, bob):
    with tenant_scope(book["tenant"]), pytest.raises(ValidationError) as refused:
        renewal_close(
            renewal=book["renewal"],
            closed_by=bob,
            outcome=RenewalOutcome.RENEWED,
            today=TODAY,
            new_lines=[NewLine(book["core"], Decimal("90000"))],
        )
    assert "that is contracted, not renewed" in refused.value.message_dict["outcome"][0]


def test_a_renewal_closes_once(book, bob):
    with tenant_scope(book["tenant"]):
        lines = [NewLine(book["core"], Decimal("100000")), NewLine(book["addon"], Decimal("20000"))]
        renewal_close(
            renewal=book["renewal"], closed_by=bob, outcome=RenewalOutcome.RENEWED, new_lines=lines, today=TODAY
        )
        stale = Renewal.objects.get(pk=book["renewal"].pk)
        stale.closed_at = None  # another worker's copy, read before the close
        with pytest.raises(ValidationError, match="closed already"):
            renewal_close(renewal=stale, closed_by=bob, outcome=RenewalOutcome.RENEWED, new_lines=lines, today=TODAY)
        assert SubscriptionLine.objects.filter(start_date=D(2026, 1, 1)).count() == 2


def test_a_retired_reason_is_refused_and_a_used_reason_cannot_be_deleted(book, bob):
    tenant, reason = book["tenant"], book["reasons"]["Poor adoption"]
    with tenant_scope(tenant):
        churn_reason_retire(reason=reason, today=TODAY)
        with pytest.raises(ValidationError) as refused:
            renewal_close(
                renewal=book["renewal"],
                closed_by=bob,
                outcome=RenewalOutcome.CHURNED,
                new_lines=[],
                churn_reason=reason,
                affected_products=[book["core"]],
                today=TODAY,
            )
        assert "retired" in refused.value.message_dict["churn_reason"][0]
        churn_reason_retire(reason=reason, today=TODAY, retired=False)
        renewal_close(
            renewal=book["renewal"],
            closed_by=bob,
            outcome=RenewalOutcome.CHURNED,
            new_lines=[],
            churn_reason=reason,
            affected_products=[book["core"], book["addon"]],
            today=TODAY,
        )
        with pytest.raises(ValidationError, match="retire it instead"):
            churn_reason_delete(reason=reason)
        assert ChurnReason.objects.filter(pk=reason.pk).exists()
        unused = ChurnReasonFactory(tenant=tenant, category=ChurnCategory.PRODUCT_FIT)
        churn_reason_delete(reason=unused)
        assert not ChurnReason.objects.filter(pk=unused.pk).exists()
        assert Account.objects.get(pk=book["account"].pk).arr == 0


def test_a_forecast_of_lost_keeps_no_arr(book):
    with tenant_scope(book["tenant"]):
        with pytest.raises(ValidationError) as refused:
            renewal_forecast_update(
                renewal=book["renewal"], forecast_category=ForecastCategory.LOST, forecast_arr=Decimal("5")
            )
        assert list(refused.value.message_dict) == ["forecast_arr"]
        renewal_forecast_update(
            renewal=book["renewal"],
            forecast_category=ForecastCategory.AT_RISK,
            forecast_arr=Decimal("80000"),
            notes="Champion left",
        )
        assert Renewal.objects.get(pk=book["renewal"].pk).forecast_category == ForecastCategory.AT_RISK


def test_open_renewals_due_lists_the_accounts_at_a_checkpoint(tenant_a, bob):
    """The 90-day checkpoint: open renewals from today to 90 days out; closed ones and later
    ones are not due."""
    today = dt.date(2026, 6, 1)
    with scopes_disabled():
        due = RenewalFactory(account=AccountFactory(tenant=tenant_a, owner=bob), renewal_date=dt.date(2026, 8, 30))
        RenewalFactory(account=due.account, renewal_date=dt.date(2027, 8, 30))  # the term after: later
        RenewalFactory(
            account=AccountFactory(tenant=tenant_a), renewal_date=dt.date(2026, 7, 1), closed_at=timezone.now(),
            outcome="renewed", new_arr=Decimal("12000"),
        )  # fmt: skip
        RenewalFactory(account=AccountFactory(tenant=tenant_a), renewal_date=dt.date(2026, 9, 15))  # 106 days
        RenewalFactory(account=AccountFactory(tenant=tenant_a), renewal_date=dt.date(2026, 5, 31))  # overdue
    with tenant_scope(tenant_a):
        assert open_renewals_due(tenant=tenant_a, within_days=90, today=today) == {due.account_id: due.renewal_date}
        assert len(open_renewals_due(tenant=tenant_a, within_days=180, today=today)) == 2
        assert open_renewals_due(tenant=tenant_a, within_days=180, today=today, account_ids=[due.account_id]) == {
            due.account_id: due.renewal_date
        }
