"""The health card on Account 360: score, band, measures, what pulled it down, the trend and
why it changed, in a bounded number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import Segment, TouchModel
from accounts.services import tenant_today
from csplatform.tenancy import tenant_scope
from health import queries, services
from health.models import Pulse, SurveyResponse
from tests.factories import AccountFactory

from .factories import SurveyResponseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(tenant_a, bob):
    """An account whose NPS fell from 10 to 2 between 30 days ago and today, scored then and now."""
    today = tenant_today(tenant_a)
    with scopes_disabled():
        low = Segment.objects.get(tenant=tenant_a, touch_model=TouchModel.LOW)
        account = AccountFactory(tenant=tenant_a, segment=low, owner=bob, name="Falling Corp")
        SurveyResponseFactory(account=account, score=10, responded_on=today - dt.timedelta(days=40))
    with tenant_scope(tenant_a):
        for days_ago in (89, 60):
            services.health_recompute(tenant=tenant_a, as_of=today - dt.timedelta(days=days_ago))
        services.health_recompute(tenant=tenant_a, as_of=today - dt.timedelta(days=30))
        SurveyResponse.objects.create(tenant=tenant_a, account=account, kind="nps", score=2, responded_on=today)
        services.health_recompute(tenant=tenant_a, as_of=today)
    return account


def test_the_card_shows_score_band_measures_and_what_is_left_out(client_for, bob, account):
    response = client_for(bob).get(reverse("accounts:detail", kwargs={"account_id": account.pk}))
    html = response.content.decode()
    card = html[html.index('id="health-card"') :]
    assert 'id="health-score"' in card
    assert "Latest NPS" in card
    assert "No data, left out" in card
    assert "Licence utilisation" in card[card.index('id="health-missing"') :]
    assert 'id="health-trend-table"' in card  # the chart's text alternative
    assert "Pulled down most by" in card


def test_why_it_changed_names_the_measure_that_moved_against_30_days_ago(tenant_a, account):
    today = tenant_today(tenant_a)
    with tenant_scope(tenant_a):
        card = queries.health_card(tenant=tenant_a, account=account, today=today)
    thirty = next(c for c in card.comparisons if c.days == 30)
    assert thirty.day == today - dt.timedelta(days=30)
    assert thirty.delta < 0
    assert thirty.moves[0].label == "Latest NPS"
    assert thirty.moves[0].delta < 0
    assert thirty.score_before + thirty.delta == card.score.score
    seven = next(c for c in card.comparisons if c.days == 7)
    assert seven.day == today - dt.timedelta(days=30)  # the latest snapshot at least 7 days old


def test_the_card_reads_a_fixed_number_of_queries(tenant_a, bob, account, django_assert_num_queries):
    today = tenant_today(tenant_a)
    with tenant_scope(tenant_a), django_assert_num_queries(2):  # the score with its pulse, the trend
        card = queries.health_card(tenant=tenant_a, account=account, today=today)
    assert len(card.trend) == 4
    with scopes_disabled():
        unscored = AccountFactory(tenant=tenant_a, owner=bob, name="New Corp")
    with tenant_scope(tenant_a), django_assert_num_queries(2):
        card = queries.health_card(tenant=tenant_a, account=unscored, today=today)
    assert card.score is None
    assert card.trend == []


def test_the_account_page_stays_within_its_query_budget_with_a_health_history(
    client_for, bob, account, django_assert_max_num_queries
):
    client = client_for(bob)
    url = reverse("accounts:detail", kwargs={"account_id": account.pk})
    client.get(url)
    with django_assert_max_num_queries(40):
        assert client.get(url).status_code == 200


def test_the_owner_sets_a_pulse_from_the_card_and_a_bad_date_names_the_field(client_for, bob, bea, tenant_a, account):
    url = reverse("health:pulse_set", kwargs={"account_id": account.pk})
    today = tenant_today(tenant_a)
    response = client_for(bob).post(
        url, {"sentiment": "negative", "reason": "budget", "expires_on": (today - dt.timedelta(days=1)).isoformat()},
        follow=True,
    )  # fmt: skip
    assert "Until" in response.content.decode()
    with scopes_disabled():
        assert not Pulse.objects.exists()
    client_for(bob).post(
        url, {"sentiment": "negative", "reason": "budget", "expires_on": (today + dt.timedelta(days=20)).isoformat()}
    )  # fmt: skip
    client_for(bea).post(
        url, {"sentiment": "positive", "reason": "budget", "expires_on": (today + dt.timedelta(days=20)).isoformat()}
    )  # fmt: skip
    with scopes_disabled():
        assert list(Pulse.objects.values_list("sentiment", "set_by")) == [("negative", bob.pk)]
