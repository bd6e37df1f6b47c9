"""CSV exports: streamed, formula-safe, UTF-8 with BOM, named after tenant and day, and holding
exactly the rows the page shows with its filters and sort (every page of them)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from csplatform.exports import csv_cell, csv_lines, csv_stream_response

from .factories import AccountFactory


def _read(response) -> list[list[str]]:
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the accents
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_cells_that_a_spreadsheet_would_run_get_an_apostrophe():
    cells = ["=HYPERLINK(1)", "+1", "-x", "@SUM", "\tx", "\rx", "ok", "a=b", -5, Decimal("-1.5"), None]
    assert [csv_cell(c) for c in cells] == [
        "'=HYPERLINK(1)", "'+1", "'-x", "'@SUM", "'\tx", "'\rx", "ok", "a=b", -5, Decimal("-1.5"), None,
    ]  # fmt: skip


def test_csv_lines_are_lazy_and_neutralise_the_header_too():
    def rows():
        yield ("=1", 2)
        raise AssertionError("read past the first row")

    lines = csv_lines(["-h"], rows())
    assert next(lines) == "\ufeff'-h\r\n"
    assert next(lines) == "'=1,2\r\n"


def test_stream_response_names_the_file_after_tenant_and_day(tenant_a):
    response = csv_stream_response(tenant=tenant_a, name="My book", header=["a"], rows=iter([]))
    today = timezone.localdate().isoformat()
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="acme-my-book-{today}.csv"'


def test_all_accounts_export_applies_filters_and_sort_across_pages(tenant_a, alice, bob, client_for, settings):
    settings.PORTFOLIO_PAGE_SIZE = 2
    with scopes_disabled():
        for number, arr in enumerate([100, 300, 200]):
            AccountFactory(tenant=tenant_a, name=f"Kept {number}", owner=bob, arr=Decimal(arr))
        AccountFactory(tenant=tenant_a, name="=cmd|' /C calc'!A0", owner=bob, arr=Decimal(50))
        AccountFactory(tenant=tenant_a, name="Filtered out", owner=alice, arr=Decimal(999))

    response = client_for(alice).get(
        reverse("accounts:all_accounts_export"), {"owner": bob.pk, "sort": "-arr", "page": 2}
    )

    assert response.status_code == 200
    rows = _read(response)
    assert rows[0][:3] == ["Account", "ARR", "Segment"]
    assert [row[0] for row in rows[1:]] == ["Kept 1", "Kept 2", "Kept 0", "'=cmd|' /C calc'!A0"]
    assert rows[1][1] == "300.00"
    assert rows[1][3] == "Bob Csm"


def test_my_book_export_holds_only_my_accounts(tenant_a, alice, bob, client_for):
    with scopes_disabled():
        AccountFactory(tenant=tenant_a, name="Bob's", owner=bob)
        AccountFactory(tenant=tenant_a, name="Alice's", owner=alice)
    rows = _read(client_for(bob).get(reverse("accounts:my_book_export")))
    assert [row[0] for row in rows[1:]] == ["Bob's"]


def test_export_never_includes_another_tenants_accounts(tenant_a, tenant_b, alice, client_for):
    with scopes_disabled():
        AccountFactory(tenant=tenant_a, name="Ours")
        AccountFactory(tenant=tenant_b, name="Theirs")
    rows = _read(client_for(alice).get(reverse("accounts:all_accounts_export")))
    assert [row[0] for row in rows[1:]] == ["Ours"]


def test_export_queries_do_not_grow_with_the_rows(tenant_a, alice, client_for, django_assert_max_num_queries):
    with scopes_disabled():
        AccountFactory.create_batch(300, tenant=tenant_a)
    client = client_for(alice)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("accounts:all_accounts_export"))
        rows = _read(response)
    assert len(rows) == 301


def test_health_leader_table_exports_as_shown(tenant_a, lena, bob, client_for):
    with scopes_disabled():
        high = tenant_a_segment(tenant_a, "High touch")
        AccountFactory(tenant=tenant_a, segment=high, owner=bob, arr=Decimal("600000"))
        AccountFactory(tenant=tenant_a, segment=high, owner=bob, arr=Decimal("700000"))

    rows = _read(client_for(lena).get(reverse("health:leader_export", kwargs={"by": "segment"})))

    assert rows[0] == ["Segment", "Red", "Yellow", "Green", "No score", "Accounts", "ARR", "ARR at risk"]
    assert rows[1] == ["High touch", "0", "0", "0", "2", "2", "1300000.00", "0"]
    assert client_for(bob).get(reverse("health:leader_export", kwargs={"by": "owner"})).status_code == 403


def tenant_a_segment(tenant, name):
    from accounts.models import Segment

    return Segment.objects.get(tenant=tenant, name=name)


def test_success_insights_tables_export(tenant_a, lena, bob, client_for):
    with scopes_disabled():
        AccountFactory(tenant=tenant_a, name="+Champ-less", owner=bob, arr=Decimal("1000"))
    client = client_for(lena)

    no_champion = _read(client.get(reverse("successplans:insights_export", kwargs={"table": "no-champion"})))
    relationships = _read(client.get(reverse("successplans:insights_export", kwargs={"table": "new-relationships"})))

    assert no_champion == [["Account", "ARR", "Owner"], ["'+Champ-less", "1000.00", "Bob Csm"]]
    assert relationships[0] == ["CSM", "New this month", "Target"]
    assert "Bob Csm" in [row[0] for row in relationships[1:]]
    for table in ("plans-by-csm", "ttfv-by-segment", "single-threaded"):
        response = client.get(reverse("successplans:insights_export", kwargs={"table": table}))
        assert response.status_code == 200
    assert client.get(reverse("successplans:insights_export", kwargs={"table": "nope"})).status_code == 404
    assert (
        client_for(bob).get(reverse("successplans:insights_export", kwargs={"table": "no-champion"})).status_code == 403
    )


def test_handoff_list_export_applies_the_status_filter(tenant_a, alice, bob, client_for):
    from .successplans.factories import HandoffFactory

    with scopes_disabled():
        HandoffFactory(account=AccountFactory(tenant=tenant_a, name="Drafted"), author=alice, status="draft")
        HandoffFactory(
            account=AccountFactory(tenant=tenant_a, name="Sent", owner=bob), author=alice, status="submitted"
        )
    client = client_for(alice)

    page = client.get(reverse("successplans:handoff_list"), {"status": "submitted"}).content.decode()
    assert reverse("successplans:handoff_list_export") + "?status=submitted" in page
    rows = _read(client.get(reverse("successplans:handoff_list_export"), {"status": "submitted"}))

    assert rows[0] == ["Account", "Status", "Fit", "Age (days)", "Completeness %", "Sales", "CSM"]
    assert [(row[0], row[6]) for row in rows[1:]] == [("Sent", "Bob Csm")]


def test_portfolio_page_links_its_export_with_the_current_filters(tenant_a, alice, bob, client_for):
    with scopes_disabled():
        AccountFactory(tenant=tenant_a, owner=bob)
    page = client_for(alice).get(reverse("accounts:all_accounts"), {"owner": bob.pk, "sort": "-arr", "page": 1})
    expected = f'{reverse("accounts:all_accounts_export")}?owner={bob.pk}&amp;sort=-arr"'
    assert expected in page.content.decode()
