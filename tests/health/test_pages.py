"""The admin's "Health score" settings page and the leader view."""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import Segment, TouchModel
from accounts.services import tenant_today
from csplatform.tenancy import tenant_scope
from health import services
from health.forms import HealthDefinitionForm, thresholds_text
from health.models import HealthConfig, HealthScore
from health.scoring import DEFAULT_DEFINITION, MEASURES
from tests.factories import AccountFactory

from .factories import SurveyResponseFactory

pytestmark = pytest.mark.django_db
SETTINGS_URL = reverse("health:settings")
LEADER_URL = reverse("health:leader")


def form_data(definition=DEFAULT_DEFINITION, **overrides) -> dict:
    data = {f"half_{half}": weight for half, weight in definition["halves"].items()}
    for measure in MEASURES:
        spec = definition["measures"][measure.key]
        data[f"{measure.key}_weight"] = spec["weight"]
        data[f"{measure.key}_thresholds"] = thresholds_text(spec["thresholds"])
        data[f"{measure.key}_else"] = spec["else_points"]
    data.update(band_green=definition["bands"]["green"], band_yellow=definition["bands"]["yellow"])
    data.update(overrides)
    return data


@pytest.fixture
def scored(tenant_a, bob, bea):
    """Six scored low-touch accounts (three of bob's, three of bea's), ARR 100 each."""
    today = tenant_today(tenant_a)
    with scopes_disabled():
        low = Segment.objects.get(tenant=tenant_a, touch_model=TouchModel.LOW)
        accounts = [
            AccountFactory(tenant=tenant_a, segment=low, owner=owner, arr=Decimal(100))
            for owner in (bob, bob, bob, bea, bea, bea)
        ]
        for account, nps in zip(accounts, (10, 9, 2, 1, 8, 10), strict=True):
            SurveyResponseFactory(account=account, score=nps, responded_on=today)
    with tenant_scope(tenant_a):
        services.health_recompute(tenant=tenant_a, as_of=today)
    return accounts


def test_only_admins_reach_the_health_settings(client_for, alice, lena, bob):
    assert client_for(bob).get(SETTINGS_URL).status_code == 403
    assert client_for(lena).get(SETTINGS_URL).status_code == 403
    response = client_for(alice).get(SETTINGS_URL)
    assert response.status_code == 200
    assert "Success-plan milestones on track" in response.content.decode()


def test_weights_that_do_not_add_up_and_unordered_thresholds_are_field_errors_and_nothing_is_written(
    client_for, alice, tenant_a
):
    data = form_data(half_csm=50, nps_thresholds="5:30, 9:100", action="publish")
    data["review_weight"] = 99
    response = client_for(alice).post(SETTINGS_URL, data)
    assert response.status_code == 422
    form = response.context["form"]
    assert "add up to 100 (they add up to 90)" in form.errors["half_csm"][0]
    assert "strictly descending" in form.errors["nps_thresholds"][0]
    assert "add up to 100" in form.errors["last_touch_weight"][0]  # the CSM half's measures
    bad = client_for(alice).post(SETTINGS_URL, form_data(support_load_thresholds="one:two", action="publish"))
    assert "raw value:points" in bad.context["form"].errors["support_load_thresholds"][0]
    with scopes_disabled():
        assert list(HealthConfig.objects.filter(tenant=tenant_a).values_list("version", flat=True)) == [1]


def test_a_segment_band_needs_both_thresholds(tenant_a):
    with scopes_disabled():
        segments = list(Segment.objects.filter(tenant=tenant_a))
    form = HealthDefinitionForm(
        form_data(**{f"band_{segments[0].pk}_green": 80}), definition=DEFAULT_DEFINITION, segments=segments
    )
    assert not form.is_valid()
    assert "both thresholds" in form.errors[f"band_{segments[0].pk}_green"][0]


def test_preview_counts_band_moves_and_writes_nothing(
    client_for, alice, tenant_a, scored, django_assert_max_num_queries
):
    client = client_for(alice)
    with django_assert_max_num_queries(30):
        response = client.post(SETTINGS_URL, form_data(band_green=100, band_yellow=99, action="preview"))
    assert response.status_code == 200
    preview = response.context["preview"]
    with scopes_disabled():
        not_red = HealthScore.objects.filter(tenant=tenant_a).exclude(band="red").exclude(score=100).count()
        assert HealthConfig.objects.filter(tenant=tenant_a).count() == 1
    assert preview["moved"] == not_red >= 1
    assert 'id="health-preview"' in response.content.decode()


def test_publishing_makes_a_new_version_and_enqueues_a_full_recompute_after_commit(
    client_for, alice, tenant_a, scored, django_capture_on_commit_callbacks
):
    with (
        mock.patch("health.tasks.recompute_tenant.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client_for(alice).post(SETTINGS_URL, form_data(half_csm=50, half_customer=50, action="publish"))
    assert response.status_code == 302
    delay.assert_called_once_with(tenant_id=tenant_a.pk)
    with scopes_disabled():
        config = HealthConfig.objects.get(tenant=tenant_a, version=2)
    assert config.definition["halves"] == {"csm": 50, "customer": 50}
    assert config.created_by == alice


def test_the_settings_home_links_the_health_settings(client_for, alice):
    assert SETTINGS_URL in client_for(alice).get(reverse("settings:home")).content.decode()


def test_the_leader_view_shows_bands_by_segment_and_csm_with_arr_at_risk(
    client_for, lena, bob, tenant_a, scored, django_assert_max_num_queries
):
    client = client_for(lena)
    with django_assert_max_num_queries(12):
        response = client.get(LEADER_URL)
    assert response.status_code == 200
    by_owner = {group.label: group for group in response.context["by_owner"]}
    with scopes_disabled():
        bands = list(HealthScore.objects.filter(account__owner=bob).values_list("band", flat=True))
    assert by_owner["Bob Csm"].counts.get("red", 0) == bands.count("red")
    assert by_owner["Bob Csm"].arr_at_risk == 100 * bands.count("red")
    (low,) = [group for group in response.context["by_segment"] if group.total]
    assert low.total == 6
    html = response.content.decode()
    assert 'id="health-leader-chart"' in html  # the chart...
    assert 'id="health-by-segment"' in html  # ...and its table
    assert bands.count("red") >= 1  # NPS 2 with little else recorded
    assert low.arr_at_risk == 100 * low.counts["red"]
    assert f"?band=red&amp;segment={low.key}" in html
    assert f"?band=red&amp;owner={bob.pk}" in html
    assert reverse("health:leader") in client.get(reverse("accounts:all_accounts")).content.decode()  # nav


def test_csms_cannot_see_the_leader_view(client_for, bob):
    assert client_for(bob).get(LEADER_URL).status_code == 403


def test_a_drill_down_link_filters_the_portfolio_by_band_and_segment(client_for, lena, tenant_a, scored):
    with scopes_disabled():
        red = HealthScore.objects.filter(tenant=tenant_a, band="red").count()
        segment = scored[0].segment_id
    response = client_for(lena).get(reverse("accounts:all_accounts"), {"band": "red", "segment": segment})
    assert response.context["totals"]["count"] == red


def test_the_leader_view_is_scoped_to_the_tenant(client_for, charlie, tenant_b, scored):
    # charlie is a CSM; make a leader of tenant B and check tenant A's accounts do not appear.
    from csplatform.models import Membership

    with scopes_disabled():
        Membership.objects.filter(user=charlie).update(role="leader")
    response = client_for(charlie).get(LEADER_URL)
    assert sum(group.total for group in response.context["by_segment"]) == 0
