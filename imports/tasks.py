"""Thin Celery wrapper: primitive ids in, tenant activated, one service called. The service
claims the job with a conditional update, so a re-delivered task (``acks_late``) is a no-op
unless the worker that had it died."""

from celery import shared_task

from csplatform.models import Tenant
from csplatform.tenancy import tenant_scope

from . import services


@shared_task(acks_late=True)
def import_job_run(*, tenant_id: int, job_id: int) -> str | None:
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant):
        job = services.import_job_run(tenant=tenant, job_id=job_id)
    return job.status if job else None
