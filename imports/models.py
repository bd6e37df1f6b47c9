"""An admin's CSV import: the uploaded file, how its columns map, and how far it got."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from csplatform.models import TenantOwned


class ImportKind(models.TextChoices):
    ACCOUNTS = "accounts", "Accounts"
    CONTACTS = "contacts", "Contacts"
    SUBSCRIPTION_LINES = "lines", "Subscription lines"
    USAGE_DAYS = "usage", "Usage days"
    INVOICES = "invoices", "Invoices"
    SURVEY_RESPONSES = "surveys", "Survey responses"
    SUPPORT_TICKETS = "tickets", "Support tickets"


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Map the columns"
    VALIDATION_QUEUED = "validation_queued", "Waiting to check"
    VALIDATING = "validating", "Checking rows"
    INVALID = "invalid", "Has errors"
    READY = "ready", "Ready to import"
    APPLY_QUEUED = "apply_queued", "Waiting to import"
    APPLYING = "applying", "Importing"
    DONE = "done", "Imported"
    FAILED = "failed", "Failed, nothing written"


# A worker claims a job by moving it from the queued status to the running one.
RUNNING_OF_QUEUED = {
    ImportStatus.VALIDATION_QUEUED: ImportStatus.VALIDATING,
    ImportStatus.APPLY_QUEUED: ImportStatus.APPLYING,
}
IN_PROGRESS = {
    ImportStatus.VALIDATION_QUEUED,
    ImportStatus.VALIDATING,
    ImportStatus.APPLY_QUEUED,
    ImportStatus.APPLYING,
}


class ImportJob(TenantOwned):
    """One uploaded file and its way through mapping, validation (the preview) and apply.
    The file is kept in the database so the web process and any worker see the same bytes
    without a shared disk. Progress counters are written outside the apply transaction, so
    a page polling them sees them move."""

    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    status = models.CharField(max_length=20, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    file_name = models.CharField(max_length=255)
    content = models.BinaryField()
    size = models.PositiveBigIntegerField(default=0)
    delimiter = models.CharField(max_length=1, default=",")
    headers = models.JSONField(default=list)
    # {"<column index>": "<field>"}; columns not mapped are ignored.
    mapping = models.JSONField(default=dict)
    rows_total = models.PositiveIntegerField(default=0)
    rows_validated = models.PositiveIntegerField(default=0)
    rows_written = models.PositiveIntegerField(default=0)
    rows_to_create = models.PositiveIntegerField(default=0)
    rows_to_update = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    # [[row, column, value, reason], ...], the first ERRORS_KEPT of them.
    errors = models.JSONField(default=list, blank=True)
    preview_rows = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Touched by every progress write: a job running with a stale heartbeat was lost by its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="importjob_tenant_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} from {self.file_name}"

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS

    @property
    def percent(self) -> int:
        if not self.rows_total:
            return 0
        if self.status == ImportStatus.DONE:
            return 100
        # Checking the rows is the long part of both the preview and the apply.
        return min(100, round(100 * self.rows_validated / self.rows_total))

    @property
    def errors_truncated(self) -> bool:
        return self.error_count > len(self.errors)
