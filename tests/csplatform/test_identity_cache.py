"""The signed-in user and their memberships come from the shared cache on every page
(``csplatform.tenancy.identity``), and every change to who may do what counts from the very
next request."""

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled

from csplatform.models import Membership, Role
from csplatform.services import membership_change_role, membership_remove, tenant_update
from csplatform.tenancy import identity, tenant_scope

MY_BOOK = reverse("accounts:my_book")
RETENTION = reverse("renewals:dashboard")


def _membership(user, tenant) -> Membership:
    with scopes_disabled():
        return Membership.objects.select_related("tenant", "user").get(user=user, tenant=tenant)


def test_a_page_reads_no_session_user_or_membership_row_once_cached(client_for, bob):
    client = client_for(bob)
    assert client.get(MY_BOOK).status_code == 200  # fills the cache
    with CaptureQueriesContext(connection) as captured:
        assert client.get(MY_BOOK).status_code == 200
    sql = " ".join(query["sql"] for query in captured.captured_queries)
    assert 'FROM "django_session"' not in sql
    assert 'FROM "csplatform_user"' not in sql  # (the rows join their owners: that is the page)
    assert 'FROM "csplatform_membership"' not in sql


def test_a_promotion_shows_on_the_next_page(client_for, bob, tenant_a):
    client = client_for(bob)
    assert "Retention" not in client.get(MY_BOOK).content.decode()
    membership_change_role(membership=_membership(bob, tenant_a), role=Role.LEADER)
    page = client.get(MY_BOOK).content.decode()
    assert "Retention" in page
    assert "CS leader" in page


def test_a_demoted_leader_is_refused_leader_pages_at_once(client_for, lena, tenant_a):
    client = client_for(lena)
    client.get(MY_BOOK)
    membership_change_role(membership=_membership(lena, tenant_a), role=Role.CSM)
    assert client.get(RETENTION).status_code == 403


def test_a_removed_member_loses_the_tenant_at_once(client_for, bea, tenant_a):
    client = client_for(bea)
    assert client.get(MY_BOOK).status_code == 200
    with tenant_scope(tenant_a):
        membership_remove(membership=_membership(bea, tenant_a))
    assert client.get(MY_BOOK).status_code == 403


def test_a_deactivated_user_is_signed_out_at_once(client_for, bob):
    client = client_for(bob)
    assert client.get(MY_BOOK).status_code == 200
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    response = client.get(MY_BOOK)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_new_password_signs_out_the_other_sessions_at_once(client_for, bob):
    client = client_for(bob)
    assert client.get(MY_BOOK).status_code == 200
    bob.set_password("a completely new passphrase")
    bob.save(update_fields=["password"])
    assert client.get(MY_BOOK).status_code == 302


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(client_for, bob):
    client = client_for(bob)
    assert client.get(MY_BOOK).status_code == 200
    copy = Client()
    copy.cookies["sessionid"] = client.cookies["sessionid"].value
    assert copy.get(MY_BOOK).status_code == 200
    client.post(reverse("logout"))
    assert copy.get(MY_BOOK).status_code == 302


def test_a_renamed_tenant_shows_its_new_name_at_once(client_for, bob, tenant_a):
    client = client_for(bob)
    assert "Acme Analytics" in client.get(MY_BOOK).content.decode()
    tenant_update(tenant=tenant_a, name="Acme Insights", currency="EUR", time_zone="Europe/Paris")
    page = client.get(MY_BOOK).content.decode()
    assert "Acme Insights" in page
    assert "Acme Analytics" not in page


def test_a_new_tenant_membership_offers_the_switch_at_once(client_for, bob, tenant_b):
    client = client_for(bob)
    assert "tenant-switch" not in client.get(MY_BOOK).content.decode()
    with scopes_disabled():
        Membership.objects.create(user=bob, tenant=tenant_b, role=Role.CSM)
    assert "tenant-switch" in client.get(MY_BOOK).content.decode()


def test_the_cached_identity_is_the_one_of_the_session_user_only(client_for, bob, charlie, tenant_a, tenant_b):
    """Two users never share an entry: each reads their own memberships."""
    client_for(bob).get(MY_BOOK)
    client_for(charlie).get(MY_BOOK)
    bob_user, bob_memberships = identity(bob.pk)
    charlie_user, charlie_memberships = identity(charlie.pk)
    assert bob_user.email == bob.email
    assert [m.tenant_id for m in bob_memberships] == [tenant_a.pk]
    assert charlie_user.email == charlie.email
    assert [m.tenant_id for m in charlie_memberships] == [tenant_b.pk]
