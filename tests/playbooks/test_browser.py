"""A CSM completes a playbook task from the inbox in a real browser and sees it on the account's
timeline. Playwright drives Debian's Chromium; skipped, with the reason, where it is absent."""

from __future__ import annotations

import re

import pytest
from django_scopes import scopes_disabled

from accounts.services import tenant_today
from playbooks.models import Task, TaskStatus
from tests.conftest import needs_chromium
from tests.factories import AccountFactory

from .page_factories import TaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_chromium]


def test_csm_completes_a_task_from_the_inbox_and_sees_it_on_the_timeline(browser, live_server, tenant_a, bob):
    today = tenant_today(tenant_a)
    with scopes_disabled():
        zephyr = AccountFactory(tenant=tenant_a, name="Zephyr Logistics", owner=bob)
        task = TaskFactory(
            account=zephyr,
            assignee=bob,
            title="Call the new champion",
            purpose="The champion changed: rebuild the relationship",
            due_on=today,
        )
    page = browser.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/signin/")
    page.get_by_label("E-mail").fill("bob@acme.example")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/accounts/mine/"))

    assert page.locator("#nav-task-count").inner_text() == "1"
    page.get_by_role("link", name=re.compile(r"^Tasks")).click()
    page.wait_for_url(re.compile(r"/tasks/$"))
    row = page.locator(f"#task-{task.pk}")
    assert row.get_by_text("The champion changed: rebuild the relationship").is_visible()

    row.get_by_role("link", name=re.compile("Complete")).click()
    form = page.get_by_role("form", name=re.compile("Complete"))
    form.get_by_label("Outcome").fill("Met Dana, the new champion; QBR booked for next month.")
    form.get_by_role("button", name="Mark done").click()
    page.locator(f"#task-{task.pk}").get_by_text("Done: logged on the account's timeline.").wait_for()
    assert page.url.endswith("/tasks/")  # updated in place, no reload
    with scopes_disabled():
        assert Task.objects.get(pk=task.pk).status == TaskStatus.DONE

    page.locator(f"#task-{task.pk}").get_by_role("link", name="Zephyr Logistics").click()
    page.wait_for_url(re.compile(rf"/accounts/{zephyr.pk}/$"))
    timeline = page.locator("#timeline")
    assert timeline.get_by_text("Call the new champion").is_visible()
    assert timeline.get_by_text("Met Dana, the new champion; QBR booked for next month.").is_visible()
