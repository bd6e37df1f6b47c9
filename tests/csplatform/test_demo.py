"""The demo data: seed_demo, demo_logins and the generator behind them (csplatform.demo)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from itertools import pairwise

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django_scopes import scopes_disabled

from accounts.models import Account, Activity, ActivityContact, ActivityTeamMember, Contact, ContactLevel, TouchModel
from accounts.services import account_rollups_refresh
from csplatform.demo import DEMO_PASSWORD, demo_seed
from csplatform.models import Membership, Role, Tenant, User
from renewals.models import SubscriptionLine
from tests.factories import TenantFactory

TODAY = dt.date(2026, 11, 24)
pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--accounts", "40", "--today", TODAY.isoformat(), *args, stdout=out)
    return out.getvalue()


def demo_digest() -> str:
    """A fingerprint of every demo row by its natural keys (ids differ between databases)."""
    with scopes_disabled():
        querysets = [
            Tenant.objects.values_list("slug", "name", "currency", "time_zone"),
            Membership.objects.values_list("tenant__slug", "user__email", "user__full_name", "role"),
            Account.objects.values_list(
                "tenant__slug", "name", "domain", "external_id", "industry", "employee_count", "segment__name"
            ),
            Account.objects.values_list(
                "tenant__slug", "name", "owner__email", "lifecycle_stage", "customer_since", "next_renewal_date", "arr"
            ),
            Account.objects.values_list("tenant__slug", "name", "created_at"),
            SubscriptionLine.objects.values_list(
                "tenant__slug", "account__name", "product__name", "arr", "start_date", "end_date", "created_at"
            ),
            Contact.objects.values_list(
                "tenant__slug", "account__name", "name", "title", "email", "role", "level", "reports_to__name"
            ),
            Contact.objects.values_list("tenant__slug", "account__name", "name", "left_on", "left_note", "created_at"),
            Activity.objects.values_list(
                "tenant__slug", "account__name", "kind", "occurred_at", "purpose", "summary", "next_step"
            ),
            Activity.objects.values_list(
                "tenant__slug", "account__name", "occurred_at", "next_step_due", "created_by__email", "created_at"
            ),
            ActivityTeamMember.objects.values_list(
                "tenant__slug", "activity__account__name", "activity__occurred_at", "activity__kind", "user__email"
            ),
            ActivityContact.objects.values_list(
                "tenant__slug", "activity__account__name", "activity__occurred_at", "activity__kind", "contact__name"
            ),
        ]
        rows = sorted(repr(row) for queryset in querysets for row in queryset)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def digest_of_a_fresh_seed(**options) -> str:
    """Seed an empty database, fingerprint it, and roll it all back."""
    with transaction.atomic():
        demo_seed(account_count=40, today=TODAY, **options)
        digest = demo_digest()
        transaction.set_rollback(True)
    return digest


def test_seed_demo_creates_two_tenants_each_with_an_admin_a_leader_and_csms():
    output = seed()

    tenants = {tenant.slug: tenant for tenant in Tenant.objects.all()}
    assert set(tenants) == {"acme", "northwind"}
    assert (tenants["acme"].currency, tenants["northwind"].currency) == ("USD", "EUR")
    for slug, tenant in tenants.items():
        roles = dict(Membership.objects.filter(tenant=tenant).values_list("user__email", "role"))
        assert roles[f"admin@{slug}.demo"] == Role.ADMIN
        assert roles[f"leader@{slug}.demo"] == Role.LEADER
        assert 6 <= list(roles.values()).count(Role.CSM) <= 8
        assert roles[f"csm1@{slug}.demo"] == Role.CSM
    assert User.objects.get(email="csm1@acme.demo").check_password(DEMO_PASSWORD)
    assert DEMO_PASSWORD in output


def test_accounts_spread_over_all_three_segments_and_only_tech_touch_has_no_owner():
    seed()

    with scopes_disabled():
        for tenant in Tenant.objects.all():
            accounts = Account.objects.filter(tenant=tenant)
            assert accounts.count() == 40
            by_touch = dict(accounts.values_list("segment__touch_model").annotate(n=Count("id")))
            assert set(by_touch) == {TouchModel.HIGH, TouchModel.LOW, TouchModel.TECH}
            assert not accounts.filter(segment__touch_model=TouchModel.TECH, owner__isnull=False).exists()
            assert not accounts.filter(segment__touch_model=TouchModel.HIGH, owner__isnull=True).exists()
            assert accounts.filter(arr__gte=500_000).count() == by_touch[TouchModel.HIGH]
            assert accounts.values("name").distinct().count() == accounts.values("domain").distinct().count() == 40


def test_accounts_are_written_with_the_arr_renewal_and_segment_the_roll_up_computes():
    seed("--tenants", "1")

    def facts():
        return sorted(Account.objects.values_list("pk", "arr", "next_renewal_date", "segment_id"))

    with scopes_disabled():
        tenant = Tenant.objects.get()
        written = facts()
        assert sum(1 for _, arr, _, _ in written if arr) > 30  # most have ARR today, some churned
        account_rollups_refresh(tenant=tenant, today=TODAY)
        assert facts() == written


def test_a_large_tenant_is_copied_with_its_indexes_dropped_and_rebuilt_the_same(monkeypatch):
    from django.db import connection

    from csplatform import demo

    tables = ["accounts_account", "accounts_contact", "accounts_activity", "renewals_subscriptionline"]

    def index_definitions() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = ANY(%s) ORDER BY 1", [tables])
            indexes = [row[0] for row in cursor.fetchall()]
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid), condeferrable, condeferred FROM pg_constraint "
                "WHERE conrelid::regclass::text = ANY(%s) ORDER BY 1",
                [tables],
            )
            return indexes + [repr(row) for row in cursor.fetchall()]

    before = index_definitions()
    monkeypatch.setattr(demo, "LARGE_TENANT_ACCOUNTS", 10)  # 40 accounts count as large
    seed("--tenants", "1")
    assert index_definitions() == before
    assert any("gin_trgm_ops" in definition for definition in before)
    assert any("FOREIGN KEY" in definition and "DEFERRABLE" in definition for definition in before)
    with scopes_disabled():
        assert Account.objects.count() == 40


def test_subscription_history_has_renewals_day_after_the_previous_term_and_churned_accounts():
    seed()

    with scopes_disabled():
        lines = list(SubscriptionLine.objects.order_by("account", "product", "start_date"))
        renewals = [
            (previous, line)
            for previous, line in pairwise(lines)
            if (previous.account_id, previous.product_id) == (line.account_id, line.product_id)
        ]
        assert renewals
        assert all(line.start_date == previous.end_date + dt.timedelta(days=1) for previous, line in renewals)
        assert Account.objects.annotate(terms=Count("subscription_lines")).filter(terms__gt=2).exists()
        churned = Account.objects.filter(lifecycle_stage="churned")
        assert churned.exists()
        assert not SubscriptionLine.objects.filter(account__in=churned).active_on(TODAY).exists()
        assert not churned.filter(Q(arr__gt=0) | Q(owner__isnull=False)).exists()
        live = Account.objects.exclude(lifecycle_stage="churned")
        assert not live.filter(arr=0).exists()
        assert not live.filter(next_renewal_date__isnull=True).exists()


def test_contacts_have_an_org_chart_levels_matching_titles_and_some_departures():
    seed()

    with scopes_disabled():
        contacts = Contact.objects.all()
        per_account = contacts.values("account").annotate(n=Count("id")).values_list("n", flat=True)
        assert min(per_account) >= 3
        assert max(per_account) <= 8
        assert contacts.filter(reports_to__isnull=False).count() > contacts.count() / 2
        assert not contacts.filter(reports_to__isnull=False).exclude(reports_to__account=F("account")).exists()
        assert not contacts.filter(title__startswith="Chief").exclude(level=ContactLevel.EXECUTIVE).exists()
        assert contacts.filter(role="executive_sponsor").count() == Account.objects.count()
        departed = contacts.filter(left_on__isnull=False)
        assert departed.exists()
        assert not departed.filter(left_note="").exists()


def test_activities_have_a_purpose_a_team_and_contacts_and_more_of_them_for_high_touch():
    seed()

    with scopes_disabled():
        activities = Activity.objects.all()
        assert activities.exists()
        assert not activities.filter(Q(purpose="") | Q(purpose__icontains="checking in")).exists()
        assert ActivityTeamMember.objects.exists()
        assert ActivityContact.objects.exists()
        assert not activities.filter(occurred_at__date__gte=TODAY).exists()
        per_account = {
            touch: count / Account.objects.filter(segment__touch_model=touch).count()
            for touch, count in activities.values_list("account__segment__touch_model").annotate(n=Count("id"))
        }
        assert per_account[TouchModel.HIGH] > per_account[TouchModel.LOW] > per_account[TouchModel.TECH]


def test_every_tenant_owned_row_has_its_parents_tenant():
    seed()

    def not_member(user_field: str):
        return ~Exists(Membership.objects.filter(tenant=OuterRef("tenant"), user=OuterRef(user_field)))

    with scopes_disabled():
        strays = {
            "account segment": Account.objects.exclude(segment__tenant=F("tenant")),
            "account owner": Account.objects.filter(owner__isnull=False).filter(not_member("owner")),
            "line account": SubscriptionLine.objects.exclude(account__tenant=F("tenant")),
            "line product": SubscriptionLine.objects.exclude(product__tenant=F("tenant")),
            "contact account": Contact.objects.exclude(account__tenant=F("tenant")),
            "contact manager": Contact.objects.filter(reports_to__isnull=False).exclude(reports_to__tenant=F("tenant")),
            "activity account": Activity.objects.exclude(account__tenant=F("tenant")),
            "activity author": Activity.objects.filter(created_by__isnull=False).filter(not_member("created_by")),
            "team activity": ActivityTeamMember.objects.exclude(activity__tenant=F("tenant")),
            "team user": ActivityTeamMember.objects.filter(not_member("user")),
            "attendee activity": ActivityContact.objects.exclude(activity__tenant=F("tenant")),
            "attendee contact": ActivityContact.objects.exclude(contact__tenant=F("tenant")),
            "attendee account": ActivityContact.objects.exclude(contact__account=F("activity__account")),
        }
        assert {name: rows.count() for name, rows in strays.items() if rows.exists()} == {}


def test_the_same_seed_gives_the_same_data_on_a_fresh_database():
    first = digest_of_a_fresh_seed(seed=42)

    assert digest_of_a_fresh_seed(seed=42) == first
    assert digest_of_a_fresh_seed(seed=7) != first


def test_copy_and_batched_inserts_write_the_same_rows():
    assert digest_of_a_fresh_seed(use_copy=True) == digest_of_a_fresh_seed(use_copy=False)


def test_if_empty_does_nothing_once_any_tenant_exists():
    seed("--if-empty")
    with scopes_disabled():
        before = (Tenant.objects.count(), Account.objects.count(), User.objects.count())

    output = seed("--if-empty")

    with scopes_disabled():
        assert (Tenant.objects.count(), Account.objects.count(), User.objects.count()) == before
    assert "no demo data added" in output


def test_if_empty_skips_a_database_with_someone_elses_tenant():
    TenantFactory(name="Real Customer", slug="real")

    seed("--if-empty")

    assert list(Tenant.objects.values_list("slug", flat=True)) == ["real"]


def test_seeding_twice_without_if_empty_is_refused():
    seed()

    with pytest.raises(CommandError, match="exists already"):
        seed()


def test_demo_logins_lists_each_tenants_logins_and_the_password():
    seed()
    out = io.StringIO()

    call_command("demo_logins", stdout=out)

    output = out.getvalue()
    for login in ("admin@acme.demo", "leader@acme.demo", "csm1@acme.demo", "admin@northwind.demo"):
        assert login in output
    assert "Northwind Cloud" in output
    assert DEMO_PASSWORD in output


def test_demo_logins_says_how_to_seed_when_there_is_no_demo_data():
    out = io.StringIO()

    call_command("demo_logins", stdout=out)

    assert "seed_demo" in out.getvalue()
