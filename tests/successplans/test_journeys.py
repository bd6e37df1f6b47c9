"""Admins edit the impact journeys (settings > Impact journeys); nobody else may."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import Segment
from successplans.models import ImpactJourney, JourneyStep

from .factories import JourneyFactory, JourneyStepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def high(tenant_a):
    with scopes_disabled():
        return Segment.objects.get(tenant=tenant_a, name="High touch")


@pytest.fixture
def journey(high):
    with scopes_disabled():
        journey = JourneyFactory(segment=high, name="Strategic onboarding")
        JourneyStepFactory(journey=journey, title="Kickoff", due_after_days=7)
        JourneyStepFactory(journey=journey, title="First use case live", due_after_days=45, is_first_value=True)
    return journey


def _journey_post(segment, *, name="Strategic onboarding", position=0, steps=()):
    """The journey page's POST: the form, then the steps formset (three blank rows after)."""
    rows = [*steps, *([{}] * 3)]
    data = {
        "segment": segment.pk,
        "name": name,
        "description": "",
        "position": position,
        "steps-TOTAL_FORMS": len(rows),
        "steps-INITIAL_FORMS": 0,
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 30,
    }
    for index, row in enumerate(rows):
        data[f"steps-{index}-title"] = row.get("title", "")
        data[f"steps-{index}-owner_side"] = row.get("owner_side", "us")
        data[f"steps-{index}-due_after_days"] = row.get("due_after_days", "")
        if row.get("is_first_value"):
            data[f"steps-{index}-is_first_value"] = "on"
    return data


def _steps_of(journey):
    with scopes_disabled():
        return list(
            JourneyStep.objects.filter(journey=journey).values_list("title", "due_after_days", "is_first_value")
        )


def test_the_admin_edits_a_journey_and_its_steps_are_replaced(client_for, alice, high, journey):
    url = reverse("successplans:journey_edit", kwargs={"journey_id": journey.pk})
    page = client_for(alice).get(url)
    assert page.status_code == 200
    assert 'value="First use case live"' in page.content.decode()
    steps = [
        {"title": "Orchestration meeting", "due_after_days": 5},
        {"title": "Customer names the admins", "owner_side": "customer", "due_after_days": 10},
        {"title": "First report live", "due_after_days": 30, "is_first_value": True},
    ]
    response = client_for(alice).post(url, _journey_post(high, name="Strategic onboarding v2", position=2, steps=steps))
    assert response.status_code == 302
    with scopes_disabled():
        journey.refresh_from_db()
        assert JourneyStep.objects.get(journey=journey, title="Customer names the admins").owner_side == "customer"
    assert (journey.name, journey.position) == ("Strategic onboarding v2", 2)
    assert sorted(_steps_of(journey)) == [
        ("Customer names the admins", 10, False),
        ("First report live", 30, True),
        ("Orchestration meeting", 5, False),
    ]


