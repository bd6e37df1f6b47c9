"""Where the active tenant lives and how it gets there.

The active tenant is held in one context variable: django-scopes' state, entered through
``tenant_scope``. Three places enter it: ``TenantMiddleware`` for web requests (from the
signed-in user's membership), API authentication, and Celery tasks (``run_in_tenant``). Every
tenant-owned model's manager reads it and raises ``ScopeError`` when none is active.

Escapes are ``scopes_disabled()`` and appear only in migrations, the admin, management
commands and beat fan-out: ``git grep scopes_disabled`` lists them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_scopes import get_scope, scope

from .models import Membership, Role, Tenant

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
    return list(Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name"))


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
