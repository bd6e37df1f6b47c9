"""Reads of the playbooks pages: the task inbox and its navigation badge, the leader's team
queue and overdue counts, playbook effectiveness, and the account card. Each is a fixed number
of queries whatever the number of tasks, accounts or members."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection
from django.db.models import Case, Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import TruncDate

from accounts.models import Account
from csplatform.models import Tenant, User
from csplatform.rows import fetch_row
from health.models import Band, HealthSnapshot

from .models import AutomatedAction, Episode, Playbook, Task, TaskStatus

INBOX_SECTION_LIMIT = 50
QUEUE_LIMIT = 200
CARD_TASK_LIMIT = 10
CARD_EPISODE_LIMIT = 10
IMPROVEMENT_DAYS = 30
BAND_RANK = {Band.RED: 0, Band.YELLOW: 1, Band.GREEN: 2}


def visible_on(today: dt.date) -> Q:
    """Open tasks not snoozed past ``today`` (a snoozed task shows again on its day)."""
    return Q(status=TaskStatus.OPEN) & (Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=today))


def open_tasks_due_count(*, tenant: Tenant, user: User, today: dt.date) -> int:
    """The navigation badge: ``user``'s open tasks overdue or due today, snoozed ones left out
    (``visible_on``). One COUNT over the (tenant, assignee, status, due_on) index, scoped to
    ``tenant``: a plain statement, since it is on every page and the ORM took longer to build it
    than PostgreSQL to answer it."""
    sql = (
        f"SELECT COUNT(*) FROM {Task._meta.db_table} "  # noqa: S608 (the model's table, values as parameters)
        "WHERE tenant_id = %(tenant)s AND assignee_id = %(user)s AND status = %(open)s AND due_on <= %(today)s "
        "AND (snoozed_until IS NULL OR snoozed_until <= %(today)s)"
    )
    params = {
        "tenant": tenant.pk,
        "user": user.pk,
        "open": TaskStatus.OPEN.value,
        "today": connection.ops.adapt_datefield_value(today),
    }
    return fetch_row(sql, params)[0]


def _with_rows(tasks: QuerySet[Task]) -> QuerySet[Task]:
    return tasks.select_related("account", "assignee", "episode__trigger")


@dataclass(frozen=True)
class InboxSection:
    key: str
    label: str
    tasks: list[Task]
    count: int  # all of the section's tasks; ``tasks`` holds the first INBOX_SECTION_LIMIT

    @property
    def more(self) -> int:
        return self.count - len(self.tasks)


@dataclass(frozen=True)
class Inbox:
    sections: list[InboxSection]
    snoozed_count: int

    def section(self, key: str) -> InboxSection:
        return next(section for section in self.sections if section.key == key)


def inbox(*, tenant: Tenant, assignee: User, today: dt.date) -> Inbox:
    """``assignee``'s open tasks in three sections, overdue, due today and upcoming, earliest
    due first, each listing at most ``INBOX_SECTION_LIMIT``; snoozed ones are hidden until
    their day and only counted. Four queries on the (tenant, assignee, status, due_on) index:
    the counts in one, then each section's rows."""
    mine = Task.objects.filter(tenant=tenant, assignee=assignee, status=TaskStatus.OPEN)
    visible = mine.filter(visible_on(today))
    parts = [
        ("overdue", "Overdue", Q(due_on__lt=today)),
        ("today", "Due today", Q(due_on=today)),
        ("upcoming", "Upcoming", Q(due_on__gt=today)),
    ]
    counts = mine.aggregate(
        snoozed=Count("pk", filter=Q(snoozed_until__gt=today)),
        **{key: Count("pk", filter=condition & visible_on(today)) for key, _, condition in parts},
    )
    sections = [
        InboxSection(
            key=key,
            label=label,
            tasks=list(_with_rows(visible.filter(condition)).order_by("due_on", "pk")[:INBOX_SECTION_LIMIT])
            if counts[key]
            else [],
            count=counts[key],
        )
        for key, label, condition in parts
    ]
    return Inbox(sections=sections, snoozed_count=counts["snoozed"])


def _team_tasks(*, tenant: Tenant, today: dt.date, assignee_id: int | None, overdue_only: bool) -> QuerySet[Task]:
    tasks = Task.objects.filter(tenant=tenant, status=TaskStatus.OPEN)
    if assignee_id is not None:
        tasks = tasks.filter(assignee_id=assignee_id)
    if overdue_only:
        tasks = tasks.filter(due_on__lt=today)
    return tasks.order_by("due_on", "account__name", "pk")


def team_queue(
    *, tenant: Tenant, today: dt.date, assignee_id: int | None = None, overdue_only: bool = False
) -> tuple[list[Task], int]:
    """The team's open tasks (snoozed ones too, marked), earliest due first, at most
    ``QUEUE_LIMIT`` of them, and how many there are in all: two queries."""
    tasks = _team_tasks(tenant=tenant, today=today, assignee_id=assignee_id, overdue_only=overdue_only)
    return list(_with_rows(tasks)[:QUEUE_LIMIT]), tasks.count()


