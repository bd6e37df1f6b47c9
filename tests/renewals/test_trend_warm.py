"""After a ledger rebuild the dashboard shows the last trend while a task warms the new one;
the headline numbers show a closed renewal at once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.services import tenant_today
from csplatform.tenancy import tenant_scope
from renewals import tasks
from renewals.ledger import ledger_rebuild

from ..factories import AccountFactory, ProductFactory, SubscriptionLineFactory
from .factories import RenewalFactory

DASHBOARD = reverse("renewals:dashboard")


@pytest.fixture
def overdue_renewal(tenant_a, bob, own_cache_cleared):
    """One customer whose $1,000 term ended ten days ago and is not renewed yet: for the
    trailing twelve months it has churned (GRR 0%) until its renewal is closed."""
    today = tenant_today(tenant_a)
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob)
        product = ProductFactory(tenant=tenant_a)
        end = today - dt.timedelta(days=10)
        SubscriptionLineFactory(
            account=account, product=product, arr=Decimal("1000"), start_date=end - dt.timedelta(days=420), end_date=end
        )
        renewal = RenewalFactory(account=account, renewal_date=end, arr_up=Decimal("1000"))
    with tenant_scope(tenant_a):
        ledger_rebuild(tenant=tenant_a)
    return renewal, product


def test_a_closed_renewal_shows_at_once_and_the_trend_is_warmed_after_commit(
    client_for, bob, lena, tenant_a, overdue_renewal, monkeypatch, django_capture_on_commit_callbacks
):
    renewal, product = overdue_renewal
    enqueued = []
    monkeypatch.setattr(tasks.warm_retention_trend, "delay", lambda **kwargs: enqueued.append(kwargs))
    leader = client_for(lena)
    before = leader.get(DASHBOARD, {"period": "ttm"}).context
    assert (before["total"]["grr"], before["trend_current"]) == (0.0, True)
    assert before["trend"][-1]["grr"] == 0.0

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(bob).post(
            reverse("renewals:close", kwargs={"renewal_id": renewal.pk}),
            {"outcome": "expanded", f"arr_{product.pk}": "1500", "term_months": "12"},
        )
    assert response.status_code == 302
    assert enqueued == [{"tenant_id": tenant_a.pk}]

    after = leader.get(DASHBOARD, {"period": "ttm"})
    # The headline is computed from the ledger on every view: the expansion shows at once.
    assert (after.context["total"]["grr"], after.context["total"]["nrr"]) == (1.0, 1.5)
    # The trend is the last one computed until the task has run, and says so.
    assert after.context["trend_current"] is False
    assert after.context["trend"][-1]["grr"] == 0.0
    assert 'id="trend-updating"' in after.content.decode()

    tasks.warm_retention_trend(tenant_id=tenant_a.pk)
    warmed = leader.get(DASHBOARD, {"period": "ttm"})
    assert warmed.context["trend_current"] is True
    assert (warmed.context["trend"][-1]["grr"], warmed.context["trend"][-1]["nrr"]) == (1.0, 1.5)
    assert 'id="trend-updating"' not in warmed.content.decode()


def test_with_no_trend_ever_cached_the_dashboard_computes_it(client_for, lena, overdue_renewal):
    context = client_for(lena).get(DASHBOARD, {"period": "quarter"}).context
    assert context["trend_current"] is True
    assert len(context["trend"]) == 8
