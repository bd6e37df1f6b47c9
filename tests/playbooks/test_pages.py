"""The playbooks pages: the task inbox and its badge, the account card, the leader pages and the
admin's trigger and playbook pages: who may see and do what, htmx in place, field errors with
nothing written, bounded queries, CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import Activity
from accounts.services import tenant_today
from health.models import Band, HealthSnapshot
from health.services import health_config_active
from playbooks.models import Episode, Task, TaskStatus, TaskTemplate, Trigger, TriggerKind
from tests.downloads import csv_text

from ..factories import AccountFactory
from .page_factories import PlaybookFactory, TaskFactory, TriggerFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def today(tenant_a):
    return tenant_today(tenant_a)


@pytest.fixture
def bobs_tasks(tenant_a, bob, bea, today):
    """Bob's inbox: one overdue, one due today, one upcoming, one snoozed; and one of Bea's."""
    with scopes_disabled():
        zephyr = AccountFactory(tenant=tenant_a, owner=bob, name="Zephyr Logistics")
        aurora = AccountFactory(tenant=tenant_a, owner=bea, name="Aurora Health")
        return {
            "overdue": TaskFactory(
                account=zephyr, assignee=bob, title="Recover the sponsor", due_on=today - dt.timedelta(days=3)
            ),
            "today": TaskFactory(account=zephyr, assignee=bob, title="Send the recap", due_on=today),
            "upcoming": TaskFactory(
                account=zephyr, assignee=bob, title="Plan the QBR", due_on=today + dt.timedelta(days=5)
            ),
            "snoozed": TaskFactory(
                account=zephyr,
                assignee=bob,
                title="Snoozed one",
                due_on=today,
                snoozed_until=today + dt.timedelta(days=2),
            ),
            "beas": TaskFactory(account=aurora, assignee=bea, title="Bea's own task", due_on=today),
        }


def _section(page: str, key: str) -> str:
    start = page.index(f'id="tasks-{key}"')
    end = page.find("</section>", start)
    return page[start:end]


def test_the_inbox_splits_overdue_today_and_upcoming_and_hides_snoozed(client_for, bob, bobs_tasks):
    page = client_for(bob).get(reverse("playbooks:inbox")).content.decode()
    assert "Recover the sponsor" in _section(page, "overdue")
    assert "Send the recap" in _section(page, "today")
    assert "Plan the QBR" in _section(page, "upcoming")
    assert "Snoozed one" not in page
    assert "1 snoozed" in page
    assert "Bea&#x27;s own task" not in page
    assert "Bea's own task" not in page


def test_the_inbox_exports_its_own_tasks_as_csv_and_never_a_teammates(client_for, bob, bea, bobs_tasks):
    page = client_for(bob).get(reverse("playbooks:inbox")).content.decode()
    assert "format=csv" in page
    # bob asks for bea's: a CSM has no filter, so his own come back.
    response = client_for(bob).get(reverse("playbooks:inbox"), {"format": "csv", "assignee": bea.pk})
    rows = list(csv.reader(io.StringIO(csv_text(response))))

    assert rows[0][:2] == ["account", "task"]
    tasks = {row[1]: row for row in rows[1:]}
    assert set(tasks) == {"Recover the sponsor", "Send the recap", "Plan the QBR", "Snoozed one"}
    assert tasks["Recover the sponsor"][5] == "3"  # days overdue
    assert tasks["Snoozed one"][6]  # snoozed until


def test_the_navigation_badge_counts_overdue_and_due_today(client_for, bob, bobs_tasks):
    page = client_for(bob).get(reverse("accounts:my_book")).content.decode()
    assert 'id="nav-task-count"' in page
    # Overdue + due today; the snoozed and the upcoming ones are not counted.
    assert ">2<" in page.split('id="nav-task-count"')[1][:200]


def test_a_leader_looks_at_a_teammates_inbox_and_a_csm_cannot(client_for, bob, bea, lena, bobs_tasks):
    url = reverse("playbooks:inbox")
    page = client_for(lena).get(url, {"assignee": bea.pk}).content.decode()
    assert "Bea&#x27;s own task" in page
    assert "Recover the sponsor" not in page
    # A CSM has no filter: the parameter is ignored and they see their own.
    page = client_for(bob).get(url, {"assignee": bea.pk}).content.decode()
    assert "Recover the sponsor" in page
    assert "Bea&#x27;s own task" not in page


def test_completing_from_the_inbox_updates_the_row_and_logs_on_the_timeline(client_for, bob, bobs_tasks):
    task = bobs_tasks["today"]
    url = reverse("playbooks:task_complete", kwargs={"task_id": task.pk})
    client = client_for(bob)
    form = client.get(url, **HTMX)
    assert form.status_code == 200
    assert 'name="outcome"' in form.content.decode()
    refused = client.post(url, {"outcome": "", "kind": "call"}, **HTMX)
    assert refused.status_code == 422
    assert "This field is required" in refused.content.decode()
    with scopes_disabled():
        assert Task.objects.get(pk=task.pk).status == TaskStatus.OPEN
    done = client.post(url, {"outcome": "Recap sent, next call booked.", "kind": "call"}, **HTMX)
    assert done.status_code == 200
    body = done.content.decode()
    assert f'id="task-{task.pk}"' in body
    assert "Done" in body
    assert "<html" not in body
    with scopes_disabled():
        activity = Activity.objects.get(account=task.account)
        assert activity.summary == "Recap sent, next call booked."
    account_page = client.get(reverse("accounts:detail", kwargs={"account_id": task.account_id})).content.decode()
    assert "Recap sent, next call booked." in account_page


def test_completing_from_the_account_card_swaps_the_timeline_in(client_for, bob, bobs_tasks):
    task = bobs_tasks["overdue"]
    url = reverse("playbooks:task_complete", kwargs={"task_id": task.pk})
    response = client_for(bob).post(
        url, {"outcome": "Sponsor back on board.", "kind": "meeting", "where": "card"}, **HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="timeline"' in body
    assert 'hx-swap-oob="true"' in body
    assert "Sponsor back on board." in body


def test_snooze_and_reassign_update_the_row_in_place(client_for, bob, bea, bobs_tasks, today):
    client = client_for(bob)
    task = bobs_tasks["today"]
    snooze = reverse("playbooks:task_snooze", kwargs={"task_id": task.pk})
    refused = client.post(snooze, {"snooze": "date", "until": ""}, **HTMX)
    assert refused.status_code == 422
    assert "Choose the day the task comes back." in refused.content.decode()
    response = client.post(snooze, {"snooze": "7"}, **HTMX)
    assert response.status_code == 200
    assert "Snoozed until" in response.content.decode()
    with scopes_disabled():
        assert Task.objects.get(pk=task.pk).snoozed_until == today + dt.timedelta(days=7)
    assert "Send the recap" not in client.get(reverse("playbooks:inbox")).content.decode()

    other = bobs_tasks["upcoming"]
    reassign = reverse("playbooks:task_reassign", kwargs={"task_id": other.pk})
    form = client.get(reassign, **HTMX).content.decode()
    assert "Bea Csm" in form
    response = client.post(reassign, {"assignee": bea.pk}, **HTMX)
    assert response.status_code == 200
    assert "Given to Bea Csm" in response.content.decode()
    with scopes_disabled():
        assert Task.objects.get(pk=other.pk).assignee == bea


def test_a_csm_cannot_work_a_teammates_task_on_a_teammates_account(client_for, bob, bea, bobs_tasks):
    task = bobs_tasks["beas"]
    for name in ("task_complete", "task_snooze", "task_reassign"):
        url = reverse(f"playbooks:{name}", kwargs={"task_id": task.pk})
        assert client_for(bob).get(url, **HTMX).status_code == 403
        assert client_for(bob).post(url, {"outcome": "x", "kind": "call"}, **HTMX).status_code == 403
    with scopes_disabled():
        assert Task.objects.get(pk=task.pk).status == TaskStatus.OPEN


def test_the_account_card_shows_open_tasks_and_alert_history(client_for, bob, tenant_a, today):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob, name="Zephyr Logistics")
        trigger = TriggerFactory(tenant=tenant_a, name="Went red", kind=TriggerKind.BAND_ENTERED)
        episode = Episode.objects.create(
            tenant=tenant_a, trigger=trigger, account=account, opened_at=timezone.now() - dt.timedelta(days=2)
        )
        TaskFactory(account=account, episode=episode, assignee=bob, title="Call the sponsor", due_on=today)
        TaskFactory(
            account=account,
            episode=episode,
            assignee=bob,
            title="Write the save plan",
            due_on=today,
            status=TaskStatus.DONE,
        )
    page = client_for(bob).get(reverse("accounts:detail", kwargs={"account_id": account.pk})).content.decode()
    card = page[page.index('id="playbooks-card"') :]
    assert "Call the sponsor" in card
    assert "Went red" in card
    assert "Write the save plan" in card
    assert "done" in card


def test_the_account_card_lists_the_ten_earliest_open_tasks_beside_an_alert_due_later(client_for, bob, tenant_a, today):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob, name="Zephyr Logistics")
        trigger = TriggerFactory(tenant=tenant_a, name="Went red", kind=TriggerKind.BAND_ENTERED)
        episode = Episode.objects.create(
            tenant=tenant_a, trigger=trigger, account=account, opened_at=timezone.now() - dt.timedelta(days=2)
        )
        for number in range(10):
            TaskFactory(account=account, assignee=bob, title=f"Follow-up {number}", due_on=today + dt.timedelta(number))
        TaskFactory(
            account=account, episode=episode, assignee=bob, title="Call the sponsor", due_on=today + dt.timedelta(30)
        )
    page = client_for(bob).get(reverse("accounts:detail", kwargs={"account_id": account.pk})).content.decode()
    card = page[page.index('id="playbooks-card"') :]
    open_tasks = card[card.index('id="account-open-tasks"') : card.index("Alert history")]
    assert [f"Follow-up {number}" in open_tasks for number in range(10)] == [True] * 10
    assert "Call the sponsor" not in open_tasks  # the eleventh by due day
    assert "More open tasks than listed here." in card
    assert "Call the sponsor" in card[card.index('id="account-alerts"') :]


@pytest.mark.parametrize("count", [2, 20])
def test_pages_issue_a_bounded_number_of_queries(
    count, client_for, bob, lena, tenant_a, today, django_assert_max_num_queries
):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob)
        trigger = TriggerFactory(tenant=tenant_a)
        for number in range(count):
            episode = Episode.objects.create(
                tenant=tenant_a,
                trigger=trigger,
                account=account,
                opened_at=timezone.now() - dt.timedelta(days=number),
                cleared_at=timezone.now() if number else None,
            )
            TaskFactory(account=account, episode=episode, assignee=bob, due_on=today - dt.timedelta(days=number % 3))
    csm, leader = client_for(bob), client_for(lena)
    with django_assert_max_num_queries(8):
        assert csm.get(reverse("playbooks:inbox")).status_code == 200
    for name in ("team_queue", "overdue", "effectiveness"):
        with django_assert_max_num_queries(8):
            assert leader.get(reverse(f"playbooks:{name}")).status_code == 200
    # The whole Account 360 page: every app's card; the playbooks card is three of these (the
    # episodes, the open tasks and the alerts' tasks in one, the automated e-mails).
    with django_assert_max_num_queries(14):
        assert csm.get(reverse("accounts:detail", kwargs={"account_id": account.pk})).status_code == 200


def test_leader_pages_are_for_leaders_and_export_csv(client_for, bob, lena, bobs_tasks):
    for name in ("team_queue", "overdue", "effectiveness"):
        assert client_for(bob).get(reverse(f"playbooks:{name}")).status_code == 403
    with scopes_disabled():
        Task.objects.filter(pk=bobs_tasks["overdue"].pk).update(title="=HYPERLINK(1)")
    response = client_for(lena).get(reverse("playbooks:team_queue"), {"overdue": "on", "format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode().lstrip("\ufeff"))))
    assert rows[0][:2] == ["account", "task"]
    assert [row[1] for row in rows[1:]] == ["'=HYPERLINK(1)"]
    overdue = client_for(lena).get(reverse("playbooks:overdue"), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(overdue.streaming_content).decode().lstrip("\ufeff"))))
    assert ["Bob Csm", "1", "4"] in rows  # the snoozed task is open too
    page = client_for(lena).get(reverse("playbooks:overdue")).content.decode()
    assert 'id="overdue-chart"' in page
    assert 'id="overdue-table"' in page


def test_effectiveness_counts_firings_on_time_and_band_improvement(client_for, lena, bob, tenant_a, today):
    with scopes_disabled():
        config = health_config_active(tenant=tenant_a)
        playbook = PlaybookFactory(tenant=tenant_a, name="Save the account")
        trigger = TriggerFactory(tenant=tenant_a, playbook=playbook)
        fired = timezone.now() - dt.timedelta(days=40)
        fired_day = timezone.localtime(fired, timezone=tenant_a_zone(tenant_a)).date()
        improved, stayed = AccountFactory(tenant=tenant_a, owner=bob), AccountFactory(tenant=tenant_a, owner=bob)
        for account, later_band in ((improved, Band.GREEN), (stayed, Band.RED)):
            episode = Episode.objects.create(tenant=tenant_a, trigger=trigger, account=account, opened_at=fired)
            HealthSnapshot.objects.create(
                tenant=tenant_a, account=account, day=fired_day, score=30, band=Band.RED, breakdown={}, config=config
            )
            HealthSnapshot.objects.create(
                tenant=tenant_a,
                account=account,
                day=fired_day + dt.timedelta(days=10),
                score=75,
                band=later_band,
                breakdown={},
                config=config,
            )
            TaskFactory(
                account=account,
                episode=episode,
                assignee=bob,
                due_on=fired_day + dt.timedelta(days=3),
                status=TaskStatus.DONE,
                completed_at=fired + dt.timedelta(days=1 if account is improved else 9),
            )
    response = client_for(lena).get(reverse("playbooks:effectiveness"), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode().lstrip("\ufeff"))))
    header, row = rows[0], next(r for r in rows if r[0] == "Save the account")
    values = dict(zip(header, row, strict=True))
    assert values["times fired"] == "2"
    assert values["on time %"] == "50.0"
    assert values["improved %"] == "50.0"


def tenant_a_zone(tenant):
    import zoneinfo

    return zoneinfo.ZoneInfo(tenant.time_zone)


# --- Admin pages ------------------------------------------------------------------------------


def test_admin_pages_are_admin_only(client_for, lena, bob):
    for user in (lena, bob):
        assert client_for(user).get(reverse("playbooks:setup")).status_code == 403
        assert client_for(user).get(reverse("playbooks:trigger_create")).status_code == 403


def test_an_admin_starts_from_the_default_playbooks_once_and_only_in_their_company(
    client_for, alice, lena, tenant_a, tenant_b
):
    url = reverse("playbooks:defaults_add")
    assert client_for(lena).post(url).status_code == 403
    client = client_for(alice)
    assert "Add the default playbooks and triggers" in client.get(reverse("playbooks:setup")).content.decode()

    page = client.post(url, follow=True).content.decode()

    with scopes_disabled():
        kinds = set(Trigger.objects.filter(tenant=tenant_a, enabled=True).values_list("kind", flat=True))
        renewal_checkpoints = Trigger.objects.filter(tenant=tenant_a, kind=TriggerKind.RENEWAL_DUE).count()
        assert not Trigger.objects.filter(tenant=tenant_b).exists()
    assert kinds == set(TriggerKind.values)
    assert renewal_checkpoints == 2  # 180 and 90 days before the renewal
    assert "default triggers and their playbooks added" in page
    again = client.post(url, follow=True).content.decode()
    assert "already has playbooks" in again
    with scopes_disabled():
        assert Trigger.objects.filter(tenant=tenant_a).count() == len(kinds) + 1


def test_a_bad_trigger_is_refused_with_a_field_error_and_nothing_written(client_for, alice, tenant_a):
    with scopes_disabled():
        playbook = PlaybookFactory(tenant=tenant_a)
    url = reverse("playbooks:trigger_create")
    client = client_for(alice)
    form = client.get(url, {"kind": TriggerKind.NO_TOUCH}).content.decode()
    assert 'name="param_days"' in form
    response = client.post(
        url, {"name": "Quiet", "kind": TriggerKind.NO_TOUCH, "param_days": "-3", "playbook": playbook.pk}
    )
    assert response.status_code == 422
    assert "is-invalid" in response.content.decode()
    with scopes_disabled():
        assert not Trigger.objects.exists()


def test_an_admin_creates_dry_runs_and_enables_a_trigger(client_for, alice, bob, tenant_a, monkeypatch):
    with scopes_disabled():
        playbook = PlaybookFactory(tenant=tenant_a, name="Re-engage")
        accounts = [AccountFactory(tenant=tenant_a, owner=bob, name=f"Quiet {n:02d}") for n in range(60)]
    client = client_for(alice)
    response = client.post(
        reverse("playbooks:trigger_create"),
        {"name": "Quiet accounts", "kind": TriggerKind.NO_TOUCH, "param_days": "60", "playbook": playbook.pk},
    )
    assert response.status_code == 302
    with scopes_disabled():
        trigger = Trigger.objects.get()
    assert not trigger.enabled
    monkeypatch.setattr(
        "playbooks.triggers.matching_account_ids", lambda *, tenant, trigger, today=None: {a.pk for a in accounts}
    )
    detail = reverse("playbooks:trigger_detail", kwargs={"trigger_id": trigger.pk})
    page = client.get(detail, {"dry_run": "1"}, **HTMX).content.decode()
    assert "<strong>60</strong> accounts would fire now" in page
    assert page.count('href="/accounts/') == 50
    assert "Quiet 00" in page
    assert "Quiet 59" not in page
    client.post(reverse("playbooks:trigger_toggle", kwargs={"trigger_id": trigger.pk}), {"enabled": "1"})
    with scopes_disabled():
        assert Trigger.objects.get(pk=trigger.pk).enabled


def test_the_dry_run_uses_the_engines_matching(client_for, alice, tenant_a):
    with scopes_disabled():
        trigger = TriggerFactory(tenant=tenant_a)
    page = client_for(alice).get(
        reverse("playbooks:trigger_detail", kwargs={"trigger_id": trigger.pk}), {"dry_run": "1"}
    )
    assert page.status_code == 200
    assert "would fire now" in page.content.decode()


def test_playbook_steps_are_added_reordered_and_removed(client_for, alice, tenant_a):
    client = client_for(alice)
    response = client.post(reverse("playbooks:playbook_create"), {"name": "Onboarding", "description": ""})
    with scopes_disabled():
        from playbooks.models import Playbook

        playbook = Playbook.objects.get(name="Onboarding")
    assert response["Location"] == reverse("playbooks:playbook_edit", kwargs={"playbook_id": playbook.pk})
    add = reverse("playbooks:step_create", kwargs={"playbook_id": playbook.pk})
    step = {
        "step-title": "Kick-off call",
        "step-purpose": "Agree the First Value goal",
        "step-due_offset_days": "2",
        "step-action": "task",
        "step-assignee_kind": "owner",
    }
    assert client.post(add, step).status_code == 302
    assert client.post(add, {**step, "step-title": "Send the welcome pack"}).status_code == 302
    refused = client.post(add, {**step, "step-title": "Mail", "step-action": "email"})
    assert refused.status_code == 422
    assert "An automated e-mail needs a subject." in refused.content.decode()
    with scopes_disabled():
        second = TaskTemplate.objects.get(title="Send the welcome pack")
    client.post(
        reverse("playbooks:step_move", kwargs={"playbook_id": playbook.pk, "step_id": second.pk}), {"direction": "up"}
    )
    with scopes_disabled():
        assert list(playbook.steps.order_by("position").values_list("title", flat=True)) == [
            "Send the welcome pack",
            "Kick-off call",
        ]
    client.post(reverse("playbooks:step_delete", kwargs={"playbook_id": playbook.pk, "step_id": second.pk}))
    with scopes_disabled():
        assert list(playbook.steps.values_list("title", flat=True)) == ["Kick-off call"]


def test_changing_the_trigger_kind_swaps_in_its_parameters(client_for, alice):
    response = client_for(alice).get(reverse("playbooks:trigger_create"), {"kind": TriggerKind.NPS_DETRACTOR}, **HTMX)
    body = response.content.decode()
    assert 'id="trigger-params"' in body
    assert 'name="param_max_score"' in body
    assert "<html" not in body


def test_a_bad_edit_leaves_the_trigger_as_it_was(client_for, alice, tenant_a):
    with scopes_disabled():
        trigger = TriggerFactory(tenant=tenant_a, kind=TriggerKind.NO_TOUCH, params={"days": 60}, enabled=False)
    url = reverse("playbooks:trigger_edit", kwargs={"trigger_id": trigger.pk})
    form = client_for(alice).get(url).content.decode()
    assert 'value="60"' in form
    response = client_for(alice).post(
        url, {"name": "Renamed", "kind": TriggerKind.NO_TOUCH, "param_days": "5000", "playbook": trigger.playbook_id}
    )
    assert response.status_code == 422
    with scopes_disabled():
        trigger.refresh_from_db()
    assert (trigger.name, trigger.params) != ("Renamed", {"days": 5000})
    assert trigger.params == {"days": 60}


def test_the_portfolio_shows_each_accounts_open_tasks(client_for, bob, bobs_tasks):
    page = client_for(bob).get(reverse("accounts:my_book")).content.decode()
    assert ">Open tasks</th>" in page
    row = page[page.index("Zephyr Logistics") :]
    row = row[: row.index("</tr>")]
    assert row.rstrip().endswith('<td class="num">4</td>')  # the snoozed one is open too


def test_the_card_shows_a_tech_touch_alerts_automated_email(client_for, bob, tenant_a):
    from playbooks.models import AutomatedAction

    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob)
        trigger = TriggerFactory(tenant=tenant_a, name="Usage fell")
        episode = Episode.objects.create(tenant=tenant_a, trigger=trigger, account=account, opened_at=timezone.now())
        AutomatedAction.objects.create(
            tenant=tenant_a,
            episode=episode,
            account=account,
            recipient="maya@customer.example",
            subject="Tips to get more from the product",
            sent_at=timezone.now(),
        )
    page = client_for(bob).get(reverse("accounts:detail", kwargs={"account_id": account.pk})).content.decode()
    card = page[page.index('id="playbooks-card"') :]
    assert "Usage fell" in card
    assert "sent to maya@customer.example" in card


def test_without_javascript_completing_is_a_page_and_a_redirect(client_for, bob, bobs_tasks):
    task = bobs_tasks["today"]
    url = reverse("playbooks:task_complete", kwargs={"task_id": task.pk})
    client = client_for(bob)
    page = client.get(url).content.decode()
    assert "<html" in page
    assert 'name="outcome"' in page
    response = client.post(url, {"outcome": "Done on a phone without JavaScript.", "kind": "call"})
    assert response.status_code == 302
    assert response["Location"] == reverse("playbooks:inbox")


def test_a_long_section_lists_the_earliest_and_counts_the_rest(client_for, bob, tenant_a, today, monkeypatch):
    monkeypatch.setattr("playbooks.queries.INBOX_SECTION_LIMIT", 3)
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob)
        for days in range(1, 6):
            TaskFactory(account=account, assignee=bob, title=f"Late by {days}", due_on=today - dt.timedelta(days=days))
    overdue = _section(client_for(bob).get(reverse("playbooks:inbox")).content.decode(), "overdue")
    assert "Late by 5" in overdue  # earliest due first
    assert "Late by 1" not in overdue
    assert "2 more, not listed" in overdue
