"""The engine: a trigger fires its playbook once per episode (twice-run and racing evaluations
create one set of tasks), re-arms when the condition clears, resolves assignees, and at
tech-touch accounts sends e-mails instead of making tasks."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import ContactRole, LifecycleStage, Segment, TouchModel
from csplatform.models import Membership, Role
from csplatform.tenancy import tenant_scope
from health.models import HealthScore
from health.services import health_config_active
from playbooks import engine
from playbooks.engine import automated_emails_send, playbooks_evaluate
from playbooks.models import AssigneeKind, AutomatedAction, Episode, StepAction, Task, TaskStatus, TriggerKind
from tests.factories import AccountFactory, ContactFactory, MembershipFactory, UserFactory
from tests.workers import waits_for_commit

from .factories import PlaybookFactory, TaskTemplateFactory, TriggerFactory

TODAY = dt.date(2026, 11, 20)


def _band(account, band: str, score: int = 30) -> None:
    """Set the account's current health band (what a recompute would write)."""
    with scopes_disabled():
        HealthScore.objects.update_or_create(
            tenant=account.tenant,
            account=account,
            defaults={
                "score": score,
                "band": band,
                "breakdown": {},
                "config": health_config_active(tenant=account.tenant),
                "as_of": TODAY,
                "computed_at": timezone.now(),
            },
        )


def _evaluate(tenant, **kwargs):
    with tenant_scope(tenant):
        return playbooks_evaluate(tenant=tenant, today=TODAY, **kwargs)


def _tasks(**filters) -> list[Task]:
    with scopes_disabled():
        return list(Task.objects.filter(**filters).order_by("account_id", "template__position"))


@pytest.fixture
def red_alert(tenant_a):
    """An enabled "band entered: red" trigger whose playbook has two task steps."""
    with scopes_disabled():
        playbook = PlaybookFactory(tenant=tenant_a, name="Save the account")
        TaskTemplateFactory(playbook=playbook, position=1, title="Call the champion", due_offset_days=2)
        TaskTemplateFactory(
            playbook=playbook,
            position=2,
            title="Agree a recovery plan",
            due_offset_days=7,
            assignee_kind=AssigneeKind.OWNER_LEADER,
        )
        return TriggerFactory(tenant=tenant_a, playbook=playbook, kind=TriggerKind.BAND_ENTERED, params={"band": "red"})


@pytest.mark.django_db
def test_a_trigger_fires_its_playbook_for_matching_accounts_only(tenant_a, lena, bob, red_alert):
    with scopes_disabled():
        red, green = AccountFactory(tenant=tenant_a, owner=bob), AccountFactory(tenant=tenant_a, owner=bob)
    _band(red, "red")
    _band(green, "green", 80)

    result = _evaluate(tenant_a)

    assert (result.opened, result.tasks) == (1, 2)
    tasks = _tasks()
    assert [(t.account_id, t.title, t.assignee_id, t.due_on) for t in tasks] == [
        (red.pk, "Call the champion", bob.pk, TODAY + dt.timedelta(days=2)),
        (red.pk, "Agree a recovery plan", lena.pk, TODAY + dt.timedelta(days=7)),
    ]
    assert all(t.status == TaskStatus.OPEN and t.purpose and t.episode_id for t in tasks)


@pytest.mark.django_db
def test_evaluating_twice_creates_one_set_of_tasks(tenant_a, lena, bob, red_alert):
    with scopes_disabled():
        accounts = [AccountFactory(tenant=tenant_a, owner=bob) for _ in range(3)]
    for account in accounts:
        _band(account, "red")

    first, second = _evaluate(tenant_a), _evaluate(tenant_a)

    assert (first.opened, first.tasks) == (3, 6)
    assert (second.opened, second.tasks, second.cleared) == (0, 0, 0)
    assert len(_tasks()) == 6


