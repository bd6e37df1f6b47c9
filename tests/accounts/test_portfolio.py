"""My book and All accounts: who sees which accounts, and how search, filters, sorting,
totals and pages behave, in full page loads and htmx swaps."""

import datetime as dt
import html as html_lib
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import LifecycleStage, Segment
from accounts.portfolio import add_months
from accounts.services import tenant_today
from tests.factories import AccountFactory

MY_BOOK = reverse("accounts:my_book")
ALL_ACCOUNTS = reverse("accounts:all_accounts")
HTMX = {"HTTP_HX_REQUEST": "true"}


def listed(response) -> list[str]:
    """Account names in the table, top to bottom, as the user reads them."""
    names = re.findall(r'<th scope="row"[^>]*><a href="[^"]*">([^<]+)</a>', response.content.decode())
    return [html_lib.unescape(name) for name in names]


def account(tenant, **fields):
    with scopes_disabled():
        return AccountFactory(tenant=tenant, **fields)


def segment(tenant, name):
    with scopes_disabled():
        return Segment.objects.get(tenant=tenant, name=name)


def test_my_book_lists_only_the_signed_in_users_accounts(client_for, bob, bea, tenant_a):
    account(tenant_a, name="Bob's one", owner=bob)
    account(tenant_a, name="Bob's two", owner=bob)
    account(tenant_a, name="Bea's", owner=bea)
    account(tenant_a, name="Nobody's")

    response = client_for(bob).get(MY_BOOK)

    assert response.status_code == 200
    assert listed(response) == ["Bob's one", "Bob's two"]
    assert 'aria-current="page">My book</a>' in response.content.decode()


def test_all_accounts_lists_every_account_of_the_tenant_and_none_of_another_tenant(
    client_for, bob, bea, charlie, tenant_a, tenant_b
):
    account(tenant_a, name="Acme one", owner=bob)
    account(tenant_a, name="Acme two", owner=bea)
    account(tenant_a, name="Acme unowned")
    account(tenant_b, name="Globex secret", owner=charlie)

    assert listed(client_for(bob).get(ALL_ACCOUNTS)) == ["Acme one", "Acme two", "Acme unowned"]
    assert listed(client_for(charlie).get(ALL_ACCOUNTS)) == ["Globex secret"]


def test_a_row_shows_arr_in_the_tenant_currency_segment_owner_stage_and_renewal(client_for, bob, tenant_a):
    today = tenant_today(tenant_a)
    renewal = today + dt.timedelta(days=45)
    acme = account(
        tenant_a,
        name="Initech",
        owner=bob,
        arr=Decimal("123456.70"),
        segment=segment(tenant_a, "Low touch"),
        lifecycle_stage=LifecycleStage.ADOPTION,
        next_renewal_date=renewal,
    )

    html = client_for(bob).get(ALL_ACCOUNTS).content.decode()

    row = re.search(r"<tr>\s*<th scope=\"row\".*?</tr>", html, re.DOTALL).group(0)
    assert f'href="{reverse("accounts:detail", kwargs={"account_id": acme.pk})}"' in row
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]
    # ... health (no score yet) and open tasks
    assert cells == ["$123,457", "Low touch", "Bob Csm", "Adoption", renewal.strftime("%-d %b %Y"), "45", "—", "0"]


def test_a_row_without_owner_segment_renewal_or_score_says_so_and_an_overdue_renewal_is_red(client_for, bob, tenant_a):
    account(tenant_a, name="Bare", arr=Decimal("0"), lifecycle_stage=LifecycleStage.ONBOARDING)
    overdue = tenant_today(tenant_a) - dt.timedelta(days=3)
    account(tenant_a, name="Late", owner=bob, next_renewal_date=overdue)

    html = client_for(bob).get(ALL_ACCOUNTS).content.decode()

    bare, late = re.findall(r"<tr>\s*<th scope=\"row\".*?</tr>", html, re.DOTALL)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", bare, re.DOTALL)]
    assert cells == ["$0", "—", "Unassigned", "Onboarding", "—", "—", "—", "0"]
    assert f'<time datetime="{overdue.isoformat()}">' in late
    assert '<span class="text-danger">-3</span>' in late


