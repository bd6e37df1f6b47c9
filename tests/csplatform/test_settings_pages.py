"""Tenant settings: segments, users and roles, the company's details. Admins only."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import Account, Segment, TouchModel
from csplatform import settings_urls
from csplatform.models import Membership, Role, Tenant, User
from tests.downloads import csv_text
from tests.factories import AccountFactory, MembershipFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


def settings_urls_with(ids: dict[str, int]) -> list[str]:
    """Every settings URL, with each id kwarg (``segment_id``, ``membership_id``) filled from ``ids``."""
    urls = []
    for pattern in settings_urls.urlpatterns:
        kwargs = {name: ids[name] for name in pattern.pattern.converters}
        urls.append(reverse(f"settings:{pattern.name}", kwargs=kwargs))
    return urls


def segment(tenant: Tenant, name: str) -> Segment:
    with scopes_disabled():
        return Segment.objects.get(tenant=tenant, name=name)


def segment_names(tenant: Tenant) -> set[str]:
    with scopes_disabled():
        return set(Segment.objects.filter(tenant=tenant).values_list("name", flat=True))


def membership(tenant: Tenant, user: User) -> Membership:
    return Membership.objects.get(tenant=tenant, user=user)


def segment_of(account: Account) -> str | None:
    with scopes_disabled():
        account.refresh_from_db()
        return account.segment.name if account.segment else None


def segment_data(**changes) -> dict:
    data = {
        "name": "Enterprise",
        "touch_model": TouchModel.HIGH,
        "arr_min": "1000000",
        "arr_max": "",
        "csm_capacity_min": "3",
        "csm_capacity_max": "8",
    }
    data.update(changes)
    return data


def segment_fields(seg: Segment) -> dict:
    return segment_data(
        name=seg.name,
        touch_model=seg.touch_model,
        arr_min=str(seg.arr_min),
        arr_max="" if seg.arr_max is None else str(seg.arr_max),
        csm_capacity_min="" if seg.csm_capacity_min is None else str(seg.csm_capacity_min),
        csm_capacity_max="" if seg.csm_capacity_max is None else str(seg.csm_capacity_max),
    )


@pytest.fixture
def accounts_by_arr(tenant_a, bob):
    """Four accounts of tenant A, banded by the default segments."""
    with scopes_disabled():
        accounts = {
            arr: AccountFactory(tenant=tenant_a, name=f"ARR {arr}", arr=Decimal(arr), owner=bob)
            for arr in ("10000", "60000", "600000", "2000000")
        }
        from accounts.services import segments_assign

        segments_assign(tenant=tenant_a)
    return accounts


# --- Who may come in -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["lena", "bob"])
def test_leaders_and_csms_get_403_on_every_settings_url(request, who, client_for, tenant_a, alice, bea):
    client = client_for(request.getfixturevalue(who))
    ids = {"segment_id": segment(tenant_a, "Low touch").pk, "membership_id": membership(tenant_a, bea).pk}
    for url in settings_urls_with(ids):
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"role": Role.ADMIN}).status_code == 403, url
    assert membership(tenant_a, bea).role == Role.CSM
    assert segment_names(tenant_a) == {"High touch", "Low touch", "Tech touch"}


def test_signed_out_visitors_are_sent_to_sign_in(tenant_a):
    response = Client().get(reverse("settings:segments"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_admin_can_open_every_settings_page(client_for, tenant_a, alice, bea):
    client = client_for(alice)
    ids = {"segment_id": segment(tenant_a, "Low touch").pk, "membership_id": membership(tenant_a, bea).pk}
    for url in settings_urls_with(ids):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.context["nav"] == "settings"


def test_another_tenants_segments_and_memberships_are_404_for_get_and_post(client_for, alice, tenant_b, charlie):
    client = client_for(alice)
    ids = {"segment_id": segment(tenant_b, "Low touch").pk, "membership_id": membership(tenant_b, charlie).pk}
    probed = [url for url in settings_urls_with(ids) if re.search(r"/\d+/", url)]
    assert len(probed) == 5
    for url in probed:
        assert client.get(url).status_code == 404, url
        assert client.post(url, {**segment_data(), "role": Role.ADMIN}).status_code == 404, url
    assert segment_names(tenant_b) == {"High touch", "Low touch", "Tech touch"}
    assert membership(tenant_b, charlie).role == Role.CSM


# --- Company details -----------------------------------------------------------------------------


def test_the_company_details_form_saves_name_currency_and_time_zone(client_for, tenant_a, alice):
    response = client_for(alice).post(
        reverse("settings:home"), {"name": "Acme Inc", "currency": "eur", "time_zone": "Europe/Paris"}
    )
    assert response.status_code == 302
    tenant_a.refresh_from_db()
    assert (tenant_a.name, tenant_a.currency, tenant_a.time_zone) == ("Acme Inc", "EUR", "Europe/Paris")


@pytest.mark.parametrize("currency", ["US", "DOLLAR", "U$D", ""])
def test_the_company_details_form_rejects_a_bad_currency(client_for, tenant_a, alice, currency):
    response = client_for(alice).post(
        reverse("settings:home"), {"name": "Acme Inc", "currency": currency, "time_zone": "UTC"}
    )
    assert response.status_code == 200
    assert "currency" in response.context["form"].errors
    assert response.context["tenant"].name == "Acme Analytics"
    tenant_a.refresh_from_db()
    assert (tenant_a.name, tenant_a.currency) == ("Acme Analytics", "USD")


# --- Segments ------------------------------------------------------------------------------------


def test_the_segment_list_shows_each_segments_accounts_and_arr(client_for, tenant_a, alice, accounts_by_arr):
    response = client_for(alice).get(reverse("settings:segments"))
    books = {s.name: (s.account_count, s.arr_total) for s in response.context["segments"]}
    assert books == {
        "High touch": (2, Decimal("2600000")),
        "Low touch": (1, Decimal("60000")),
        "Tech touch": (1, Decimal("10000")),
    }
    assert response.context["gaps"] == []
    assert "$2,600,000" in response.content.decode()


def test_creating_a_segment_reassigns_accounts_by_arr_and_keeps_pinned_ones(
    client_for, tenant_a, alice, accounts_by_arr
):
    with scopes_disabled():
        pinned = AccountFactory(
            tenant=tenant_a, arr=Decimal("3000000"), segment=segment(tenant_a, "Low touch"), segment_pinned=True
        )
    client = client_for(alice)
    high = segment(tenant_a, "High touch")
    response = client.post(
        reverse("settings:segment_edit", kwargs={"segment_id": high.pk}),
        segment_fields(high) | {"arr_max": "1000000"},
    )
    assert response.status_code == 302

    response = client.post(reverse("settings:segment_create"), segment_data())
    assert response.status_code == 302
    assert segment_of(accounts_by_arr["2000000"]) == "Enterprise"
    assert segment_of(accounts_by_arr["600000"]) == "High touch"
    assert segment_of(accounts_by_arr["60000"]) == "Low touch"
    assert segment_of(pinned) == "Low touch"


def test_editing_bands_moves_accounts_and_warns_about_a_gap_meanwhile(client_for, tenant_a, alice, accounts_by_arr):
    client = client_for(alice)
    low, tech = segment(tenant_a, "Low touch"), segment(tenant_a, "Tech touch")

    client.post(
        reverse("settings:segment_edit", kwargs={"segment_id": low.pk}), segment_fields(low) | {"arr_min": "100000"}
    )
    assert segment_of(accounts_by_arr["60000"]) is None
    page = client.get(reverse("settings:segments"))
    assert page.context["gaps"] == ["$50,000 to below $100,000"]
    assert "leave a gap" in page.content.decode()

    client.post(
        reverse("settings:segment_edit", kwargs={"segment_id": tech.pk}), segment_fields(tech) | {"arr_max": "100000"}
    )
    assert segment_of(accounts_by_arr["60000"]) == "Tech touch"
    assert segment_of(accounts_by_arr["10000"]) == "Tech touch"
    assert client.get(reverse("settings:segments")).context["gaps"] == []


def test_deleting_a_segment_reassigns_its_accounts(client_for, tenant_a, alice, accounts_by_arr):
    client = client_for(alice)
    tech = segment(tenant_a, "Tech touch")
    response = client.post(reverse("settings:segment_delete", kwargs={"segment_id": tech.pk}))
    assert response.status_code == 302
    assert segment_names(tenant_a) == {"High touch", "Low touch"}
    assert segment_of(accounts_by_arr["10000"]) is None
    assert segment_of(accounts_by_arr["60000"]) == "Low touch"
    page = client.get(reverse("settings:segments"))
    assert page.context["gaps"] == ["$0 to below $50,000"]
    assert page.context["without_segment"] == {"count": 1, "arr": Decimal("10000")}


def test_deleting_a_segment_with_pinned_accounts_is_refused(client_for, tenant_a, alice):
    low = segment(tenant_a, "Low touch")
    with scopes_disabled():
        AccountFactory(tenant=tenant_a, arr=Decimal("5000"), segment=low, segment_pinned=True)
    response = client_for(alice).post(reverse("settings:segment_delete", kwargs={"segment_id": low.pk}))
    assert response.status_code == 200
    assert "1 pinned account" in response.context["error"]
    assert segment_names(tenant_a) == {"High touch", "Low touch", "Tech touch"}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"arr_min": "400000"}, "arr_min", "Overlaps “Low touch” ($50,000 to below $500,000)"),
        ({"arr_min": "0", "arr_max": "20000"}, "arr_min", "Overlaps “Tech touch”"),
        ({"arr_min": "2000000", "arr_max": "1500000"}, "arr_max", "Must be above"),
        ({"arr_min": "2000000", "arr_max": "2000000"}, "arr_max", "Must be above"),
        ({"name": "low TOUCH"}, "name", "already a segment called"),
        ({"csm_capacity_min": "9", "csm_capacity_max": "4"}, "csm_capacity_max", "at least the lower end"),
        ({"touch_model": TouchModel.TECH}, "csm_capacity_min", "automation only"),
        ({"csm_capacity_min": ""}, "csm_capacity_min", "need a CSM capacity range"),
    ],
)
def test_an_invalid_new_segment_gets_a_field_error_and_writes_nothing(
    client_for, tenant_a, alice, accounts_by_arr, changes, field, message
):
    high = segment(tenant_a, "High touch")
    client = client_for(alice)
    # Make room above $1M so that only the change under test is wrong.
    client.post(
        reverse("settings:segment_edit", kwargs={"segment_id": high.pk}),
        segment_fields(high) | {"arr_max": "1000000"},
    )
    response = client.post(reverse("settings:segment_create"), segment_data(**changes))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    assert message in " ".join(errors[field])
    assert segment_names(tenant_a) == {"High touch", "Low touch", "Tech touch"}
    assert segment_of(accounts_by_arr["2000000"]) is None  # the $1M+ gap, untouched


def test_widening_a_band_over_its_neighbour_is_refused_naming_the_neighbour(client_for, tenant_a, alice):
    tech = segment(tenant_a, "Tech touch")
    response = client_for(alice).post(
        reverse("settings:segment_edit", kwargs={"segment_id": tech.pk}), segment_fields(tech) | {"arr_max": "60000"}
    )
    assert "Overlaps “Low touch”" in response.context["form"].errors["arr_max"][0]
    assert segment(tenant_a, "Tech touch").arr_max == Decimal("50000")


def test_segment_rows_edit_in_place_with_htmx(client_for, tenant_a, alice, accounts_by_arr):
    client = client_for(alice)
    tech = segment(tenant_a, "Tech touch")
    url = reverse("settings:segment_edit", kwargs={"segment_id": tech.pk})

    row = client.get(url, **HTMX).content.decode()
    assert row.lstrip().startswith(f'<tr id="segment-{tech.pk}"')
    assert "<html" not in row

    invalid = client.post(url, segment_fields(tech) | {"arr_max": "60000"}, **HTMX)
    assert invalid.content.decode().lstrip().startswith("<tr")
    assert "Overlaps" in invalid.content.decode()

    saved = client.post(url, segment_fields(tech) | {"name": "Digital"}, **HTMX)
    assert saved["HX-Retarget"] == "#segments"
    assert saved.content.decode().lstrip().startswith('<section id="segments"')
    assert "Saved “Digital”" in saved.content.decode()
    assert segment_of(accounts_by_arr["10000"]) == "Digital"


# --- Users and roles -------------------------------------------------------------------------------


def test_the_member_list_shows_roles_accounts_and_who_has_not_joined(client_for, tenant_a, alice, bob, bea):
    with scopes_disabled():
        AccountFactory(tenant=tenant_a, owner=bob)
        pending = User.objects.create_user(email="new@acme.example", full_name="New Person")
        MembershipFactory(tenant=tenant_a, user=pending)
    response = client_for(alice).get(reverse("settings:members"))
    rows = {m.user.email: m for m in response.context["members"]}
    assert set(rows) == {"alice@acme.example", "bob@acme.example", "bea@acme.example", "new@acme.example"}
    assert rows["bob@acme.example"].account_count == 1
    assert response.content.decode().count("Invited, not joined yet") == 1
    exported = csv_text(client_for(alice).get(reverse("settings:members"), {"format": "csv"})).splitlines()
    assert exported[0] == "name,e-mail,role,accounts owned"
    assert sorted(line.split(",")[1] for line in exported[1:]) == sorted(rows)  # this tenant's members only


def invite(client: Client, **data):
    return client.post(reverse("settings:member_invite"), {"full_name": "Nina New", "role": Role.CSM} | data)


def test_an_invitation_lets_a_new_person_set_a_password_sign_in_and_land_in_the_tenant(
    client_for, tenant_a, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(client_for(alice), email="Nina@Example.com", role=Role.LEADER)
    assert response.status_code == 302
    nina = User.objects.get(email="nina@example.com")
    assert not nina.has_usable_password()
    assert membership(tenant_a, nina).role == Role.LEADER

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["nina@example.com"]
    assert "Acme Analytics" in message.subject
    link = re.search(r"https?://testserver(/password-reset/\S+/)", message.body).group(1)

    visitor = Client()
    set_password_page = visitor.get(link, follow=True)
    assert set_password_page.context["validlink"]
    done = visitor.post(
        set_password_page.redirect_chain[-1][0],
        {"new_password1": "a long and new passphrase", "new_password2": "a long and new passphrase"},
    )
    assert done.status_code == 302
    assert done["Location"] == reverse("password_reset_complete")

    signed_in = visitor.post(
        reverse("login"), {"username": "nina@example.com", "password": "a long and new passphrase"}, follow=True
    )
    assert signed_in.status_code == 200
    assert signed_in.context["user"] == nina
    assert signed_in.context["tenant"] == tenant_a
    assert signed_in.context["membership"].role == Role.LEADER
    assert visitor.get(link, follow=True).context["validlink"] is False  # the link works once


def test_inviting_someone_from_another_tenant_adds_them_and_says_so(
    client_for, tenant_a, alice, charlie, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(client_for(alice), email="charlie@globex.example")
    assert membership(tenant_a, charlie).role == Role.CSM
    charlie.refresh_from_db()
    assert charlie.check_password("correct horse battery staple")
    assert charlie.full_name == "Charlie Other"
    assert len(mail.outbox) == 1
    assert "You now have access to Acme Analytics" in mail.outbox[0].subject
    assert "/signin/" in mail.outbox[0].body
    assert "password-reset" not in mail.outbox[0].body


def test_inviting_an_existing_member_is_a_field_error(
    client_for, tenant_a, alice, bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(client_for(alice), email="BOB@acme.example", role=Role.ADMIN)
    assert response.status_code == 200
    assert "already a member" in response.context["form"].errors["email"][0]
    assert membership(tenant_a, bob).role == Role.CSM
    assert mail.outbox == []


def test_an_invitation_can_be_sent_again_until_they_join(client_for, tenant_a, alice, bob):
    with scopes_disabled():
        pending = User.objects.create_user(email="new@acme.example")
        pending_membership = MembershipFactory(tenant=tenant_a, user=pending)
    client = client_for(alice)
    response = client.post(reverse("settings:member_invite_resend", kwargs={"membership_id": pending_membership.pk}))
    assert response.status_code == 302
    assert "password-reset" in mail.outbox[0].body

    joined = membership(tenant_a, bob)
    client.post(reverse("settings:member_invite_resend", kwargs={"membership_id": joined.pk}))
    assert len(mail.outbox) == 1


def test_an_admin_changes_a_members_role(client_for, tenant_a, alice, bob):
    url = reverse("settings:member_role", kwargs={"membership_id": membership(tenant_a, bob).pk})
    response = client_for(alice).post(url, {"role": Role.LEADER}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#members"
    assert "Bob Csm is now CS leader" in response.content.decode()
    assert membership(tenant_a, bob).role == Role.LEADER


def test_the_last_admin_cannot_demote_or_remove_themselves(client_for, tenant_a, alice, bob):
    client = client_for(alice)
    own = membership(tenant_a, alice)
    demoted = client.post(reverse("settings:member_role", kwargs={"membership_id": own.pk}), {"role": Role.LEADER})
    assert "last admin" in demoted.context["form"].errors["role"][0]
    removed = client.post(reverse("settings:member_remove", kwargs={"membership_id": own.pk}))
    assert "last admin" in removed.context["form"].non_field_errors()[0]
    assert membership(tenant_a, alice).role == Role.ADMIN


def test_an_admin_who_is_not_the_last_may_step_down(client_for, tenant_a, alice, lena):
    Membership.objects.filter(tenant=tenant_a, user=lena).update(role=Role.ADMIN)
    client = client_for(alice)
    own = membership(tenant_a, alice)
    response = client.post(reverse("settings:member_role", kwargs={"membership_id": own.pk}), {"role": Role.CSM})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert membership(tenant_a, alice).role == Role.CSM
    assert client.get(reverse("settings:home")).status_code == 403


def test_removing_a_member_who_owns_accounts_needs_someone_to_take_them_over(client_for, tenant_a, alice, bob, bea):
    with scopes_disabled():
        owned = [AccountFactory(tenant=tenant_a, owner=bob) for _ in range(2)]
    client = client_for(alice)
    url = reverse("settings:member_remove", kwargs={"membership_id": membership(tenant_a, bob).pk})

    refused = client.post(url, {"reassign_to": ""})
    assert "owns 2 accounts" in refused.context["form"].errors["reassign_to"][0]
    assert Membership.objects.filter(tenant=tenant_a, user=bob).exists()

    removed = client.post(url, {"reassign_to": membership(tenant_a, bea).pk})
    assert removed.status_code == 302
    assert not Membership.objects.filter(tenant=tenant_a, user=bob).exists()
    assert User.objects.filter(pk=bob.pk).exists()
    with scopes_disabled():
        assert {a.owner_id for a in Account.objects.filter(pk__in=[a.pk for a in owned])} == {bea.pk}


def test_accounts_cannot_be_reassigned_to_another_tenants_member(client_for, tenant_a, alice, bob, charlie):
    with scopes_disabled():
        AccountFactory(tenant=tenant_a, owner=bob)
    response = client_for(alice).post(
        reverse("settings:member_remove", kwargs={"membership_id": membership(tenant_a, bob).pk}),
        {"reassign_to": Membership.objects.get(user=charlie).pk},
    )
    assert "reassign_to" in response.context["form"].errors
    assert Membership.objects.filter(tenant=tenant_a, user=bob).exists()


def test_removing_a_member_who_owns_nothing_keeps_the_user_for_their_other_tenants(
    client_for, tenant_a, tenant_b, alice, bea
):
    MembershipFactory(tenant=tenant_b, user=bea)
    response = client_for(alice).post(
        reverse("settings:member_remove", kwargs={"membership_id": membership(tenant_a, bea).pk}), **HTMX
    )
    assert response["HX-Retarget"] == "#members"
    assert list(Membership.objects.filter(user=bea).values_list("tenant", flat=True)) == [tenant_b.pk]
