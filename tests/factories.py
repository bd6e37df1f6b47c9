"""factory_boy factories for every app's models. Related rows always share one tenant."""

import datetime as dt
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from accounts.models import Account, Activity, ActivityKind, Contact, ContactLevel, ContactRole, Segment, TouchModel
from csplatform.models import Membership, Role, Tenant, User
from renewals.models import Product, SubscriptionLine


class TenantFactory(DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Tenant {n}")
    slug = factory.Sequence(lambda n: f"tenant-{n}")


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.CSM


class SegmentFactory(DjangoModelFactory):
    class Meta:
        model = Segment

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Segment {n}")
    touch_model = TouchModel.LOW
    arr_min = Decimal("0")
    arr_max = None


class AccountFactory(DjangoModelFactory):
    class Meta:
        model = Account

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Account {n:04d}")
    domain = factory.LazyAttribute(lambda o: o.name.lower().replace(" ", "") + ".example")
    industry = "Technology"
    arr = Decimal("0")


class ContactFactory(DjangoModelFactory):
    class Meta:
        model = Contact

    account = factory.SubFactory(AccountFactory)
    tenant = factory.SelfAttribute("account.tenant")
    name = factory.Faker("name")
    title = "Director of Operations"
    email = factory.Sequence(lambda n: f"contact{n}@customer.example")
    role = ContactRole.END_USER
    level = ContactLevel.MANAGER


class ActivityFactory(DjangoModelFactory):
    class Meta:
        model = Activity

    account = factory.SubFactory(AccountFactory)
    tenant = factory.SelfAttribute("account.tenant")
    kind = ActivityKind.CALL
    occurred_at = factory.LazyFunction(lambda: dt.datetime(2026, 11, 1, 15, 0, tzinfo=dt.UTC))
    purpose = "Agree the onboarding plan"


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Product {n}")


class SubscriptionLineFactory(DjangoModelFactory):
    class Meta:
        model = SubscriptionLine

    account = factory.SubFactory(AccountFactory)
    tenant = factory.SelfAttribute("account.tenant")
    product = factory.SubFactory(ProductFactory, tenant=factory.SelfAttribute("..tenant"))
    arr = Decimal("12000")
    start_date = dt.date(2026, 1, 1)
    end_date = dt.date(2026, 12, 31)