@pytest.mark.django_db
def test_the_trigger_rearms_when_the_condition_clears_and_fires_again_when_it_returns(tenant_a, bob, red_alert):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob)
    _band(account, "red")
    _evaluate(tenant_a)
    _band(account, "yellow", 50)
    cleared = _evaluate(tenant_a)
    _band(account, "red")
    again = _evaluate(tenant_a)

    assert (cleared.cleared, cleared.tasks) == (1, 0)
    assert (again.opened, again.tasks) == (1, 2)
    with scopes_disabled():
        episodes = list(Episode.objects.filter(account=account).order_by("opened_at"))
    assert [e.is_open for e in episodes] == [False, True]
    assert len(_tasks(account=account)) == 4


@pytest.mark.django_db
def test_churned_accounts_never_fire_and_churning_clears_the_episode(tenant_a, bob, red_alert):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob)
        churned = AccountFactory(tenant=tenant_a, owner=bob, lifecycle_stage=LifecycleStage.CHURNED)
    _band(account, "red")
    _band(churned, "red")
    assert _evaluate(tenant_a).opened == 1
    with scopes_disabled():
        type(account).objects.filter(pk=account.pk).update(lifecycle_stage=LifecycleStage.CHURNED)
    assert _evaluate(tenant_a).cleared == 1


@pytest.mark.django_db
def test_evaluating_some_accounts_leaves_the_others_episodes_alone(tenant_a, bob, red_alert):
    with scopes_disabled():
        first, second = AccountFactory(tenant=tenant_a, owner=bob), AccountFactory(tenant=tenant_a, owner=bob)
    _band(first, "red")
    _band(second, "red")
    _evaluate(tenant_a)
    _band(first, "green", 80)

    result = _evaluate(tenant_a, account_ids=[first.pk])

    assert result.cleared == 1
    with scopes_disabled():
        assert set(Episode.objects.filter(cleared_at__isnull=True).values_list("account_id", flat=True)) == {second.pk}


@pytest.mark.django_db
def test_a_disabled_trigger_does_not_fire_and_its_open_episodes_end(tenant_a, bob, red_alert):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob)
    _band(account, "red")
    _evaluate(tenant_a)
    red_alert.enabled = False
    red_alert.save(update_fields=["enabled"])

    assert _evaluate(tenant_a).opened == 0
    with scopes_disabled():
        assert not Episode.objects.filter(cleared_at__isnull=True).exists()
    red_alert.enabled = True
    red_alert.save(update_fields=["enabled"])
    assert _evaluate(tenant_a).opened == 1  # enabled again: fires where the condition holds now


@pytest.mark.django_db
def test_assignees_owner_leader_fallbacks_and_named_user(tenant_a, alice, lena, bob, bea):
    with scopes_disabled():
        leo = UserFactory(full_name="Leo Leader")
        MembershipFactory(tenant=tenant_a, user=leo, role=Role.LEADER)
        Membership.objects.filter(tenant=tenant_a, user=bob).update(leader=leo)
        playbook = PlaybookFactory(tenant=tenant_a)
        TaskTemplateFactory(playbook=playbook, position=1, title="owner", assignee_kind=AssigneeKind.OWNER)
        TaskTemplateFactory(playbook=playbook, position=2, title="leader", assignee_kind=AssigneeKind.OWNER_LEADER)
        TaskTemplateFactory(
            playbook=playbook, position=3, title="named", assignee_kind=AssigneeKind.NAMED_USER, assignee_user=alice
        )
        TriggerFactory(tenant=tenant_a, playbook=playbook, kind=TriggerKind.BAND_ENTERED, params={"band": "red"})
        bobs, beas, nobodys = (AccountFactory(tenant=tenant_a, owner=owner) for owner in (bob, bea, None))
    for account in (bobs, beas, nobodys):
        _band(account, "red")

    _evaluate(tenant_a)

    assigned = {(t.account_id, t.title): t.assignee_id for t in _tasks()}
    assert assigned == {
        (bobs.pk, "owner"): bob.pk,
        (bobs.pk, "leader"): leo.pk,  # the leader bob reports to
        (bobs.pk, "named"): alice.pk,
        (beas.pk, "owner"): bea.pk,
        (beas.pk, "leader"): lena.pk,  # bea reports to nobody: the tenant's first leader
        (beas.pk, "named"): alice.pk,
        (nobodys.pk, "owner"): lena.pk,  # no owner: the first leader, so someone sees it
        (nobodys.pk, "leader"): lena.pk,
        (nobodys.pk, "named"): alice.pk,
    }


