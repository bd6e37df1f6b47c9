"""Malformed uploads: each gets a message saying what is wrong, and nothing is written."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import Account
from csplatform.tenancy import tenant_scope
from imports import services
from imports.models import ImportJob, ImportStatus
from imports.parsing import CELL_LIMIT


def _upload_error(tenant, user, content: bytes, kind: str = "accounts") -> str:
    with tenant_scope(tenant), pytest.raises(ValidationError) as raised:
        services.import_job_create(tenant=tenant, user=user, kind=kind, file_name="f.csv", content=content)
    return " ".join(raised.value.message_dict["file"])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("Name,Domain\nMüller GmbH,mueller.example\n".encode("utf-16"), "encoded as UTF-16; csplatform expects UTF-8"),
        ("Name,Domain\nMüller GmbH,mueller.example\n".encode("latin-1"), "not valid UTF-8: byte 0xfc on line 2"),
        (b"", "The file is empty."),
        (b"\n\n  \n", "The file is empty."),
        (b"Name,Domain\n", "The file has a header but no rows."),
        (b"Name,,Domain\nx,,y\n", "Column 2 of the header has no name."),
        (b"Name,name\nx,y\n", "names the column \u201cname\u201d twice"),
        (b"PK\x03\x04\x14\x00\x06\x00 rest of a workbook", "looks like an Excel workbook"),
        (b"%PDF-1.7 ...", "looks like a PDF document"),
        (b"\x00\x01\x02Name", "binary data"),
        (b'Name,Domain\n"' + b"x" * (CELL_LIMIT + 10) + b'",y\n', "longer than 10,000 characters"),
    ],
    ids=[
        "utf16",
        "latin1",
        "empty",
        "blank",
        "header-only",
        "unnamed-column",
        "repeated-column",
        "xlsx",
        "pdf",
        "binary",
        "huge-cell",
    ],
)
def test_unreadable_upload_is_refused_with_a_clear_message(tenant_a, alice, content, expected):
    assert expected in _upload_error(tenant_a, alice, content)
    with scopes_disabled():
        assert not ImportJob.objects.exists()


def test_utf8_with_or_without_bom_and_semicolons_are_read(tenant_a, alice):
    with tenant_scope(tenant_a):
        with_bom = services.import_job_create(
            tenant=tenant_a,
            user=alice,
            kind="accounts",
            file_name="a.csv",
            content="\ufeffName;Website\nMüller;m.example\n".encode(),
        )
        plain = services.import_job_create(
            tenant=tenant_a, user=alice, kind="accounts", file_name="b.csv", content=b"Company\tDomain\nX\tx.example\n"
        )
    assert (with_bom.headers, with_bom.delimiter, with_bom.mapping) == (
        ["Name", "Website"],
        ";",
        {"0": "name", "1": "domain"},
    )
    assert (plain.delimiter, plain.mapping) == ("\t", {"0": "name", "1": "domain"})


def test_a_huge_line_deep_in_the_file_fails_the_check_and_writes_nothing(tenant_a, alice, run_import):
    text = 'Name,Domain\nA,a.example\nB,"' + "b" * (CELL_LIMIT + 1) + '"\nC,c.example\n'
    job = run_import(tenant_a, alice, "accounts", text)
    assert job.status == ImportStatus.INVALID
    assert job.message.startswith("Row 3 (line 3) has a cell longer than 10,000 characters")
    with scopes_disabled():
        assert not Account.objects.exists()


def test_a_row_with_more_cells_than_the_header_is_a_row_error(tenant_a, alice, run_import):
    job = run_import(tenant_a, alice, "accounts", "Name,Domain\nA,a.example,surprise\n")
    assert job.errors == [[2, "", "surprise", "the row has 3 cells, the header names 2"]]


def test_bad_numbers_and_dates_name_row_and_column(tenant_a, alice, run_import):
    text = "Name,Domain,Employees,Customer since\nA,a.example,-3,2024-02-30\nB,b.example,1.5,yesterday\n"
    job = run_import(tenant_a, alice, "accounts", text)
    assert job.errors == [
        [2, "Employees", "-3", "cannot be negative"],
        [2, "Customer since", "2024-02-30", "not a date; write dates as YYYY-MM-DD"],
        [3, "Employees", "1.5", "not a whole number"],
        [3, "Customer since", "yesterday", "not a date; write dates as YYYY-MM-DD"],
    ]
    with scopes_disabled():
        assert not Account.objects.exists()


def test_the_upload_page_shows_the_message_and_keeps_nothing(tenant_a, alice, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("accounts.csv", "Name\nMüller\n".encode("cp1252"), content_type="text/csv")
    response = client_for(alice).post(reverse("imports:list"), {"kind": "accounts", "file": upload})

    assert response.status_code == 422
    assert "is not valid UTF-8" in response.content.decode()
    with scopes_disabled():
        assert not ImportJob.objects.exists()


def test_a_file_over_the_size_limit_is_refused(tenant_a, alice, client_for, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from imports import forms

    monkeypatch.setattr(forms, "MAX_UPLOAD_BYTES", 1024 * 1024)
    upload = SimpleUploadedFile("big.csv", b"Name\n" + b"x\n" * 600_000, content_type="text/csv")
    response = client_for(alice).post(reverse("imports:list"), {"kind": "accounts", "file": upload})

    assert response.status_code == 422
    assert "The file is 1.1 MB; the limit is 1 MB. Split it into smaller files." in response.content.decode()
