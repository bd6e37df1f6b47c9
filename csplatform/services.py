"""Writes to tenants and their memberships. Keyword-only, typed, named ``<entity>_<verb>``.

Guard rails raise ``MembershipError`` subclasses with a message fit to show the admin.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import Account

from .models import Membership, Role, Tenant, User


class MembershipError(Exception):
    """A membership change the tenant's rules refuse."""


class AlreadyMemberError(MembershipError):
    pass


class LastAdminError(MembershipError):
    pass


class OwnsAccountsError(MembershipError):
    def __init__(self, message: str, *, account_count: int) -> None:
        super().__init__(message)
        self.account_count = account_count


def _lock_admin_ids(tenant: Tenant) -> list[int]:
    """The tenant's admin memberships, locked until the transaction ends so two admins
    demoting each other at once cannot leave the tenant with none."""
    return list(
        Membership.objects.select_for_update()
        .filter(tenant=tenant, role=Role.ADMIN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _refuse_if_last_admin(membership: Membership) -> None:
    if membership.role != Role.ADMIN:
        return
    if _lock_admin_ids(membership.tenant) == [membership.pk]:
        raise LastAdminError(
            f"{membership.user} is the last admin of {membership.tenant.name}: make someone else an admin first."
        )


def tenant_update(*, tenant: Tenant, name: str, currency: str, time_zone: str) -> Tenant:
    """Change the tenant's own name, currency (ISO 4217) and time zone."""
    tenant.name, tenant.currency, tenant.time_zone = name, currency, time_zone
    tenant.save(update_fields=["name", "currency", "time_zone"])
    return tenant


def password_set_url(*, user: User, request_base_url: str) -> str:
    """A link to the password-reset confirm page that lets ``user`` choose a password.
    It stops working once the password is set (the token covers the password hash)."""
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return f"{request_base_url.rstrip('/')}{path}"


def member_invite_email_send(*, membership: Membership, invited_by: User | None, request_base_url: str) -> None:
    """E-mail the member: a link to set a password when they have none yet (new to
    csplatform, or invited before and never joined), else a note with a sign-in link."""
    user = membership.user
    context = {
        "user": user,
        "tenant": membership.tenant,
        "role": membership.get_role_display(),
        "invited_by": invited_by,
        "link_valid_days": settings.PASSWORD_RESET_TIMEOUT // (60 * 60 * 24),
    }
    if user.has_usable_password():
        template = "added"
        context["link"] = f"{request_base_url.rstrip('/')}{reverse('login')}"
    else:
        template = "invite"
        context["link"] = password_set_url(user=user, request_base_url=request_base_url)
    subject = render_to_string(f"settings/email/{template}_subject.txt", context).strip()
    body = render_to_string(f"settings/email/{template}_body.txt", context)
    send_mail(subject, body, None, [user.email])


def member_invite(
    *, tenant: Tenant, email: str, full_name: str, role: str, invited_by: User | None, request_base_url: str
) -> Membership:
    """Add the person with ``email`` to ``tenant`` in ``role``, creating their user (with
    no usable password) when they are new, and e-mail them once the transaction commits.
    Raises ``AlreadyMemberError`` when they belong to the tenant already."""
    email = User.objects.normalize_email(email).lower()
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=None, full_name=full_name.strip())
        elif not user.full_name and full_name.strip():
            user.full_name = full_name.strip()
            user.save(update_fields=["full_name"])
        try:
            with transaction.atomic():  # a savepoint: a double-submitted invite meets the unique constraint
                membership = Membership.objects.create(tenant=tenant, user=user, role=role)
        except IntegrityError:
            raise AlreadyMemberError(f"{email} is already a member of {tenant.name}.") from None
        transaction.on_commit(
            lambda: member_invite_email_send(
                membership=membership, invited_by=invited_by, request_base_url=request_base_url
            )
        )
    return membership


def membership_change_role(*, membership: Membership, role: str) -> Membership:
    """Give the member ``role``. Refuses (``LastAdminError``) to demote the tenant's last admin."""
    with transaction.atomic():
        if role != Role.ADMIN:
            _refuse_if_last_admin(membership)
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def membership_remove(*, membership: Membership, reassign_to: Membership | None = None) -> int:
    """Take the member out of the tenant (the membership goes; the user stays, with any
    other tenants). Their accounts in this tenant move to ``reassign_to`` in one UPDATE;
    without one, a member who owns accounts is refused (``OwnsAccountsError``), as is the
    tenant's last admin (``LastAdminError``). Returns the number of accounts reassigned."""
    tenant = membership.tenant
    if reassign_to is not None and (reassign_to.tenant_id != tenant.pk or reassign_to.pk == membership.pk):
        raise ValueError("reassign_to must be another member of the same tenant")
    with transaction.atomic():
        _refuse_if_last_admin(membership)
        owned = Account.objects.filter(tenant=tenant, owner_id=membership.user_id)
        if reassign_to is None:
            account_count = owned.count()
            if account_count:
                raise OwnsAccountsError(
                    f"{membership.user} owns {account_count} account{'s' if account_count != 1 else ''}: "
                    "choose who takes them over.",
                    account_count=account_count,
                )
            reassigned = 0
        else:
            reassigned = owned.update(owner_id=reassign_to.user_id)
        membership.delete()
    return reassigned
