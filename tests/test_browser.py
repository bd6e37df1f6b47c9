"""A CSM's day in a real browser: Playwright drives Debian's Chromium (apt-get install
chromium) against the live server. Skipped, with the reason, where Chromium is absent."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django_scopes import scopes_disabled

from accounts.models import Activity
from tests.conftest import needs_chromium
from tests.factories import AccountFactory, ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture
def browser_page(browser):
    page = browser.new_page()
    page.set_default_timeout(10_000)
    return page


def test_csm_signs_in_filters_the_book_opens_an_account_and_logs_an_activity(
    browser_page, live_server, tenant_a, bob, bea
):
    with scopes_disabled():
        zephyr = AccountFactory(tenant=tenant_a, name="Zephyr Logistics", owner=bob, arr=Decimal("120000"))
        AccountFactory(tenant=tenant_a, name="Aurora Health", owner=bob, arr=Decimal("80000"))
        AccountFactory(tenant=tenant_a, name="Bea's Account", owner=bea)
        ContactFactory(account=zephyr, name="Maya Chen", title="VP Operations")
    page = browser_page

    page.goto(f"{live_server.url}/signin/")
    page.get_by_label("E-mail").fill("bob@acme.example")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url(re.compile(r"/accounts/mine/"))
    results = page.locator("#portfolio-results")
    assert results.get_by_role("link", name="Zephyr Logistics").is_visible()
    assert results.get_by_role("link", name="Aurora Health").is_visible()
    assert results.get_by_role("link", name="Bea's Account").count() == 0

    page.get_by_label("Search").fill("zeph")
    page.wait_for_url(re.compile(r"q=zeph"))  # htmx pushed the filter into the URL
    results.get_by_role("link", name="Aurora Health").wait_for(state="detached")
    assert results.get_by_role("link", name="Zephyr Logistics").is_visible()

    results.get_by_role("link", name="Zephyr Logistics").click()
    page.wait_for_url(re.compile(rf"/accounts/{zephyr.pk}/$"))
    assert page.get_by_role("heading", name="Zephyr Logistics").is_visible()

    page.get_by_role("button", name="New activity").click()
    form = page.locator("#activity-form")
    form.get_by_label("When").fill("2026-11-20T10:30")
    form.get_by_role("checkbox", name="Bob Csm").check()
    form.get_by_role("checkbox", name=re.compile("Maya Chen")).check()
    form.get_by_label("Purpose").fill("Agree the Q1 success criteria")
    form.get_by_label("Next step", exact=True).fill("Send the written recap")
    form.get_by_role("button", name="Log activity").click()

    timeline = page.locator("#timeline")
    timeline.get_by_text("Agree the Q1 success criteria").wait_for()
    assert timeline.get_by_text("Send the written recap").is_visible()
    assert page.url.endswith(f"/accounts/{zephyr.pk}/")  # no full reload, no redirect away
    with scopes_disabled():
        logged = Activity.objects.get(account=zephyr)
        assert logged.purpose == "Agree the Q1 success criteria"
        assert [user.email for user in logged.team.all()] == ["bob@acme.example"]
        assert [contact.name for contact in logged.contacts.all()] == ["Maya Chen"]
