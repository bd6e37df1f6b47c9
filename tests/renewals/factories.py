"""Factories of the renewals app's own models (products and lines are in tests/factories.py)."""

import datetime as dt
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from renewals.models import ChurnCategory, ChurnReason, ExpansionKind, ExpansionOpportunity, Renewal

from ..factories import AccountFactory, ProductFactory


class ChurnReasonFactory(DjangoModelFactory):
    class Meta:
        model = ChurnReason

    tenant = factory.SubFactory("tests.factories.TenantFactory")
    name = factory.Sequence(lambda n: f"Reason {n}")
    category = ChurnCategory.POOR_ADOPTION


class RenewalFactory(DjangoModelFactory):
    class Meta:
        model = Renewal

    account = factory.SubFactory(AccountFactory)
    tenant = factory.SelfAttribute("account.tenant")
    owner = factory.SelfAttribute("account.owner")
    renewal_date = dt.date(2026, 12, 31)
    arr_up = Decimal("12000")
    forecast_arr = factory.SelfAttribute("arr_up")


class ExpansionOpportunityFactory(DjangoModelFactory):
    class Meta:
        model = ExpansionOpportunity

    account = factory.SubFactory(AccountFactory)
    tenant = factory.SelfAttribute("account.tenant")
    product = factory.SubFactory(ProductFactory, tenant=factory.SelfAttribute("..tenant"))
    kind = ExpansionKind.UPSELL
    arr = Decimal("5000")
