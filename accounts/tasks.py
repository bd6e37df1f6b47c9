"""Thin Celery wrappers: primitive ids in, tenant activated, one service called."""

from celery import shared_task

from csplatform.models import Tenant
from csplatform.tenancy import tenant_scope

from . import services


@shared_task(acks_late=True)
def refresh_rollups(*, tenant_id: int) -> int:
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant):
        return services.account_rollups_refresh(tenant=tenant)


@shared_task
def refresh_rollups_all_tenants() -> None:
    """Beat fan-out: ARR moves when a term starts or ends, with no write to trigger it."""
    tenant_ids = list(Tenant.objects.values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        refresh_rollups.delay(tenant_id=tenant_id)
