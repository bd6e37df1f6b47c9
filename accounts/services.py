"""Writes that touch accounts, and who may make them. Keyword-only, typed, named ``<entity>_<verb>``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, DecimalField, IntegerField, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.module_loading import import_string

from csplatform.models import Membership, Role, Tenant, User

from .models import (
    DEFAULT_SEGMENTS,
    Account,
    AccountTotalsDelta,
    Activity,
    ActivityContact,
    ActivityTeamMember,
    Contact,
    ContactEvent,
    ContactEventKind,
    ContactRole,
    Segment,
)


def tenant_today(tenant: Tenant) -> dt.date:
    """Today in the tenant's own time zone (a renewal is due on the customer's calendar)."""
    import zoneinfo

    return timezone.now().astimezone(zoneinfo.ZoneInfo(tenant.time_zone)).date()


def segments_create_defaults(*, tenant: Tenant) -> list[Segment]:
    """Give a new tenant the segments of DOMAIN.md §9 (idempotent by name)."""
    segments = []
    for spec in DEFAULT_SEGMENTS:
        segment, _ = Segment.objects.get_or_create(tenant=tenant, name=spec["name"], defaults=spec)
        segments.append(segment)
    return segments


def account_rollups_refresh(
    *, tenant: Tenant, account_ids: Iterable[int] | None = None, today: dt.date | None = None
) -> int:
    """Recompute ``arr`` and ``next_renewal_date`` from the active subscription lines, then
    the segment from the ARR bands (unless pinned). Two set-based UPDATEs whatever the
    number of accounts; returns the number of accounts touched.

    ARR = sum of lines whose term covers today; next renewal = the earliest end date among them.
    """
    from renewals.models import SubscriptionLine

    today = today or tenant_today(tenant)
    accounts = Account.objects.filter(tenant=tenant)
    if account_ids is not None:
        accounts = accounts.filter(pk__in=list(account_ids))
    active_lines = SubscriptionLine.objects.filter(tenant=tenant, account=OuterRef("pk")).active_on(today)
    arr_of_account = active_lines.order_by().values("account").annotate(total=Sum("arr")).values("total")
    first_end = active_lines.order_by("end_date").values("end_date")[:1]
    touched = accounts.update(
        arr=Coalesce(Subquery(arr_of_account), Value(Decimal("0")), output_field=DecimalField()),
        next_renewal_date=Subquery(first_end),
    )
    segments_assign(tenant=tenant, accounts=accounts)
    if account_ids is None:  # the scheduled full refresh also re-counts the totals ledger
        account_totals_recount(tenant=tenant)
    return touched


def account_totals(*, tenant: Tenant, segment: Segment | int | None = None) -> dict:
    """The number of accounts and total ARR (``{"count", "arr"}``) of the tenant, or of one
    of its segments, from the totals ledger (``AccountTotalsDelta``) on PostgreSQL: the sum of
    the rows this transaction sees, which is what counting the accounts would give. Counts the
    accounts on SQLite."""
    if connection.vendor != "postgresql":
        accounts = Account.objects.filter(tenant=tenant)
        return (accounts if segment is None else accounts.filter(segment=segment)).totals()
    rows = AccountTotalsDelta.objects.filter(tenant=tenant)
    if segment is not None:
        rows = rows.filter(segment=segment)
    totals = rows.aggregate(count=Coalesce(Sum("accounts"), Value(0)), arr=Coalesce(Sum("arr"), Value(Decimal("0"))))
    return {"count": totals["count"], "arr": totals["arr"].quantize(Decimal("0.01"))}


def account_totals_recount(*, tenant: Tenant) -> None:
    """Replace the tenant's totals ledger with one row a segment counted from its accounts, in
    one statement: the rows it deletes and the accounts it counts are those of one snapshot, so
    a concurrent writer's rows (not seen, not deleted) still add its change once it commits.
    Keeps the ledger short, and mends it after any write that went around the triggers."""
    if connection.vendor != "postgresql":
        return
    table = AccountTotalsDelta._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH cleared AS (DELETE FROM {table} WHERE tenant_id = %(tenant)s) "  # noqa: S608
            f"INSERT INTO {table} (tenant_id, segment_id, accounts, arr) "
            f"SELECT tenant_id, segment_id, count(*), sum(arr) FROM {Account._meta.db_table} "
            "WHERE tenant_id = %(tenant)s GROUP BY tenant_id, segment_id",
            {"tenant": tenant.pk},
        )


def segments_assign(*, tenant: Tenant, accounts=None) -> int:
    """Put every unpinned account into the segment whose ARR band holds its ARR (one UPDATE)."""
    accounts = Account.objects.filter(tenant=tenant) if accounts is None else accounts
    bands = []
    for segment in Segment.objects.filter(tenant=tenant).order_by("-arr_min"):
        in_band = Q(arr__gte=segment.arr_min)
        if segment.arr_max is not None:
            in_band &= Q(arr__lt=segment.arr_max)
        bands.append(When(in_band, then=Value(segment.pk)))
    if not bands:
        return 0
    return accounts.filter(segment_pinned=False).update(
        segment_id=Case(*bands, default=None, output_field=IntegerField())
    )


# --- Who may change an account ---------------------------------------------------------


def can_edit_account(membership: Membership, account: Account) -> bool:
    """The one rule for changing an account and its contacts: its owner, a CS leader or an
    admin of the account's tenant may; other CSMs may only read it (and log activities).
    Account executives (sales) never change an account, even one they were made owner of."""
    if membership.tenant_id != account.tenant_id or not membership.has_role(Role.CSM):
        return False
    return membership.is_leader or account.owner_id == membership.user_id


def can_reassign_account_owner(membership: Membership, account: Account) -> bool:
    """Only a CS leader or an admin of the account's tenant hands an account to another owner
    (a book is sized by ARR, DOMAIN.md §9, which is a leader's call)."""
    return membership.tenant_id == account.tenant_id and membership.is_leader


# --- Writes of the Account 360 page ----------------------------------------------------

# DOMAIN.md §6: a champion or sponsor leaving is a top churn risk that must trigger action.
KEY_CONTACT_ROLES = frozenset({ContactRole.CHAMPION, ContactRole.EXECUTIVE_SPONSOR})


# The facts ``account_update`` sets (the edit form's fields, and what the API may change).
ACCOUNT_FACTS = (
    "name",
    "domain",
    "industry",
    "employee_count",
    "lifecycle_stage",
    "customer_since",
    "segment",
    "segment_pinned",
    "owner",
)


def account_update(
    *,
    account: Account,
    name: str,
    domain: str,
    industry: str,
    employee_count: int | None,
    lifecycle_stage: str,
    customer_since: dt.date | None,
    segment: Segment | None,
    segment_pinned: bool,
    owner: User | None,
) -> Account:
    """Save the account's own facts and owner. ``owner`` must be a member of the account's
    tenant and ``segment`` one of its segments (``ValidationError`` otherwise, nothing saved).
    An unpinned account's segment follows its ARR band, so it is re-assigned at once."""
    if segment is not None and segment.tenant_id != account.tenant_id:
        raise ValidationError({"segment": "Choose one of your company's segments."})
    if owner is not None and not Membership.objects.filter(tenant_id=account.tenant_id, user=owner).exists():
        raise ValidationError({"owner": "The owner must be a member of your company."})
    account.name = name
    account.domain = domain
    account.industry = industry
    account.employee_count = employee_count
    account.lifecycle_stage = lifecycle_stage
    account.customer_since = customer_since
    account.segment = segment
    account.segment_pinned = segment_pinned
    account.owner = owner
    with transaction.atomic():
        account.save(update_fields=[*ACCOUNT_FACTS, "updated_at"])
        if not segment_pinned:
            segments_assign(
                tenant=account.tenant, accounts=Account.objects.filter(tenant=account.tenant, pk=account.pk)
            )
            account.refresh_from_db(fields=["segment"])
    return account


def contact_reports_to_check(*, contact: Contact, reports_to: Contact | None) -> None:
    """Raise ``ValidationError`` unless ``reports_to`` may be ``contact``'s manager: another
    contact of the same account whose own line of managers does not lead back to ``contact``
    (reporting lines form a tree). One query reads the account's lines, however deep."""
    if reports_to is None:
        return
    if reports_to.account_id != contact.account_id:
        raise ValidationError("Choose someone at the same account.", code="other_account")
    if contact.pk is None:
        return  # a new contact has no reports yet, so it cannot close a loop
    if reports_to.pk == contact.pk:
        raise ValidationError("A contact cannot report to themselves.", code="self")
    manager_of = dict(
        Contact.objects.filter(tenant_id=contact.tenant_id, account_id=contact.account_id).values_list(
            "pk", "reports_to_id"
        )
    )
    seen: set[int] = set()
    current = reports_to.pk
    while current is not None and current not in seen:
        if current == contact.pk:
            raise ValidationError(
                f"{reports_to.name} already reports to {contact.name}, directly or through others: "
                "that would make a loop.",
                code="loop",
            )
        seen.add(current)
        current = manager_of.get(current)


def contact_save(
    *,
    tenant: Tenant,
    account: Account,
    contact: Contact | None = None,
    name: str,
    title: str = "",
    email: str = "",
    role: str,
    level: str,
    reports_to: Contact | None = None,
    by: User | None = None,
) -> Contact:
    """Add a contact at ``account`` (``contact=None``) or update ``contact``, which must be one
    of ``account``'s. ``reports_to`` is checked by ``contact_reports_to_check``. A role change
    to or from champion or executive sponsor is recorded as a ``ContactEvent`` (by ``by``)."""
    if account.tenant_id != tenant.pk:
        raise ValueError("The account belongs to another tenant.")
    if contact is None:
        contact = Contact(tenant=tenant, account=account)
    elif contact.account_id != account.pk:
        raise ValueError("The contact belongs to another account.")
    contact_reports_to_check(contact=contact, reports_to=reports_to)
    # Read from the row: a bound model form has written the new role onto the instance already.
    previous_role = (
        Contact.objects.filter(tenant=tenant, pk=contact.pk).values_list("role", flat=True).first()
        if contact.pk is not None
        else None
    )
    contact.name = name
    contact.title = title
    contact.email = email
    contact.role = role
    contact.level = level
    contact.reports_to = reports_to
    with transaction.atomic():
        if contact.pk is None:
            contact.save()
        else:
            contact.save(update_fields=["name", "title", "email", "role", "level", "reports_to"])
        if previous_role is not None and previous_role != role and KEY_CONTACT_ROLES & {previous_role, role}:
            ContactEvent.objects.create(
                tenant=tenant,
                account=account,
                contact=contact,
                kind=ContactEventKind.ROLE_CHANGED,
                previous_role=previous_role,
                new_role=role,
                occurred_on=tenant_today(tenant),
                recorded_by=by,
            )
            # Key-contact movement feeds health (champions) and playbook triggers, which the
            # recompute chains to.
            import_string("health.services.health_recompute_soon")(tenant_id=tenant.pk, account_id=account.pk)
    return contact


def contact_mark_left(*, contact: Contact, left_on: dt.date, note: str = "", by: User | None = None) -> Contact:
    """Record that ``contact`` left the customer. The contact is kept, with the date and the
    note, because champion movement is a top churn risk (DOMAIN.md §6); the people who
    reported to them keep that line so the map can say whose manager left. A champion or
    executive sponsor leaving is also recorded as a ``ContactEvent`` (once, on the first
    departure recorded), which playbooks trigger on."""
    newly_left = contact.left_on is None
    contact.left_on = left_on
    contact.left_note = note
    with transaction.atomic():
        contact.save(update_fields=["left_on", "left_note"])
        if newly_left and contact.role in KEY_CONTACT_ROLES:
            ContactEvent.objects.create(
                tenant_id=contact.tenant_id,
                account_id=contact.account_id,
                contact=contact,
                kind=ContactEventKind.LEFT,
                previous_role=contact.role,
                occurred_on=left_on,
                note=note,
                recorded_by=by,
            )
            import_string("health.services.health_recompute_soon")(
                tenant_id=contact.tenant_id, account_id=contact.account_id
            )
    return contact


def activity_log(
    *,
    tenant: Tenant,
    account: Account,
    author: User,
    kind: str,
    occurred_at: dt.datetime,
    purpose: str,
    summary: str = "",
    next_step: str = "",
    next_step_due: dt.date | None = None,
    team: Iterable[User],
    contacts: Iterable[Contact],
) -> Activity:
    """Record something we did with ``account``: our people in it (members of ``tenant``)
    and their contacts (active contacts of ``account``). A stranger on either side raises
    ``ValidationError`` and nothing is written; otherwise the activity and its participants
    are written together (three INSERTs)."""
    if account.tenant_id != tenant.pk:
        raise ValueError("The account belongs to another tenant.")
    team = list({user.pk: user for user in team}.values())
    contacts = list({contact.pk: contact for contact in contacts}.values())
    members = set(
        Membership.objects.filter(tenant=tenant, user__in=team).values_list("user_id", flat=True) if team else []
    )
    if any(user.pk not in members for user in team):
        raise ValidationError({"team": "Only members of your company can be among our people."})
    ours = set(
        Contact.objects.filter(tenant=tenant, account=account, pk__in=[c.pk for c in contacts])
        .active()
        .values_list("pk", flat=True)
        if contacts
        else []
    )
    if any(contact.pk not in ours for contact in contacts):
        raise ValidationError({"contacts": "Only this account's current contacts can be among theirs."})
    with transaction.atomic():
        activity = Activity.objects.create(
            tenant=tenant,
            account=account,
            kind=kind,
            occurred_at=occurred_at,
            purpose=purpose,
            summary=summary,
            next_step=next_step,
            next_step_due=next_step_due,
            created_by=author,
        )
        ActivityTeamMember.objects.bulk_create(
            ActivityTeamMember(tenant=tenant, activity=activity, user=user) for user in team
        )
        ActivityContact.objects.bulk_create(
            ActivityContact(tenant=tenant, activity=activity, contact=contact) for contact in contacts
        )
    import_string("health.services.health_recompute_soon")(tenant_id=tenant.pk, account_id=account.pk)
    return activity
