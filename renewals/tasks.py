"""Thin Celery wrappers: primitive ids in, tenant activated, one service called."""

from celery import shared_task

from accounts.services import tenant_today
from csplatform.models import Tenant
from csplatform.tenancy import tenant_scope

from . import ledger, metrics, retention, services
from .queries import TREND_LENGTH


@shared_task(acks_late=True)
def refresh_renewals_and_ledger(*, tenant_id: int) -> int:
    """Terms start and end with no write to trigger anything: create the renewals coming into
    the 12-month horizon and re-measure the ledger's current month. Both are idempotent."""
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant):
        created = services.renewals_create_upcoming(tenant=tenant)
        ledger.ledger_rebuild(tenant=tenant)
    return created


@shared_task(acks_late=True)
def rebuild_ledger_of_accounts(*, tenant_id: int, account_ids: list[int]) -> int:
    """A line of these accounts was written (API): their ledger rows, and with them the
    retention numbers (the rebuild bumps the ledger version), follow at once. Idempotent."""
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant):
        return ledger.ledger_rebuild(tenant=tenant, account_ids=account_ids)


@shared_task
def refresh_renewals_all_tenants() -> None:
    """Beat fan-out, one task per tenant."""
    for tenant_id in list(Tenant.objects.values_list("pk", flat=True)):
        refresh_renewals_and_ledger.delay(tenant_id=tenant_id)


@shared_task
def warm_retention_trend(*, tenant_id: int) -> None:
    """Compute the retention dashboard's numbers (headline, segment and product slices) and
    trends, each period kind as of the tenant's today, for the current ledger version, so the
    first view after a rebuild does not wait for them. Idempotent: a second run finds them cached."""
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant):
        today = tenant_today(tenant)
        for kind, count in TREND_LENGTH.items():
            period = metrics.Period.of(kind, today)
            retention.summaries_current(tenant=tenant, period=period, slices=tuple(sorted(retention.CACHEABLE_SLICES)))
            retention.trend_frame(tenant=tenant, period=period, count=count)
