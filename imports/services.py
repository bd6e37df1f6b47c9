"""CSV imports: upload, map the columns, validate (the preview), apply all-or-nothing.

Validation and apply run in a Celery task (``imports.tasks.import_job_run``) that claims the
job with a conditional update, so a re-delivered task does nothing twice. Apply validates the
file again (the data may have changed since the preview), then writes every row in one
transaction: any error and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import logging
from itertools import islice

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from csplatform.models import Tenant, User

from . import specs
from .models import RUNNING_OF_QUEUED, ImportJob, ImportKind, ImportStatus
from .parsing import UnreadableFile, csv_open, rows_iterate, text_decode
from .validation import Plan, display, plan_build
from .writing import plan_write

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
ERRORS_KEPT = 10_000
PREVIEW_ROWS = 10
# A running job whose heartbeat is older than this was lost by its worker and may be re-claimed.
STALE_AFTER = dt.timedelta(minutes=10)
# Imports of one tenant write one after another (PostgreSQL advisory lock key namespace).
LOCK_NAMESPACE = 7_001


def import_job_create(*, tenant: Tenant, user: User | None, kind: str, file_name: str, content: bytes) -> ImportJob:
    """Keep an uploaded file and read its header, with the columns detected. Raises
    ``ValidationError`` naming the problem when the file cannot be read as a CSV."""
    if kind not in ImportKind.values:
        raise ValidationError({"kind": "Choose what the file holds."})
    if len(content) > MAX_UPLOAD_BYTES:
        raise ValidationError(
            {
                "file": f"The file is {len(content) / 1024 / 1024:.1f} MB; the limit is "
                f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB. Split it into smaller files."
            }
        )
    try:
        opened = csv_open(content)
    except UnreadableFile as error:
        raise ValidationError({"file": str(error)}) from None
    return ImportJob.objects.create(
        tenant=tenant,
        kind=kind,
        created_by=user,
        file_name=file_name[:255],
        content=content,
        size=len(content),
        delimiter=opened.delimiter,
        headers=opened.headers,
        mapping=specs.mapping_detect(kind, opened.headers),
        # For the progress bar until the check counts them (a quoted cell may hold a newline).
        rows_total=max(content.count(b"\n") - 1, 1),
    )


def import_job_samples(*, job: ImportJob, count: int = 3) -> list[list[str]]:
    """The first values of each column (read from the start of the file only), shown beside
    the mapping so an admin sees what a column holds."""
    head = bytes(job.content[:65_536]).decode("utf-8-sig", errors="ignore")
    if len(job.content) > 65_536:
        head = head[: head.rfind("\n") + 1]
    samples: list[list[str]] = [[] for _ in job.headers]
    try:
        for _, cells in islice(rows_iterate(head, job.delimiter), count):
            for index, cell in enumerate(cells[: len(samples)]):
                if cell.strip():
                    samples[index].append(cell.strip()[:40])
    except UnreadableFile:
        pass
    return samples


def import_job_map(*, job: ImportJob, mapping: dict[str, str]) -> ImportJob:
    """Save the column mapping and queue the validation. Refuses a mapping that leaves a
    required column out, naming it."""
    if job.in_progress:
        raise ValidationError("This import is already running.")
    missing = specs.missing_required(job.kind, mapping)
    if missing:
        raise ValidationError(f"Map a column to each required field: {', '.join(missing)} is missing.")
    job.mapping = mapping
    job.status = ImportStatus.VALIDATION_QUEUED
    job.rows_validated = job.rows_written = job.error_count = 0
    job.errors, job.preview_rows, job.message = [], [], ""
    job.finished_at = None
    job.save(
        update_fields=[
            "mapping", "status", "rows_validated", "rows_written", "error_count", "errors", "preview_rows",
            "message", "finished_at",
        ]
    )  # fmt: skip
    _enqueue(job)
    return job


def import_job_apply_request(*, job: ImportJob) -> bool:
    """Queue the write of a job whose preview had no errors. False when it was not ready
    (already applied, or someone else clicked first)."""
    queued = ImportJob.objects.filter(tenant=job.tenant, pk=job.pk, status=ImportStatus.READY).update(
        status=ImportStatus.APPLY_QUEUED, rows_written=0, rows_validated=0
    )
    if queued:
        job.status = ImportStatus.APPLY_QUEUED
        _enqueue(job)
    return bool(queued)


def _enqueue(job: ImportJob) -> None:
    from .tasks import import_job_run

    tenant_id, job_id = job.tenant_id, job.pk
    transaction.on_commit(lambda: import_job_run.delay(tenant_id=tenant_id, job_id=job_id))


def import_job_claim(*, tenant: Tenant, job_id: int) -> ImportJob | None:
    """Move a queued job to running (or take over one whose worker died). None when another
    worker has it or it is finished: the caller then does nothing."""
    stale = timezone.now() - STALE_AFTER
    for queued, running in RUNNING_OF_QUEUED.items():
        claimed = (
            ImportJob.objects.filter(tenant=tenant, pk=job_id)
            .filter(Q(status=queued) | Q(status=running, heartbeat_at__lt=stale))
            .update(status=running, heartbeat_at=timezone.now())
        )
        if claimed:
            return ImportJob.objects.get(tenant=tenant, pk=job_id)
    return None


def _progress(job: ImportJob, **counters) -> None:
    """Written outside any transaction so a polling page sees it at once."""
    ImportJob.objects.filter(tenant=job.tenant_id, pk=job.pk).update(heartbeat_at=timezone.now(), **counters)


def import_job_run(*, tenant: Tenant, job_id: int) -> ImportJob | None:
    """The task's body: validate a claimed job, and write it when apply was asked for."""
    job = import_job_claim(tenant=tenant, job_id=job_id)
    if job is None:
        return None
    applying = job.status == ImportStatus.APPLYING
    try:
        plan = _validate(job)
    except UnreadableFile as error:
        return _finish(job, status=ImportStatus.FAILED if applying else ImportStatus.INVALID, message=str(error))
    if plan.errors:
        status = ImportStatus.FAILED if applying else ImportStatus.INVALID
        message = f"{len(plan.errors):,} error{'s' if len(plan.errors) != 1 else ''} in the file" + (
            "; nothing was written." if applying else "."
        )
        return _finish(job, status=status, message=message, plan=plan)
    if not applying:
        return _finish(job, status=ImportStatus.READY, message="", plan=plan)
    _progress(job, message=f"Writing {len(plan.rows):,} rows…")
    try:
        with transaction.atomic():
            _lock(tenant)
            created, matched, changed = plan_write(tenant=tenant, plan=plan)
            _after_write(tenant=tenant, kind=job.kind, plan=plan)
    except DatabaseError as error:
        logger.exception("import %s failed while writing", job.pk)
        return _finish(
            job, status=ImportStatus.FAILED, message=f"The database refused the rows ({error}); nothing was written."
        )
    job.rows_written = len(created) + len(matched)
    unchanged = len(matched) - changed
    message = f"{len(created):,} created, {changed:,} updated" + (f", {unchanged:,} unchanged." if unchanged else ".")
    return _finish(job, status=ImportStatus.DONE, message=message, plan=plan)


