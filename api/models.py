"""API keys and the ledger of ingested events.

A key is ``csp_<prefix>_<secret>``: the prefix is shown on the key list so an admin can tell
keys apart; only the SHA-256 of the whole key is stored (the key is random and long, so a slow
hash adds nothing), and the key itself is shown once, when it is created.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from csplatform.models import Tenant, TenantOwned


class ApiKeyAccess(models.TextChoices):
    READ = "read", "Read only"
    WRITE = "write", "Read and write"


class ApiKey(TenantOwned):
    name = models.CharField(max_length=100, help_text="What uses the key, e.g. “Billing sync”.")
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64, unique=True)
    access = models.CharField(max_length=8, choices=ApiKeyAccess.choices, default=ApiKeyAccess.WRITE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="apikey_tenant_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.access == ApiKeyAccess.WRITE


class EventKind(models.TextChoices):
    USAGE_DAY = "usage_day", "Usage day"
    SURVEY_RESPONSE = "survey_response", "Survey response"
    SUPPORT_TICKET = "support_ticket", "Support ticket"
    INVOICE = "invoice", "Invoice"
    MARKETING_ENGAGEMENT = "marketing_engagement", "Marketing engagement"
    NOTABLE_EVENT = "notable_event", "Notable event"


class IngestedEvent(TenantOwned):
    """One event taken in by ``POST /api/v1/events/``, keyed by the sender's own event id: the
    primary key (tenant, event_id) makes a replayed batch change nothing. Written set-based by
    ``api.ingest.events_ingest`` only.

    Narrow and with a single index, because every ingested event writes a row: no surrogate
    id, no foreign-key checks. ``account_id`` is a plain number on purpose: the ledger outlives
    a deleted account, so a replay of its events stays a no-op."""

    pk = models.CompositePrimaryKey("tenant", "event_id")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    event_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    account_id = models.BigIntegerField()
    received_at = models.DateTimeField()
