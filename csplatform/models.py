"""Platform core: users, tenants and who belongs to which tenant in which role.

Tenancy is *shared database, shared schema*: every tenant-owned row carries a non-null,
indexed ``tenant`` foreign key that leads its composite indexes and unique constraints, so the
schema can later be distributed by tenant (Citus) without a rewrite.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django_scopes import ScopedManager

TIME_ZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones()) if "/" in name or name == "UTC"]


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str) -> User:
        # E-mails are stored lower-cased; people type them as they like at sign-in.
        return self.get(email=username.strip().lower())

    def create_user(self, email: str, password: str | None = None, **extra_fields) -> User:
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields) -> User:
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an e-mail address. Users are not tenant-owned: a
    consultant may belong to several tenants through several memberships."""

    email = models.EmailField("e-mail address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(
        default=False, help_text="Platform staff: may use Django's admin site (superusers only)."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["full_name", "email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name or self.email).split(" ")[0]


class Tenant(models.Model):
    """One subscription-software company using csplatform."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    currency = models.CharField(
        max_length=3,
        default="USD",
        validators=[RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code, e.g. USD.")],
    )
    time_zone = models.CharField(max_length=64, default="UTC", choices=TIME_ZONE_CHOICES)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    CSM = "csm", "CSM"
    LEADER = "leader", "CS leader"
    ADMIN = "admin", "Admin"
    SALES = "sales", "Account executive"


# What each role may do beyond the one below it (csm < leader < admin). Sales (account
# executives, who hand new accounts over to CS) is deliberately not in the chain: a sales
# member passes a check for sales only, never one for a CS role, and no CS role passes a
# check for sales; pages open to sales say so explicitly.
ROLE_RANK = {Role.CSM: 1, Role.LEADER: 2, Role.ADMIN: 3}


class Membership(models.Model):
    """A user's place in a tenant. Looked up by user (before any tenant is active), so it
    keeps a plain manager; views that list members filter by tenant explicitly."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CSM)
    # The CS leader this member reports to; playbook tasks for "the owner's leader" go there.
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_tenant_user")]
        indexes = [models.Index(fields=["tenant", "role"], name="membership_tenant_role")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.get_role_display()})"

    def has_role(self, role: str) -> bool:
        """True when this membership's role is ``role`` or above it in csm < leader < admin.
        Sales stands outside that chain, so it matches only itself."""
        if self.role == role:
            return True
        mine, needed = ROLE_RANK.get(Role(self.role)), ROLE_RANK.get(Role(role))
        return mine is not None and needed is not None and mine >= needed

    @property
    def is_sales(self) -> bool:
        return self.role == Role.SALES

    @property
    def is_leader(self) -> bool:
        return self.has_role(Role.LEADER)

    @property
    def is_admin(self) -> bool:
        return self.has_role(Role.ADMIN)


class TenantOwned(models.Model):
    """Base of every tenant-owned model. Its manager fails closed: a query with no active
    tenant raises ``ScopeError`` instead of returning every tenant's rows."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")

    objects = ScopedManager(tenant="tenant")

    class Meta:
        abstract = True
