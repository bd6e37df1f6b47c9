"""The shortcuts the busiest pages take instead of Django's per-row template work print exactly
what the long way printed."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.template import Context, Template
from django.urls import reverse

from csplatform.rendering import url_for_each
from csplatform.templatetags.csp import day_month_year, money, path_to
from health.templatetags.health_tags import health_cell


def test_url_for_each_builds_the_same_urls_as_reverse():
    detail = url_for_each("accounts:detail", "account_id")
    edit = url_for_each("accounts:contact_edit", "contact_id", account_id=42)
    for pk in (1, 9, 10, 987654, 2**40):
        assert detail(pk) == reverse("accounts:detail", kwargs={"account_id": pk})
        assert edit(pk) == reverse("accounts:contact_edit", kwargs={"account_id": 42, "contact_id": pk})


def test_path_to_is_the_url_tag_for_a_url_without_arguments():
    assert path_to("accounts:my_book") == reverse("accounts:my_book")
    assert path_to("renewals:pipeline") == reverse("renewals:pipeline")


@pytest.mark.parametrize("day", [dt.date(2026, 1, 5), dt.date(2027, 12, 31), dt.date(2024, 2, 29)])
def test_day_month_year_prints_what_the_date_filter_prints(day):
    expected = Template('{{ day|date:"j M Y" }}').render(Context({"day": day}))
    assert day_month_year(day) == expected
    assert day_month_year(day) == day_month_year(day)  # the second time from the memo


def test_day_month_year_of_no_date_is_empty():
    assert day_month_year(None) == ""


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("1234567.49"), "USD", "$1,234,567"),
        (Decimal("-980.5"), "EUR", "-€980"),  # banker's rounding, as before
        (0, "GBP", "£0"),
        (Decimal("1000"), "SEK", "SEK 1,000"),
        (None, "USD", "—"),
    ],
)
def test_money_groups_thousands(amount, currency, expected):
    assert money(amount, currency) == expected


@pytest.mark.parametrize(
    ("health", "shows", "hides"),
    [
        (
            SimpleNamespace(band="green", score=81, change_7d=4),
            ["81 · Green", "text-bg-success", "+4 in 7 days", "up 4"],
            ["▼"],
        ),
        (SimpleNamespace(band="red", score=22, change_7d=-9), ["22 · Red", "text-bg-danger", "▼", "down -9"], ["▲"]),
        (SimpleNamespace(band="yellow", score=55, change_7d=0), ["55 · Yellow"], ["in 7 days"]),
        (None, ["—"], ["badge"]),
        ("", ["—"], ["badge"]),  # an account without a score row: the template variable is ""
    ],
)
def test_the_health_cell_shows_band_score_and_the_week_move(health, shows, hides):
    html = health_cell(health)
    for text in shows:
        assert text in html
    for text in hides:
        assert text not in html
    assert health_cell(health) == html
