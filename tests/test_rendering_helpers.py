"""The shortcuts the busiest pages take instead of Django's per-row template work print exactly
what the long way printed."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.template import Context, Template
from django.urls import clear_script_prefix, reverse, set_script_prefix

from csplatform.rendering import url_for_each
from csplatform.templatetags.csp import day_month_year, iso_day, money, path_to
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


@pytest.mark.parametrize("day", [dt.date(2026, 1, 5), dt.date(2027, 12, 31), None])
def test_iso_day_prints_what_the_date_filter_prints(day):
    assert iso_day(day) == Template("{{ day|date:'Y-m-d' }}").render(Context({"day": day}))


def test_path_with_id_is_the_url_tag_for_a_url_with_one_id():
    template = Template(
        "{% load csp %}{% path_with_id 'playbooks:task_complete' 'task_id' task_id %}"
        "|{% path_with_id 'accounts:detail' 'account_id' 7 as detail_url %}{{ detail_url }}"
    )
    for task_id in (1, 10, 987654):
        complete_url = reverse("playbooks:task_complete", kwargs={"task_id": task_id})
        detail_url = reverse("accounts:detail", kwargs={"account_id": 7})
        assert template.render(Context({"task_id": task_id})) == f"{complete_url}|{detail_url}"


def test_path_with_id_keeps_the_script_prefix_of_the_request():
    set_script_prefix("/csp/")
    try:
        rendered = Template("{% load csp %}{% path_with_id 'accounts:detail' 'account_id' 7 %}").render(Context())
        assert rendered == reverse("accounts:detail", kwargs={"account_id": 7}) == "/csp/accounts/7/"
    finally:
        clear_script_prefix()
    assert (
        Template("{% load csp %}{% path_with_id 'accounts:detail' 'account_id' 7 %}").render(Context())
        == "/accounts/7/"
    )


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
