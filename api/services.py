"""API writes that no domain app offers a service for yet (creating accounts, products and
subscription lines). Keyword-only, typed, ``<entity>_<verb>``; the domain apps' services are
called for everything else (``account_update``, ``contact_save``, ``activity_log``,
``renewal_forecast_update``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Account
from accounts.services import account_rollups_refresh, segments_assign
from csplatform.models import Membership, Tenant, User
from renewals.models import Product, SubscriptionLine


def _external_id_free(*, model, tenant: Tenant, external_id: str, exclude_pk: int | None = None) -> None:
    if not external_id:
        return
    taken = model.objects.filter(tenant=tenant, external_id=external_id)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError({"external_id": f"Another {model._meta.verbose_name} has the external id {external_id}."})


def account_create(*, tenant: Tenant, fields: dict) -> Account:
    """A new account of ``tenant`` (``fields``: the account's own facts and owner). Its segment
    follows its ARR band unless pinned; ARR comes from its subscription lines later."""
    owner = fields.get("owner")
    if owner is not None and not Membership.objects.filter(tenant=tenant, user=owner).exists():
        raise ValidationError({"owner": "The owner must be a member of your company."})
    _external_id_free(model=Account, tenant=tenant, external_id=fields.get("external_id", ""))
    with transaction.atomic():
        account = Account.objects.create(tenant=tenant, **fields)
        if not account.segment_pinned:
            segments_assign(tenant=tenant, accounts=Account.objects.filter(tenant=tenant, pk=account.pk))
            account.refresh_from_db(fields=["segment"])
    return account


def external_id_set(*, instance, external_id: str) -> None:
    """Change an account's or contact's external id (unique in the tenant when not empty)."""
    if instance.external_id == external_id:
        return
    _external_id_free(model=type(instance), tenant=instance.tenant, external_id=external_id, exclude_pk=instance.pk)
    instance.external_id = external_id
    instance.save(update_fields=["external_id"])


def product_save(*, tenant: Tenant, product: Product | None = None, name: str, code: str = "") -> Product:
    """Add or rename a product (names are unique in the tenant)."""
    taken = Product.objects.filter(tenant=tenant, name=name)
    if product is not None:
        taken = taken.exclude(pk=product.pk)
    if taken.exists():
        raise ValidationError({"name": f"There is already a product named {name}."})
    product = product or Product(tenant=tenant)
    product.name, product.code = name, code
    product.save()
    return product


def product_delete(*, product: Product) -> None:
    if SubscriptionLine.objects.filter(tenant_id=product.tenant_id, product=product).exists():
        raise ValidationError("This product is on subscription lines: it cannot be deleted.")
    try:
        with transaction.atomic():
            product.delete()
    except IntegrityError as exc:  # referenced elsewhere (ledger, renewals, opportunities)
        raise ValidationError("This product is in use: it cannot be deleted.") from exc


def subscription_line_save(
    *,
    tenant: Tenant,
    line: SubscriptionLine | None = None,
    account: Account,
    product: Product,
    arr: Decimal,
    start_date: dt.date,
    end_date: dt.date,
    list_price_arr: Decimal | None = None,
) -> SubscriptionLine:
    """Add or change a subscription line; the account's ARR, next renewal and segment (and
    the previous account's, when the line moves) are refreshed in the same transaction."""
    if account.tenant_id != tenant.pk or product.tenant_id != tenant.pk:
        raise ValueError("The account or the product belongs to another tenant.")
    if end_date < start_date:
        raise ValidationError({"end_date": "The term cannot end before it starts."})
    if arr < 0:
        raise ValidationError({"arr": "ARR cannot be negative."})
    if list_price_arr is not None and list_price_arr < 0:
        raise ValidationError({"list_price_arr": "ARR at list price cannot be negative."})
    line = line or SubscriptionLine(tenant=tenant)
    touched = {account.pk} | ({line.account_id} if line.account_id else set())
    line.account, line.product, line.arr = account, product, arr
    line.start_date, line.end_date, line.list_price_arr = start_date, end_date, list_price_arr
    with transaction.atomic():
        line.save()
        account_rollups_refresh(tenant=tenant, account_ids=touched)
        _ledger_rebuild_after_commit(tenant=tenant, account_ids=touched)
    return line


def subscription_line_delete(*, tenant: Tenant, line: SubscriptionLine) -> None:
    account_id = line.account_id
    with transaction.atomic():
        line.delete()
        account_rollups_refresh(tenant=tenant, account_ids=[account_id])
        _ledger_rebuild_after_commit(tenant=tenant, account_ids={account_id})


def _ledger_rebuild_after_commit(*, tenant: Tenant, account_ids: set[int]) -> None:
    """The retention dashboard must never be stale after a line changes: rebuild these
    accounts' ledger in the background once the write is committed."""
    from renewals.tasks import rebuild_ledger_of_accounts

    tenant_id, ids = tenant.pk, sorted(account_ids)
    transaction.on_commit(lambda: rebuild_ledger_of_accounts.delay(tenant_id=tenant_id, account_ids=ids))


def api_author(user) -> User | None:
    """The person recorded as the author of an API write: the admin who created the key."""
    return getattr(user, "author", None)