@pytest.mark.django_db
def test_tech_touch_accounts_get_an_email_to_their_champion_and_no_task(
    tenant_a, bob, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        tech = Segment.objects.get(tenant=tenant_a, touch_model=TouchModel.TECH)
        low = Segment.objects.get(tenant=tenant_a, touch_model=TouchModel.LOW)
        playbook = PlaybookFactory(tenant=tenant_a)
        TaskTemplateFactory(playbook=playbook, title="Call them", action=StepAction.TASK)
        TaskTemplateFactory(
            playbook=playbook,
            title="Tips e-mail",
            action=StepAction.EMAIL,
            email_subject="{{ account.name }}: three tips to get more from your licences",
            email_body="Hello {{ contact.name }},\nhere is how teams like yours use reports.",
        )
        TriggerFactory(tenant=tenant_a, playbook=playbook, kind=TriggerKind.BAND_ENTERED, params={"band": "red"})
        automated = AccountFactory(tenant=tenant_a, segment=tech, name="Tiny & Co")
        ContactFactory(account=automated, role=ContactRole.END_USER, email="user@tiny.example")
        ContactFactory(account=automated, role=ContactRole.CHAMPION, name="Cara Champion", email="cara@tiny.example")
        ContactFactory(account=automated, role=ContactRole.CHAMPION, email="gone@tiny.example", left_on=TODAY)
        staffed = AccountFactory(tenant=tenant_a, segment=low, owner=bob)
    _band(automated, "red")
    _band(staffed, "red")

    with django_capture_on_commit_callbacks() as callbacks:
        result = _evaluate(tenant_a)
    assert len(callbacks) == 1  # queues the sending (send_automated_emails) after commit
    with scopes_disabled():  # recorded with its recipient; rendered by the sender, not the evaluation
        recorded = AutomatedAction.objects.get()
    assert (recorded.recipient, recorded.subject, recorded.body, recorded.sent_at) == (
        "cara@tiny.example",
        "Tips e-mail",
        "",
        None,
    )
    with tenant_scope(tenant_a):
        assert automated_emails_send(tenant=tenant_a) == 1
        _evaluate(tenant_a)  # the same episode: nothing more to send
        assert automated_emails_send(tenant=tenant_a) == 0

    assert (result.tasks, result.emails) == (1, 1)
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["cara@tiny.example"], "Tiny & Co: three tips to get more from your licences")
    ]
    assert "Hello Cara Champion," in mail.outbox[0].body
    with scopes_disabled():
        assert AutomatedAction.objects.get().subject == "Tiny & Co: three tips to get more from your licences"
    assert [t.account_id for t in _tasks()] == [staffed.pk]
    with scopes_disabled():
        action = AutomatedAction.objects.get()
    assert (action.account_id, action.recipient, action.sent_at is not None) == (
        automated.pk,
        "cara@tiny.example",
        True,
    )


@pytest.mark.django_db
def test_evaluation_takes_a_fixed_number_of_queries(tenant_a, bob, red_alert, django_assert_max_num_queries):
    with scopes_disabled():
        for kind, params in ((TriggerKind.NO_TOUCH, {"days": 30}), (TriggerKind.RENEWAL_DUE, {"days": 90})):
            TriggerFactory(tenant=tenant_a, playbook=red_alert.playbook, kind=kind, params=params)
        accounts = [
            AccountFactory(tenant=tenant_a, owner=bob, next_renewal_date=TODAY + dt.timedelta(days=30))
            for _ in range(20)
        ]
        type(accounts[0]).objects.update(created_at=timezone.now() - dt.timedelta(days=400))  # never touched
    for account in accounts:
        _band(account, "red")
    # 5 setup + per trigger: lock, match, open episodes, insert, COPY (+ savepoints)
    with django_assert_max_num_queries(30):
        result = _evaluate(tenant_a)
    assert result.opened == 60


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("without_lock", [False, True], ids=["with the lock", "unique key alone"])
def test_two_racing_evaluations_create_one_set_of_tasks(tenant_a, lena, bob, red_alert, monkeypatch, without_lock):
    if without_lock:  # the partial unique key alone must hold
        monkeypatch.setattr(engine, "_lock", lambda trigger: None)
    with scopes_disabled():
        accounts = [AccountFactory(tenant=tenant_a, owner=bob) for _ in range(30)]
    for account in accounts:
        _band(account, "red")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            _evaluate(tenant_a)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    with scopes_disabled():
        assert Episode.objects.count() == 30
        assert Task.objects.count() == 60


