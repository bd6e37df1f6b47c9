"""Relationship coverage, the 3x3 map, key-contact events and the leader's insights page."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import ActivityContact, ActivityTeamMember, ContactEvent, ContactLevel, Segment
from accounts.services import tenant_today
from csplatform.tenancy import tenant_scope
from successplans.queries import account_coverage
from tests.factories import AccountFactory, ActivityFactory, ContactFactory

from .factories import MilestoneFactory, PlanFactory

pytestmark = pytest.mark.django_db


def _met(account, users, contacts, *, days_ago=10):
    activity = ActivityFactory(account=account, occurred_at=timezone.now() - dt.timedelta(days=days_ago))
    for user in users:
        ActivityTeamMember.objects.create(tenant=account.tenant, activity=activity, user=user)
    for contact in contacts:
        ActivityContact.objects.create(tenant=account.tenant, activity=activity, contact=contact)


def test_coverage_counts_engaged_contacts_by_level_and_finds_the_3x3_gaps(tenant_a, bob, bea):
    with scopes_disabled():
        high = Segment.objects.get(tenant=tenant_a, name="High touch")
        account = AccountFactory(tenant=tenant_a, owner=bob, segment=high)
        sponsor = ContactFactory(account=account, role="executive_sponsor", level=ContactLevel.EXECUTIVE)
        champion = ContactFactory(account=account, role="champion", level=ContactLevel.MANAGER)
        user = ContactFactory(account=account, level=ContactLevel.END_USER)
        ContactFactory(account=account, level=ContactLevel.END_USER)  # never engaged
        gone = ContactFactory(account=account, role="champion", left_on=dt.date(2026, 1, 1))
        _met(account, [bob], [champion, user])
        _met(account, [bob, bea], [sponsor])
        _met(account, [bea], [champion], days_ago=200)  # outside the 90 days
        _met(account, [bob], [gone])
    with tenant_scope(tenant_a):
        coverage = account_coverage(tenant=tenant_a, account=account, today=tenant_today(tenant_a))
    assert coverage.engaged_by_level == [("Director / VP and above", 1), ("Manager", 1), ("End user", 1)]
    assert coverage.has_champion
    assert coverage.has_sponsor
    assert coverage.show_map
    assert [u.pk for u in coverage.our_people] == [bob.pk, bea.pk]
    assert coverage.cell(bea, sponsor)
    assert not coverage.cell(bea, champion)
    # 3 of 9 cells connected (bob-champion, bob-user, bob-sponsor, bea-sponsor = 4): 5 gaps
    assert coverage.map_gaps == 5


def test_the_3x3_map_ranks_people_met_as_often_by_who_was_met_last(tenant_a, bob, bea):
    with scopes_disabled():
        high = Segment.objects.get(tenant=tenant_a, name="High touch")
        account = AccountFactory(tenant=tenant_a, owner=bob, segment=high)
        old_one, old_two, new_one, new_two = (ContactFactory(account=account) for _ in range(4))
        _met(account, [bob], [old_one, old_two], days_ago=40)
        _met(account, [bea], [new_one, new_two], days_ago=7)
    with tenant_scope(tenant_a):
        coverage = account_coverage(tenant=tenant_a, account=account, today=tenant_today(tenant_a))
    # Each of ours met two contacts, each contact one of ours: whoever was met last comes first.
    assert [user.pk for user in coverage.our_people] == [bea.pk, bob.pk]
    assert [contact.pk for contact in coverage.their_people] == [new_one.pk, new_two.pk, old_one.pk]


def test_marking_a_champion_left_and_changing_a_sponsors_role_are_events_shown_on_the_account(
    client_for, tenant_a, bob
):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob)
        champion = ContactFactory(account=account, name="Maya Chen", role="champion")
        sponsor = ContactFactory(account=account, name="Raj Patel", role="executive_sponsor", level="executive")
        ContactFactory(account=account, name="Pat User", role="end_user")
    client = client_for(bob)
    base = f"/accounts/{account.pk}/contacts"
    assert (
        client.post(f"{base}/{champion.pk}/left/", {"left_on": "2026-03-01", "note": "Joined a rival"}).status_code
        == 302
    )
    data = {"name": "Raj Patel", "title": "", "email": "", "role": "decision_maker", "level": "executive"}
    assert client.post(f"{base}/{sponsor.pk}/edit/", data).status_code == 302
    with scopes_disabled():
        events = list(ContactEvent.objects.filter(account=account).order_by("pk"))
    assert [(e.contact_id, e.kind, e.previous_role, e.new_role, e.recorded_by_id) for e in events] == [
        (champion.pk, "left", "champion", "", bob.pk),
        (sponsor.pk, "role_changed", "executive_sponsor", "decision_maker", bob.pk),
    ]
    html = client.get(f"/accounts/{account.pk}/").content.decode()
    assert "Maya Chen (Champion) left: Joined a rival" in html
    assert "Raj Patel (Executive sponsor) is now decision maker" in html


def test_an_end_users_departure_is_no_event(client_for, tenant_a, bob):
    with scopes_disabled():
        contact = ContactFactory(account=AccountFactory(tenant=tenant_a, owner=bob), role="end_user")
    client_for(bob).post(f"/accounts/{contact.account_id}/contacts/{contact.pk}/left/", {"left_on": "2026-03-01"})
    with scopes_disabled():
        assert not ContactEvent.objects.exists()


def test_the_leader_sees_gaps_ttfv_by_segment_and_plans_per_csm(
    client_for, tenant_a, lena, bob, django_assert_max_num_queries
):
    with scopes_disabled():
        low = Segment.objects.get(tenant=tenant_a, name="Low touch")
        lonely = AccountFactory(tenant=tenant_a, name="Lonely Co", owner=bob, segment=low, arr=Decimal("90000"))
        champion = ContactFactory(account=lonely, role="champion")
        _met(lonely, [bob], [champion])
        AccountFactory(tenant=tenant_a, name="Champless Inc", owner=bob)
        plan = PlanFactory(account=lonely, start_date=dt.date(2026, 1, 1), first_value_met_on=dt.date(2026, 2, 10))
        MilestoneFactory(plan=plan, due_date=dt.date(2020, 1, 1))
    client = client_for(lena)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("successplans:insights"))
    html = response.content.decode()
    assert "Champless Inc" in html.split('id="no-champion"')[1].split("</ul>")[0]
    assert "Lonely Co" not in html.split('id="no-champion"')[1].split("</ul>")[0]
    assert "Lonely Co" in html.split('id="single-threaded"')[1].split("</ul>")[0]
    ttfv = html.split('id="ttfv-by-segment"')[1].split("</table>")[0]
    assert "Low touch" in ttfv
    assert "40 d" in ttfv
    plans = html.split('id="plans-by-csm"')[1].split("</table>")[0]
    assert "Bob Csm" in plans


def test_the_admin_sets_the_new_relationships_target(client_for, tenant_a, alice, lena, bob):
    url = reverse("successplans:relationship_target")
    assert client_for(lena).get(url).status_code == 403
    response = client_for(alice).post(url, {"new_relationships_per_month": "-1"})
    assert response.status_code == 422
    assert 'id="id_new_relationships_per_month_error"' in response.content.decode()
    assert client_for(alice).post(url, {"new_relationships_per_month": "5"}).status_code == 302
    html = client_for(alice).get(reverse("successplans:insights")).content.decode()
    assert '<td class="text-end">5</td>' in html.split('id="new-relationships"')[1]
