"""Tasks through the API: read, filter, complete (through playbooks.services.task_complete)."""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from accounts.models import Activity
from playbooks.models import Task, TaskStatus
from tests.factories import AccountFactory
from tests.playbooks.page_factories import TaskFactory

pytestmark = pytest.mark.django_db

JSON = "application/json"


@pytest.fixture
def task(tenant_a, bob):
    with scopes_disabled():
        return TaskFactory(account=AccountFactory(tenant=tenant_a, owner=bob), assignee=bob)


def test_tasks_are_listed_and_filtered(api, task, bob):
    rows = api.get(f"/api/v1/tasks/?assignee={bob.pk}&status=open").json()["results"]
    assert [row["id"] for row in rows] == [task.pk]
    assert api.get("/api/v1/tasks/?status=done").json()["results"] == []


def test_completing_a_task_logs_the_outcome_on_the_timeline(api, task, alice, tenant_a):
    response = api.post(f"/api/v1/tasks/{task.pk}/complete/", {"outcome": "Agreed a rescue plan"}, content_type=JSON)
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "done"
    with scopes_disabled():
        done = Task.objects.get(pk=task.pk)
        activity = Activity.objects.get(pk=done.activity_id)
    assert (done.status, done.completed_by_id) == (TaskStatus.DONE, alice.pk)
    assert activity.summary == "Agreed a rescue plan"
    assert activity.created_by_id == alice.pk
    again = api.post(f"/api/v1/tasks/{task.pk}/complete/", {"outcome": "Twice"}, content_type=JSON)
    assert again.status_code == 400


def test_an_empty_outcome_names_the_field(api, task):
    response = api.post(f"/api/v1/tasks/{task.pk}/complete/", {"outcome": ""}, content_type=JSON)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "outcome"


def test_a_read_only_key_cannot_complete(api_client, read_key_a, task):
    response = api_client(read_key_a).post(f"/api/v1/tasks/{task.pk}/complete/", {"outcome": "x"}, content_type=JSON)
    assert response.status_code == 403
