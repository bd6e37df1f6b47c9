"""The rules and reads behind the Account 360 page, called the way a view calls them: inside
the tenant's scope, with rows built beforehand with scopes disabled."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django_scopes import scopes_disabled

from accounts.account360 import arr_by_product, contacts_by_level, org_tree
from accounts.models import (
    Account,
    Activity,
    ActivityContact,
    ActivityKind,
    ActivityTeamMember,
    Contact,
    ContactLevel,
    ContactRole,
    Segment,
)
from accounts.services import (
    account_update,
    activity_log,
    can_edit_account,
    can_reassign_account_owner,
    contact_mark_left,
    contact_save,
)
from csplatform.models import Membership, Role
from csplatform.tenancy import tenant_scope
from tests.factories import AccountFactory, ContactFactory, MembershipFactory, ProductFactory, SubscriptionLineFactory

WHEN = dt.datetime(2026, 11, 2, 14, 30, tzinfo=dt.UTC)


@pytest.fixture
def account(tenant_a, bob):
    with scopes_disabled():
        return AccountFactory(tenant=tenant_a, owner=bob, name="Initech")


def membership_of(user) -> Membership:
    return Membership.objects.select_related("tenant").get(user=user)


def log(tenant, account, author, **overrides) -> Activity:
    values = {
        "tenant": tenant,
        "account": account,
        "author": author,
        "kind": ActivityKind.CALL,
        "occurred_at": WHEN,
        "purpose": "Agree the rollout plan",
        "team": [author],
        "contacts": [],
    }
    with tenant_scope(tenant):
        return activity_log(**{**values, **overrides})


# --- Who may change an account ------------------------------------------------------------


def test_the_owner_a_leader_and_an_admin_may_edit_an_account_another_csm_may_not(alice, lena, bob, bea, account):
    assert can_edit_account(membership_of(bob), account)
    assert can_edit_account(membership_of(lena), account)
    assert can_edit_account(membership_of(alice), account)
    assert not can_edit_account(membership_of(bea), account)


def test_only_a_leader_or_an_admin_may_reassign_an_account_not_even_its_owner(alice, lena, bob, account):
    assert not can_reassign_account_owner(membership_of(bob), account)
    assert can_reassign_account_owner(membership_of(lena), account)
    assert can_reassign_account_owner(membership_of(alice), account)


def test_a_leader_of_another_tenant_may_not_touch_the_account(tenant_b, account):
    with scopes_disabled():
        outsider = MembershipFactory(tenant=tenant_b, role=Role.LEADER)
    assert not can_edit_account(outsider, account)
    assert not can_reassign_account_owner(outsider, account)


# --- activity_log ----------------------------------------------------------------------------


def test_logging_an_activity_records_both_sides_with_the_tenant_on_every_row(tenant_a, bob, bea, account):
    with scopes_disabled():
        champion = ContactFactory(account=account, name="Carla Champion")
    activity = log(tenant_a, account, bob, team=[bob, bea, bob], contacts=[champion], next_step="Send the plan")

    with scopes_disabled():
        assert activity.created_by == bob
        assert set(activity.team.all()) == {bob, bea}
        assert list(activity.contacts.all()) == [champion]
        assert set(ActivityTeamMember.objects.values_list("tenant_id", flat=True)) == {tenant_a.pk}
        assert set(ActivityContact.objects.values_list("tenant_id", flat=True)) == {tenant_a.pk}


def test_a_member_of_another_tenant_cannot_be_among_our_people(tenant_a, bob, charlie, account):
    with pytest.raises(ValidationError) as raised:
        log(tenant_a, account, bob, team=[bob, charlie])
    assert "team" in raised.value.message_dict
    with scopes_disabled():
        assert not Activity.objects.exists()


def test_a_contact_of_another_account_or_one_who_left_cannot_be_among_theirs(tenant_a, bob, account):
    with scopes_disabled():
        elsewhere = ContactFactory(account=AccountFactory(tenant=tenant_a))
        gone = ContactFactory(account=account, left_on=dt.date(2026, 1, 31))
    for stranger in (elsewhere, gone):
        with pytest.raises(ValidationError) as raised:
            log(tenant_a, account, bob, contacts=[stranger])
        assert "contacts" in raised.value.message_dict
    with scopes_disabled():
        assert not Activity.objects.exists()
        assert not ActivityTeamMember.objects.exists()


# --- contacts -------------------------------------------------------------------------------


@pytest.fixture
def chain(account):
    """Vera (VP) <- Mark (manager) <- Uma (end user)."""
    with scopes_disabled():
        vera = ContactFactory(account=account, name="Vera", level=ContactLevel.EXECUTIVE)
        mark = ContactFactory(account=account, name="Mark", level=ContactLevel.MANAGER, reports_to=vera)
        uma = ContactFactory(account=account, name="Uma", level=ContactLevel.END_USER, reports_to=mark)
    return vera, mark, uma


def save(tenant, account, contact, **changes) -> Contact:
    values = {
        "name": contact.name,
        "title": contact.title,
        "email": contact.email,
        "role": contact.role,
        "level": contact.level,
        "reports_to": contact.reports_to,
    }
    with tenant_scope(tenant):
        return contact_save(tenant=tenant, account=account, contact=contact, **{**values, **changes})


def test_adding_a_contact_puts_them_under_their_manager(tenant_a, account, chain):
    vera, _, _ = chain
    with tenant_scope(tenant_a):
        added = contact_save(
            tenant=tenant_a,
            account=account,
            name="Nina New",
            role=ContactRole.POWER_USER,
            level=ContactLevel.MANAGER,
            reports_to=vera,
        )
    with scopes_disabled():
        assert Contact.objects.get(pk=added.pk).reports_to == vera


@pytest.mark.parametrize("who", ["vera_under_mark", "vera_under_uma", "mark_under_himself"])
def test_a_reporting_line_that_would_make_a_loop_is_refused_and_nothing_changes(tenant_a, account, chain, who):
    vera, mark, uma = chain
    contact, manager = {
        "vera_under_mark": (vera, mark),
        "vera_under_uma": (vera, uma),
        "mark_under_himself": (mark, mark),
    }[who]
    with pytest.raises(ValidationError):
        save(tenant_a, account, contact, reports_to=manager, title="Changed")
    with scopes_disabled():
        unchanged = Contact.objects.get(pk=contact.pk)
    assert unchanged.reports_to_id == contact.reports_to_id
    assert unchanged.title != "Changed"


def test_moving_someone_within_the_tree_is_fine(tenant_a, account, chain):
    vera, _, uma = chain
    save(tenant_a, account, uma, reports_to=vera)
    with scopes_disabled():
        assert Contact.objects.get(pk=uma.pk).reports_to == vera


def test_a_contact_cannot_report_to_someone_at_another_account(tenant_a, account, chain):
    _, mark, _ = chain
    with scopes_disabled():
        elsewhere = ContactFactory(account=AccountFactory(tenant=tenant_a))
    with pytest.raises(ValidationError):
        save(tenant_a, account, mark, reports_to=elsewhere)


def test_a_contact_who_leaves_is_kept_with_the_date_and_their_reports_keep_the_line(tenant_a, account, chain):
    _, mark, uma = chain
    with tenant_scope(tenant_a):
        contact_mark_left(contact=mark, left_on=dt.date(2026, 10, 31), note="Moved to Globex")
    with scopes_disabled():
        mark.refresh_from_db()
        assert (mark.left_on, mark.left_note, mark.is_active) == (dt.date(2026, 10, 31), "Moved to Globex", False)
        assert Contact.objects.get(pk=uma.pk).reports_to == mark


# --- account_update --------------------------------------------------------------------------


def update(account, **changes) -> Account:
    values = {
        "name": account.name,
        "domain": account.domain,
        "industry": account.industry,
        "employee_count": account.employee_count,
        "lifecycle_stage": account.lifecycle_stage,
        "customer_since": account.customer_since,
        "segment": account.segment,
        "segment_pinned": account.segment_pinned,
        "owner": account.owner,
    }
    with tenant_scope(account.tenant):
        return account_update(account=account, **{**values, **changes})


def test_an_unpinned_account_follows_its_arr_band_and_a_pinned_one_keeps_its_segment(tenant_a, account):
    with scopes_disabled():
        Account.objects.filter(pk=account.pk).update(arr=Decimal("600000"))
        account.refresh_from_db()
        low, high = (
            Segment.objects.get(tenant=tenant_a, name="Low touch"),
            Segment.objects.get(tenant=tenant_a, name="High touch"),
        )

    update(account, segment=low, segment_pinned=False)
    assert account.segment == high

    update(account, segment=low, segment_pinned=True)
    with scopes_disabled():
        assert Account.objects.get(pk=account.pk).segment == low


def test_the_owner_must_be_a_member_of_the_accounts_tenant(account, bob, charlie):
    with pytest.raises(ValidationError) as raised:
        update(account, owner=charlie, name="Renamed")
    assert "owner" in raised.value.message_dict
    with scopes_disabled():
        assert Account.objects.get(pk=account.pk).owner == bob
        assert Account.objects.get(pk=account.pk).name == "Initech"


# --- Reads of the page ------------------------------------------------------------------------


def test_arr_by_product_sums_todays_lines_per_product_in_one_query(tenant_a, account, django_assert_num_queries):
    today = dt.date(2026, 6, 1)
    with scopes_disabled():
        analytics, alerts = (
            ProductFactory(tenant=tenant_a, name="Analytics"),
            ProductFactory(tenant=tenant_a, name="Alerts"),
        )
        SubscriptionLineFactory(account=account, product=analytics, arr=Decimal("30000"))
        SubscriptionLineFactory(account=account, product=analytics, arr=Decimal("45000"))
        SubscriptionLineFactory(account=account, product=alerts, arr=Decimal("25000"))
        SubscriptionLineFactory(  # ended last year: not ARR any more
            account=account,
            product=alerts,
            arr=Decimal("99000"),
            start_date=dt.date(2025, 1, 1),
            end_date=dt.date(2025, 12, 31),
        )
    with tenant_scope(tenant_a), django_assert_num_queries(1):
        result = arr_by_product(tenant=tenant_a, account=account, today=today)
    assert [(p.product_name, p.arr, p.share_percent) for p in result.products] == [
        ("Analytics", Decimal("75000"), 75),
        ("Alerts", Decimal("25000"), 25),
    ]
    assert result.total == Decimal("100000")


def test_contacts_are_grouped_from_the_top_level_down_and_every_level_is_listed(account):
    with scopes_disabled():
        user = ContactFactory(account=account, name="Una", level=ContactLevel.END_USER)
        vp = ContactFactory(account=account, name="Vic", level=ContactLevel.EXECUTIVE)
        ContactFactory(account=account, name="Gone", level=ContactLevel.EXECUTIVE, left_on=dt.date(2026, 1, 1))
        groups = contacts_by_level(list(Contact.objects.filter(account=account)))
    assert groups == [("Director / VP and above", [vp]), ("Manager", []), ("End user", [user])]


def test_the_org_map_nests_reports_and_roots_someone_whose_manager_left(account, chain):
    vera, mark, uma = chain
    with scopes_disabled():
        Contact.objects.filter(pk=vera.pk).update(left_on=dt.date(2026, 9, 30))
        contacts = list(Contact.objects.filter(account=account))
    (root,) = org_tree(contacts)
    assert root.contact == mark
    assert root.departed_manager == vera
    assert [node.contact for node in root.reports] == [uma]


def test_the_org_map_still_shows_everyone_when_imported_data_has_a_loop(account, chain):
    vera, _, uma = chain
    with scopes_disabled():
        Contact.objects.filter(pk=vera.pk).update(reports_to=uma)  # written behind the services' back
        contacts = list(Contact.objects.filter(account=account))

    def names(nodes):
        return [name for node in nodes for name in (node.contact.name, *names(node.reports))]

    assert sorted(names(org_tree(contacts))) == ["Mark", "Uma", "Vera"]
