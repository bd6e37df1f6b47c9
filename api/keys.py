"""Creating, revoking and checking API keys. Keyword-only, typed, ``<entity>_<verb>``."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone
from django_scopes import scopes_disabled

from csplatform.models import Tenant, User

from .models import ApiKey, ApiKeyAccess

KEY_PREFIX = "csp_"
# last_used_at is a hint for admins ("is this key still used?"): one write a minute at most,
# not one per request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class NewKey:
    api_key: ApiKey
    plain_key: str  # shown once, never stored


def key_hash(plain_key: str) -> str:
    return hashlib.sha256(plain_key.encode()).hexdigest()


def api_key_create(*, tenant: Tenant, name: str, access: str = ApiKeyAccess.WRITE, by: User | None) -> NewKey:
    """A new key for ``tenant``. The returned ``plain_key`` is the only copy of the key."""
    prefix = secrets.token_hex(4)
    plain_key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        tenant=tenant, name=name, prefix=prefix, secret_hash=key_hash(plain_key), access=access, created_by=by
    )
    return NewKey(api_key=api_key, plain_key=plain_key)


def api_key_revoke(*, api_key: ApiKey, by: User | None) -> ApiKey:
    """Revoke the key at once (idempotent: a revoked key keeps its first revocation)."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.revoked_by = by
        api_key.save(update_fields=["revoked_at", "revoked_by"])
    return api_key


def api_key_authenticate(plain_key: str, *, now: dt.datetime | None = None) -> ApiKey | None:
    """The live key whose hash matches ``plain_key`` (with its tenant), or None. Marks it used,
    at most once a minute. Runs before any tenant is known, hence the greppable escape."""
    if not plain_key.startswith(KEY_PREFIX):
        return None
    now = now or timezone.now()
    with scopes_disabled():
        api_key = (
            ApiKey.objects.select_related("tenant", "created_by")
            .filter(secret_hash=key_hash(plain_key), revoked_at__isnull=True)
            .first()
        )
        if api_key is None:
            return None
        if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
            # Conditional, so concurrent requests write once.
            stale = now - LAST_USED_RESOLUTION
            ApiKey.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale), pk=api_key.pk).update(
                last_used_at=now
            )
            api_key.last_used_at = now
    return api_key