TEAM_QUEUE_CSV_HEADER = ["account", "task", "purpose", "assignee", "due", "days overdue", "snoozed until", "trigger"]


def team_queue_csv_rows(
    *, tenant: Tenant, today: dt.date, assignee_id: int | None = None, overdue_only: bool = False
) -> Iterator[list]:
    """Every task of the team queue (not only the page's first ``QUEUE_LIMIT``) as CSV rows,
    read in chunks of plain rows. The query is built now, inside the tenant's scope; a streamed
    response reads it after the view has returned."""
    rows = _team_tasks(tenant=tenant, today=today, assignee_id=assignee_id, overdue_only=overdue_only).values_list(
        "account__name",
        "title",
        "purpose",
        "assignee__full_name",
        "assignee__email",
        "due_on",
        "snoozed_until",
        "episode__trigger__name",
    )
    return (
        [
            account,
            title,
            purpose,
            full_name or email or "",
            due_on.isoformat(),
            max((today - due_on).days, 0),
            snoozed_until.isoformat() if snoozed_until else "",
            trigger or "",
        ]
        for account, title, purpose, full_name, email, due_on, snoozed_until, trigger in rows.iterator(chunk_size=2000)
    )


@dataclass(frozen=True)
class OverdueRow:
    assignee_id: int | None
    name: str
    overdue: int
    open: int


def overdue_by_assignee(*, tenant: Tenant, today: dt.date) -> list[OverdueRow]:
    """Per assignee (unassigned as one row): open tasks and how many are overdue, most overdue
    first. One grouped query."""
    rows = (
        Task.objects.filter(tenant=tenant, status=TaskStatus.OPEN)
        .order_by()
        .values("assignee_id", "assignee__full_name", "assignee__email")
        .annotate(open=Count("pk"), overdue=Count("pk", filter=Q(due_on__lt=today)))
    )
    result = [
        OverdueRow(
            assignee_id=row["assignee_id"],
            name=(row["assignee__full_name"] or row["assignee__email"]) if row["assignee_id"] else "Unassigned",
            overdue=row["overdue"],
            open=row["open"],
        )
        for row in rows
    ]
    return sorted(result, key=lambda row: (-row.overdue, -row.open, row.name))


@dataclass(frozen=True)
class Effectiveness:
    playbook: Playbook
    fired: int
    tasks: int
    tasks_due: int  # due by today, or done: the tasks that could be on time or late by now
    on_time: int
    improvable: int  # episodes fired on a red or yellow account whose 30 days are up or that improved
    improved: int

    @property
    def on_time_percent(self) -> float | None:
        return round(100 * self.on_time / self.tasks_due, 1) if self.tasks_due else None

    @property
    def improved_percent(self) -> float | None:
        return round(100 * self.improved / self.improvable, 1) if self.improvable else None


def _band_rank(field_name: str) -> Case:
    return Case(
        *(When(**{field_name: band}, then=Value(rank)) for band, rank in BAND_RANK.items()),
        default=Value(None),
        output_field=IntegerField(),
    )


def playbook_effectiveness(*, tenant: Tenant, today: dt.date) -> list[Effectiveness]:
    """For each playbook: episodes fired, tasks completed on time (done on or before their due
    day, out of those due by today or done), and how often the account's health band improved
    within 30 days of firing. Improvement compares the band of the last snapshot on or before
    the firing day with the best band of the snapshots of the 30 days after it; an episode
    fired on a green account cannot improve and is left out, as is one fired less than 30 days
    ago that has not improved yet. Three queries."""
    playbooks = list(Playbook.objects.filter(tenant=tenant).order_by("name", "pk"))
    task_counts = {
        row["episode__trigger__playbook_id"]: row
        for row in Task.objects.filter(tenant=tenant, episode__isnull=False)
        .order_by()
        .values("episode__trigger__playbook_id")
        .annotate(
            tasks=Count("pk"),
            tasks_due=Count("pk", filter=Q(status=TaskStatus.DONE) | Q(due_on__lt=today, status=TaskStatus.OPEN)),
            on_time=Count("pk", filter=Q(status=TaskStatus.DONE, completed_at__date__lte=F("due_on"))),
        )
    }
    snapshots = HealthSnapshot.objects.filter(tenant=tenant, account=OuterRef("account_id"))
    fired_day = TruncDate("opened_at")
    episodes = (
        Episode.objects.filter(tenant=tenant)
        .annotate(fired_on=fired_day)
        .annotate(
            band_before=Subquery(snapshots.filter(day__lte=OuterRef("fired_on")).order_by("-day").values("band")[:1]),
            best_after=Subquery(
                snapshots.filter(
                    day__gt=OuterRef("fired_on"), day__lte=OuterRef("fired_on") + dt.timedelta(days=IMPROVEMENT_DAYS)
                )
                .annotate(rank=_band_rank("band"))
                .order_by("-rank")
                .values("rank")[:1]
            ),
        )
        .values_list("trigger__playbook_id", "fired_on", "band_before", "best_after")
    )
    fired: dict[int, int] = defaultdict(int)
    improvable: dict[int, int] = defaultdict(int)
    improved: dict[int, int] = defaultdict(int)
    settled_before = today - dt.timedelta(days=IMPROVEMENT_DAYS)
    for playbook_id, fired_on, band_before, best_after in episodes:
        fired[playbook_id] += 1
        rank_before = BAND_RANK.get(band_before)
        if rank_before is None or rank_before == BAND_RANK[Band.GREEN]:
            continue
        better = best_after is not None and best_after > rank_before
        if better or fired_on <= settled_before:
            improvable[playbook_id] += 1
            improved[playbook_id] += int(better)
    result = []
    for playbook in playbooks:
        counts = task_counts.get(playbook.pk, {})
        result.append(
            Effectiveness(
                playbook=playbook,
                fired=fired[playbook.pk],
                tasks=counts.get("tasks", 0),
                tasks_due=counts.get("tasks_due", 0),
                on_time=counts.get("on_time", 0),
                improvable=improvable[playbook.pk],
                improved=improved[playbook.pk],
            )
        )
    return result