def test_filter_by_segment(client_for, bob, tenant_a):
    account(tenant_a, name="Big", segment=segment(tenant_a, "High touch"))
    account(tenant_a, name="Small", segment=segment(tenant_a, "Tech touch"))

    response = client_for(bob).get(ALL_ACCOUNTS, {"segment": segment(tenant_a, "High touch").pk})

    assert listed(response) == ["Big"]


def test_filter_by_owner_offers_only_members_of_the_tenant(client_for, bob, bea, charlie, tenant_a):
    account(tenant_a, name="Bob's", owner=bob)
    account(tenant_a, name="Bea's", owner=bea)

    response = client_for(bob).get(ALL_ACCOUNTS, {"owner": bea.pk})

    assert listed(response) == ["Bea's"]
    owner_select = re.search(r'<select name="owner".*?</select>', response.content.decode(), re.DOTALL).group(0)
    assert "Bea Csm" in owner_select
    assert "Bob Csm" in owner_select
    assert "Charlie Other" not in owner_select


def test_my_book_has_no_owner_filter(client_for, bob, tenant_a):
    assert 'name="owner"' not in client_for(bob).get(MY_BOOK).content.decode()


def test_filter_by_lifecycle_stage(client_for, bob, tenant_a):
    account(tenant_a, name="New", lifecycle_stage=LifecycleStage.ONBOARDING, owner=bob)
    account(tenant_a, name="Renewing", lifecycle_stage=LifecycleStage.RENEWAL, owner=bob)

    assert listed(client_for(bob).get(MY_BOOK, {"stage": "renewal"})) == ["Renewing"]


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("0-3", ["today", "3 months less a day"]),
        ("3-6", ["3 months", "6 months less a day"]),
        ("6-9", ["6 months", "9 months less a day"]),
        ("9-12", ["9 months", "12 months less a day"]),
    ],
)
def test_renewal_window_includes_its_first_day_and_excludes_its_last(client_for, bob, tenant_a, window, expected):
    today = tenant_today(tenant_a)
    day = dt.timedelta(days=1)
    account(tenant_a, name="yesterday", next_renewal_date=today - day)
    account(tenant_a, name="today", next_renewal_date=today)
    for months in (3, 6, 9, 12):
        account(tenant_a, name=f"{months} months less a day", next_renewal_date=add_months(today, months) - day)
        account(tenant_a, name=f"{months} months", next_renewal_date=add_months(today, months))
    account(tenant_a, name="no renewal date", next_renewal_date=None)

    response = client_for(bob).get(ALL_ACCOUNTS, {"window": window, "sort": "renewal"})

    assert listed(response) == expected


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2026, 1, 15), 3, dt.date(2026, 4, 15)),
        (dt.date(2026, 11, 30), 3, dt.date(2027, 2, 28)),
        (dt.date(2027, 11, 30), 3, dt.date(2028, 2, 29)),
        (dt.date(2026, 8, 31), 1, dt.date(2026, 9, 30)),
        (dt.date(2026, 12, 31), 12, dt.date(2027, 12, 31)),
    ],
)
def test_add_months_counts_calendar_months_and_clamps_to_the_months_end(day, months, expected):
    assert add_months(day, months) == expected


def test_search_matches_name_or_domain_ignoring_case(client_for, bob, tenant_a):
    account(tenant_a, name="Umbrella Corp", domain="umbrella.example")
    account(tenant_a, name="Hooli", domain="hooli-xyz.example")
    account(tenant_a, name="Vandelay", domain="vandelay.example")

    assert listed(client_for(bob).get(ALL_ACCOUNTS, {"q": "umbrella"})) == ["Umbrella Corp"]
    assert listed(client_for(bob).get(ALL_ACCOUNTS, {"q": "XYZ"})) == ["Hooli"]


