"""Factories of the health app's signals. Related rows share one tenant."""

import datetime as dt

import factory
from factory.django import DjangoModelFactory

from health.models import NotableEvent, Pulse, SupportTicket, SurveyResponse, TrackedFeature, UsageDay
from tests.factories import AccountFactory


class TrackedFeatureFactory(DjangoModelFactory):
    class Meta:
        model = TrackedFeature

    name = factory.Sequence(lambda n: f"Feature {n}")
    bit = factory.Sequence(lambda n: n % 60)


class UsageDayFactory(DjangoModelFactory):
    class Meta:
        model = UsageDay

    account = factory.SubFactory(AccountFactory)
    tenant = factory.SelfAttribute("account.tenant")
    day = dt.date(2026, 11, 20)
    active_users = 50
    licensed_seats = 100
    feature_mask = 0b11


class SurveyResponseFactory(DjangoModelFactory):
    class Meta:
        model = SurveyResponse

    account = factory.SubFactory(AccountFactory)
    tenant = factory.SelfAttribute("account.tenant")
    kind = "nps"
    score = 9
    responded_on = dt.date(2026, 11, 1)


class SupportTicketFactory(DjangoModelFactory):
    class Meta:
        model = SupportTicket

    account = factory.SubFactory(AccountFactory)
    tenant = factory.SelfAttribute("account.tenant")
    subject = "Export fails"
    opened_at = factory.LazyFunction(lambda: dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC))


class NotableEventFactory(DjangoModelFactory):
    class Meta:
        model = NotableEvent

    account = factory.SubFactory(AccountFactory)
    tenant = factory.SelfAttribute("account.tenant")
    kind = "outage"
    occurred_on = dt.date(2026, 11, 10)


class PulseFactory(DjangoModelFactory):
    class Meta:
        model = Pulse

    account = factory.SubFactory(AccountFactory)
    tenant = factory.SelfAttribute("account.tenant")
    sentiment = "negative"
    reason = "adoption"
    set_on = dt.date(2026, 11, 1)
    expires_on = dt.date(2026, 12, 31)
