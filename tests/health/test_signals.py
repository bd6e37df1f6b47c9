"""Recording a signal from the account's health card: each kind is an event (the account is
rescored after commit), errors name the field, choices are the tenant's, roles are checked."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.core.cache import cache
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.services import tenant_today
from csplatform.models import Role
from health.models import Invoice, MarketingEngagement, NotableEvent, SupportTicket, SurveyResponse, UsageDay
from tests.factories import AccountFactory, ContactFactory, MembershipFactory, UserFactory

from .factories import SupportTicketFactory, TrackedFeatureFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def account(tenant_a, bob):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob, name="Signal Corp")
    cache.delete(f"health:pending:{tenant_a.pk}:{account.pk}")
    return account


def url(account, kind):
    return reverse("health:signal_record", kwargs={"account_id": account.pk, "kind": kind})


def post(client, account, kind, data, *, capture):
    """POST as htmx with the on-commit callbacks run; returns the response and the enqueue mock."""
    with mock.patch("health.tasks.recompute_accounts.apply_async") as enqueue, capture(execute=True):
        response = client.post(url(account, kind), data, **HTMX)
    return response, enqueue


def test_a_survey_response_is_recorded_with_a_contact_of_the_account_and_queues_a_recompute(
    client_for, bea, account, tenant_a, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        contact = ContactFactory(account=account, name="Carla Champion")
    today = tenant_today(tenant_a)
    response, enqueue = post(
        client_for(bea),  # any CSM may record a fact about the customer
        account,
        "survey",
        {"kind": "nps", "score": "3", "responded_on": today.isoformat(), "contact": contact.pk, "comment": "slow"},
        capture=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 200
    assert "Survey response recorded" in response.content.decode()
    with scopes_disabled():
        assert list(SurveyResponse.objects.values_list("account", "score", "contact")) == [(account.pk, 3, contact.pk)]
    enqueue.assert_called_once()
    assert enqueue.call_args.kwargs["kwargs"] == {"tenant_id": tenant_a.pk, "account_ids": [account.pk]}


def test_a_bad_score_and_another_accounts_contact_are_errors_naming_the_field(
    client_for, bob, account, tenant_a, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        elsewhere = ContactFactory(account=AccountFactory(tenant=tenant_a))
    today = tenant_today(tenant_a).isoformat()
    response, enqueue = post(
        client_for(bob),
        account,
        "survey",
        {"kind": "csat", "score": "9", "responded_on": today, "contact": elsewhere.pk},
        capture=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_contact_error"' in html  # not one of this account's contacts
    assert "Select a valid choice" in html
    response, _ = post(
        client_for(bob),
        account,
        "survey",
        {"kind": "csat", "score": "9", "responded_on": today},
        capture=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 422
    assert 'id="id_score_error"' in response.content.decode()
    assert "CSAT score is between 1 and 5" in response.content.decode()
    with scopes_disabled():
        assert not SurveyResponse.objects.exists()
    enqueue.assert_not_called()


def test_the_contact_choices_are_this_accounts_contacts_only(client_for, bob, account, tenant_a, tenant_b):
    with scopes_disabled():
        ContactFactory(account=account, name="Ours Only")
        ContactFactory(account=AccountFactory(tenant=tenant_a), name="Other Account Person")
        ContactFactory(account=AccountFactory(tenant=tenant_b), name="Other Tenant Person")
    html = client_for(bob).get(url(account, "survey"), **HTMX).content.decode()
    assert "Ours Only" in html
    assert "Other Account Person" not in html
    assert "Other Tenant Person" not in html


def test_a_ticket_is_opened_then_closed_from_the_card(
    client_for, bob, account, tenant_a, django_capture_on_commit_callbacks
):
    client = client_for(bob)
    response, enqueue = post(
        client,
        account,
        "ticket",
        {"subject": "SSO broken", "priority": "urgent", "opened_at": "2026-01-05T09:30"},
        capture=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 200
    assert "SSO broken" in response.content.decode()  # now listed among the open tickets
    enqueue.assert_called_once()
    with scopes_disabled():
        ticket = SupportTicket.objects.get()
    assert (ticket.priority, ticket.closed_at) == ("urgent", None)
    cache.delete(f"health:pending:{tenant_a.pk}:{account.pk}")
    close = reverse("health:ticket_close", kwargs={"account_id": account.pk, "support_ticket_id": ticket.pk})
    with (
        mock.patch("health.tasks.recompute_accounts.apply_async") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(close, **HTMX)
    assert "closed" in response.content.decode()
    enqueue.assert_called_once()
    ticket.refresh_from_db()
    assert ticket.closed_at is not None


def test_a_ticket_closing_before_it_opened_names_the_field(
    client_for, bob, account, django_capture_on_commit_callbacks
):
    response, _ = post(
        client_for(bob),
        account,
        "ticket",
        {"subject": "x", "priority": "low", "opened_at": "2026-01-05T09:30", "closed_at": "2026-01-04T09:30"},
        capture=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 422
    assert 'id="id_closed_at_error"' in response.content.decode()


def test_an_invoice_is_recorded_then_marked_paid_by_its_number(
    client_for, bob, account, tenant_a, django_capture_on_commit_callbacks
):
    data = {"number": "INV-7", "amount": "1200.50", "issued_on": "2026-01-01", "due_on": "2026-01-31"}
    post(client_for(bob), account, "invoice", data, capture=django_capture_on_commit_callbacks)
    cache.delete(f"health:pending:{tenant_a.pk}:{account.pk}")
    post(
        client_for(bob),
        account,
        "invoice",
        {**data, "paid_on": "2026-02-03"},
        capture=django_capture_on_commit_callbacks,
    )
    with scopes_disabled():
        assert list(Invoice.objects.values_list("number", "paid_on")) == [("INV-7", dt.date(2026, 2, 3))]
    response, _ = post(
        client_for(bob),
        account,
        "invoice",
        {**data, "due_on": "2025-12-01"},
        capture=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 422
    assert 'id="id_due_on_error"' in response.content.decode()


def test_an_invoice_number_of_another_account_is_refused(client_for, bob, account, tenant_a):
    with scopes_disabled():
        Invoice.objects.create(
            tenant=tenant_a,
            account=AccountFactory(tenant=tenant_a),
            number="INV-1",
            amount=10,
            issued_on=dt.date(2026, 1, 1),
            due_on=dt.date(2026, 1, 2),
        )
    data = {"number": "INV-1", "amount": "5", "issued_on": "2026-01-01", "due_on": "2026-01-31"}
    response = client_for(bob).post(url(account, "invoice"), data, **HTMX)
    assert response.status_code == 422
    assert 'id="id_number_error"' in response.content.decode()


def test_a_notable_event_and_marketing_engagement_are_recorded(
    client_for, lena, account, tenant_a, django_capture_on_commit_callbacks
):
    today = tenant_today(tenant_a).isoformat()
    post(
        client_for(lena),
        account,
        "event",
        {"kind": "merger_acquisition", "occurred_on": today, "note": "Bought by Initech"},
        capture=django_capture_on_commit_callbacks,
    )
    cache.delete(f"health:pending:{tenant_a.pk}:{account.pk}")
    response, enqueue = post(
        client_for(lena),
        account,
        "marketing",
        {"day": today, "opens": "4", "clicks": "2", "bounces": "0", "opt_outs": "1"},
        capture=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 200
    enqueue.assert_called_once()
    with scopes_disabled():
        assert NotableEvent.objects.get().note == "Bought by Initech"
        assert MarketingEngagement.objects.get().opt_outs == 1


def test_a_day_in_the_future_is_refused(client_for, bob, account, tenant_a):
    tomorrow = (tenant_today(tenant_a) + dt.timedelta(days=1)).isoformat()
    response = client_for(bob).post(url(account, "event"), {"kind": "outage", "occurred_on": tomorrow}, **HTMX)
    assert response.status_code == 422
    assert 'id="id_occurred_on_error"' in response.content.decode()


def test_the_owner_records_a_usage_day_with_features_another_csm_may_not(
    client_for, bob, bea, account, tenant_a, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        first = TrackedFeatureFactory(tenant=tenant_a, bit=0, name="Reports")
        TrackedFeatureFactory(tenant=tenant_a, bit=3, name="Alerts")
        third = TrackedFeatureFactory(tenant=tenant_a, bit=5, name="API")
    today = tenant_today(tenant_a).isoformat()
    data = {"day": today, "active_users": "12", "licensed_seats": "40", "features": [first.pk, third.pk]}
    assert client_for(bea).post(url(account, "usage"), data).status_code == 403
    assert client_for(bea).get(url(account, "usage")).status_code == 403
    response, enqueue = post(client_for(bob), account, "usage", data, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 200
    enqueue.assert_called_once()
    with scopes_disabled():
        usage = UsageDay.objects.get()
    assert (usage.active_users, usage.licensed_seats, usage.feature_mask) == (12, 40, 0b100001)


def test_a_sales_member_cannot_record_signals(client_for, tenant_a, account):
    seller = UserFactory(email="sam@acme.example")
    MembershipFactory(tenant=tenant_a, user=seller, role=Role.SALES)
    response = client_for(seller).post(url(account, "event"), {"kind": "outage", "occurred_on": "2026-01-01"})
    assert response.status_code == 403
    with scopes_disabled():
        assert not NotableEvent.objects.exists()


def test_an_unknown_signal_kind_is_404(client_for, bob, account):
    assert client_for(bob).get(url(account, "telepathy")).status_code == 404


def test_another_tenants_account_and_ticket_are_404(client_for, charlie, account):
    with scopes_disabled():
        ticket = SupportTicketFactory(account=account)
    client = client_for(charlie)
    assert client.post(url(account, "event"), {"kind": "outage", "occurred_on": "2026-01-01"}).status_code == 404
    close = reverse("health:ticket_close", kwargs={"account_id": account.pk, "support_ticket_id": ticket.pk})
    assert client.post(close).status_code == 404
    with scopes_disabled():
        ticket.refresh_from_db()
    assert ticket.closed_at is None


def test_the_card_offers_the_forms_the_viewer_may_use(client_for, bob, bea, account):
    page = reverse("accounts:detail", kwargs={"account_id": account.pk})
    owner = client_for(bob).get(page).content.decode()
    other = client_for(bea).get(page).content.decode()
    assert 'id="health-record"' in owner
    assert url(account, "usage") in owner
    assert url(account, "survey") in other
    assert url(account, "usage") not in other


def test_a_plain_post_goes_back_to_the_account_with_a_message(client_for, bob, account, tenant_a):
    today = tenant_today(tenant_a).isoformat()
    response = client_for(bob).post(url(account, "event"), {"kind": "outage", "occurred_on": today}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("accounts:detail", kwargs={"account_id": account.pk})
    assert "Notable event recorded" in response.content.decode()
