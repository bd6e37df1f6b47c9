"""Events queue a recompute of their account after commit, one per burst."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.core.cache import cache
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.services import activity_log
from csplatform.tenancy import tenant_scope
from health import services
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(tenant_a, bob):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob)
    cache.delete(f"health:pending:{tenant_a.pk}:{account.pk}")
    return account


def test_logging_an_activity_queues_a_recompute_of_that_account_only_after_commit(
    tenant_a, bob, account, django_capture_on_commit_callbacks
):
    with (
        mock.patch("health.tasks.recompute_accounts.apply_async") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
        tenant_scope(tenant_a),
    ):
        activity_log(
            tenant=tenant_a,
            account=account,
            author=bob,
            kind="call",
            occurred_at=timezone.now(),
            purpose="Plan the rollout to the second team",
            team=[bob],
            contacts=[],
        )
        assert not enqueue.called  # not before commit: the worker would not see the row
    enqueue.assert_called_once_with(
        kwargs={"tenant_id": tenant_a.pk, "account_ids": [account.pk]}, countdown=services.COALESCE_SECONDS
    )


def test_a_burst_of_fifty_events_makes_one_recompute(tenant_a, account, django_capture_on_commit_callbacks):
    with (
        mock.patch("health.tasks.recompute_accounts.apply_async") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
        tenant_scope(tenant_a),
    ):
        for number in range(50):
            services.survey_response_record(
                tenant=tenant_a, account=account, kind="nps", score=number % 11, responded_on=dt.date(2026, 11, 1)
            )
    assert enqueue.call_count == 1


def test_a_bad_signal_names_the_field_and_writes_nothing(tenant_a, account):
    from django.core.exceptions import ValidationError

    from health.models import SurveyResponse

    with tenant_scope(tenant_a), pytest.raises(ValidationError) as error:
        services.survey_response_record(
            tenant=tenant_a, account=account, kind="nps", score=11, responded_on=dt.date(2026, 11, 1)
        )
    assert "score" in error.value.message_dict
    with scopes_disabled():
        assert not SurveyResponse.objects.exists()


def test_only_the_owner_a_leader_or_an_admin_sets_the_pulse_and_it_must_expire(tenant_a, account, bea, bob):
    from django.core.exceptions import ValidationError

    from csplatform.models import Membership

    with scopes_disabled():
        bea_membership = Membership.objects.get(user=bea)
        bob_membership = Membership.objects.get(user=bob)
    today = dt.date(2026, 11, 24)
    with tenant_scope(tenant_a):
        with pytest.raises(ValidationError) as error:
            services.pulse_set(
                membership=bea_membership, account=account, sentiment="negative", reason="budget",
                expires_on=today + dt.timedelta(days=30), today=today,
            )  # fmt: skip
        assert "sentiment" in error.value.message_dict
        with pytest.raises(ValidationError) as error:
            services.pulse_set(
                membership=bob_membership, account=account, sentiment="negative", reason="budget",
                expires_on=today, today=today,
            )  # fmt: skip
        assert "expires_on" in error.value.message_dict
        pulse = services.pulse_set(
            membership=bob_membership, account=account, sentiment="negative", reason="budget",
            expires_on=today + dt.timedelta(days=30), today=today,
        )  # fmt: skip
    assert (pulse.set_by, pulse.set_on) == (bob, today)