def test_sort_by_arr_ascending_and_descending(client_for, bob, tenant_a):
    account(tenant_a, name="Mid", arr=Decimal("50000"))
    account(tenant_a, name="Top", arr=Decimal("900000"))
    account(tenant_a, name="Low", arr=Decimal("1000"))
    client = client_for(bob)

    ascending = client.get(ALL_ACCOUNTS, {"sort": "arr"})
    descending = client.get(ALL_ACCOUNTS, {"sort": "-arr"})

    assert listed(ascending) == ["Low", "Mid", "Top"]
    assert listed(descending) == ["Top", "Mid", "Low"]
    assert re.search(r'<th scope="col" class="num" aria-sort="descending">', descending.content.decode())


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Acme Tech", "Bolt Tech", "Zed Tech", "Zed Tech"]),
        ("-arr", ["Zed Tech", "Acme Tech", "Bolt Tech", "Zed Tech"]),
        ("renewal", ["Bolt Tech", "Zed Tech", "Acme Tech", "Zed Tech"]),
        ("-renewal", ["Acme Tech", "Zed Tech", "Bolt Tech", "Zed Tech"]),
    ],
)
def test_a_search_of_three_letters_or_more_keeps_every_sort_order(client_for, bob, tenant_a, sort, expected):
    # Such a search sorts by a no-op expression of the column (a plan choice): same order.
    today = tenant_today(tenant_a)
    account(tenant_a, name="Zed Tech", arr=Decimal("900000"), next_renewal_date=today + dt.timedelta(days=20))
    account(tenant_a, name="Acme Tech", arr=Decimal("50000"), next_renewal_date=today + dt.timedelta(days=90))
    account(tenant_a, name="Bolt Tech", arr=Decimal("1000"), next_renewal_date=today + dt.timedelta(days=5))
    account(tenant_a, name="Zed Tech", arr=Decimal("10"), next_renewal_date=None)
    account(tenant_a, name="Other", arr=Decimal("5"))

    assert listed(client_for(bob).get(ALL_ACCOUNTS, {"q": "tech", "sort": sort})) == expected


def test_sort_header_links_flip_direction_and_keep_the_filters(client_for, bob, tenant_a):
    account(tenant_a, name="Initech", owner=bob)

    html = client_for(bob).get(MY_BOOK, {"q": "init", "sort": "arr", "page": "1"}).content.decode()

    assert 'href="?q=init&amp;sort=-arr"' in html  # the sorted column flips; the page resets
    assert 'href="?q=init&amp;sort=segment"' in html


def test_sort_by_renewal_puts_accounts_without_a_date_last_both_ways(client_for, bob, tenant_a):
    today = tenant_today(tenant_a)
    account(tenant_a, name="Soon", next_renewal_date=today + dt.timedelta(days=10))
    account(tenant_a, name="Later", next_renewal_date=today + dt.timedelta(days=100))
    account(tenant_a, name="Undated", next_renewal_date=None)
    client = client_for(bob)

    assert listed(client.get(ALL_ACCOUNTS, {"sort": "renewal"})) == ["Soon", "Later", "Undated"]
    assert listed(client.get(ALL_ACCOUNTS, {"sort": "-renewal"})) == ["Later", "Soon", "Undated"]


def test_sort_by_stage_follows_the_lifecycle_not_the_alphabet(client_for, bob, tenant_a):
    account(tenant_a, name="A", lifecycle_stage=LifecycleStage.RENEWAL)
    account(tenant_a, name="B", lifecycle_stage=LifecycleStage.HANDOFF)
    account(tenant_a, name="C", lifecycle_stage=LifecycleStage.ADOPTION)

    assert listed(client_for(bob).get(ALL_ACCOUNTS, {"sort": "stage"})) == ["B", "C", "A"]


@pytest.mark.parametrize("sort", ["password", "-", "arr;drop table", "--arr"])
def test_an_unknown_sort_falls_back_to_name_without_an_error(client_for, bob, tenant_a, sort):
    account(tenant_a, name="Zeta", arr=Decimal("1"))
    account(tenant_a, name="Alpha", arr=Decimal("2"))

    response = client_for(bob).get(ALL_ACCOUNTS, {"sort": sort})

    assert response.status_code == 200
    assert listed(response) == ["Alpha", "Zeta"]


