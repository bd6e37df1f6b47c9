"""An import through a real Celery worker (kombu's filesystem transport, as ``make run`` runs
it): the page's progress endpoint moves to the preview, then to the imported rows."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import Account
from imports.models import ImportJob

from ..health.test_embedded_worker import filesystem_worker  # noqa: F401 (a fixture)

ROWS = 3_000


def _until(client, url: str, text: str, timeout: float = 60) -> str:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        page = client.get(url, HTTP_HX_REQUEST="true").content.decode()
        if text in page:
            return page
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not on the progress endpoint after {timeout} s:\n{page}")


@pytest.mark.django_db(transaction=True)
def test_a_worker_checks_then_imports_while_the_page_polls(tenant_a, alice, client_for, filesystem_worker):  # noqa: F811
    client = client_for(alice)
    content = "Company,Website\n" + "".join(f"Customer {n},customer{n}.example\n" for n in range(ROWS))
    upload = SimpleUploadedFile("crm.csv", content.encode(), content_type="text/csv")
    client.post(reverse("imports:list"), {"kind": "accounts", "file": upload})
    with scopes_disabled():
        job = ImportJob.objects.get()
    progress = reverse("imports:progress", kwargs={"import_id": job.pk})

    client.post(reverse("imports:mapping", kwargs={"import_id": job.pk}), {"column_0": "name", "column_1": "domain"})
    _until(client, progress, f"All {ROWS:,} rows are valid")
    client.post(reverse("imports:apply", kwargs={"import_id": job.pk}))
    _until(client, progress, f"{ROWS:,} created, 0 updated.")

    with scopes_disabled():
        assert Account.objects.filter(tenant=tenant_a).count() == ROWS