def _validate(job: ImportJob) -> Plan:
    text = text_decode(bytes(job.content))
    tenant = job.tenant

    def progress(count: int) -> None:
        _progress(job, rows_validated=count)

    plan = plan_build(
        tenant=tenant,
        kind=job.kind,
        text=text,
        delimiter=job.delimiter,
        headers=job.headers,
        mapping=job.mapping,
        progress=progress,
    )
    return plan


def _finish(job: ImportJob, *, status: str, message: str, plan: Plan | None = None) -> ImportJob:
    job.status = status
    job.message = message
    job.finished_at = timezone.now()
    fields = ["status", "message", "finished_at", "heartbeat_at", "rows_written"]
    job.heartbeat_at = job.finished_at
    if plan is not None:
        job.rows_total = job.rows_validated = plan.rows_total
        job.rows_to_create, job.rows_to_update = plan.to_create, plan.to_update
        job.error_count = len(plan.errors)
        job.errors = [error.as_list() for error in plan.errors[:ERRORS_KEPT]]
        job.preview_rows = _preview(plan)
        fields += ["rows_total", "rows_validated", "rows_to_create", "rows_to_update", "error_count", "errors"]
        fields += ["preview_rows"]
    job.save(update_fields=fields)
    return job


def _preview(plan: Plan) -> list[list[str]]:
    return [
        [str(number), "update" if pk else "new", *(display(value) for value in values)]
        for number, pk, values in plan.rows[:PREVIEW_ROWS]
    ]


def _lock(tenant: Tenant) -> None:
    """One import at a time per tenant: the ids of new rows are reserved in a block."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, tenant.pk])


def _after_write(*, tenant: Tenant, kind: str, plan: Plan) -> None:
    """What the services would have done row by row: put accounts whose segment the file
    cleared back into their ARR band; roll ARR, renewal date and segment up from imported
    lines; queue the renewals refresh and the health recompute after commit."""
    from accounts.models import Account
    from accounts.services import account_rollups_refresh, segments_assign

    if kind == ImportKind.ACCOUNTS and plan.segment_reassign_ids:
        segments_assign(tenant=tenant, accounts=Account.objects.filter(tenant=tenant, pk__in=plan.segment_reassign_ids))
    if kind == ImportKind.SUBSCRIPTION_LINES:
        position = plan.fields.index("account_id")
        account_ids = sorted({values[position] for _, _, values in plan.rows})
        # Past a few thousand ids, one UPDATE over the tenant is cheaper than a huge IN list.
        account_rollups_refresh(tenant=tenant, account_ids=account_ids if len(account_ids) <= 5_000 else None)
        from renewals.tasks import refresh_renewals_and_ledger

        transaction.on_commit(lambda: refresh_renewals_and_ledger.delay(tenant_id=tenant.pk))
    if kind in (
        ImportKind.USAGE_DAYS,
        ImportKind.SUBSCRIPTION_LINES,
        ImportKind.INVOICES,
        ImportKind.SURVEY_RESPONSES,
        ImportKind.SUPPORT_TICKETS,
    ):
        from health.tasks import recompute_tenant

        transaction.on_commit(lambda: recompute_tenant.delay(tenant_id=tenant.pk))


def error_report_rows(job: ImportJob):
    """Rows of the downloadable error report: row, column, value, reason."""
    yield from job.errors
    if job.errors_truncated:
        yield ["", "", "", f"… and {job.error_count - len(job.errors):,} more errors not listed"]
