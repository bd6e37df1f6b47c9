from __future__ import annotations

import pytest

from csplatform.tenancy import tenant_scope
from imports import services, tasks
from imports.models import ImportJob


@pytest.fixture
def worker(monkeypatch):
    """Runs a queued import in-process when the view's transaction commits, as a Celery
    worker would; returns the list of task calls."""
    calls = []

    def delay(**kwargs):
        calls.append(kwargs)
        tasks.import_job_run(**kwargs)

    monkeypatch.setattr(tasks.import_job_run, "delay", delay)
    return calls


@pytest.fixture
def run_import(worker, django_capture_on_commit_callbacks):
    """``run_import(tenant, user, kind, csv_text, apply=True)``: upload with the detected
    mapping, validate and (when the preview is clean) apply. Returns the refreshed job."""

    def run(tenant, user, kind: str, text: str | bytes, *, apply: bool = True, mapping=None) -> ImportJob:
        content = text.encode() if isinstance(text, str) else text
        with tenant_scope(tenant):
            with django_capture_on_commit_callbacks(execute=True):
                job = services.import_job_create(
                    tenant=tenant, user=user, kind=kind, file_name=f"{kind}.csv", content=content
                )
                services.import_job_map(job=job, mapping=mapping or job.mapping)
            job.refresh_from_db()
            if apply and job.status == "ready":
                with django_capture_on_commit_callbacks(execute=True):
                    services.import_job_apply_request(job=job)
                job.refresh_from_db()
        return job

    return run