def test_pages_split_the_list_and_keep_the_filters(client_for, bob, tenant_a, settings):
    settings.PORTFOLIO_PAGE_SIZE = 2
    for name in ["Alpha 1", "Alpha 2", "Alpha 3", "Beta 1"]:
        account(tenant_a, name=name)
    client = client_for(bob)

    first = client.get(ALL_ACCOUNTS, {"q": "alpha"})
    second = client.get(ALL_ACCOUNTS, {"q": "alpha", "page": "2"})

    assert listed(first) == ["Alpha 1", "Alpha 2"]
    assert 'href="?q=alpha&amp;page=2"' in first.content.decode()
    assert listed(second) == ["Alpha 3"]
    assert "Page 2 of 2" in second.content.decode()


@pytest.mark.parametrize("page", ["0", "99", "two", ""])
def test_an_out_of_range_or_garbage_page_shows_a_page_instead_of_an_error(client_for, bob, tenant_a, settings, page):
    settings.PORTFOLIO_PAGE_SIZE = 2
    for name in ["A1", "A2", "A3"]:
        account(tenant_a, name=name)

    response = client_for(bob).get(ALL_ACCOUNTS, {"page": page})

    assert response.status_code == 200
    assert listed(response) in (["A1", "A2"], ["A3"])


def test_totals_count_and_sum_the_whole_filtered_set_not_just_the_page(client_for, bob, tenant_a, settings):
    settings.PORTFOLIO_PAGE_SIZE = 2
    low_touch = segment(tenant_a, "Low touch")
    for arr in ("100000", "250000", "60000.40"):
        account(tenant_a, arr=Decimal(arr), segment=low_touch)
    account(tenant_a, arr=Decimal("900000"), segment=segment(tenant_a, "High touch"))

    html = client_for(bob).get(ALL_ACCOUNTS, {"segment": low_touch.pk}).content.decode()

    assert re.search(r"<strong>3</strong> accounts\s*· <strong>\$410,000</strong> total ARR", html)


@pytest.mark.parametrize("page", ["", "2", "99"])
def test_a_searchs_totals_count_and_sum_every_match_on_every_page(client_for, bob, tenant_a, settings, page):
    # The first page of a search reads its totals beside its rows, later pages apart: same figures.
    settings.PORTFOLIO_PAGE_SIZE = 2
    for name, arr in (("Alpha one", "100000"), ("Alpha two", "250000"), ("Alpha three", "60000.40")):
        account(tenant_a, name=name, arr=Decimal(arr))
    account(tenant_a, name="Beta", arr=Decimal("900000"))

    response = client_for(bob).get(ALL_ACCOUNTS, {"q": "alpha", "page": page})

    html = response.content.decode()
    assert re.search(r"<strong>3</strong> accounts\s*· <strong>\$410,000</strong> total ARR", html)
    assert listed(response) == (["Alpha one", "Alpha three"] if page == "" else ["Alpha two"])


def test_an_htmx_request_gets_only_the_results_partial(client_for, bob, tenant_a):
    account(tenant_a, name="Big", owner=bob, segment=segment(tenant_a, "High touch"))
    account(tenant_a, name="Small", owner=bob, segment=segment(tenant_a, "Tech touch"))
    params = {"segment": segment(tenant_a, "High touch").pk}

    partial = client_for(bob).get(MY_BOOK, params, **HTMX)
    full = client_for(bob).get(MY_BOOK, params)

    body = partial.content.decode()
    assert partial.status_code == 200
    assert "<html" not in body
    assert 'id="portfolio-filters"' not in body
    assert listed(partial) == ["Big"]
    assert "HX-Request" in partial["Vary"]
    # The same URL loaded in full shows the same state: the rows and the chosen filter.
    assert "<html" in full.content.decode()
    assert listed(full) == ["Big"]
    assert re.search(rf'<option value="{params["segment"]}" selected>High touch</option>', full.content.decode())


def test_the_filter_form_swaps_the_results_and_pushes_the_url(client_for, bob, tenant_a):
    html = client_for(bob).get(MY_BOOK).content.decode()

    form = re.search(r'<form id="portfolio-filters".*?>', html, re.DOTALL).group(0)
    assert f'hx-get="{MY_BOOK}"' in form
    assert "input changed delay" in form
    assert 'hx-target="#portfolio-results" hx-push-url="true"' in html
    assert '<input type="hidden" name="sort" value="name" form="portfolio-filters">' in html


