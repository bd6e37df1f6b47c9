"""Thin Celery wrappers: primitive ids in, tenant activated, the engine called.

Evaluation follows each health recompute (``health.tasks`` enqueues it: full recompute → the
tenant, per-account recompute → those accounts) and a beat fan-out for time alone (renewals
come closer, touches grow old). ``acks_late`` is safe: the engine is idempotent, and its
episode key and per-trigger lock keep a re-run or a racing worker from firing twice.
"""

from celery import shared_task

from csplatform.models import Tenant
from csplatform.tenancy import tenant_scope

from .engine import automated_emails_send, playbooks_evaluate


@shared_task(acks_late=True)
def evaluate_tenant(*, tenant_id: int) -> int:
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant):
        return playbooks_evaluate(tenant=tenant).opened


@shared_task(acks_late=True)
def evaluate_accounts(*, tenant_id: int, account_ids: list[int]) -> int:
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant):
        return playbooks_evaluate(tenant=tenant, account_ids=account_ids).opened


@shared_task(acks_late=True)
def send_automated_emails(*, tenant_id: int) -> int:
    """Tech-touch e-mails recorded by an evaluation; claimed in batches, rendered, then sent,
    so a re-run or a second worker sends none twice."""
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant):
        return automated_emails_send(tenant=tenant)


@shared_task
def evaluate_all_tenants() -> None:
    """Beat fan-out: time alone makes conditions start holding (a renewal 90 days away)."""
    tenant_ids = list(Tenant.objects.values_list("pk", flat=True))  # Tenant itself is not scoped
    for tenant_id in tenant_ids:
        evaluate_tenant.delay(tenant_id=tenant_id)
