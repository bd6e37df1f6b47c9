"""The member pickers come from a per-process cache; joining, leaving and renaming show at once."""

import re

from django.urls import reverse

from accounts.members import member_choices
from csplatform.models import Membership, Role
from tests.factories import MembershipFactory, UserFactory

ALL_ACCOUNTS = reverse("accounts:all_accounts")


def owner_options(client) -> list[str]:
    page = client.get(ALL_ACCOUNTS).content.decode()
    select = re.search(r'<select name="owner".*?</select>', page, re.DOTALL).group(0)
    return re.findall(r"<option[^>]*>([^<]*)</option>", select)


def test_the_owner_filter_follows_members_joining_leaving_and_renaming(client_for, lena, bob, tenant_a):
    client = client_for(lena)
    before = owner_options(client)
    assert "Bob Csm" in before
    assert "Zoe Newcomer" not in before

    newcomer = UserFactory(full_name="Zoe Newcomer", email="zoe@acme.example")
    MembershipFactory(tenant=tenant_a, user=newcomer, role=Role.CSM)
    assert "Zoe Newcomer" in owner_options(client)

    bob.full_name = "Robert Csm"
    bob.save(update_fields=["full_name"])
    after_rename = owner_options(client)
    assert "Robert Csm" in after_rename
    assert "Bob Csm" not in after_rename

    Membership.objects.get(tenant=tenant_a, user=newcomer).delete()
    assert "Zoe Newcomer" not in owner_options(client)


def test_an_owner_outside_the_tenant_is_refused_and_the_chosen_one_stays_selected(client_for, lena, bea, charlie):
    client = client_for(lena)
    page = client.get(ALL_ACCOUNTS, {"owner": bea.pk}).content.decode()
    assert f'<option value="{bea.pk}" selected>Bea Csm</option>' in page
    refused = client.get(ALL_ACCOUNTS, {"owner": charlie.pk}).content.decode()
    assert "Some filters were ignored" in refused
    assert "Charlie Other" not in refused


def test_a_login_does_not_rebuild_the_member_list(lena, tenant_a, django_assert_num_queries):
    member_choices(tenant_a)
    lena.save(update_fields=["last_login"])
    with django_assert_num_queries(0):
        member_choices(tenant_a)
