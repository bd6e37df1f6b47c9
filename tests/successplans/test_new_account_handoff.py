"""An account executive hands off a brand-new account: the account is created with the
handoff, in one service call and one transaction."""

import datetime as dt

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import Account, Segment
from successplans.models import Handoff, Milestone, SuccessPlan
from tests.factories import AccountFactory

from .factories import JourneyFactory, JourneyStepFactory
from .test_handoff import _form_data

pytestmark = pytest.mark.django_db

NEW = {
    "new_account_name": "Quillon Freight",
    "new_account_domain": "quillon.example",
    "new_account_customer_since": "2026-03-01",
    "fit_technical": "yes",
}


def test_sales_creates_the_account_with_its_handoff_and_a_leader_accepts_it_into_a_seeded_plan(
    client_for, tenant_a, sam, lena
):
    with scopes_disabled():
        high = Segment.objects.get(tenant=tenant_a, name="High touch")
        journey = JourneyFactory(segment=high)
        JourneyStepFactory(journey=journey, title="First use case live", due_after_days=45, is_first_value=True)
    data = _form_data(**NEW, new_account_segment=str(high.pk), then="submit")
    response = client_for(sam).post(reverse("successplans:handoff_create"), data)
    assert response.status_code == 302
    with scopes_disabled():
        account = Account.objects.get(tenant=tenant_a, name="Quillon Freight")
        handoff = Handoff.objects.get(account=account)
        assert handoff.impact_statements.count() == 1
    assert (account.domain, account.segment, account.segment_pinned) == ("quillon.example", high, True)
    assert (account.lifecycle_stage, account.customer_since, account.owner) == ("handoff", dt.date(2026, 3, 1), None)
    assert (handoff.author, handoff.status, handoff.fit_category) == (sam, "submitted", "good")

    # No CSM yet: a leader reviews, and the plan is seeded from the segment's journey.
    accept = reverse("successplans:handoff_accept", kwargs={"handoff_id": handoff.pk})
    assert client_for(lena).post(accept, {"start_date": "2026-03-02", "journey": journey.pk}).status_code == 302
    with scopes_disabled():
        plan = SuccessPlan.objects.get(account=account)
        assert Milestone.objects.get(plan=plan).due_date == dt.date(2026, 4, 16)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"new_account_name": ""}, "account", "Choose the new account, or name it below"),
        ({"new_account_name": "Existing Co"}, "new_account_name", "is an account already"),
        ({"new_account_customer_since": "soon"}, "new_account_customer_since", "Enter a valid date"),
        ({"win_problem": "Acme Analytics made it slow"}, "win_problem", "Leave our company"),
    ],
)
def test_a_refused_new_account_handoff_names_the_field_and_creates_no_account(
    client_for, tenant_a, sam, changes, field, message
):
    with scopes_disabled():
        AccountFactory(tenant=tenant_a, name="existing co")
    response = client_for(sam).post(reverse("successplans:handoff_create"), _form_data(**{**NEW, **changes}))
    assert response.status_code == 422
    html = response.content.decode()
    assert message in html.split(f'id="id_{field}_error"')[1].split("</div>")[0]
    with scopes_disabled():
        assert list(Account.objects.values_list("name", flat=True)) == ["existing co"]
        assert not Handoff.objects.exists()


def test_choosing_an_account_and_naming_a_new_one_is_refused(client_for, tenant_a, sam):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, name="Chosen Co")
    response = client_for(sam).post(reverse("successplans:handoff_create"), _form_data(account, **NEW))
    assert response.status_code == 422
    assert "not both" in response.content.decode().split('id="id_new_account_name_error"')[1].split("</div>")[0]
    with scopes_disabled():
        assert Account.objects.count() == 1
        assert not Handoff.objects.exists()


def test_another_tenants_segment_is_not_a_choice(client_for, tenant_a, tenant_b, sam):
    with scopes_disabled():
        foreign = Segment.objects.filter(tenant=tenant_b).first()
    response = client_for(sam).post(
        reverse("successplans:handoff_create"), _form_data(**NEW, new_account_segment=str(foreign.pk))
    )
    assert response.status_code == 422
    assert 'id="id_new_account_segment_error"' in response.content.decode()
    with scopes_disabled():
        assert not Account.objects.exists()


def test_a_failure_inside_the_service_rolls_the_new_account_back(tenant_a, sam, monkeypatch):
    from csplatform.tenancy import tenant_scope
    from successplans import services

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "handoff_save", broken)
    with tenant_scope(tenant_a), pytest.raises(RuntimeError):
        services.handoff_create_with_account(
            tenant=tenant_a, author=sam, name="Half Made", fields={}, impact_statements=[]
        )
    with scopes_disabled():
        assert not Account.objects.filter(name="Half Made").exists()
