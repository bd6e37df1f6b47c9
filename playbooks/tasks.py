"""Thin Celery wrappers: primitive ids in, tenant activated, the engine called.

Evaluation follows each health recompute (``health.tasks`` enqueues it: full recompute → the
tenant, one task per trigger; per-account recompute → those accounts, one task) and a beat
fan-out for time alone (renewals come closer, touches grow old). ``acks_late`` is safe: the
engine is idempotent, and its episode key and per-trigger lock keep a re-run or a racing
worker from firing twice.
"""

from celery import shared_task

from csplatform.models import Tenant
from csplatform.tenancy import tenant_scope

from .engine import automated_emails_send, playbooks_evaluate
from .models import Trigger


@shared_task(acks_late=True)
def evaluate_tenant(*, tenant_id: int) -> int:
    """Fan out one ``evaluate_trigger`` per trigger (disabled ones too: their open episodes
    end), so a worker's processes evaluate a big tenant's triggers side by side: each trigger
    is its own transaction under its own lock in any case, and the open-episode key keeps
    firing exactly-once whichever process evaluates it. Returns how many were queued."""
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant):
        trigger_ids = list(Trigger.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True))
    for trigger_id in trigger_ids:
        evaluate_trigger.delay(tenant_id=tenant_id, trigger_id=trigger_id)
    return len(trigger_ids)


@shared_task(acks_late=True)
def evaluate_trigger(*, tenant_id: int, trigger_id: int) -> int:
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant):
        return playbooks_evaluate(tenant=tenant, trigger_ids=[trigger_id]).opened


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
