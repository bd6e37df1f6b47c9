"""The CSM load page: books by ARR against the segment's capacity, for leaders and admins only."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from csplatform.tenancy import tenant_scope
from renewals.queries import csm_load
from tests.downloads import csv_text

from ..factories import AccountFactory, SegmentFactory

URL = reverse("renewals:csm_load")


@pytest.fixture
def books(tenant_a, tenant_b, bob, bea, charlie):
    """Mid market carries 2 to 3 accounts per CSM; its 4 accounts average $25,000, so a book
    holds $50,000 to $75,000. Bob's 3 accounts are within the count but $80,000 is over;
    Bea's one $20,000 account is under. Her automated account has no capacity. Bob's churned
    account at zero ARR counts neither in his book nor in the average."""
    with scopes_disabled():
        mid = SegmentFactory(tenant=tenant_a, name="Mid market", csm_capacity_min=2, csm_capacity_max=3)
        tech = SegmentFactory(tenant=tenant_a, name="Automated")
        for arr in ("10000", "10000", "60000"):
            AccountFactory(tenant=tenant_a, owner=bob, segment=mid, arr=Decimal(arr))
        AccountFactory(tenant=tenant_a, owner=bea, segment=mid, arr=Decimal("20000"))
        # Churned at zero ARR: in no book, and not in the segment's average ARR.
        AccountFactory(tenant=tenant_a, owner=bob, segment=mid, arr=Decimal("0"), lifecycle_stage="churned")
        AccountFactory(tenant=tenant_a, owner=bea, segment=tech, arr=Decimal("5000"))
        AccountFactory(tenant=tenant_b, owner=charlie, arr=Decimal("999000"))
    return mid, tech


def test_books_are_sized_by_arr_against_the_segment_capacity(tenant_a, books):
    with tenant_scope(tenant_a):
        rows = {(b.owner_name, b.segment_name): b for b in csm_load(tenant=tenant_a)}
    assert set(rows) == {("Bob Csm", "Mid market"), ("Bea Csm", "Mid market"), ("Bea Csm", "Automated")}
    bob_mid = rows["Bob Csm", "Mid market"]
    assert (bob_mid.account_count, bob_mid.arr) == (3, Decimal("80000"))
    assert (bob_mid.arr_capacity_min, bob_mid.arr_capacity_max) == (Decimal("50000"), Decimal("75000"))
    assert bob_mid.load == "over"
    assert rows["Bea Csm", "Mid market"].load == "under"
    assert rows["Bea Csm", "Automated"].load == "unset"


def test_a_leader_sees_the_page_with_drill_down_to_the_portfolio(client_for, lena, bob, books):
    mid, _ = books
    response = client_for(lena).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Over capacity" in html
    assert "Under capacity" in html
    assert f"?owner={bob.pk}&amp;segment={mid.pk}" in html
    assert "999,000" not in html


def test_the_csv_lists_every_book(client_for, alice, books):
    response = client_for(alice).get(URL, {"format": "csv"})
    rows = list(csv.reader(io.StringIO(csv_text(response))))
    assert rows[0][:4] == ["CSM", "segment", "accounts", "ARR"]
    assert ["Bob Csm", "Mid market", "3", "80000.00", "2", "3", "50000.00", "75000.00", "over"] in rows
    assert len(rows) == 4


@pytest.mark.parametrize("who", ["bob", "charlie"])
def test_a_csm_is_refused(client_for, request, books, who):
    assert client_for(request.getfixturevalue(who)).get(URL).status_code == 403


def test_the_query_count_does_not_grow_with_accounts(
    client_for, lena, tenant_a, bob, books, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(lena)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    mid, _ = books
    with scopes_disabled():
        for number in range(20):
            AccountFactory(tenant=tenant_a, owner=bob, segment=mid, arr=Decimal(number))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(URL).status_code == 200
