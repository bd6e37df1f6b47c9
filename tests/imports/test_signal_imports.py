"""CSV import of survey responses and support tickets: keyed by the source system's id
(``external_id``), so a re-import updates; the ingestion API writes the same key."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django_scopes import scopes_disabled

from api.ingest import events_ingest
from csplatform.tenancy import tenant_scope
from health.models import SupportTicket, SurveyResponse
from imports import services, specs
from imports.models import ImportStatus

from ..factories import AccountFactory, ContactFactory

UTC = dt.UTC


@pytest.fixture
def initech(tenant_a):
    with scopes_disabled():
        return AccountFactory(tenant=tenant_a, name="Initech", domain="initech.example", external_id="CRM-1")


@pytest.fixture
def hooli(tenant_a):
    with scopes_disabled():
        return AccountFactory(tenant=tenant_a, name="Hooli", domain="hooli.example", external_id="CRM-2")


@pytest.fixture
def recomputes(monkeypatch):
    """Health recomputes queued (on commit) by an import."""
    from health import tasks

    calls = []
    monkeypatch.setattr(tasks.recompute_tenant, "delay", lambda **kwargs: calls.append(kwargs))
    return calls


def _surveys(tenant):
    with scopes_disabled():
        return {s.external_id: s for s in SurveyResponse.objects.filter(tenant=tenant).order_by("pk")}


def _tickets(tenant):
    with scopes_disabled():
        return {t.external_id: t for t in SupportTicket.objects.filter(tenant=tenant).order_by("pk")}


SURVEYS = """Response ID,Account,Email,NPS,Date,Comment
R-1,CRM-1,ann@initech.example,9,2026-10-01,Love it
R-2,hooli.example,,3,2026-10-02,Too slow
"""

TICKETS = """Ticket number,Customer,Title,Priority,Created,Resolved
T-1,initech.example,Login fails,urgent,2026-10-01 09:30,2026-10-01T11:00:00Z
T-2,CRM-2,Export is slow,Medium,2026-10-02,
"""


# --- Column detection ------------------------------------------------------------------------


def test_signal_columns_are_detected_from_their_usual_names():
    assert specs.mapping_detect("surveys", ["Response ID", "Account", "Email", "NPS", "Date", "Comment"]) == {
        "0": "external_id",
        "1": "account",
        "2": "contact",
        "3": "score",
        "4": "responded_on",
        "5": "comment",
    }
    detected = specs.mapping_detect(
        "tickets", ["Ticket ID", "Account domain", "Subject", "Priority", "Opened", "Closed"]
    )
    assert detected == {
        "0": "external_id",
        "1": "account",
        "2": "subject",
        "3": "priority",
        "4": "opened_at",
        "5": "closed_at",
    }
    assert specs.mapping_detect("tickets", ["Ticket number", "Score", "Created", "Resolved"]) == {
        "0": "external_id",
        "2": "opened_at",
        "3": "closed_at",
    }
    assert specs.mapping_detect("surveys", ["Score"]) == {"0": "score"}


# --- Surveys ---------------------------------------------------------------------------------


def test_survey_import_creates_responses_with_account_and_contact(
    tenant_a, alice, initech, hooli, run_import, recomputes
):
    with scopes_disabled():
        ann = ContactFactory(account=initech, email="Ann@Initech.example")

    job = run_import(tenant_a, alice, "surveys", SURVEYS)

    assert job.status == ImportStatus.DONE, (job.message, job.errors)
    assert job.message == "2 created, 0 updated."
    surveys = _surveys(tenant_a)
    first, second = surveys["R-1"], surveys["R-2"]
    assert (first.account_id, first.contact_id, first.kind, first.score) == (initech.pk, ann.pk, "nps", 9)
    assert (first.responded_on, first.comment) == (dt.date(2026, 10, 1), "Love it")
    assert (second.account_id, second.contact_id, second.score) == (hooli.pk, None, 3)
    assert recomputes == [{"tenant_id": tenant_a.pk}]


def test_survey_reimport_updates_by_response_id_and_same_file_rewrites_nothing(
    tenant_a, alice, initech, hooli, run_import, recomputes
):
    text = SURVEYS.replace("ann@initech.example", "")
    run_import(tenant_a, alice, "surveys", text)
    ids = {key: s.pk for key, s in _surveys(tenant_a).items()}

    again = run_import(tenant_a, alice, "surveys", text)
    changed = run_import(tenant_a, alice, "surveys", text.replace(",3,2026-10-02,Too slow", ",6,2026-10-02,Better"))

    assert again.message == "0 created, 0 updated, 2 unchanged."
    assert changed.message == "0 created, 1 updated, 1 unchanged."
    surveys = _surveys(tenant_a)
    assert {key: s.pk for key, s in surveys.items()} == ids
    assert (surveys["R-2"].score, surveys["R-2"].comment) == (6, "Better")


def test_survey_preview_errors_name_row_column_and_reason(tenant_a, alice, initech, hooli, run_import, recomputes):
    with scopes_disabled():
        ContactFactory(account=hooli, email="bo@hooli.example")
    text = (
        "Response ID,Account,Email,Survey,Score,Date\n"
        "R-1,CRM-1,,NPS,11,2026-10-01\n"  # row 2: NPS above 10
        "R-2,CRM-1,,CSAT,0,2026-10-01\n"  # row 3: CSAT below 1
        "R-3,nowhere.example,,NPS,5,2026-10-01\n"  # row 4: unknown account
        "R-4,CRM-1,bo@hooli.example,NPS,5,2026-10-01\n"  # row 5: another account's contact
        "R-5,CRM-1,nobody@x.example,NPS,5,2026-10-01\n"  # row 6: unknown contact
        "R-6,CRM-1,,Poll,5,2026-10-01\n"  # row 7: unknown survey kind
        "R-7,CRM-1,,CSAT,4,2026-10-01\n"  # row 8: fine
        "R-7,CRM-1,,NPS,8,2026-10-03\n"  # row 9: duplicate response id
        ",CRM-1,,NPS,8,2026-10-03\n"  # row 10: no response id
    )

    job = run_import(tenant_a, alice, "surveys", text)

    assert job.status == ImportStatus.INVALID
    errors = {(row, column): (value, reason) for row, column, value, reason in job.errors}
    assert errors[(2, "Score")] == ("11", "an NPS score is between 0 and 10")
    assert errors[(3, "Score")] == ("0", "a CSAT score is between 1 and 5")
    assert errors[(4, "Account")][1] == "unknown account (no account has this external id, domain or name)"
    assert errors[(5, "Email")] == ("bo@hooli.example", "this contact belongs to another account")
    assert errors[(6, "Email")][1].startswith("unknown contact")
    assert errors[(7, "Survey")] == ("Poll", "unknown survey; use one of: NPS, CSAT")
    assert errors[(9, "Response ID")] == ("R-7", "duplicate of row 8 in this file")
    assert errors[(10, "Response ID")] == (
        "",
        "Response ID is required: importing the file again updates each response by its id, so every row needs one",
    )
    assert job.error_count == 8
    assert _surveys(tenant_a) == {}
    assert recomputes == []


def test_a_csat_score_column_makes_csat_responses(tenant_a, alice, initech, run_import, recomputes):
    job = run_import(tenant_a, alice, "surveys", "Response ID,Account,CSAT,Date\nR-1,CRM-1,4,2026-10-01\n")

    assert job.status == ImportStatus.DONE, job.errors
    assert (_surveys(tenant_a)["R-1"].kind, _surveys(tenant_a)["R-1"].score) == ("csat", 4)


def test_a_file_without_the_response_id_column_is_refused_at_mapping(tenant_a, alice):
    from django.core.exceptions import ValidationError

    with tenant_scope(tenant_a):
        job = services.import_job_create(
            tenant=tenant_a,
            user=alice,
            kind="surveys",
            file_name="s.csv",
            content=b"Account,NPS,Date\nCRM-1,9,2026-10-01\n",
        )
        with pytest.raises(ValidationError, match="Response ID is missing"):
            services.import_job_map(job=job, mapping=job.mapping)


# --- Tickets ---------------------------------------------------------------------------------


def test_ticket_import_creates_then_reimport_closes_the_same_ticket(
    tenant_a, alice, initech, hooli, run_import, recomputes
):
    job = run_import(tenant_a, alice, "tickets", TICKETS)

    assert job.status == ImportStatus.DONE, (job.message, job.errors)
    assert job.message == "2 created, 0 updated."
    tickets = _tickets(tenant_a)
    login, export = tickets["T-1"], tickets["T-2"]
    assert (login.account_id, login.subject, login.priority) == (initech.pk, "Login fails", "urgent")
    assert login.opened_at == dt.datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
    assert login.closed_at == dt.datetime(2026, 10, 1, 11, tzinfo=UTC)
    assert (export.account_id, export.priority, export.closed_at) == (hooli.pk, "normal", None)
    assert export.opened_at == dt.datetime(2026, 10, 2, tzinfo=UTC)

    job = run_import(
        tenant_a, alice, "tickets", TICKETS.replace("2026-10-02,\n", "2026-10-02,2026-10-05 08:00+02:00\n")
    )

    assert job.message == "0 created, 1 updated, 1 unchanged."
    tickets = _tickets(tenant_a)
    assert len(tickets) == 2
    assert tickets["T-2"].pk == export.pk
    assert tickets["T-2"].closed_at == dt.datetime(2026, 10, 5, 6, tzinfo=UTC)
    assert recomputes == [{"tenant_id": tenant_a.pk}, {"tenant_id": tenant_a.pk}]


def test_ticket_preview_errors(tenant_a, alice, initech, run_import, recomputes):
    text = (
        "Ticket ID,Account,Subject,Priority,Opened,Closed\n"
        "T-1,CRM-1,Login,P1,2026-10-01,\n"  # row 2: bad priority
        "T-2,CRM-1,Login,high,2026-10-05,2026-10-04\n"  # row 3: closed before opened
        "T-3,CRM-9,Login,high,2026-10-05,\n"  # row 4: unknown account
        "T-4,CRM-1,Login,high,01/10/2026,\n"  # row 5: ambiguous date
        "T-5,CRM-1,,high,2026-10-05,\n"  # row 6: no subject
        "T-6,CRM-1,Fine,low,2026-10-05,2026-10-06\n"  # row 7: fine
    )

    job = run_import(tenant_a, alice, "tickets", text)

    assert job.status == ImportStatus.INVALID
    errors = {(row, column): (value, reason) for row, column, value, reason in job.errors}
    assert errors[(2, "Priority")] == ("P1", "unknown priority; use one of: Low, Normal, High, Urgent")
    assert errors[(3, "Closed")] == ("2026-10-04", "before the ticket was opened (2026-10-05)")
    assert errors[(4, "Account")][0] == "CRM-9"
    assert errors[(5, "Opened")][1].startswith("not a date and time; write YYYY-MM-DD")
    assert errors[(6, "Subject")] == ("", "Subject is required")
    assert job.error_count == 5
    assert _tickets(tenant_a) == {}
    assert recomputes == []


def test_ticket_apply_is_all_or_nothing(tenant_a, alice, initech, hooli, run_import, monkeypatch, recomputes):
    from django.db import DatabaseError

    def broken(**kwargs):
        raise DatabaseError("simulated failure after the inserts")

    monkeypatch.setattr(services, "_after_write", broken)
    job = run_import(tenant_a, alice, "tickets", TICKETS)

    assert job.status == ImportStatus.FAILED
    assert "nothing was written" in job.message
    assert _tickets(tenant_a) == {}
    assert recomputes == []


def test_ticket_import_never_matches_another_tenants_ticket_id(
    tenant_a, tenant_b, alice, initech, hooli, run_import, recomputes
):
    with scopes_disabled():
        other = AccountFactory(tenant=tenant_b, name="Other", domain="initech.example", external_id="CRM-1")
        theirs = SupportTicket.objects.create(
            tenant=tenant_b,
            account=other,
            subject="Theirs",
            opened_at=dt.datetime(2026, 1, 1, tzinfo=UTC),
            external_id="T-1",
        )

    job = run_import(tenant_a, alice, "tickets", TICKETS)

    assert job.message == "2 created, 0 updated."
    with scopes_disabled():
        theirs.refresh_from_db()
    assert (theirs.subject, theirs.account_id) == ("Theirs", other.pk)
    assert _tickets(tenant_a)["T-1"].account_id == initech.pk


def test_external_id_is_unique_per_tenant_but_blank_is_allowed_many_times(tenant_a, initech):
    opened = dt.datetime(2026, 1, 1, tzinfo=UTC)
    with scopes_disabled():
        for _ in range(2):
            SupportTicket.objects.create(tenant=tenant_a, account=initech, subject="Old", opened_at=opened)
        SupportTicket.objects.create(tenant=tenant_a, account=initech, subject="A", opened_at=opened, external_id="T-1")
        with pytest.raises(IntegrityError), transaction.atomic():
            SupportTicket.objects.create(
                tenant=tenant_a, account=initech, subject="B", opened_at=opened, external_id="T-1"
            )


# --- The ingestion API and the CSV import agree ----------------------------------------------


@pytest.fixture
def no_api_recompute(monkeypatch):
    from api import ingest

    monkeypatch.setattr(ingest, "recompute_enqueue", lambda **kwargs: None)


def test_api_events_set_the_external_id_and_a_csv_reimport_updates_them(
    tenant_a, alice, initech, hooli, run_import, recomputes, no_api_recompute
):
    events = [
        {
            "event_id": "T-1",
            "type": "support_ticket",
            "account_external_id": "CRM-1",
            "subject": "Login fails",
            "priority": "high",
            "opened_at": "2026-10-01T09:30:00Z",
        },
        {
            "event_id": "R-9",
            "type": "survey_response",
            "account_external_id": "CRM-2",
            "kind": "nps",
            "score": 7,
            "responded_on": "2026-10-03",
        },
    ]
    with tenant_scope(tenant_a):
        result = events_ingest(tenant=tenant_a, events=events)
    assert result.accepted == ["T-1", "R-9"], result.rejected
    assert _tickets(tenant_a)["T-1"].subject == "Login fails"
    assert _surveys(tenant_a)["R-9"].score == 7

    job = run_import(tenant_a, alice, "tickets", TICKETS)

    assert job.message == "1 created, 1 updated."
    tickets = _tickets(tenant_a)
    assert len(tickets) == 2
    assert (tickets["T-1"].priority, tickets["T-1"].closed_at) == ("urgent", dt.datetime(2026, 10, 1, 11, tzinfo=UTC))


def test_an_api_event_with_the_id_of_an_imported_ticket_updates_it(
    tenant_a, alice, initech, hooli, run_import, recomputes, no_api_recompute
):
    run_import(tenant_a, alice, "tickets", TICKETS)
    event = {
        "event_id": "T-2",
        "type": "support_ticket",
        "account_external_id": "CRM-2",
        "subject": "Export is slow",
        "opened_at": "2026-10-02T00:00:00Z",
        "closed_at": "2026-10-04T00:00:00Z",
    }

    with tenant_scope(tenant_a):
        result = events_ingest(tenant=tenant_a, events=[event])
        replay = events_ingest(tenant=tenant_a, events=[event])

    assert (result.accepted, replay.duplicates) == (["T-2"], ["T-2"])
    tickets = _tickets(tenant_a)
    assert len(tickets) == 2
    assert tickets["T-2"].closed_at == dt.datetime(2026, 10, 4, tzinfo=UTC)


# --- The pages -------------------------------------------------------------------------------


def test_survey_upload_page_detects_columns_and_previews_the_rows(
    tenant_a, alice, initech, hooli, client_for, worker, django_capture_on_commit_callbacks, recomputes
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from imports.models import ImportJob

    client = client_for(alice)
    upload = SimpleUploadedFile("nps.csv", SURVEYS.replace("ann@initech.example", "").encode(), content_type="text/csv")
    response = client.post(reverse("imports:list"), {"kind": "surveys", "file": upload})
    with scopes_disabled():
        job = ImportJob.objects.get()
    mapping_page = client.get(response["Location"]).content.decode()
    assert '<option value="external_id" selected>Response ID (required)</option>' in mapping_page
    assert '<option value="score" selected>Score (required)</option>' in mapping_page

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("imports:mapping", kwargs={"import_id": job.pk}),
            {"column_0": "external_id", "column_1": "account", "column_2": "contact", "column_3": "score",
             "column_4": "responded_on", "column_5": "comment"},
        )  # fmt: skip
    preview = client.get(reverse("imports:detail", kwargs={"import_id": job.pk})).content.decode()

    assert "All 2 rows are valid: 2 will be created and 0 updated." in preview
    assert '<th scope="col">Survey</th>' in preview  # no survey column: NPS, shown per row
    assert "<td>Too slow</td><td>nps</td>" in preview
    assert _surveys(tenant_a) == {}
