"""Each trigger kind matches the accounts where its condition holds, and not the others; churned
accounts never match; segments limit; parameters are validated by name."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import ActivityKind, ContactEventKind, ContactRole, LifecycleStage, Segment, TouchModel
from csplatform.tenancy import tenant_scope
from health.models import HealthScore, HealthSnapshot, Invoice
from health.services import health_config_active, health_recompute
from playbooks.models import TriggerKind
from playbooks.triggers import TRIGGER_PARAMS, matching_account_ids, validate_params
from successplans.models import HandoffStatus, MilestoneStatus
from tests.factories import AccountFactory, ActivityFactory, ContactFactory
from tests.health.factories import SupportTicketFactory, SurveyResponseFactory, UsageDayFactory
from tests.successplans.factories import HandoffFactory, MilestoneFactory, PlanFactory

from .factories import TriggerFactory

TODAY = dt.date(2026, 11, 20)
pytestmark = pytest.mark.django_db


def _at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def _days_ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


@pytest.fixture
def account(tenant_a):
    """Make an account of tenant A (created long ago, so "no touch in N days" can hold)."""

    def make(**fields):
        fields.setdefault("created_at", _at(_days_ago(400)))
        with scopes_disabled():
            created = AccountFactory(tenant=tenant_a, **{k: v for k, v in fields.items() if k != "created_at"})
            type(created).objects.filter(pk=created.pk).update(created_at=fields["created_at"])
        return created

    return make


def _matching(tenant, kind, params=None, segments=None) -> set[int]:
    with scopes_disabled():
        trigger = TriggerFactory(tenant=tenant, kind=kind, params=params or {}, segments=segments)
    with tenant_scope(tenant):
        return matching_account_ids(tenant=tenant, trigger=trigger, today=TODAY)


def _score(tenant, account, score, band, history: dict[int, int] | None = None) -> None:
    with scopes_disabled():
        config = health_config_active(tenant=tenant)
        HealthScore.objects.create(
            tenant=tenant,
            account=account,
            score=score,
            band=band,
            breakdown={},
            config=config,
            as_of=TODAY,
            computed_at=timezone.now(),
        )
        for days_ago, old_score in (history or {}).items():
            HealthSnapshot.objects.create(
                tenant=tenant,
                account=account,
                day=_days_ago(days_ago),
                score=old_score,
                band="",
                breakdown={},
                config=config,
            )


def test_band_entered_matches_accounts_in_the_band(tenant_a, account):
    red, green, churned = account(), account(), account(lifecycle_stage=LifecycleStage.CHURNED)
    _score(tenant_a, red, 30, "red")
    _score(tenant_a, green, 80, "green")
    _score(tenant_a, churned, 20, "red")
    assert _matching(tenant_a, TriggerKind.BAND_ENTERED, {"band": "red"}) == {red.pk}
    assert _matching(tenant_a, TriggerKind.BAND_ENTERED, {"band": "green"}) == {green.pk}


def test_score_dropped_compares_with_the_best_score_within_the_window(tenant_a, account):
    fell, steady, fell_long_ago = account(), account(), account()
    _score(tenant_a, fell, 50, "yellow", history={10: 70, 3: 66})
    _score(tenant_a, steady, 60, "yellow", history={10: 70, 3: 62})  # 10 points: below 15
    _score(tenant_a, fell_long_ago, 40, "yellow", history={30: 90, 5: 41})
    assert _matching(tenant_a, TriggerKind.SCORE_DROPPED, {"points": 15, "days": 14}) == {fell.pk}


def test_renewal_due_matches_renewals_within_the_days(tenant_a, account):
    soon = account(next_renewal_date=TODAY + dt.timedelta(days=90))
    later = account(next_renewal_date=TODAY + dt.timedelta(days=91))
    account(next_renewal_date=TODAY - dt.timedelta(days=1))
    account(next_renewal_date=None)
    account(next_renewal_date=TODAY + dt.timedelta(days=10), lifecycle_stage=LifecycleStage.CHURNED)
    assert _matching(tenant_a, TriggerKind.RENEWAL_DUE, {"days": 90}) == {soon.pk}
    assert _matching(tenant_a, TriggerKind.RENEWAL_DUE, {"days": 180}) == {soon.pk, later.pk}
    assert _matching(tenant_a, TriggerKind.RENEWAL_DUE, {"days": 180, "min_days": 90}) == {later.pk}


def test_champion_changed_matches_recent_key_contact_movement(tenant_a, account):
    from accounts.models import ContactEvent

    left, moved, long_ago, quiet = account(), account(), account(), account()
    with scopes_disabled():
        for target, kind, days in ((left, ContactEventKind.LEFT, 3), (moved, ContactEventKind.ROLE_CHANGED, 29)):
            contact = ContactFactory(account=target, role=ContactRole.END_USER)
            ContactEvent.objects.create(
                tenant=tenant_a,
                account=target,
                contact=contact,
                kind=kind,
                previous_role=ContactRole.CHAMPION,
                occurred_on=_days_ago(days),
            )
        contact = ContactFactory(account=long_ago)
        ContactEvent.objects.create(
            tenant=tenant_a,
            account=long_ago,
            contact=contact,
            kind=ContactEventKind.LEFT,
            previous_role=ContactRole.EXECUTIVE_SPONSOR,
            occurred_on=_days_ago(45),
        )
        ContactFactory(account=quiet, role=ContactRole.CHAMPION)
    assert _matching(tenant_a, TriggerKind.CHAMPION_CHANGED, {"days": 30}) == {left.pk, moved.pk}


def test_nps_detractor_and_promoter_read_the_latest_answer_in_the_window(tenant_a, account):
    detractor, promoter, recovered, old_detractor, passive = (account() for _ in range(5))
    with scopes_disabled():
        SurveyResponseFactory(account=detractor, score=3, responded_on=_days_ago(5))
        SurveyResponseFactory(account=promoter, score=10, responded_on=_days_ago(5))
        SurveyResponseFactory(account=recovered, score=2, responded_on=_days_ago(40))
        SurveyResponseFactory(account=recovered, score=9, responded_on=_days_ago(4))
        SurveyResponseFactory(account=old_detractor, score=1, responded_on=_days_ago(200))
        SurveyResponseFactory(account=passive, score=7, responded_on=_days_ago(4))
        SurveyResponseFactory(account=passive, kind="csat", score=1, responded_on=_days_ago(2))
    assert _matching(tenant_a, TriggerKind.NPS_DETRACTOR, {"max_score": 6, "days": 90}) == {detractor.pk}
    assert _matching(tenant_a, TriggerKind.NPS_PROMOTER, {"min_score": 9, "days": 90}) == {promoter.pk, recovered.pk}


def _usage(account, *, days: range, active: int, seats: int = 100) -> None:
    with scopes_disabled():
        for days_ago in days:
            UsageDayFactory(account=account, day=_days_ago(days_ago), active_users=active, licensed_seats=seats)


def _recompute(tenant) -> None:
    """Licence utilisation and usage trend are health measures: the triggers read the score."""
    with tenant_scope(tenant):
        health_recompute(tenant=tenant, as_of=TODAY)


def test_utilisation_low_and_high_read_the_last_30_days(tenant_a, account):
    low, high, middle, low_long_ago = account(), account(), account(), account()
    _usage(low, days=range(0, 30, 3), active=30)
    _usage(high, days=range(0, 30, 3), active=95)
    _usage(middle, days=range(0, 30, 3), active=60)
    _usage(low_long_ago, days=range(31, 60, 3), active=5)
    _usage(low_long_ago, days=range(0, 30, 3), active=70)
    _recompute(tenant_a)
    assert _matching(tenant_a, TriggerKind.UTILISATION_LOW, {"percent": 40}) == {low.pk}
    assert _matching(tenant_a, TriggerKind.UTILISATION_HIGH, {"percent": 90}) == {high.pk}


def test_usage_down_compares_the_last_30_days_with_the_30_before(tenant_a, account):
    dropped, steady, slight, new = account(), account(), account(), account()
    _usage(dropped, days=range(30, 60, 2), active=80)
    _usage(dropped, days=range(0, 30, 5), active=40)  # -50 %, fewer reporting days
    _usage(steady, days=range(0, 60, 2), active=80)
    _usage(slight, days=range(30, 60, 2), active=80)
    _usage(slight, days=range(0, 30, 2), active=60)  # -25 %
    _usage(new, days=range(0, 30, 2), active=10)  # nothing before: no trend
    _recompute(tenant_a)
    assert _matching(tenant_a, TriggerKind.USAGE_DOWN, {"percent": 30}) == {dropped.pk}
    assert _matching(tenant_a, TriggerKind.USAGE_DOWN, {"percent": 25}) == {dropped.pk, slight.pk}


def test_support_tickets_counts_tickets_opened_within_the_days(tenant_a, account):
    busy, calm, busy_long_ago = account(), account(), account()
    with scopes_disabled():
        for days_ago in (0, 2, 5):
            SupportTicketFactory(account=busy, opened_at=_at(_days_ago(days_ago)))
        for days_ago in (1, 2):
            SupportTicketFactory(account=calm, opened_at=_at(_days_ago(days_ago)))
        for days_ago in (1, 40, 45):
            SupportTicketFactory(account=busy_long_ago, opened_at=_at(_days_ago(days_ago)))
    assert _matching(tenant_a, TriggerKind.SUPPORT_TICKETS, {"count": 3, "days": 30}) == {busy.pk}


def test_invoice_overdue_matches_unpaid_invoices_past_due_by_the_days(tenant_a, account):
    late, barely_late, paid = account(), account(), account()
    with scopes_disabled():
        for number, (target, due_days_ago, paid_on) in enumerate(
            ((late, 31, None), (barely_late, 5, None), (paid, 60, _days_ago(2)))
        ):
            Invoice.objects.create(
                tenant=tenant_a,
                account=target,
                number=f"INV-{number}",
                amount=1000,
                issued_on=_days_ago(due_days_ago + 30),
                due_on=_days_ago(due_days_ago),
                paid_on=paid_on,
            )
    assert _matching(tenant_a, TriggerKind.INVOICE_OVERDUE, {"days": 30}) == {late.pk}


def test_no_touch_uses_healths_meaningful_touches(tenant_a, account):
    called, emailed_only, silent = account(), account(), account()
    account(created_at=_at(_days_ago(10)))  # new: we have not had it 30 days
    with scopes_disabled():
        ActivityFactory(account=called, kind=ActivityKind.CALL, occurred_at=_at(_days_ago(20)))
        ActivityFactory(account=emailed_only, kind=ActivityKind.EMAIL, occurred_at=_at(_days_ago(2)))
        ActivityFactory(account=silent, kind=ActivityKind.MEETING, occurred_at=_at(_days_ago(45)))
    assert _matching(tenant_a, TriggerKind.NO_TOUCH, {"days": 30}) == {emailed_only.pk, silent.pk}


def test_milestone_overdue_matches_open_milestones_past_due(tenant_a, account):
    late, done, on_time = account(), account(), account()
    with scopes_disabled():
        MilestoneFactory(plan=PlanFactory(account=late), due_date=_days_ago(3))
        MilestoneFactory(plan=PlanFactory(account=done), due_date=_days_ago(3), status=MilestoneStatus.DONE)
        MilestoneFactory(plan=PlanFactory(account=on_time), due_date=TODAY)
    assert _matching(tenant_a, TriggerKind.MILESTONE_OVERDUE, {"days": 0}) == {late.pk}
    assert _matching(tenant_a, TriggerKind.MILESTONE_OVERDUE, {"days": 7}) == set()


def test_handoff_accepted_matches_recently_accepted_handoffs(tenant_a, account):
    accepted, submitted, accepted_long_ago = account(), account(), account()
    with scopes_disabled():
        HandoffFactory(account=accepted, status=HandoffStatus.ACCEPTED, reviewed_at=_at(_days_ago(2)))
        HandoffFactory(account=submitted, status=HandoffStatus.SUBMITTED, submitted_at=_at(_days_ago(2)))
        HandoffFactory(account=accepted_long_ago, status=HandoffStatus.ACCEPTED, reviewed_at=_at(_days_ago(40)))
    assert _matching(tenant_a, TriggerKind.HANDOFF_ACCEPTED, {"days": 14}) == {accepted.pk}


def test_a_trigger_limited_to_segments_matches_only_their_accounts(tenant_a, account):
    with scopes_disabled():
        high = Segment.objects.get(tenant=tenant_a, touch_model=TouchModel.HIGH)
        tech = Segment.objects.get(tenant=tenant_a, touch_model=TouchModel.TECH)
    in_high, in_tech = account(segment=high), account(segment=tech)
    _score(tenant_a, in_high, 20, "red")
    _score(tenant_a, in_tech, 20, "red")
    assert _matching(tenant_a, TriggerKind.BAND_ENTERED, {"band": "red"}, segments=[high]) == {in_high.pk}
    assert _matching(tenant_a, TriggerKind.BAND_ENTERED, {"band": "red"}) == {in_high.pk, in_tech.pk}


def test_other_tenants_accounts_never_match(tenant_a, tenant_b, account):
    mine = account()
    _score(tenant_a, mine, 20, "red")
    with scopes_disabled():
        theirs = AccountFactory(tenant=tenant_b)
    _score(tenant_b, theirs, 20, "red")
    assert _matching(tenant_a, TriggerKind.BAND_ENTERED, {"band": "red"}) == {mine.pk}


def test_every_kind_has_parameters_with_defaults_that_validate():
    assert set(TRIGGER_PARAMS) == set(TriggerKind.values)
    for kind in TriggerKind.values:
        defaults = validate_params(kind, {})
        assert validate_params(kind, defaults) == defaults


def test_bad_parameters_are_refused_naming_the_parameter():
    with pytest.raises(ValidationError) as error:
        validate_params(TriggerKind.SCORE_DROPPED, {"points": "many", "days": 0})
    assert set(error.value.message_dict) == {"points", "days"}
    with pytest.raises(ValidationError) as error:
        validate_params(TriggerKind.BAND_ENTERED, {"band": "purple"})
    assert "band" in error.value.message_dict
    assert validate_params(TriggerKind.RENEWAL_DUE, {"days": "120", "unknown": 1}) == {"days": 120, "min_days": 0}
    with pytest.raises(ValidationError) as error:
        validate_params(TriggerKind.RENEWAL_DUE, {"days": 90, "min_days": 90})
    assert "min_days" in error.value.message_dict
