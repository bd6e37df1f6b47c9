"""CSV import: preview errors, all-or-nothing apply, re-imports that update, tenant isolation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django_scopes import scopes_disabled

from accounts.models import Account, Contact
from csplatform.tenancy import tenant_scope
from health.models import UsageDay
from imports import services
from imports.models import ImportStatus
from renewals.models import SubscriptionLine

from ..factories import AccountFactory, ProductFactory

ACCOUNTS = """External ID,Company,Website,Employees,Segment,Owner,Customer since
CRM-1,Initech,https://www.initech.example/,120,High touch,bob@acme.example,2024-01-15
CRM-2,Hooli,hooli.example,5000,,bea@acme.example,
CRM-3,Umbrella,umbrella.example,,Low touch,,2023-06-01
"""


def _accounts(tenant):
    with scopes_disabled():
        return {
            a.external_id: a
            for a in Account.objects.filter(tenant=tenant).select_related("segment", "owner").order_by("pk")
        }


def test_accounts_import_creates_with_matched_owner_segment_and_dates(tenant_a, alice, bob, bea, run_import):
    job = run_import(tenant_a, alice, "accounts", ACCOUNTS)

    assert job.status == ImportStatus.DONE, job.message
    assert job.message == "3 created, 0 updated."
    accounts = _accounts(tenant_a)
    initech = accounts["CRM-1"]
    assert (initech.name, initech.domain, initech.employee_count) == ("Initech", "initech.example", 120)
    assert initech.owner == bob
    assert initech.segment.name == "High touch"
    assert initech.segment_pinned
    assert initech.customer_since == dt.date(2024, 1, 15)
    # No segment in the file: the ARR band decides (no lines yet, so tech touch).
    assert accounts["CRM-2"].segment.name == "Tech touch"
    assert not accounts["CRM-2"].segment_pinned


def test_reimporting_the_same_file_updates_rather_than_duplicates(tenant_a, alice, bob, bea, run_import):
    run_import(tenant_a, alice, "accounts", ACCOUNTS)
    changed = ACCOUNTS.replace("Initech,", "Initech Corp,").replace(",120,", ",150,")

    job = run_import(tenant_a, alice, "accounts", changed)

    assert job.status == ImportStatus.DONE
    assert job.message == "0 created, 1 updated, 2 unchanged."
    accounts = _accounts(tenant_a)
    assert len(accounts) == 3
    assert (accounts["CRM-1"].name, accounts["CRM-1"].employee_count) == ("Initech Corp", 150)


def test_importing_the_same_file_again_rewrites_nothing(tenant_a, alice, bob, bea, run_import):
    run_import(tenant_a, alice, "accounts", ACCOUNTS)
    before = {a.pk: a.updated_at for a in _accounts(tenant_a).values()}

    job = run_import(tenant_a, alice, "accounts", ACCOUNTS)

    assert job.message == "0 created, 0 updated, 3 unchanged."
    assert {a.pk: a.updated_at for a in _accounts(tenant_a).values()} == before


def test_a_blank_segment_unpins_the_account_back_into_its_band(tenant_a, alice, bob, bea, run_import):
    run_import(tenant_a, alice, "accounts", ACCOUNTS)
    run_import(tenant_a, alice, "accounts", ACCOUNTS.replace(",High touch,", ",,"))

    initech = _accounts(tenant_a)["CRM-1"]
    assert initech.segment.name == "Tech touch"
    assert not initech.segment_pinned


def test_accounts_without_external_id_are_matched_by_domain(tenant_a, alice, run_import):
    with scopes_disabled():
        existing = AccountFactory(tenant=tenant_a, name="Old name", domain="initech.example")

    job = run_import(tenant_a, alice, "accounts", "Account Name,Domain\nInitech,initech.example\nHooli,hooli.example\n")

    assert job.message == "1 created, 1 updated."
    existing.refresh_from_db()
    assert existing.name == "Initech"


def test_preview_lists_row_level_errors_and_writes_nothing(tenant_a, alice, bob, run_import):
    text = (
        "External ID,Name,Domain,Employees,Segment,Owner,Customer since\n"
        "CRM-1,Initech,initech.example,12x,,,\n"  # row 2: bad number
        "CRM-2,,hooli.example,,,,\n"  # row 3: missing name
        "CRM-3,Umbrella,umbrella.example,,Platinum,,\n"  # row 4: unknown segment
        "CRM-4,Wonka,wonka.example,,,nobody@acme.example,\n"  # row 5: unknown owner
        "CRM-5,Acme,acme.example,,,,31/12/2024\n"  # row 6: bad date
        "CRM-6,Globex,globex.example,,,,\n"  # row 7: fine
        "CRM-6,Globex again,globex2.example,,,,\n"  # row 8: duplicate key
        "CRM-7,Stark,stark.example,,,charlie@globex.example,\n"  # row 9: a member of another tenant
    )
    job = run_import(tenant_a, alice, "accounts", text)

    assert job.status == ImportStatus.INVALID
    errors = {(row, column): reason for row, column, _value, reason in job.errors}
    assert errors[(2, "Employees")] == "not a number"
    assert errors[(3, "Name")] == "Name is required"
    assert errors[(4, "Segment")].startswith("unknown segment")
    assert errors[(5, "Owner")].startswith("unknown owner")
    assert errors[(6, "Customer since")] == "not a date; write dates as YYYY-MM-DD"
    assert errors[(8, "External id / Domain")] == "duplicate of row 7 in this file"
    assert errors[(9, "Owner")].startswith("unknown owner")
    assert job.error_count == 7
    assert _accounts(tenant_a) == {}


def test_apply_is_all_or_nothing_when_the_database_refuses(tenant_a, alice, run_import, monkeypatch):
    def broken(**kwargs):
        raise DatabaseError("simulated failure after the inserts")

    monkeypatch.setattr(services, "_after_write", broken)
    job = run_import(tenant_a, alice, "accounts", "Name,Domain\nInitech,initech.example\nHooli,hooli.example\n")

    assert job.status == ImportStatus.FAILED
    assert "nothing was written" in job.message
    assert _accounts(tenant_a) == {}


def test_apply_validates_again_and_writes_nothing_if_the_data_changed(tenant_a, alice, bob, bea, run_import):
    job = run_import(tenant_a, alice, "accounts", ACCOUNTS, apply=False)
    assert job.status == ImportStatus.READY
    with scopes_disabled():
        bob.memberships.all().delete()  # bob left the team after the preview

    with tenant_scope(tenant_a):
        services.import_job_apply_request(job=job)
        services.import_job_run(tenant=tenant_a, job_id=job.pk)
    job.refresh_from_db()

    assert job.status == ImportStatus.FAILED
    assert job.errors[0][1] == "Owner"
    assert _accounts(tenant_a) == {}


def test_import_never_touches_another_tenants_account_with_the_same_domain(
    tenant_a, tenant_b, alice, charlie, run_import
):
    with scopes_disabled():
        theirs = AccountFactory(tenant=tenant_b, name="Globex's Initech", domain="initech.example")

    job = run_import(tenant_a, alice, "accounts", "Name,Domain\nInitech,initech.example\n")

    assert job.message == "1 created, 0 updated."
    theirs.refresh_from_db()
    assert theirs.name == "Globex's Initech"
    (ours,) = _accounts(tenant_a).values()
    assert ours.tenant_id == tenant_a.pk


def test_claiming_twice_runs_the_job_once(tenant_a, alice, run_import):
    job = run_import(
        tenant_a, alice, "accounts", ACCOUNTS.replace("bob@acme.example", "").replace("bea@acme.example", "")
    )
    with tenant_scope(tenant_a):
        assert services.import_job_run(tenant=tenant_a, job_id=job.pk) is None  # a re-delivered task
    assert len(_accounts(tenant_a)) == 3


def test_mapping_without_a_required_column_is_refused_naming_it(tenant_a, alice):
    with tenant_scope(tenant_a):
        job = services.import_job_create(
            tenant=tenant_a, user=alice, kind="lines", file_name="l.csv", content=b"Account,ARR\nx,1\n"
        )
        with pytest.raises(ValidationError, match="Product, Start date, End date"):
            services.import_job_map(job=job, mapping=job.mapping)


def test_contacts_import_matches_accounts_and_reimport_updates_by_email(tenant_a, alice, run_import):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, name="Initech", domain="initech.example", external_id="CRM-1")
    text = "Account,Full name,Email,Job title,Role\nCRM-1,Peter Gibbons,Peter@Initech.example,Engineer,champion\n"

    first = run_import(tenant_a, alice, "contacts", text)
    second = run_import(
        tenant_a, alice, "contacts", text.replace("Engineer", "Manager").replace("CRM-1", "initech.example")
    )

    assert (first.message, second.message) == ("1 created, 0 updated.", "0 created, 1 updated.")
    with scopes_disabled():
        contact = Contact.objects.get(tenant=tenant_a)
    assert (contact.account, contact.email, contact.title, contact.role) == (
        account,
        "peter@initech.example",
        "Manager",
        "champion",
    )


def test_unknown_account_is_a_row_error(tenant_a, alice, run_import):
    job = run_import(tenant_a, alice, "contacts", "Account,Name,Email\nnowhere.example,Ann,ann@x.example\n")
    assert job.errors == [
        [2, "Account", "nowhere.example", "unknown account (no account has this external id, domain or name)"]
    ]


def test_subscription_lines_import_rolls_up_arr_and_reimport_updates(tenant_a, alice, run_import):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, name="Initech", domain="initech.example")
        ProductFactory(tenant=tenant_a, name="Analytics")
    today = dt.date.today()
    start, end = today - dt.timedelta(days=30), today + dt.timedelta(days=300)
    text = f'Account,Plan,Annual value,Start,End\ninitech.example,Analytics,"120,000.00",{start},{end}\n'

    first = run_import(tenant_a, alice, "lines", text)
    second = run_import(tenant_a, alice, "lines", text.replace("120,000.00", "90000"))

    assert (first.status, second.message) == (ImportStatus.DONE, "0 created, 1 updated.")
    with scopes_disabled():
        line = SubscriptionLine.objects.get(tenant=tenant_a)
    account.refresh_from_db()
    assert line.arr == Decimal("90000.00")
    assert account.arr == Decimal("90000.00")
    assert account.next_renewal_date == end


def test_line_ending_before_it_starts_is_a_row_error(tenant_a, alice, run_import):
    with scopes_disabled():
        AccountFactory(tenant=tenant_a, name="Initech", domain="initech.example")
        ProductFactory(tenant=tenant_a, name="Analytics")
    job = run_import(
        tenant_a, alice, "lines", "Account,Product,ARR,Start,End\nInitech,Analytics,10,2025-05-01,2025-04-01\n"
    )
    assert job.errors == [[2, "End", "2025-04-01", "before the start date"]]


def test_usage_days_import_upserts_by_account_and_day(tenant_a, alice, run_import):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, name="Initech", domain="initech.example")
    text = "Account,Date,Active users,Seats\ninitech.example,2026-01-05,40,50\ninitech.example,2026-01-06,42,50\n"

    run_import(tenant_a, alice, "usage", text)
    job = run_import(tenant_a, alice, "usage", text.replace(",42,", ",45,"))

    assert job.message == "0 created, 1 updated, 1 unchanged."
    with scopes_disabled():
        days = dict(UsageDay.objects.filter(tenant=tenant_a, account=account).values_list("day", "active_users"))
    assert days == {dt.date(2026, 1, 5): 40, dt.date(2026, 1, 6): 45}


def test_duplicate_usage_day_in_the_file_is_refused(tenant_a, alice, run_import):
    with scopes_disabled():
        AccountFactory(tenant=tenant_a, name="Initech", domain="initech.example")
    text = "Account,Day,Active users,Licensed seats\nInitech,2026-01-05,40,50\ninitech.example,2026-01-05,41,50\n"
    job = run_import(tenant_a, alice, "usage", text)
    assert job.status == ImportStatus.INVALID
    assert job.errors == [[3, "Account, day", "initech.example, 2026-01-05", "duplicate of row 2 in this file"]]


def test_progress_is_written_while_the_rows_are_checked(tenant_a, alice, run_import, monkeypatch):
    from imports import validation

    seen = []
    original = services._progress

    def recording(job, **counters):
        seen.append(counters.get("rows_validated"))
        original(job, **counters)

    monkeypatch.setattr(validation, "PROGRESS_EVERY", 2)
    monkeypatch.setattr(services, "_progress", recording)
    rows = "".join(f"Name {n},n{n}.example\n" for n in range(5))
    run_import(tenant_a, alice, "accounts", "Name,Domain\n" + rows, apply=False)

    assert seen == [2, 4]


def test_a_job_whose_worker_died_is_claimed_again(tenant_a, alice, run_import):
    from django.utils import timezone

    from imports.models import ImportJob

    job = run_import(tenant_a, alice, "accounts", "Name,Domain\nA,a.example\n", apply=False)
    with tenant_scope(tenant_a):
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.APPLYING, heartbeat_at=timezone.now())
        assert services.import_job_claim(tenant=tenant_a, job_id=job.pk) is None  # still alive
        ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - services.STALE_AFTER * 2)
        assert services.import_job_run(tenant=tenant_a, job_id=job.pk).status == ImportStatus.DONE
    assert len(_accounts(tenant_a)) == 1


def test_invoices_import_upserts_by_number(tenant_a, alice, run_import):
    from health.models import Invoice

    with scopes_disabled():
        AccountFactory(tenant=tenant_a, name="Initech", domain="initech.example")
    text = "Account,Invoice #,Total,Invoice date,Due date,Paid\ninitech.example,INV-1,1200,2026-01-01,2026-01-31,\n"

    run_import(tenant_a, alice, "invoices", text)
    job = run_import(tenant_a, alice, "invoices", text.replace("2026-01-31,\n", "2026-01-31,2026-02-03\n"))

    assert job.message == "0 created, 1 updated."
    with scopes_disabled():
        invoice = Invoice.objects.get(tenant=tenant_a)
    assert (invoice.number, invoice.amount, invoice.paid_on) == ("INV-1", Decimal("1200.00"), dt.date(2026, 2, 3))
