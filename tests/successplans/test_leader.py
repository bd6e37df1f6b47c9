"""What leaders get: the TTFV chart by segment, and acknowledging bad-fit handoffs."""

import datetime as dt
import json

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import Segment
from csplatform.tenancy import tenant_scope
from successplans.models import Handoff
from successplans.services import handoff_save
from tests.factories import AccountFactory

from .factories import HandoffFactory, PlanFactory

pytestmark = pytest.mark.django_db


def test_the_ttfv_chart_draws_the_distribution_by_segment_and_the_table_says_the_same(client_for, tenant_a, lena):
    with scopes_disabled():
        high = Segment.objects.get(tenant=tenant_a, name="High touch")
        low = Segment.objects.get(tenant=tenant_a, name="Low touch")
        for segment, days in ((high, 20), (high, 75), (high, 80), (low, 120)):
            account = AccountFactory(tenant=tenant_a, segment=segment, customer_since=dt.date(2026, 1, 1))
            PlanFactory(account=account, first_value_met_on=dt.date(2026, 1, 1) + dt.timedelta(days=days))
    html = client_for(lena).get(reverse("successplans:insights")).content.decode()
    assert 'id="ttfv-chart"' in html
    assert "vendor/chartjs/chart.umd.min.js" in html
    chart = json.loads(html.split('id="ttfv-data" type="application/json">')[1].split("</script>")[0])
    assert chart["labels"] == ["0-30 days", "31-60 days", "61-90 days", "over 90 days"]
    assert chart["datasets"] == [
        {"label": "High touch", "data": [1, 0, 2, 0]},
        {"label": "Low touch", "data": [0, 0, 0, 1]},
    ]
    # The table is the chart's text alternative: the same numbers.
    table = html.split('id="ttfv-by-segment"')[1].split("</table>")[0]
    assert "0-30 days: 1 · 31-60 days: 0 · 61-90 days: 2 · over 90 days: 0" in table
    assert "0-30 days: 0 · 31-60 days: 0 · 61-90 days: 0 · over 90 days: 1" in table


def test_without_any_first_value_there_is_no_chart_only_the_empty_table(client_for, tenant_a, lena):
    html = client_for(lena).get(reverse("successplans:insights")).content.decode()
    assert 'id="ttfv-chart"' not in html
    assert "No plan has met First Value yet." in html


@pytest.fixture
def bad_fit(tenant_a, bob, sam):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, name="Misfit Corp", owner=bob)
        return HandoffFactory(account=account, author=sam, status="submitted", fit_technical="no", fit_category="bad")


def test_a_leader_acknowledges_a_bad_fit_with_a_note_and_it_leaves_the_flagged_list(client_for, bad_fit, lena):
    client = client_for(lena)
    listed = client.get(reverse("successplans:handoff_list") + "?flagged=1").content.decode()
    assert "Misfit Corp" in listed
    assert "Misfit Corp" in client.get(reverse("successplans:insights")).content.decode()
    detail = reverse("successplans:handoff_detail", kwargs={"handoff_id": bad_fit.pk})
    url = reverse("successplans:handoff_acknowledge", kwargs={"handoff_id": bad_fit.pk})
    assert url in client.get(detail).content.decode()

    response = client.post(url, {"note": "Go ahead with two extra onboarding sessions."})
    assert response.status_code == 302
    with scopes_disabled():
        bad_fit.refresh_from_db()
    assert bad_fit.flag_acknowledged_by == lena
    assert bad_fit.flag_acknowledged_at is not None
    assert bad_fit.flag_note == "Go ahead with two extra onboarding sessions."
    assert not bad_fit.is_flagged
    listed = client.get(reverse("successplans:handoff_list") + "?flagged=1").content.decode()
    assert "Misfit Corp" not in listed.split('id="handoff-results"')[1]
    insights = client.get(reverse("successplans:insights")).content.decode()
    assert "Misfit Corp" not in insights.split('id="flagged-handoffs"')[1].split("</ul>")[0]
    page = client.get(detail).content.decode()
    assert "acknowledged by Lena Leader" in page
    assert "two extra onboarding sessions" in page
    # The handoff stays a bad fit and in the unfiltered list.
    assert bad_fit.fit_category == "bad"
    assert "Misfit Corp" in client.get(reverse("successplans:handoff_list")).content.decode()


def test_acknowledging_needs_a_note_and_writes_nothing_without_one(client_for, bad_fit, lena):
    url = reverse("successplans:handoff_acknowledge", kwargs={"handoff_id": bad_fit.pk})
    response = client_for(lena).post(url, {"note": "  "})
    assert response.status_code == 422
    assert "Say what you decided" in response.content.decode().split('id="id_note_error"')[1].split("</div>")[0]
    with scopes_disabled():
        assert Handoff.objects.get(pk=bad_fit.pk).flag_acknowledged_at is None


@pytest.mark.parametrize("who", ["bob", "sam"])
def test_only_leaders_acknowledge(request, client_for, bad_fit, who):
    client = client_for(request.getfixturevalue(who))
    url = reverse("successplans:handoff_acknowledge", kwargs={"handoff_id": bad_fit.pk})
    assert client.get(url).status_code == 403
    assert client.post(url, {"note": "Fine by me"}).status_code == 403
    with scopes_disabled():
        assert Handoff.objects.get(pk=bad_fit.pk).flag_acknowledged_at is None


def test_a_handoff_that_is_not_flagged_cannot_be_acknowledged(client_for, tenant_a, bad_fit, lena, alice):
    with scopes_disabled():
        good = HandoffFactory(account=AccountFactory(tenant=tenant_a), status="submitted")
    url = reverse("successplans:handoff_acknowledge", kwargs={"handoff_id": good.pk})
    response = client_for(lena).post(url, {"note": "Fine"}, follow=True)
    assert "not flagged as a bad fit" in response.content.decode()
    ack = reverse("successplans:handoff_acknowledge", kwargs={"handoff_id": bad_fit.pk})
    client_for(lena).post(ack, {"note": "First"})
    client_for(alice).post(ack, {"note": "Second"})
    with scopes_disabled():
        good.refresh_from_db()
        bad_fit.refresh_from_db()
    assert good.flag_acknowledged_at is None
    assert (bad_fit.flag_acknowledged_by, bad_fit.flag_note) == (lena, "First")


def test_a_changed_fit_check_after_a_send_back_is_flagged_again(tenant_a, bad_fit, lena, sam):
    with scopes_disabled():
        Handoff.objects.filter(pk=bad_fit.pk).update(
            status="sent_back", flag_acknowledged_by=lena, flag_acknowledged_at=dt.datetime.now(dt.UTC), flag_note="Ok"
        )
        bad_fit.refresh_from_db()
    with tenant_scope(tenant_a):
        handoff_save(
            tenant=tenant_a, author=sam, handoff=bad_fit, fields={"fit_functional": "no"}, impact_statements=[]
        )
    with scopes_disabled():
        bad_fit.refresh_from_db()
    assert bad_fit.flag_acknowledged_at is None
    assert bad_fit.flag_note == ""
    assert bad_fit.is_flagged
