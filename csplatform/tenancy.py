"""Where the active tenant lives and how it gets there, and who is signed in.

The active tenant is held in one context variable: django-scopes' state, entered through
``tenant_scope``. Three places enter it: ``TenantMiddleware`` for web requests (from the
signed-in user's membership), API authentication, and Celery tasks (``run_in_tenant``). Every
tenant-owned model's manager reads it and raises ``ScopeError`` when none is active.

Escapes are ``scopes_disabled()`` and appear only in migrations, the admin, management
commands and beat fan-out: ``git grep scopes_disabled`` lists them.

Every page needs the signed-in user and their memberships (with each tenant). With a cache
every process shares (``settings.SHARED_CACHE``: Redis) both come from one cache read instead
of two queries: ``identity`` keeps them against a per-user version that any save or delete of
the user, one of their memberships or one of their tenants replaces (signals, connected in
``CsplatformConfig.ready``), so a role change, a removal or a deactivation counts from the next
request. Writes that bypass signals (``QuerySet.update``, ``bulk_create``) must call
``identity_changed`` themselves; the demo seeders only write new tenants' rows, which no one has
signed in to yet.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_scopes import get_scope, scope

from .models import Membership, Role, Tenant, User

if TYPE_CHECKING:
    from django.db.models import Model, QuerySet

SESSION_TENANT_KEY = "active_tenant_id"


@contextmanager
def tenant_scope(tenant: Tenant) -> Iterator[Tenant]:
    """Activate ``tenant`` for the managers of every tenant-owned model (and its time zone)."""
    if tenant is None or tenant.pk is None:
        # django-scopes treats a None value as "no filter"; never let that happen.
        raise ValueError("tenant_scope needs a saved tenant")
    with scope(tenant=tenant.pk), timezone.override(tenant.time_zone):
        yield tenant


def active_tenant_id() -> int | None:
    """The id of the tenant in scope, or None."""
    value = get_scope().get("tenant")
    return value if isinstance(value, int) else None


def memberships_of(user) -> list[Membership]:
    """The user's memberships with their tenants, by tenant name: the ones ``identity`` loaded
    with the user when it did (``CachedModelBackend``), else one query."""
    loaded = getattr(user, "_tenancy_memberships", None)
    if loaded is not None:
        return loaded
    return list(Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name"))


# --- The signed-in identity, cached (see the module docstring) ------------------------------

IDENTITY_KEY = "tenancy:identity:{user_id}"
IDENTITY_VERSION_KEY = "tenancy:identity:v:{user_id}"
IDENTITY_TTL = 60 * 60 * 24


def identity(user_id: int) -> tuple[User | None, list[Membership]]:
    """The user (None if there is no such user) and their memberships with tenants, by tenant
    name. One cache read when cached under the user's current version, else two queries. The
    version is read before the rows, so rows read while a change commits are stored under a
    version that the change's after-commit bump has already retired."""
    version_key, key = IDENTITY_VERSION_KEY.format(user_id=user_id), IDENTITY_KEY.format(user_id=user_id)
    if settings.SHARED_CACHE:
        found = cache.get_many([version_key, key])
        version, entry = found.get(version_key), found.get(key)
        if version and entry is not None and entry[0] == version:
            return entry[1], entry[2]
        if version is None:
            cache.add(version_key, uuid.uuid4().hex, IDENTITY_TTL)
            version = cache.get(version_key)
    user = User.objects.filter(pk=user_id).first()
    memberships = (
        list(Membership.objects.filter(user_id=user_id).select_related("tenant").order_by("tenant__name"))
        if user is not None
        else []
    )
    if settings.SHARED_CACHE and version:
        cache.set(key, (version, user, memberships), IDENTITY_TTL)
    return user, memberships


def identity_changed(user_ids: Iterable[int]) -> None:
    """Every process reads these users' identities afresh: now, and again once the current
    transaction commits (a read between the two saw the old rows; the second bump retires it)."""
    user_ids = list(user_ids)
    if not user_ids or not settings.SHARED_CACHE:
        return

    def bump() -> None:
        cache.set_many({IDENTITY_VERSION_KEY.format(user_id=pk): uuid.uuid4().hex for pk in user_ids}, IDENTITY_TTL)

    bump()
    transaction.on_commit(bump)


class CachedModelBackend(ModelBackend):
    """Django's model backend whose per-request user lookup is ``identity``: the user comes
    from the cache with their memberships, so ``TenantMiddleware`` needs no query either. The
    session's auth hash is still checked against the (current) password hash, and an inactive
    user is still refused."""

    def get_user(self, user_id):
        user, memberships = identity(user_id)
        if user is None or not self.user_can_authenticate(user):
            return None
        user._tenancy_memberships = memberships
        return user


def _user_saved_or_deleted(sender, instance: User, **kwargs) -> None:
    identity_changed([instance.pk])


def _membership_saved_or_deleted(sender, instance: Membership, **kwargs) -> None:
    identity_changed([instance.user_id])


def _tenant_saved_or_deleted(sender, instance: Tenant, created: bool = False, **kwargs) -> None:
    if not created:  # a new tenant has no members yet
        identity_changed(Membership.objects.filter(tenant_id=instance.pk).values_list("user_id", flat=True))


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save

    for model, receiver in (
        (User, _user_saved_or_deleted),
        (Membership, _membership_saved_or_deleted),
        (Tenant, _tenant_saved_or_deleted),
    ):
        post_save.connect(receiver, sender=model, dispatch_uid=f"tenancy.identity.{model.__name__}.saved")
        post_delete.connect(receiver, sender=model, dispatch_uid=f"tenancy.identity.{model.__name__}.deleted")


class TenantMiddleware:
    """Resolve the signed-in user's membership (the one chosen in the session, else the
    first) and run the rest of the request inside that tenant's scope."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.tenant = None
        request.membership = None
        request.memberships = []
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        memberships = memberships_of(user)
        request.memberships = memberships
        if not memberships:
            return self.get_response(request)
        chosen_id = request.session.get(SESSION_TENANT_KEY)
        membership = next((m for m in memberships if m.tenant_id == chosen_id), memberships[0])
        request.membership = membership
        request.tenant = membership.tenant
        with tenant_scope(membership.tenant):
            return self.get_response(request)


def tenant_context(request: HttpRequest) -> dict:
    return {
        "tenant": getattr(request, "tenant", None),
        "membership": getattr(request, "membership", None),
        "memberships": getattr(request, "memberships", []),
    }


def member_required(view: Callable) -> Callable:
    """Signed in and a member of some tenant; otherwise to the sign-in page or a 403."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path())
        if request.membership is None:
            raise PermissionDenied("You are not a member of any team yet. Ask an admin to invite you.")
        return view(request, *args, **kwargs)

    return wrapper


def role_required(role: str) -> Callable[[Callable], Callable]:
    """Like ``member_required``, and the membership's role must be ``role`` or above."""

    def decorator(view: Callable) -> Callable:
        @member_required
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if not request.membership.has_role(role):
                raise PermissionDenied(f"This needs the {Role(role).label} role.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def get_for_tenant_or_404(queryset: QuerySet, request: HttpRequest, **lookup) -> Model:
    """Fetch one row of the request's tenant or raise 404. The filter is explicit even
    though the scoped manager would add it: the manager is the safety net, not the rule."""
    from django.shortcuts import get_object_or_404

    return get_object_or_404(queryset.filter(tenant=request.tenant), **lookup)