@pytest.mark.parametrize("value", ["garbage", "-1", "99999999"])
def test_a_bad_segment_is_reported_on_its_field_and_ignored(client_for, bob, tenant_a, value):
    account(tenant_a, name="Onboarding one", lifecycle_stage=LifecycleStage.ONBOARDING)
    account(tenant_a, name="Renewing one", lifecycle_stage=LifecycleStage.RENEWAL)

    response = client_for(bob).get(ALL_ACCOUNTS, {"segment": value, "stage": "renewal"})

    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'<select name="segment"[^>]*aria-invalid="true"', html)
    assert 'id="id_segment_error"' in html
    assert listed(response) == ["Renewing one"]  # the valid stage filter still applies


def test_another_tenants_segment_or_owner_is_rejected(client_for, bob, charlie, tenant_a, tenant_b):
    account(tenant_a, name="Ours", segment=segment(tenant_a, "High touch"))
    account(tenant_b, name="Theirs", segment=segment(tenant_b, "High touch"), owner=charlie)

    response = client_for(bob).get(ALL_ACCOUNTS, {"segment": segment(tenant_b, "High touch").pk, "owner": charlie.pk})

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"segment", "owner"}
    assert listed(response) == ["Ours"]


def test_an_empty_book_says_so_and_points_to_all_accounts(client_for, bob, bea, tenant_a):
    account(tenant_a, name="Bea's", owner=bea)

    html = client_for(bob).get(MY_BOOK).content.decode()

    assert "You do not own any accounts yet." in html
    assert f'href="{ALL_ACCOUNTS}"' in html
    assert "<table" not in html


def test_filters_that_match_nothing_say_so_with_a_way_to_clear_them(client_for, bob, tenant_a):
    account(tenant_a, name="Initech", owner=bob)

    html = client_for(bob).get(MY_BOOK, {"q": "no such account"}).content.decode()

    assert "No accounts match these filters." in html
    assert f'<a href="{MY_BOOK}">Clear filters</a>' in html
    assert "You do not own any accounts yet." not in html


@pytest.mark.parametrize(
    ("url", "filters", "most_queries"),
    [
        # totals, the page's rows, the page's open tasks, the segment choices, the nav's count of
        # tasks due; the session, the user and their memberships come from the cache
        # (csplatform.tenancy.identity) and the owner choices from the member cache
        # (accounts.members), both filled by the first request (not measured here)
        (MY_BOOK, {}, 5),
        (ALL_ACCOUNTS, {}, 5),
        (ALL_ACCOUNTS, {"q": "account", "stage": "onboarding", "window": "0-3", "sort": "-owner", "page": "2"}, 5),
        # a search's first page reads its totals with the page's ids
        (ALL_ACCOUNTS, {"q": "account", "sort": "-arr"}, 5),
        # the chosen segment is checked against the segment choices, the owner against the cache
        (ALL_ACCOUNTS, {"segment": "SEGMENT", "owner": "OWNER", "sort": "segment"}, 5),
    ],
)
@pytest.mark.parametrize("htmx", [False, True], ids=["full", "htmx"])
def test_the_number_of_queries_does_not_grow_with_the_number_of_accounts(
    client_for, bob, bea, tenant_a, django_assert_max_num_queries, url, filters, most_queries, htmx
):
    today = tenant_today(tenant_a)
    segments = [segment(tenant_a, name) for name in ("High touch", "Low touch", "Tech touch")]
    params = {**filters}
    if "segment" in params:
        params.update(segment=segments[0].pk, owner=bob.pk)
    client = client_for(bob)

    def add_accounts(count):
        with scopes_disabled():
            for i in range(count):
                AccountFactory(
                    tenant=tenant_a,
                    owner=(bob, bea)[i % 2],
                    segment=segments[i % 3],
                    next_renewal_date=today + dt.timedelta(days=i % 80),
                )

    query_counts = []
    for count in (12, 288):  # 12 accounts, then 300
        add_accounts(count)
        client.get(url, params)  # warm: the member cache is built once per process, not per page
        with django_assert_max_num_queries(most_queries) as captured:
            response = client.get(url, params, **(HTMX if htmx else {}))
        assert response.status_code == 200
        assert listed(response)
        query_counts.append(len(captured))

    assert query_counts[0] == query_counts[1]