@pytest.mark.django_db
def test_a_champion_leaving_queues_a_recompute_which_chains_the_evaluation(
    tenant_a, bob, monkeypatch, django_capture_on_commit_callbacks
):
    from accounts.services import contact_mark_left
    from health import services as health_services
    from health import tasks as health_tasks
    from playbooks import tasks as playbooks_tasks

    recomputes, evaluations = [], []
    monkeypatch.setattr(health_services, "_account_recompute_enqueue", lambda *args: recomputes.append(args))
    monkeypatch.setattr(playbooks_tasks.evaluate_accounts, "delay", lambda **kwargs: evaluations.append(kwargs))
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob)
        champion = ContactFactory(account=account, role=ContactRole.CHAMPION)

    with django_capture_on_commit_callbacks(execute=True):
        contact_mark_left(contact=champion, left_on=TODAY, by=bob)
    assert recomputes == [(tenant_a.pk, account.pk)]

    health_tasks.recompute_accounts(tenant_id=tenant_a.pk, account_ids=[account.pk])  # what the worker runs
    assert evaluations == [{"tenant_id": tenant_a.pk, "account_ids": [account.pk]}]


@pytest.mark.django_db
def test_backdating_records_what_fires_as_fired_days_earlier_by_account(tenant_a, bob, red_alert):
    """The demo seed's history: an account's bucket (id % 2 here) says how many days back."""
    with scopes_disabled():
        accounts = [AccountFactory(tenant=tenant_a, owner=bob) for _ in range(4)]
    for account in accounts:
        _band(account, "red")
    now = timezone.now()

    _evaluate(tenant_a, now=now, backdate=engine.Backdate(days_ago=(0, 5)))

    with scopes_disabled():
        for account in accounts:
            days = 5 if account.pk % 2 else 0
            episode = Episode.objects.get(account=account)
            assert episode.opened_at == now - dt.timedelta(days=days)
            assert [(t.created_at, t.due_on) for t in _tasks(account=account)] == [
                (now - dt.timedelta(days=days), TODAY - dt.timedelta(days=days) + dt.timedelta(days=2)),
                (now - dt.timedelta(days=days), TODAY - dt.timedelta(days=days) + dt.timedelta(days=7)),
            ]


# Episodes, tasks and automated e-mails keep no database constraint on most of their links
# (playbooks.models): Django's deletion must still leave no row pointing at a deleted one.


@pytest.mark.django_db
def test_deleting_a_step_a_trigger_or_an_account_leaves_no_row_pointing_at_it(tenant_a, lena, bob, red_alert):
    from playbooks import services

    with scopes_disabled():
        kept, deleted = AccountFactory(tenant=tenant_a, owner=bob), AccountFactory(tenant=tenant_a, owner=bob)
    _band(kept, "red")
    _band(deleted, "red")
    _evaluate(tenant_a)
    with tenant_scope(tenant_a):
        services.step_delete(step=red_alert.playbook.steps.order_by("position").first())
    assert sorted((t.title, t.template_id is None) for t in _tasks(account=kept)) == [
        ("Agree a recovery plan", False),
        ("Call the champion", True),  # made from the deleted step: its text stays
    ]

    with scopes_disabled():
        deleted.delete()
    assert {t.account_id for t in _tasks()} == {kept.pk}
    with scopes_disabled():
        assert set(Episode.objects.values_list("account_id", flat=True)) == {kept.pk}

    with scopes_disabled():
        red_alert.delete()  # as the admin does: its episodes go, their tasks stay unlinked
        assert not Episode.objects.exists()
    assert [(t.account_id, t.episode_id) for t in _tasks()] == [(kept.pk, None), (kept.pk, None)]


