"""Handoff to plan in a real browser: the AE submits, the CSM accepts, the plan is seeded and
shared. Playwright drives Debian's Chromium; skipped, with the reason, where it is absent."""

from __future__ import annotations

import re

import pytest
from django_scopes import scopes_disabled

from accounts.models import Segment
from successplans.models import PlanShareLink
from tests.conftest import needs_chromium
from tests.factories import AccountFactory

from .factories import JourneyFactory, JourneyStepFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_chromium]


def _sign_in(browser, live_server, email):
    page = browser.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/signin/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/(accounts/mine|success/handoffs)/"))
    return page


def test_an_ae_submits_a_handoff_the_csm_accepts_and_the_seeded_plan_is_shared(
    browser, live_server, tenant_a, bob, sam
):
    with scopes_disabled():
        segment = Segment.objects.get(tenant=tenant_a, name="Low touch")
        AccountFactory(tenant=tenant_a, name="Zephyr Logistics", owner=bob, segment=segment)
        journey = JourneyFactory(segment=segment, name="Guided onboarding")
        JourneyStepFactory(journey=journey, title="Kickoff call", due_after_days=5)
        JourneyStepFactory(journey=journey, title="First dashboard shared", due_after_days=30, is_first_value=True)

    ae = _sign_in(browser, live_server, "sam@acme.example")
    ae.get_by_role("link", name="Handoffs").click()
    ae.get_by_role("link", name="New handoff").click()
    ae.get_by_label("Account", exact=True).select_option(label="Zephyr Logistics · CSM Bob Csm")
    for label, text in [
        ("Situation", "Three regional teams on spreadsheets"),
        ("Pain", "Month-end close takes ten days"),
        ("Impact", "Close in four days"),
        ("Critical event", "External audit"),
        ("Decision criteria", "ERP connector"),
    ]:
        ae.get_by_label(label, exact=True).fill(text)
    ae.get_by_label("Critical event date").fill("2027-03-31")
    ae.locator("#id_impact-0-statement").fill("Faster close")
    ae.locator("#id_impact-0-measure").fill("Days to close")
    ae.locator("#id_impact-0-baseline").fill("10")
    ae.locator("#id_impact-0-target").fill("4")
    for field in ("technical", "functional", "experience", "support"):
        ae.locator(f"#id_fit_{field}").select_option("yes")
    ae.locator("#id_fit_buy_in").select_option("partly")
    ae.get_by_role("button", name="Save and submit to CS").click()
    ae.get_by_text("Handoff submitted to Bob Csm").wait_for()
    assert "Good fit" in ae.locator("#handoff-facts").inner_text()

    csm = _sign_in(browser, live_server, "bob@acme.example")
    csm.goto(ae.url)
    csm.get_by_role("link", name="Accept").click()
    csm.get_by_role("button", name="Accept and create the plan").click()
    csm.wait_for_url(re.compile(r"/success/plans/\d+/$"))
    assert csm.locator("#milestones-title").is_visible()
    assert csm.get_by_role("cell", name="Kickoff call", exact=True).is_visible()
    assert csm.get_by_role("cell", name=re.compile("^First dashboard shared First Value")).is_visible()
    assert "Days to close" in csm.locator("#measures-title").locator("xpath=../..").inner_text()

    csm.get_by_role("button", name="Create a read-only link").click()
    shared_url = csm.locator("#share-url").input_value()
    with scopes_disabled():
        assert PlanShareLink.objects.filter(revoked_at__isnull=True).count() == 1
    customer = browser.new_page()
    customer.goto(shared_url)
    assert customer.get_by_role("heading", name="Joint impact plan").is_visible()
    assert "Kickoff call" in customer.content()
