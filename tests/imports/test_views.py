"""The import pages as an admin uses them: upload, map, preview, apply, progress, error report."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import Account
from imports.models import ImportJob, ImportStatus

from .factories import ImportJobFactory

CSV = b"Company,Website,Employees\nInitech,initech.example,120\nHooli,hooli.example,5000\n"


def _upload(client, content: bytes = CSV, kind: str = "accounts"):
    return client.post(
        reverse("imports:list"),
        {"kind": kind, "file": SimpleUploadedFile("crm export.csv", content, content_type="text/csv")},
    )


def test_upload_map_preview_and_apply(tenant_a, alice, client_for, worker, django_capture_on_commit_callbacks):
    client = client_for(alice)

    response = _upload(client)
    with scopes_disabled():
        job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("imports:mapping", kwargs={"import_id": job.pk})

    mapping_page = client.get(response["Location"]).content.decode()
    # Detected from the header names: Company → Name, Website → Domain, Employees.
    assert '<option value="name" selected>Name (required)</option>' in mapping_page
    assert '<option value="domain" selected>Domain</option>' in mapping_page
    assert '<option value="employee_count" selected>Employees</option>' in mapping_page
    assert "initech.example · hooli.example" in mapping_page  # what each column holds

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("imports:mapping", kwargs={"import_id": job.pk}),
            {"column_0": "name", "column_1": "domain", "column_2": "employee_count"},
        )
    assert response.status_code == 302
    preview = client.get(reverse("imports:detail", kwargs={"import_id": job.pk})).content.decode()
    assert "All 2 rows are valid: 2 will be created and 0 updated." in preview
    assert "<td>initech.example</td>" in preview
    with scopes_disabled():
        assert not Account.objects.exists()  # nothing written before the admin confirms

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("imports:apply", kwargs={"import_id": job.pk}))
    done = client.get(reverse("imports:detail", kwargs={"import_id": job.pk})).content.decode()
    assert "2 created, 0 updated." in done
    with scopes_disabled():
        assert sorted(Account.objects.filter(tenant=tenant_a).values_list("name", flat=True)) == ["Hooli", "Initech"]
    assert len(worker) == 2


def test_mapping_a_field_twice_or_leaving_a_required_one_out_is_refused(tenant_a, alice, client_for):
    client = client_for(alice)
    _upload(client)
    with scopes_disabled():
        job = ImportJob.objects.get()
    url = reverse("imports:mapping", kwargs={"import_id": job.pk})

    twice = client.post(url, {"column_0": "name", "column_1": "name", "column_2": ""})
    missing = client.post(url, {"column_0": "", "column_1": "domain", "column_2": ""})

    assert twice.status_code == 422
    assert "“Company” already fills Name." in twice.content.decode()
    assert missing.status_code == 422
    assert "missing: Name." in missing.content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.UPLOADED


def test_preview_with_errors_offers_the_report_and_no_import_button(tenant_a, alice, client_for, run_import):
    job = run_import(tenant_a, alice, "accounts", "Name,Domain,Employees\nA,a.example,many\n")
    page = client_for(alice).get(reverse("imports:detail", kwargs={"import_id": job.pk})).content.decode()
    assert "1 problem</strong> in 1 rows; nothing has been written." in page
    assert "<td>2</td><td>Employees</td><td><code>many</code></td><td>not a number</td>" in page
    assert reverse("imports:apply", kwargs={"import_id": job.pk}) not in page


def test_error_report_download_lists_row_column_value_reason_safely(tenant_a, alice, client_for, run_import):
    job = run_import(tenant_a, alice, "accounts", "Name,Domain,Employees\nA,a.example,=1+2\n,b.example,\n")
    response = client_for(alice).get(reverse("imports:errors", kwargs={"import_id": job.pk}))

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Disposition"].startswith('attachment; filename="acme-import-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows == [
        ["Row", "Column", "Value", "Reason"],
        ["2", "Employees", "'=1+2", "not a number"],
        ["3", "Name", "", "Name is required"],
    ]


def test_progress_endpoint_polls_while_running_and_stops_when_done(tenant_a, alice, client_for):
    with scopes_disabled():
        job = ImportJobFactory(
            tenant=tenant_a, status=ImportStatus.VALIDATING, rows_total=100_000, rows_validated=40_000, errors=[]
        )
    url = reverse("imports:progress", kwargs={"import_id": job.pk})
    client = client_for(alice)

    running = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in running
    assert 'aria-valuenow="40"' in running
    assert "40,000 rows checked of 100,000" in running
    assert "<html" not in running

    with scopes_disabled():
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.READY, rows_validated=100_000)
    finished = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in finished
    assert "Import 100,000 rows" in finished


@pytest.mark.parametrize("who", ["bob", "lena"])
def test_only_admins_reach_the_import_pages(tenant_a, alice, bob, lena, client_for, who):
    with scopes_disabled():
        job = ImportJobFactory(tenant=tenant_a)
    client = client_for({"bob": bob, "lena": lena}[who])
    for name in ("detail", "mapping", "progress", "errors"):
        assert client.get(reverse(f"imports:{name}", kwargs={"import_id": job.pk})).status_code == 403
    assert client.get(reverse("imports:list")).status_code == 403
    assert _upload(client).status_code == 403
    assert client.post(reverse("imports:apply", kwargs={"import_id": job.pk})).status_code == 403


def test_another_tenants_import_is_not_found(tenant_a, tenant_b, alice, client_for):
    with scopes_disabled():
        theirs = ImportJobFactory(tenant=tenant_b)
    client = client_for(alice)
    for name in ("detail", "mapping", "progress", "errors"):
        assert client.get(reverse(f"imports:{name}", kwargs={"import_id": theirs.pk})).status_code == 404
    assert client.post(reverse("imports:apply", kwargs={"import_id": theirs.pk})).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == ImportStatus.READY


def test_the_list_shows_only_this_tenants_imports(tenant_a, tenant_b, alice, client_for):
    with scopes_disabled():
        ImportJobFactory(tenant=tenant_a, file_name="ours.csv")
        ImportJobFactory(tenant=tenant_b, file_name="theirs.csv")
    page = client_for(alice).get(reverse("imports:list")).content.decode()
    assert "ours.csv" in page
    assert "theirs.csv" not in page