@dataclass(frozen=True)
class AccountPlaybooks:
    open_tasks: list[Task]
    more_open: bool  # more open tasks than the card lists
    # Newest first, each with the tasks it made and its automated actions (tech touch).
    alerts: list[tuple[Episode, list[Task], list[AutomatedAction]]]


def account_playbooks(*, tenant: Tenant, account: Account) -> AccountPlaybooks:
    """The account card: its open tasks (first ``CARD_TASK_LIMIT``, earliest due) and its
    alert history, the last ``CARD_EPISODE_LIMIT`` episodes with the trigger that fired and
    the tasks each made, whatever their state, and its automated e-mails. Two queries for an
    account with no alert yet, three otherwise: the open tasks and the alerts' tasks come in
    one."""
    episodes = list(
        Episode.objects.filter(tenant=tenant, account=account)
        .select_related("trigger__playbook")
        .order_by("-opened_at", "-pk")[:CARD_EPISODE_LIMIT]
    )
    episode_ids = {episode.pk for episode in episodes}
    open_first = Task.objects.filter(tenant=tenant, account=account, status=TaskStatus.OPEN).order_by("due_on", "pk")
    # The card prints no task's trigger: the episode behind a task is not read.
    if episode_ids:
        first_ids = open_first.values("pk")[: CARD_TASK_LIMIT + 1]
        # An episode's tasks are at its account: reading the account's tasks keeps to its index.
        tasks = Task.objects.filter(tenant=tenant, account=account).filter(
            Q(pk__in=first_ids) | Q(episode__in=episode_ids)
        )
        tasks = list(tasks.select_related("assignee").order_by("due_on", "pk"))
    else:
        tasks = list(open_first.select_related("assignee")[: CARD_TASK_LIMIT + 1])
    # Every one of the earliest open tasks is in ``tasks``, so the earliest open ones there are
    # those; an alert's open task due later may be there too, and says there are more.
    open_tasks = [task for task in tasks if task.status == TaskStatus.OPEN]
    tasks_by_episode: dict[int, list[Task]] = defaultdict(list)
    actions_by_episode: dict[int, list[AutomatedAction]] = defaultdict(list)
    if episode_ids:
        for task in tasks:
            if task.episode_id in episode_ids:
                tasks_by_episode[task.episode_id].append(task)
        for action in AutomatedAction.objects.filter(tenant=tenant, account=account, episode__in=episode_ids):
            actions_by_episode[action.episode_id].append(action)
    return AccountPlaybooks(
        open_tasks=open_tasks[:CARD_TASK_LIMIT],
        more_open=len(open_tasks) > CARD_TASK_LIMIT,
        alerts=[
            (episode, tasks_by_episode.get(episode.pk, []), actions_by_episode.get(episode.pk, []))
            for episode in episodes
        ],
    )


def open_task_counts(*, tenant: Tenant, account_ids: list[int]) -> dict[int, int]:
    """Open tasks per account (snoozed ones too) for a page of accounts: one grouped COUNT over
    the (tenant, account, status) index."""
    if not account_ids:
        return {}
    rows = (
        Task.objects.filter(tenant=tenant, account_id__in=account_ids, status=TaskStatus.OPEN)
        .order_by()
        .values_list("account_id")
        .annotate(count=Count("pk"))
    )
    return dict(rows)
