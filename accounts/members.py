"""The tenant's members as picker options, built once per process and membership version.

A 100,000-account tenant has over 1,600 members. Listing them on every portfolio page meant a
query of 1,600 rows, Django's choice normalisation and an escaped ``<option>`` each: about half
of the page's CPU. ``member_choices`` keeps the sorted (id, label) pairs, the id set and the
rendered options per process, keyed by the tenant and a version held in the shared cache
(Redis in production). Saving or deleting a membership, or a user's name or e-mail, bumps the
version (signals below, connected in ``AccountsConfig.ready``), so every process rebuilds on
its next read. Writes that bypass signals (``QuerySet.update``, ``bulk_create``) must call
``members_changed`` themselves; the demo seeder creates new tenants only, which have no entry.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django import forms
from django.core.cache import cache
from django.forms.utils import flatatt
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from csplatform.models import Membership, Tenant, User

VERSION_KEY = "accounts:members:v:{tenant_id}"
VERSION_TTL = 60 * 60 * 24 * 30


@dataclass(frozen=True)
class MemberChoices:
    choices: tuple[tuple[int, str], ...]  # (user id, name or e-mail), by name then e-mail
    ids: frozenset[int]
    options_html: str  # every option, none selected

    def options(self, selected: Iterable = ()) -> str:
        """The ``<option>`` list with ``selected`` (ids, as ints or strings) marked."""
        html = self.options_html
        for value in selected:
            value = str(value)
            if value.isdecimal() and int(value) in self.ids:
                html = html.replace(f'<option value="{value}">', f'<option value="{value}" selected>', 1)
        return html


_memo: dict[int, tuple[str, MemberChoices]] = {}
_memo_lock = threading.Lock()


def _version(tenant_id: int) -> str:
    key = VERSION_KEY.format(tenant_id=tenant_id)
    version = cache.get(key)
    if version is None:
        cache.add(key, uuid.uuid4().hex, VERSION_TTL)
        version = cache.get(key) or ""
    return version


def members_changed(tenant_id: int) -> None:
    """Every process rebuilds ``tenant_id``'s member choices on its next read."""
    cache.set(VERSION_KEY.format(tenant_id=tenant_id), uuid.uuid4().hex, VERSION_TTL)


def member_choices(tenant: Tenant) -> MemberChoices:
    """The tenant's members (id, label), sorted by name then e-mail; cached, see the module."""
    version = _version(tenant.pk)
    cached = _memo.get(tenant.pk)
    if cached is not None and cached[0] == version and version:
        return cached[1]
    rows = (
        User.objects.filter(memberships__tenant=tenant)
        .order_by("full_name", "email")
        .values_list("pk", "full_name", "email")
    )
    choices = tuple((pk, full_name or email) for pk, full_name, email in rows)
    built = MemberChoices(
        choices=choices,
        ids=frozenset(pk for pk, _ in choices),
        options_html="".join(f'<option value="{pk}">{escape(label)}</option>' for pk, label in choices),
    )
    if version:
        with _memo_lock:
            _memo[tenant.pk] = (version, built)
    return built


class MemberSelect(forms.Select):
    """A ``<select>`` of the tenant's members from the cached options, with an empty first
    option labelled ``empty_label``."""

    def __init__(self, *, members: MemberChoices | None = None, empty_label: str = "", attrs=None):
        super().__init__(attrs)
        self.members = members
        self.empty_label = empty_label

    def render(self, name, value, attrs=None, renderer=None):
        final_attrs = self.build_attrs(self.attrs, attrs)
        selected = [] if value in (None, "") else [value]
        empty = format_html('<option value="">{}</option>', self.empty_label) if self.empty_label else ""
        options = self.members.options(selected) if self.members else ""
        return format_html('<select name="{}"{}>{}{}</select>', name, flatatt(final_attrs), empty, mark_safe(options))


class MemberField(forms.Field):
    """One member of the tenant, cleaned to the user's id (``None`` when left empty). Another
    tenant's user id fails like any value not offered."""

    widget = MemberSelect
    default_error_messages = {
        "invalid_choice": "Select a valid choice. That choice is not one of the available choices."
    }

    def __init__(self, *, empty_label: str = "", **kwargs):
        self.empty_label = empty_label
        self._members: MemberChoices | None = None
        super().__init__(**kwargs)
        self.widget.empty_label = empty_label

    @property
    def members(self) -> MemberChoices | None:
        return self._members

    @members.setter
    def members(self, value: MemberChoices) -> None:
        self._members = value
        self.widget.members = value

    def to_python(self, value) -> int | None:
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if not text.isdecimal():
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return int(text)

    def validate(self, value) -> None:
        super().validate(value)
        if value is not None and (self._members is None or value not in self._members.ids):
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")


# --- Invalidation (connected in AccountsConfig.ready) --------------------------------------


def _membership_saved_or_deleted(sender, instance: Membership, **kwargs) -> None:
    members_changed(instance.tenant_id)


def _user_saved(sender, instance: User, update_fields=None, created=False, **kwargs) -> None:
    if created or (update_fields is not None and not {"full_name", "email"} & set(update_fields)):
        return  # a new user has no membership yet; a login only touches last_login
    for tenant_id in Membership.objects.filter(user_id=instance.pk).values_list("tenant_id", flat=True):
        members_changed(tenant_id)


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save

    post_save.connect(_membership_saved_or_deleted, sender=Membership, dispatch_uid="accounts.members.membership")
    post_delete.connect(
        _membership_saved_or_deleted, sender=Membership, dispatch_uid="accounts.members.membership_deleted"
    )
    post_save.connect(_user_saved, sender=User, dispatch_uid="accounts.members.user")
