"""Thin Celery wrappers: primitive ids in, tenant activated, one service called.

``acks_late`` with idempotent services: a task re-run after a killed worker writes the same
rows. A per-account recompute that finds the tenant busy (a full recompute holds the lock)
retries shortly; a full one that finds it busy is dropped, the next beat does it.
"""

from celery import shared_task

from csplatform.models import Tenant
from csplatform.tenancy import tenant_scope

from . import services

BUSY_RETRY_SECONDS = 2


@shared_task(acks_late=True, bind=True, max_retries=60)
def recompute_accounts(self, *, tenant_id: int, account_ids: list[int]) -> int:
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant):
        result = services.health_recompute(tenant=tenant, account_ids=account_ids)
    if result.skipped:
        raise self.retry(countdown=BUSY_RETRY_SECONDS)
    _playbooks_evaluate(tenant_id=tenant_id, account_ids=account_ids)
    return result.accounts


@shared_task(acks_late=True)
def recompute_tenant(*, tenant_id: int) -> int:
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant):
        result = services.health_recompute(tenant=tenant)
    if not result.skipped:
        _playbooks_evaluate(tenant_id=tenant_id, account_ids=None)
    return result.accounts


def _playbooks_evaluate(*, tenant_id: int, account_ids: list[int] | None) -> None:
    """Fresh scores may make playbook triggers fire (band entered, score dropped): evaluate
    them next, for the same accounts."""
    from playbooks.tasks import evaluate_accounts, evaluate_tenant

    if account_ids is None:
        evaluate_tenant.delay(tenant_id=tenant_id)
    else:
        evaluate_accounts.delay(tenant_id=tenant_id, account_ids=account_ids)


@shared_task
def recompute_all_tenants() -> None:
    """Beat fan-out: time moves the time-based measures, and each day needs its snapshot."""
    tenant_ids = list(Tenant.objects.values_list("pk", flat=True))  # Tenant itself is not scoped
    for tenant_id in tenant_ids:
        recompute_tenant.delay(tenant_id=tenant_id)
