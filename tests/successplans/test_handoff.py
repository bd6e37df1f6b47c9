"""The SPICED handoff: fit category, win story, completeness, and the submit / send back /
accept flow with its role rules and wrong-state refusals."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import Segment
from csplatform.tenancy import tenant_scope
from successplans.models import Handoff, HandoffStatus, Measure, Milestone, SuccessPlan, fit_category
from successplans.services import HandoffStateError, handoff_accept, handoff_save, handoff_send_back, handoff_submit
from tests.factories import AccountFactory

from .factories import HandoffFactory, ImpactStatementFactory, JourneyFactory, JourneyStepFactory

pytestmark = pytest.mark.django_db

ALL_YES = dict.fromkeys(("fit_technical", "fit_functional", "fit_experience", "fit_support", "fit_buy_in"), "yes")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "good"),
        ({"fit_support": "partly"}, "good"),
        ({"fit_support": "partly", "fit_buy_in": "partly"}, "stretch"),
        ({"fit_experience": "no"}, "stretch"),
        ({"fit_technical": "no"}, "bad"),
        ({"fit_functional": "no", "fit_support": "partly"}, "bad"),
        ({"fit_buy_in": ""}, ""),
    ],
)
def test_fit_category_rule(changes, expected):
    assert fit_category({**ALL_YES, **changes}) == expected


def _form_data(account=None, /, **changes):
    data = {
        "situation": "Three finance teams on spreadsheets",
        "pain": "Month-end close takes ten days",
        "impact": "Close in four days",
        "critical_event": "External audit",
        "critical_event_date": "2026-09-30",
        "decision_criteria": "ERP connector",
        **ALL_YES,
        "fit_technical": "no",
        "win_protagonist_name": "Maya Chen",
        "win_protagonist_title": "CFO",
        "win_problem": "Close took too long",
        "win_decision_criteria": "Connector and audit trail",
        "impact-TOTAL_FORMS": "2",
        "impact-INITIAL_FORMS": "0",
        "impact-0-statement": "Faster close",
        "impact-0-measure": "Days to close",
        "impact-0-baseline": "10",
        "impact-0-target": "4",
        "impact-0-unit": "days",
        "then": "save",
    }
    if account is not None:
        data["account"] = str(account.pk)
    data.update(changes)
    return data


def test_sales_drafts_a_handoff_with_impact_statements_and_a_bad_fit_is_flagged(client_for, tenant_a, sam, lena):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, name="Zephyr")
    response = client_for(sam).post(reverse("successplans:handoff_create"), _form_data(account))
    assert response.status_code == 302
    with scopes_disabled():
        handoff = Handoff.objects.get(account=account)
        assert handoff.author == sam
        assert handoff.status == HandoffStatus.DRAFT
        assert handoff.fit_category == "bad"
        assert [(s.measure, s.target) for s in handoff.impact_statements.all()] == [("Days to close", Decimal("4"))]
        assert handoff.completeness_percent(impact_statement_count=1) == 100
    handoff_submit_url = reverse("successplans:handoff_submit", kwargs={"handoff_id": handoff.pk})
    assert client_for(sam).post(handoff_submit_url).status_code == 302
    listing = client_for(lena).get(reverse("successplans:handoff_list") + "?flagged=1")
    assert "Zephyr" in listing.content.decode()
    assert "flagged as bad fit" in client_for(lena).get(reverse("successplans:handoff_list")).content.decode()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"win_problem": "ACME analytics made it slow"}, "win_problem", "Leave our company"),
        ({"fit_technical": "maybe"}, "fit_technical", "Select a valid choice"),
        ({"impact-0-target": ""}, "impact-0-target", "Give the target value"),
        ({"critical_event_date": "30/13/2026"}, "critical_event_date", "Enter a valid date"),
        ({"account": ""}, "account", "Choose the new account, or name it below"),
    ],
)
def test_bad_handoff_input_gives_a_field_error_and_writes_nothing(client_for, tenant_a, sam, changes, field, message):
    tenant_a.name = "Acme Analytics"
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a)
    response = client_for(sam).post(reverse("successplans:handoff_create"), _form_data(account, **changes))
    assert response.status_code == 422
    html = response.content.decode()
    assert f'id="id_{field}_error"' in html
    assert message in html
    with scopes_disabled():
        assert not Handoff.objects.exists()


def test_win_story_may_mention_a_word_that_only_contains_the_vendor_name(tenant_a):
    from successplans.services import win_story_vendor_check

    win_story_vendor_check(tenant=tenant_a, texts={"win_problem": "Acme Analyticsville logistics"})


def test_a_csm_cannot_draft_and_a_sales_user_cannot_accept(client_for, tenant_a, bob, sam):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob)
        handoff = HandoffFactory(account=account, author=sam, status=HandoffStatus.SUBMITTED)
    assert client_for(bob).get(reverse("successplans:handoff_create")).status_code == 403
    accept = reverse("successplans:handoff_accept", kwargs={"handoff_id": handoff.pk})
    assert client_for(sam).post(accept, {"start_date": "2026-03-01"}).status_code == 403


def test_another_csm_cannot_review_a_handoff_of_bobs_account(client_for, tenant_a, bob, bea, sam):
    with scopes_disabled():
        handoff = HandoffFactory(account=AccountFactory(tenant=tenant_a, owner=bob), status=HandoffStatus.SUBMITTED)
    url = reverse("successplans:handoff_send_back", kwargs={"handoff_id": handoff.pk})
    assert client_for(bea).post(url, {"comment": "x"}).status_code == 403


def test_submit_refuses_an_incomplete_handoff_with_what_is_missing(tenant_a, sam):
    with scopes_disabled():
        handoff = HandoffFactory(account=AccountFactory(tenant=tenant_a), pain="", fit_support="", fit_category="")
    with tenant_scope(tenant_a), pytest.raises(Exception, match="pain, a measurable impact statement") as info:
        handoff_submit(handoff=handoff, by=sam)
    assert "every fit check answer" in str(info.value)
    with scopes_disabled():
        handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.DRAFT


def test_send_back_then_resubmit_then_accept_seeds_the_plan_from_the_segment_journey(client_for, tenant_a, bob, sam):
    with scopes_disabled():
        segment = Segment.objects.get(tenant=tenant_a, name="Low touch")
        account = AccountFactory(tenant=tenant_a, owner=bob, segment=segment, customer_since=dt.date(2026, 2, 20))
        handoff = HandoffFactory(account=account, author=sam)
        ImpactStatementFactory(handoff=handoff)
        journey = JourneyFactory(segment=segment, name="Low-touch onboarding")
        JourneyStepFactory(journey=journey, title="Kickoff", due_after_days=7)
        JourneyStepFactory(journey=journey, title="First report live", due_after_days=30, is_first_value=True)
        JourneyStepFactory(journey=journey, title="Customer invites users", owner_side="customer", due_after_days=45)
    sales, csm = client_for(sam), client_for(bob)
    detail = reverse("successplans:handoff_detail", kwargs={"handoff_id": handoff.pk})
    assert sales.post(reverse("successplans:handoff_submit", kwargs={"handoff_id": handoff.pk})).status_code == 302

    send_back = reverse("successplans:handoff_send_back", kwargs={"handoff_id": handoff.pk})
    response = csm.post(send_back, {"comment": ""})
    assert response.status_code == 422
    assert 'id="id_comment_error"' in response.content.decode()
    assert csm.post(send_back, {"comment": "Name the critical event's owner"}).status_code == 302
    page = sales.get(detail).content.decode()
    assert "Sent back" in page
    assert "Name the critical event&#x27;s owner" in page

    sales.post(reverse("successplans:handoff_submit", kwargs={"handoff_id": handoff.pk}))
    response = csm.post(
        reverse("successplans:handoff_accept", kwargs={"handoff_id": handoff.pk}),
        {"start_date": "2026-03-02", "journey": str(journey.pk)},
    )
    with scopes_disabled():
        plan = SuccessPlan.objects.get(account=account)
        assert response["Location"] == reverse("successplans:plan_detail", kwargs={"plan_id": plan.pk})
        milestones = list(Milestone.objects.filter(plan=plan).order_by("due_date"))
        handoff.refresh_from_db()
        measure = Measure.objects.get(plan=plan)
    assert handoff.status == HandoffStatus.ACCEPTED
    assert [(m.title, m.due_date, m.owner_side, m.owner_user_id) for m in milestones] == [
        ("Kickoff", dt.date(2026, 3, 9), "us", bob.pk),
        ("First report live", dt.date(2026, 4, 1), "us", bob.pk),
        ("Customer invites users", dt.date(2026, 4, 16), "customer", None),
    ]
    assert (plan.first_value_goal, plan.first_value_target_date) == ("First report live", dt.date(2026, 4, 1))
    assert (measure.name, measure.baseline, measure.target, measure.current) == ("Days to close", 10, 4, 10)


def test_wrong_state_actions_are_refused_with_a_message_and_change_nothing(client_for, tenant_a, bob, sam):
    with scopes_disabled():
        handoff = HandoffFactory(account=AccountFactory(tenant=tenant_a, owner=bob), author=sam)
    with tenant_scope(tenant_a):
        with pytest.raises(HandoffStateError):
            handoff_accept(handoff=handoff, by=bob, start_date=dt.date(2026, 3, 1))
        with pytest.raises(HandoffStateError):
            handoff_send_back(handoff=handoff, by=bob, comment="no")
    response = client_for(bob).post(
        reverse("successplans:handoff_accept", kwargs={"handoff_id": handoff.pk}),
        {"start_date": "2026-03-01"},
        follow=True,
    )
    assert "Only a submitted handoff can be accepted" in response.content.decode()
    with scopes_disabled():
        assert not SuccessPlan.objects.exists()
        handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.DRAFT


def test_an_accepted_handoff_can_no_longer_be_edited(client_for, tenant_a, sam):
    with scopes_disabled():
        handoff = HandoffFactory(account=AccountFactory(tenant=tenant_a), author=sam, status=HandoffStatus.ACCEPTED)
    response = client_for(sam).get(reverse("successplans:handoff_edit", kwargs={"handoff_id": handoff.pk}), follow=True)
    assert "can no longer be edited" in response.content.decode()


def test_age_and_completeness_show_in_the_list_with_bounded_queries(
    client_for, tenant_a, lena, sam, django_assert_max_num_queries
):
    with scopes_disabled():
        for number in range(6):
            handoff = HandoffFactory(account=AccountFactory(tenant=tenant_a), author=sam, pain="" if number else "x")
            ImpactStatementFactory(handoff=handoff)
        Handoff.objects.update(created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    client = client_for(lena)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("successplans:handoff_list"))
    html = response.content.decode()
    assert html.count('<tr id="handoff-') == 6
    # The factory fills 12 of the 16 items (no win story): 75%; without the pain 11 of 16: 69%.
    assert html.count(">75%<") == 1
    assert html.count(">69%<") == 5
    from accounts.services import tenant_today

    age = (tenant_today(tenant_a) - dt.date(2026, 1, 1)).days
    assert html.count(f'<td class="text-end num">{age}</td>') == 6


def test_completeness_counts_the_sixteen_items(tenant_a):
    with scopes_disabled():
        handoff = HandoffFactory.build(tenant=tenant_a)
    assert handoff.completeness_percent(impact_statement_count=1) == 75
    handoff.win_protagonist_name = "Maya"
    assert handoff.completeness_percent(impact_statement_count=0) == 75


def test_only_new_accounts_without_a_plan_are_offered_for_a_handoff_and_a_planned_one_is_refused(
    client_for, tenant_a, sam
):
    """Found walking the demo: a handoff of an account whose plan was started without one
    could be submitted but never accepted."""
    from .factories import PlanFactory

    with scopes_disabled():
        planned = AccountFactory(tenant=tenant_a, name="Planned Already")
        PlanFactory(account=planned)
        AccountFactory(tenant=tenant_a, name="Brand New", lifecycle_stage="handoff")
        AccountFactory(tenant=tenant_a, name="Long Standing", lifecycle_stage="adoption")
    page = client_for(sam).get(reverse("successplans:handoff_create")).content.decode()
    choices = page.split('id="id_account"')[1].split("</select>")[0]
    assert "Brand New · CSM unassigned" in choices
    assert "Planned Already" not in choices
    assert "Long Standing" not in choices
    with tenant_scope(tenant_a), pytest.raises(ValidationError) as refused:
        handoff_save(tenant=tenant_a, author=sam, account=planned, fields={}, impact_statements=[])
    assert "has a joint impact plan already" in refused.value.message_dict["account"][0]
    with scopes_disabled():
        assert not Handoff.objects.exists()