@pytest.mark.parametrize(
    ("step", "field", "message"),
    [
        ({"title": "", "due_after_days": 10}, "title", "Name the step"),
        ({"title": "Kickoff", "due_after_days": ""}, "due_after_days", "how many days"),
        ({"title": "Kickoff", "due_after_days": "-3"}, "due_after_days", "greater than or equal to 0"),
        ({"title": "Kickoff", "due_after_days": "soon"}, "due_after_days", "whole number"),
    ],
)
def test_a_bad_step_names_its_field_and_writes_nothing(client_for, alice, high, journey, step, field, message):
    before = _steps_of(journey)
    url = reverse("successplans:journey_edit", kwargs={"journey_id": journey.pk})
    response = client_for(alice).post(
        url, _journey_post(high, name="Renamed", steps=[{"title": "Fine", "due_after_days": 3}, step])
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert f'id="id_steps-1-{field}_error"' in html
    assert message in html.split(f'id="id_steps-1-{field}_error"')[1].split("</div>")[0]
    assert _steps_of(journey) == before
    with scopes_disabled():
        assert ImpactJourney.objects.get(pk=journey.pk).name == "Strategic onboarding"


def test_a_segment_holds_at_most_three_journeys(client_for, alice, high, journey):
    with scopes_disabled():
        JourneyFactory(segment=high, name="Second")
        JourneyFactory(segment=high, name="Third")
    response = client_for(alice).post(
        reverse("successplans:journey_create"),
        _journey_post(high, name="Fourth", steps=[{"title": "Kickoff", "due_after_days": 3}]),
    )
    assert response.status_code == 422
    assert "has 3 journeys already" in response.content.decode().split('id="id_segment_error"')[1].split("</div>")[0]
    with scopes_disabled():
        assert ImpactJourney.objects.filter(segment=high).count() == 3
    # Editing one of the three stays possible.
    edit = reverse("successplans:journey_edit", kwargs={"journey_id": journey.pk})
    steps = [{"title": "Kickoff", "due_after_days": 3}]
    assert client_for(alice).post(edit, _journey_post(high, name="Renamed", steps=steps)).status_code == 302


def test_a_journey_has_at_most_one_first_value_step(client_for, alice, high, journey):
    before = _steps_of(journey)
    steps = [
        {"title": "First report", "due_after_days": 20, "is_first_value": True},
        {"title": "First dashboard", "due_after_days": 30, "is_first_value": True},
    ]
    url = reverse("successplans:journey_edit", kwargs={"journey_id": journey.pk})
    response = client_for(alice).post(url, _journey_post(high, steps=steps))
    assert response.status_code == 422
    assert "Mark one step as First Value, not several." in response.content.decode()
    assert _steps_of(journey) == before


def test_a_duplicate_journey_name_in_the_segment_is_a_name_error(client_for, alice, high, journey):
    response = client_for(alice).post(
        reverse("successplans:journey_create"),
        _journey_post(high, name="strategic ONBOARDING", steps=[{"title": "Kickoff", "due_after_days": 3}]),
    )
    assert response.status_code == 422
    assert 'id="id_name_error"' in response.content.decode()
    with scopes_disabled():
        assert ImpactJourney.objects.filter(segment=high).count() == 1


def test_the_admin_deletes_a_journey_and_plans_keep_their_milestones(client_for, alice, bob, tenant_a, journey):
    from .factories import MilestoneFactory, PlanFactory

    with scopes_disabled():
        plan = PlanFactory(account__tenant=tenant_a, journey=journey)
        MilestoneFactory(plan=plan, title="Kickoff")
    response = client_for(alice).post(reverse("successplans:journey_delete", kwargs={"journey_id": journey.pk}))
    assert response.status_code == 302
    with scopes_disabled():
        assert not ImpactJourney.objects.filter(pk=journey.pk).exists()
        assert not JourneyStep.objects.filter(journey_id=journey.pk).exists()
        plan.refresh_from_db()
        assert plan.journey_id is None
        assert plan.milestones.get().title == "Kickoff"


@pytest.mark.parametrize("who", ["lena", "bob", "sam"])
def test_only_admins_see_or_change_journeys(request, client_for, high, journey, who):
    client = client_for(request.getfixturevalue(who))
    edit = reverse("successplans:journey_edit", kwargs={"journey_id": journey.pk})
    steps = [{"title": "Hijacked", "due_after_days": 1}]
    assert client.get(reverse("successplans:journey_list")).status_code == 403
    assert client.get(reverse("successplans:journey_create")).status_code == 403
    assert client.get(edit).status_code == 403
    assert (
        client.post(reverse("successplans:journey_create"), _journey_post(high, name="New", steps=steps)).status_code
        == 403
    )
    assert client.post(edit, _journey_post(high, name="Hijacked", steps=steps)).status_code == 403
    assert client.post(reverse("successplans:journey_delete", kwargs={"journey_id": journey.pk})).status_code == 403
    with scopes_disabled():
        assert list(ImpactJourney.objects.values_list("name", flat=True)) == ["Strategic onboarding"]
    assert ("Hijacked", 1, False) not in _steps_of(journey)
