"""The deletion lock: what stands in for a foreign-key constraint on high-volume rows.

The playbooks engine inserts hundreds of thousands of episodes and tasks at once, and a
foreign-key constraint costs PostgreSQL a lookup and a row lock of the referenced row for each
new row at commit (``playbooks.models`` explains which links have none). What such a constraint
protects against is one race: an account, a user or a tenant deleted between the statement that
copies its id into a new row and that row's commit, which would leave the new row pointing at
nothing (Django's collector, which cascades or clears the links, cannot see rows another
transaction has not committed yet).

So the writers of such rows hold this lock *shared* for their transaction (they do not wait
for each other), and deleting an account, a user or a tenant holds it *exclusive* from before
Django collects what to cascade until the deletion commits: the deletion waits for the writers
running, and a writer that starts meanwhile waits for the deletion and then no longer sees the
deleted row. Accounts, users and tenants are deleted in Django's admin only
(``csplatform.admin.LockedDeletionAdmin``); code that deletes one elsewhere calls
``deletion_lock_exclusive`` first, in the same transaction.
"""

from __future__ import annotations

from django.db import connection

# pg_advisory_xact_lock(class, key): one key for the whole installation (deletions are rare,
# an admin's act; the writers share it).
DELETION_LOCK_CLASS = 7_403
DELETION_LOCK_KEY = 0


def _take(function: str) -> None:
    # SQLite (the embedded default) has one writer at a time already.
    if connection.vendor != "postgresql":
        return
    if not connection.in_atomic_block:
        raise RuntimeError("The deletion lock lasts for a transaction: take it inside transaction.atomic().")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", [DELETION_LOCK_CLASS, DELETION_LOCK_KEY])


def deletion_lock_shared() -> None:
    """Held by a transaction that inserts rows naming accounts, users or tenants without a
    constraint: no account, user or tenant is deleted until it ends."""
    _take("pg_advisory_xact_lock_shared")


def deletion_lock_exclusive() -> None:
    """Held by a transaction that deletes accounts, users or tenants, taken before Django
    collects the rows to cascade: waits for the shared holders running."""
    _take("pg_advisory_xact_lock")
