"""The sales role stands outside csm < leader < admin."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from csplatform.forms import MemberInviteForm
from csplatform.models import Membership, Role
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_sales_passes_only_a_sales_check_and_no_cs_role_passes_it(sam, bob, alice):
    sales = Membership.objects.get(user=sam)
    assert sales.has_role(Role.SALES)
    assert not sales.has_role(Role.CSM)
    assert not sales.is_leader
    assert not sales.is_admin
    assert not Membership.objects.get(user=bob).has_role(Role.SALES)
    assert not Membership.objects.get(user=alice).has_role(Role.SALES)
    assert Membership.objects.get(user=alice).has_role(Role.CSM)


def test_a_sales_user_cannot_edit_an_account_even_as_its_owner_nor_open_settings(client_for, tenant_a, sam):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, owner=sam)
    client = client_for(sam)
    assert client.get(reverse("accounts:edit", kwargs={"account_id": account.pk})).status_code == 403
    assert client.post(reverse("accounts:contact_add", kwargs={"account_id": account.pk})).status_code == 403
    assert client.get(reverse("settings:home")).status_code == 403
    assert client.get(reverse("successplans:insights")).status_code == 403
    assert client.get(reverse("accounts:detail", kwargs={"account_id": account.pk})).status_code == 200


def test_the_invite_form_offers_the_sales_role_and_an_admin_can_invite_one(client_for, tenant_a, alice):
    assert (Role.SALES, "Account executive") in MemberInviteForm(tenant=tenant_a).fields["role"].choices
    response = client_for(alice).post(
        reverse("settings:member_invite"), {"email": "ae@acme.example", "full_name": "Ann Exec", "role": "sales"}
    )
    assert response.status_code == 302
    assert Membership.objects.get(tenant=tenant_a, user__email="ae@acme.example").role == Role.SALES
