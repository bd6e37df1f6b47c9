"""The renewals demo rows, seeded alone (other apps' seeders are theirs to test)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Q
from django_scopes import scopes_disabled

from csplatform import demo
from renewals.models import ArrMovement, ChurnReason, Renewal, RenewalAffectedProduct, RenewalOutcome

TODAY = dt.date(2026, 11, 24)


@pytest.mark.django_db
def test_the_demo_has_open_renewals_with_forecasts_and_closed_ones_with_reasons(monkeypatch):
    monkeypatch.setattr(demo, "APP_SEEDERS", ["renewals.demo.renewals_seed"])
    demo.demo_seed(account_count=60, tenant_count=1, today=TODAY)
    with scopes_disabled():
        open_renewals = Renewal.objects.filter(closed_at__isnull=True)
        assert open_renewals.count() > 20
        assert not open_renewals.filter(Q(renewal_date__lt=TODAY) | Q(renewal_date__gte=dt.date(2027, 11, 24))).exists()
        assert set(open_renewals.values_list("forecast_category", flat=True)) >= {"commit", "likely"}
        closed = Renewal.objects.filter(closed_at__isnull=False)
        assert set(closed.values_list("outcome", flat=True)) >= {"renewed", "expanded", "contracted", "churned"}
        lost = closed.filter(outcome__in=[RenewalOutcome.CHURNED, RenewalOutcome.CONTRACTED])
        assert not lost.filter(churn_reason__isnull=True).exists()
        assert RenewalAffectedProduct.objects.filter(renewal__in=lost).count() >= lost.count()
        assert ChurnReason.objects.count() == 8
        assert ArrMovement.objects.filter(kind="churn").exists()
        assert ArrMovement.objects.filter(kind="expansion").exists()


@pytest.mark.django_db
def test_the_demo_lines_have_list_prices_with_less_discount_at_renewal(monkeypatch):
    from renewals.models import SubscriptionLine

    monkeypatch.setattr(demo, "APP_SEEDERS", ["renewals.demo.renewals_seed"])
    demo.demo_seed(account_count=60, tenant_count=1, today=TODAY)
    with scopes_disabled():
        discounts = {line.discount_percent for line in SubscriptionLine.objects.all()}
        assert discounts <= {None, Decimal("20.0"), Decimal("10.0")}
        assert {None, Decimal("20.0"), Decimal("10.0")} <= discounts
