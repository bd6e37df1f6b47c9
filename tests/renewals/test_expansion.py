"""The renewal card on the account page and the account's expansion opportunities."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.services import tenant_today
from renewals.models import ExpansionKind, ExpansionOpportunity, ExpansionStage, ForecastCategory
from tests.downloads import csv_text

from ..factories import AccountFactory, ProductFactory
from .factories import ExpansionOpportunityFactory, RenewalFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def today(tenant_a):
    return tenant_today(tenant_a)


@pytest.fixture
def account(tenant_a, bob):
    with scopes_disabled():
        return AccountFactory(tenant=tenant_a, owner=bob, name="Initech")


@pytest.fixture
def product(tenant_a):
    with scopes_disabled():
        return ProductFactory(tenant=tenant_a, name="Analytics")


def _detail(client, account):
    return client.get(reverse("accounts:detail", kwargs={"account_id": account.pk}))


# --- The card ---------------------------------------------------------------------------------


def test_the_card_shows_the_next_open_renewal_and_open_expansion(client_for, bob, account, product, today):
    with scopes_disabled():
        RenewalFactory(
            account=account,
            renewal_date=today + dt.timedelta(days=45),
            arr_up=Decimal("24000"),
            forecast_category=ForecastCategory.AT_RISK,
            forecast_arr=Decimal("18000"),
        )
        RenewalFactory(account=account, renewal_date=today + dt.timedelta(days=400), arr_up=Decimal("99000"))
        ExpansionOpportunityFactory(account=account, product=product, arr=Decimal("5000"))
        ExpansionOpportunityFactory(
            account=account, product=product, arr=Decimal("7000"), stage=ExpansionStage.PROPOSAL
        )
        ExpansionOpportunityFactory(account=account, product=product, arr=Decimal("9000"), stage=ExpansionStage.WON)
    html = _detail(client_for(bob), account).content.decode()
    card = html[html.index('id="renewal-card"') :]
    assert "in 45 days" in card
    assert "$24,000 up for renewal" in card
    assert "forecast at risk at $18,000" in card
    assert "<strong>2</strong> open expansion opportunities · $12,000 ARR" in card
    assert "Close this renewal" in card
    assert "$99,000" not in card


def test_the_card_without_a_renewal_says_so_and_a_colleague_cannot_close(client_for, bea, account):
    html = _detail(client_for(bea), account).content.decode()
    card = html[html.index('id="renewal-card"') :]
    assert "No open renewal" in card
    assert "<strong>0</strong> open expansion opportunities · $0 ARR" in card
    assert "Close this renewal" not in card
    assert "See opportunities" in card


def test_the_card_runs_one_query_with_or_without_an_open_renewal(rf, bob, account, tenant_a, django_assert_num_queries):
    from csplatform.models import Membership
    from renewals.templatetags.renewals import renewal_card

    request = rf.get("/")
    request.tenant = tenant_a
    with scopes_disabled():
        request.membership = Membership.objects.select_related("tenant").get(tenant=tenant_a, user=bob)
        for number in range(5):
            ExpansionOpportunityFactory(account=account)
            RenewalFactory(account=account, renewal_date=dt.date(2027, 1, 1) + dt.timedelta(days=number))
    with scopes_disabled():
        other = AccountFactory(tenant=tenant_a, owner=bob)  # no renewal at all
        ExpansionOpportunityFactory(account=other)
        ExpansionOpportunityFactory(account=other)
    with scopes_disabled(), django_assert_num_queries(1):
        card = renewal_card({"request": request, "account": account})
    assert card["renewal"].renewal_date == dt.date(2027, 1, 1)
    assert card["expansion_count"] == 5
    assert card["expansion_arr"] == Decimal("25000")
    with scopes_disabled(), django_assert_num_queries(1):
        card = renewal_card({"request": request, "account": other})
    assert card["renewal"] is None
    assert card["expansion_count"] == 2
    assert card["expansion_arr"] == Decimal("10000")


# --- Expansion opportunities ------------------------------------------------------------------


def _list_url(account):
    return reverse("renewals:expansion_list", kwargs={"account_id": account.pk})


def test_the_owner_adds_an_opportunity(client_for, bob, account, product):
    response = client_for(bob).post(
        _list_url(account), {"kind": "cross_sell", "product": product.pk, "arr": "15000", "stage": "qualified"}
    )
    assert response.status_code == 302
    with scopes_disabled():
        opportunity = ExpansionOpportunity.objects.get(account=account)
    assert (opportunity.kind, opportunity.product, opportunity.arr) == (ExpansionKind.CROSS_SELL, product, 15000)
    assert (opportunity.stage, opportunity.owner) == (ExpansionStage.QUALIFIED, bob)
    page = client_for(bob).get(_list_url(account)).content.decode()
    assert "Cross-sell" in page
    assert "$15,000" in page
    assert "Qualified" in page
    exported = csv_text(client_for(bob).get(_list_url(account), {"format": "csv"})).splitlines()
    assert exported[0] == "kind,product,arr,stage,expected close,owner"
    assert exported[1].startswith(f"Cross-sell,{product.name},15000")


def test_an_htmx_add_redirects_the_whole_page(client_for, bob, account, product):
    response = client_for(bob).post(
        _list_url(account), {"kind": "upsell", "product": product.pk, "arr": "100", "stage": "identified"}, **HTMX
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == _list_url(account)


@pytest.mark.parametrize(
    ("field", "value"),
    [("arr", "0"), ("arr", "-5"), ("arr", "lots"), ("kind", "resale"), ("stage", "maybe"), ("product", "")],
)
def test_bad_input_names_the_field_and_writes_nothing(client_for, bob, account, product, field, value):
    data = {"kind": "upsell", "product": product.pk, "arr": "1000", "stage": "identified", field: value}
    response = client_for(bob).post(_list_url(account), data, **HTMX)
    assert response.status_code == 422
    assert response.context["form"].errors[field]
    assert f'id="id_{field}_error"' in response.content.decode() or "invalid-feedback" in response.content.decode()
    with scopes_disabled():
        assert not ExpansionOpportunity.objects.exists()


def test_another_tenants_product_is_refused(client_for, bob, account, tenant_b):
    with scopes_disabled():
        foreign = ProductFactory(tenant=tenant_b)
    data = {"kind": "upsell", "product": foreign.pk, "arr": "1000", "stage": "identified"}
    response = client_for(bob).post(_list_url(account), data)
    assert response.status_code == 422
    assert response.context["form"].errors["product"]
    with scopes_disabled():
        assert not ExpansionOpportunity.objects.exists()


def test_another_csm_reads_but_cannot_add_or_edit(client_for, bea, account, product):
    with scopes_disabled():
        opportunity = ExpansionOpportunityFactory(account=account, product=product)
    client = client_for(bea)
    page = client.get(_list_url(account))
    assert page.status_code == 200
    assert "Add an opportunity" not in page.content.decode()
    data = {"kind": "upsell", "product": product.pk, "arr": "1000", "stage": "won"}
    assert client.post(_list_url(account), data).status_code == 403
    edit = reverse("renewals:expansion_edit", kwargs={"expansion_opportunity_id": opportunity.pk})
    assert client.get(edit).status_code == 403
    assert client.post(edit, data).status_code == 403
    with scopes_disabled():
        opportunity.refresh_from_db()
        assert opportunity.stage == ExpansionStage.IDENTIFIED
        assert ExpansionOpportunity.objects.count() == 1


def test_a_leader_moves_an_opportunity_to_won(client_for, lena, account, product):
    with scopes_disabled():
        opportunity = ExpansionOpportunityFactory(account=account, product=product, arr=Decimal("5000"))
    edit = reverse("renewals:expansion_edit", kwargs={"expansion_opportunity_id": opportunity.pk})
    response = client_for(lena).post(
        edit, {"kind": "upsell", "product": product.pk, "arr": "6500", "stage": "won", "expected_close": "2026-12-01"}
    )
    assert response.status_code == 302
    with scopes_disabled():
        opportunity.refresh_from_db()
    assert (opportunity.stage, opportunity.arr, opportunity.expected_close) == ("won", 6500, dt.date(2026, 12, 1))


def test_a_bad_edit_keeps_the_opportunity(client_for, bob, account, product):
    with scopes_disabled():
        opportunity = ExpansionOpportunityFactory(account=account, product=product, arr=Decimal("5000"))
    edit = reverse("renewals:expansion_edit", kwargs={"expansion_opportunity_id": opportunity.pk})
    response = client_for(bob).post(edit, {"kind": "upsell", "product": product.pk, "arr": "0", "stage": "won"}, **HTMX)
    assert response.status_code == 422
    assert "arr" in response.context["form"].errors
    assert 'id="expansion-edit"' in response.content.decode()
    with scopes_disabled():
        opportunity.refresh_from_db()
    assert (opportunity.stage, opportunity.arr) == ("identified", 5000)


def test_the_list_query_count_does_not_grow(client_for, bob, account, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(bob)
    with scopes_disabled():
        ExpansionOpportunityFactory(account=account)
    with CaptureQueriesContext(connection) as few:
        client.get(_list_url(account))
    with scopes_disabled():
        for _ in range(10):
            ExpansionOpportunityFactory(account=account)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(_list_url(account)).status_code == 200
