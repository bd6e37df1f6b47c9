"""A large team (a tenant of 100,000 accounts has over a thousand CSMs) gets compact pickers
that render fast; a small one keeps its checkboxes."""

import re

import pytest
from django_scopes import scopes_disabled

from accounts.models import Activity
from csplatform.models import Role
from tests.factories import AccountFactory, MembershipFactory, UserFactory

HTMX = {"HX-Request": "true"}  # the activity form comes on its own when its section opens


@pytest.fixture
def large_team(tenant_a):
    with scopes_disabled():
        users = [UserFactory(email=f"csm{n}@acme.example", full_name=f"Csm {n:02d}") for n in range(30)]
        for user in users:
            MembershipFactory(tenant=tenant_a, user=user, role=Role.CSM)
    return users


def test_a_small_team_picks_our_people_with_checkboxes(client_for, tenant_a, bob):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob)
    page = client_for(bob).get(f"/accounts/{account.pk}/activities/log/", headers=HTMX).content.decode()
    assert 'type="checkbox" name="team"' in page


def test_a_large_team_picks_our_people_from_a_multi_select_and_logging_still_works(
    client_for, tenant_a, bob, large_team
):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=bob)
    client = client_for(bob)
    page = client.get(f"/accounts/{account.pk}/activities/log/", headers=HTMX).content.decode()
    assert re.search(r'<select name="team"[^>]* multiple', page)
    assert 'type="checkbox" name="team"' not in page
    assert page.count("<option") >= 31
    response = client.post(
        f"/accounts/{account.pk}/activities/log/",
        {
            "kind": "call",
            "occurred_at": "2026-11-20T10:30",
            "team": [bob.pk, large_team[3].pk],
            "purpose": "Plan the rollout to the second region",
        },
    )
    assert response.status_code in (200, 302)
    with scopes_disabled():
        logged = Activity.objects.get(account=account)
        assert sorted(logged.team.values_list("email", flat=True)) == ["bob@acme.example", "csm3@acme.example"]


def test_the_owner_filter_of_a_large_team_keeps_the_chosen_owner_selected(client_for, tenant_a, lena, large_team):
    page = client_for(lena).get(f"/accounts/?owner={large_team[5].pk}").content.decode()
    assert f'<option value="{large_team[5].pk}" selected>Csm 05</option>' in page
