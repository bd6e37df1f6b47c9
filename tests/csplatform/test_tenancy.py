import pytest
from django_scopes import ScopeError, scopes_disabled

from accounts.models import Account
from csplatform.models import Membership, Role
from csplatform.tenancy import tenant_scope
from tests.factories import AccountFactory


@pytest.mark.django_db
def test_querying_a_tenant_owned_model_without_an_active_tenant_raises():
    with pytest.raises(ScopeError):
        list(Account.objects.all())
    with pytest.raises(ScopeError):
        Account.objects.filter(name="x").count()


def test_an_active_tenant_sees_only_its_own_rows(tenant_a, tenant_b):
    with scopes_disabled():
        AccountFactory(tenant=tenant_a, name="Ours")
        AccountFactory(tenant=tenant_b, name="Theirs")
    with tenant_scope(tenant_a):
        assert list(Account.objects.values_list("name", flat=True)) == ["Ours"]
    with tenant_scope(tenant_b):
        assert list(Account.objects.values_list("name", flat=True)) == ["Theirs"]


def test_tenant_scope_refuses_an_unsaved_or_missing_tenant():
    with pytest.raises(ValueError, match="saved tenant"), tenant_scope(None):
        pass


def test_role_ranks_admin_above_leader_above_csm(alice, lena, bob, tenant_a):
    roles = {m.user.email: m for m in Membership.objects.filter(tenant=tenant_a).select_related("user")}
    assert roles["alice@acme.example"].has_role(Role.LEADER)
    assert roles["lena@acme.example"].has_role(Role.LEADER)
    assert not roles["lena@acme.example"].has_role(Role.ADMIN)
    assert not roles["bob@acme.example"].has_role(Role.LEADER)


def test_a_user_in_two_tenants_can_switch_and_sees_the_other_tenants_book(client_for, tenant_a, tenant_b, bob):
    from tests.factories import MembershipFactory

    MembershipFactory(tenant=tenant_b, user=bob, role=Role.CSM)
    client = client_for(bob)
    first = client.get("/accounts/mine/")
    assert first.status_code == 200
    assert first.context["tenant"] == tenant_a
    switched = client.post("/switch-tenant/", {"tenant_id": tenant_b.pk})
    assert switched.status_code == 302
    assert client.get("/accounts/mine/").context["tenant"] == tenant_b


def test_switching_to_a_tenant_the_user_does_not_belong_to_is_404(client_for, tenant_a, tenant_b, bob):
    client = client_for(bob)
    assert client.post("/switch-tenant/", {"tenant_id": tenant_b.pk}).status_code == 404
    assert client.get("/accounts/mine/").context["tenant"] == tenant_a


def test_django_admin_is_for_superusers_only(client_for, alice):
    response = client_for(alice).get("/platform-admin/")
    assert response.status_code == 302
    assert "/platform-admin/login/" in response["Location"]