@pytest.mark.django_db(transaction=True)
def test_deleting_a_step_waits_for_a_running_evaluation_of_its_playbook(tenant_a, red_alert):
    """A task's step link has no database constraint: an evaluation must not make tasks from a
    step between Django clearing the step's links and deleting it."""
    from playbooks import services

    with scopes_disabled():
        step = red_alert.playbook.steps.first()

    def delete() -> None:
        with tenant_scope(tenant_a):
            services.step_delete(step=step)

    # What an evaluation of the trigger holds.
    waited, deleted_after = waits_for_commit(lambda: engine.triggers_lock(trigger_ids=[red_alert.pk]), delete)

    assert waited
    assert deleted_after


def _delete_in_admin(model, obj) -> None:
    """What Django's admin does on "Delete" for a platform superuser."""
    from django.contrib import admin

    with scopes_disabled():
        admin.site._registry[model].delete_model(None, obj)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("deleted", ["account", "assignee"])
def test_deleting_an_account_or_a_user_waits_for_a_running_evaluation_and_leaves_no_row_pointing_at_it(
    tenant_a, lena, bob, red_alert, deleted
):
    """The account and assignee links have no database constraint either: an admin's deletion
    of the account or of the user must wait for an evaluation that is writing rows naming them,
    then cascade (or clear) those rows too, instead of leaving them pointing at nothing."""
    from accounts.models import Account
    from csplatform.models import User

    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob)
    _band(account, "red")
    model, doomed = (Account, account) if deleted == "account" else (User, bob)

    # The evaluation opens the episode and makes bob's task, not committed yet.
    waited, deleted_after = waits_for_commit(lambda: _evaluate(tenant_a), lambda: _delete_in_admin(model, doomed))

    assert waited
    assert deleted_after
    with scopes_disabled():
        if deleted == "account":
            assert not Episode.objects.exists()
            assert not Task.objects.exists()
        else:
            assert not User.objects.filter(pk=bob.pk).exists()
            # bob's task went to nobody; the leader's stays hers.
            assert sorted((t.title, t.assignee_id) for t in Task.objects.all()) == [
                ("Agree a recovery plan", lena.pk),
                ("Call the champion", None),
            ]


@pytest.mark.django_db(transaction=True)
def test_the_deletion_lock_is_refused_outside_a_transaction():
    from csplatform.locks import deletion_lock_exclusive, deletion_lock_shared

    for take in (deletion_lock_shared, deletion_lock_exclusive):
        with pytest.raises(RuntimeError, match=r"inside transaction\.atomic"):
            take()


@pytest.mark.django_db
def test_a_tenant_evaluation_runs_as_one_task_per_trigger_and_fires_once(tenant_a, bob, red_alert, monkeypatch):
    from playbooks import tasks as playbooks_tasks

    queued = []
    monkeypatch.setattr(playbooks_tasks.evaluate_trigger, "delay", lambda **kwargs: queued.append(kwargs))
    with scopes_disabled():
        TriggerFactory(tenant=tenant_a, playbook=red_alert.playbook, kind=TriggerKind.NO_TOUCH, params={"days": 30})
        account = AccountFactory(tenant=tenant_a, owner=bob)
        type(account).objects.update(created_at=timezone.now() - dt.timedelta(days=400))  # never touched
    _band(account, "red")

    assert playbooks_tasks.evaluate_tenant(tenant_id=tenant_a.pk) == 2
    for kwargs in queued + queued:  # each task delivered twice (acks_late): nothing fires twice
        playbooks_tasks.evaluate_trigger(**kwargs)

    with scopes_disabled():
        assert Episode.objects.filter(account=account).count() == 2
    assert len(_tasks(account=account)) == 4
