"""The Account 360 page and its write actions, driven through the test client the way a browser
(with htmx, or without JavaScript) drives them. Assertions read the HTML a user sees."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import Account, Activity, ActivityKind, Contact, ContactLevel, ContactRole, LifecycleStage, Segment
from accounts.services import tenant_today
from tests.factories import (
    AccountFactory,
    ActivityFactory,
    ContactFactory,
    ProductFactory,
    SegmentFactory,
    SubscriptionLineFactory,
)

HTMX = {"HX-Request": "true"}

# --- Reading the HTML ----------------------------------------------------------------------

BLOCK_TAGS = {"div", "p", "li", "ul", "ol", "dl", "dt", "dd", "section", "article", "h1", "h2", "h3", "option", "br"}
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict
    children: list = field(default_factory=list)

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def text(self) -> str:
        """The text a reader gets: inline elements run on, block elements stand apart."""
        parts = []
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            else:
                parts.append(f" {child.text()} " if child.tag in BLOCK_TAGS else child.text())
        return " ".join("".join(parts).split())

    def has_class(self, name: str) -> bool:
        return name in (self.attrs.get("class") or "").split()

    def find(self, element_id: str) -> Element | None:
        return next((e for e in self.iter() if e.attrs.get("id") == element_id), None)

    def by_id(self, element_id: str) -> Element:
        found = self.find(element_id)
        assert found is not None, f"no element #{element_id} on the page"
        return found

    def all(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        """Descendants (not this element) by tag and/or class, in document order."""
        return [
            e
            for e in self.iter()
            if e is not self and (tag is None or e.tag == tag) and (cls is None or e.has_class(cls))
        ]


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs))
        self.stack[-1].children.append(element)
        if tag not in VOID_TAGS:
            self.stack.append(element)

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(response) -> Element:
    builder = _TreeBuilder()
    builder.feed(response.content.decode())
    return builder.root


def day(value: dt.date) -> str:
    """A date as the page prints it: 3 Apr 2023."""
    return f"{value.day} {value:%b %Y}"


def url(name: str, **kwargs) -> str:
    return reverse(f"accounts:{name}", kwargs=kwargs)


def page_of(client, account) -> Element:
    response = client.get(url("detail", account_id=account.pk))
    assert response.status_code == 200
    return parse(response)


# --- Cast --------------------------------------------------------------------------------------


@pytest.fixture
def today(tenant_a) -> dt.date:
    return tenant_today(tenant_a)


@pytest.fixture
def initech(tenant_a, bob, today):
    """Bob's account."""
    with scopes_disabled():
        return AccountFactory(
            tenant=tenant_a,
            name="Initech",
            domain="initech.example",
            industry="Manufacturing",
            employee_count=1200,
            owner=bob,
            segment=Segment.objects.get(tenant=tenant_a, name="Low touch"),
            segment_pinned=True,
            arr=Decimal("150000"),
            lifecycle_stage=LifecycleStage.ADOPTION,
            customer_since=dt.date(2023, 4, 3),
            next_renewal_date=today + dt.timedelta(days=45),
        )


@pytest.fixture
def hooli(tenant_a, bea):
    """Bea's account."""
    with scopes_disabled():
        return AccountFactory(tenant=tenant_a, name="Hooli", owner=bea)


@pytest.fixture
def org(initech, today):
    """Vera (VP, champion) <- Mark (manager) <- Uma (end user); Sam (sponsor) on his own;
    Dora left a month ago."""
    with scopes_disabled():
        vera = ContactFactory(account=initech, name="Vera Vp", level=ContactLevel.EXECUTIVE, role=ContactRole.CHAMPION)
        mark = ContactFactory(account=initech, name="Mark Manager", level=ContactLevel.MANAGER, reports_to=vera)
        uma = ContactFactory(
            account=initech, name="Uma User", level=ContactLevel.END_USER, role=ContactRole.POWER_USER, reports_to=mark
        )
        sam = ContactFactory(
            account=initech, name="Sam Sponsor", level=ContactLevel.EXECUTIVE, role=ContactRole.EXECUTIVE_SPONSOR
        )
        dora = ContactFactory(
            account=initech,
            name="Dora Departed",
            level=ContactLevel.MANAGER,
            role=ContactRole.CHAMPION,
            left_on=today - dt.timedelta(days=30),
            left_note="Joined a competitor",
        )
    return {"vera": vera, "mark": mark, "uma": uma, "sam": sam, "dora": dora}


@pytest.fixture
def charlies_account(tenant_b, charlie):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_b, name="Globex customer", owner=charlie)
        contact = ContactFactory(account=account, name="Their Contact")
    return account, contact


def activity_count() -> int:
    with scopes_disabled():
        return Activity.objects.count()


def contact_row(contact: Contact) -> tuple:
    with scopes_disabled():
        fresh = Contact.objects.get(pk=contact.pk)
    return (fresh.name, fresh.title, fresh.role, fresh.level, fresh.reports_to_id, fresh.left_on, fresh.left_note)


# --- The page ------------------------------------------------------------------------------------


def test_the_header_shows_the_accounts_facts_and_days_to_renewal(client_for, bob, initech, today):
    header = page_of(client_for(bob), initech).by_id("account-header").text()
    for fact in (
        "Initech",
        "initech.example",
        "Manufacturing",
        "$150,000",
        "Low touch pinned",
        "Bob Csm",
        "Adoption",
        "3 Apr 2023",
        day(today + dt.timedelta(days=45)),
        "in 45 days",
    ):
        assert fact in header


def test_arr_by_product_counts_only_lines_active_today_with_a_total(client_for, bob, tenant_a, initech, today):
    running = {"start_date": today - dt.timedelta(days=100), "end_date": today + dt.timedelta(days=265)}
    with scopes_disabled():
        analytics = ProductFactory(tenant=tenant_a, name="Analytics")
        alerts = ProductFactory(tenant=tenant_a, name="Alerts")
        legacy = ProductFactory(tenant=tenant_a, name="Legacy suite")
        SubscriptionLineFactory(account=initech, product=analytics, arr=Decimal("60000"), **running)
        SubscriptionLineFactory(account=initech, product=analytics, arr=Decimal("30000"), **running)
        SubscriptionLineFactory(account=initech, product=alerts, arr=Decimal("30000"), **running)
        SubscriptionLineFactory(
            account=initech,
            product=legacy,
            arr=Decimal("80000"),
            start_date=today - dt.timedelta(days=400),
            end_date=today - dt.timedelta(days=1),
        )
        SubscriptionLineFactory(  # starts tomorrow
            account=initech,
            product=alerts,
            arr=Decimal("5000"),
            start_date=today + dt.timedelta(days=1),
            end_date=today + dt.timedelta(days=366),
        )

    section = page_of(client_for(bob), initech).by_id("arr-by-product")
    rows = [item.text() for item in section.all("li")]
    assert rows == ["Analytics $90,000", "Alerts $30,000"]
    assert "Total $120,000" in section.text()
    assert "Legacy suite" not in section.text()
    bars = [bar.attrs["style"] for bar in section.all(cls="progress-bar")]
    assert bars == ["width: 75%", "width: 25%"]


def test_contacts_are_grouped_by_level_from_the_top_with_their_role(client_for, bob, initech, org):
    contacts = page_of(client_for(bob), initech).by_id("contacts-panel")
    listing = contacts.all("section")[0].text()
    order = [
        "Director / VP and above 2",
        "Sam Sponsor",
        "Vera Vp",
        "Manager 1",
        "Mark Manager",
        "End user 1",
        "Uma User",
    ]
    positions = [listing.index(item) for item in order]
    assert positions == sorted(positions)
    assert "Champion" in contacts.by_id(f"contact-{org['vera'].pk}").text()
    assert "Executive sponsor" in contacts.by_id(f"contact-{org['sam'].pk}").text()


def test_departed_contacts_are_listed_apart_struck_through_with_date_and_note(client_for, bob, initech, org, today):
    page = page_of(client_for(bob), initech)
    departed = page.by_id("departed-contacts")
    assert departed.all(cls="contact-left")[0].text() == "Dora Departed"
    assert f"Left on {day(today - dt.timedelta(days=30))}" in departed.text()
    assert "Joined a competitor" in departed.text()
    # Nowhere else: not among the current contacts, not on the org map.
    levels = page.by_id("contacts-panel").all("section")[0]
    current = [li.text() for li in levels.all("li") if li not in departed.all("li")]
    assert not any("Dora Departed" in row for row in current)
    assert "Dora Departed" not in page.by_id("org-map").text()


def org_chart(page: Element) -> dict[str, list[str]]:
    """Each name on the org map -> the names nested directly under it ("" = top level)."""
    chart: dict[str, list[str]] = {}

    def walk(list_element: Element, manager: str) -> None:
        for item in (c for c in list_element.children if isinstance(c, Element) and c.tag == "li"):
            name = next(e for e in item.iter() if e.has_class("org-name")).text()
            chart.setdefault(manager, []).append(name)
            for nested in (c for c in item.children if isinstance(c, Element) and c.tag == "ul"):
                walk(nested, name)

    walk(page.by_id("org-map").all("ul")[0], "")
    return chart


def test_the_org_map_nests_each_contact_under_the_person_they_report_to(client_for, bob, initech, org):
    chart = org_chart(page_of(client_for(bob), initech))
    assert chart == {"": ["Sam Sponsor", "Vera Vp"], "Vera Vp": ["Mark Manager"], "Mark Manager": ["Uma User"]}


def test_someone_whose_manager_left_heads_a_branch_that_names_the_manager(client_for, bob, initech, org, today):
    with scopes_disabled():
        Contact.objects.filter(pk=org["vera"].pk).update(left_on=today)
    page = page_of(client_for(bob), initech)
    assert org_chart(page) == {"": ["Sam Sponsor", "Mark Manager"], "Mark Manager": ["Uma User"]}
    assert "Reported to Vera Vp, who left" in page.by_id("org-map").text()


def test_the_timeline_lists_activities_newest_first_in_the_tenants_time_zone(client_for, bob, bea, initech, org):
    with scopes_disabled():
        older = ActivityFactory(account=initech, purpose="Kick-off", created_by=bob)
        newer = ActivityFactory(
            account=initech,
            kind=ActivityKind.QBR,
            occurred_at=dt.datetime(2026, 11, 10, 15, 0, tzinfo=dt.UTC),
            purpose="Review adoption against the plan",
            summary="Usage is up 20%.",
            next_step="Send the deck",
            next_step_due=dt.date(2026, 11, 14),
        )
        newer.team.add(bob, bea, through_defaults={"tenant": initech.tenant})
        newer.contacts.add(org["vera"], through_defaults={"tenant": initech.tenant})
    items = page_of(client_for(bob), initech).by_id("timeline-items").all("li")
    assert [item.attrs["id"] for item in items] == [f"activity-{newer.pk}", f"activity-{older.pk}"]
    first = items[0].text()
    for fact in (
        "QBR",
        "Tue 10 Nov 2026, 10:00 EST",  # 15:00 UTC in New York
        "Review adoption against the plan",
        "Usage is up 20%.",
        "Our people Bea Csm, Bob Csm",
        "Their contacts Vera Vp",
        "Next step Send the deck, due 14 Nov 2026",
    ):
        assert fact in first


def test_the_timeline_shows_the_latest_25_and_loads_older_ones_on_demand(client_for, bob, initech):
    start = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    with scopes_disabled():
        for number in range(30):
            ActivityFactory(
                account=initech, purpose=f"Touch {number:02d}", occurred_at=start + dt.timedelta(days=number)
            )
    client = client_for(bob)
    timeline = page_of(client, initech).by_id("timeline-items")
    purposes = [h3.text() for h3 in timeline.all("h3")]
    assert purposes == [f"Touch {n:02d}" for n in range(29, 4, -1)]
    more = timeline.by_id("timeline-more").all("a")[0]
    assert more.text() == "Show older activities"

    response = client.get(more.attrs["hx-get"], headers=HTMX)
    older = parse(response)
    assert [h3.text() for h3 in older.all("h3")] == ["Touch 04", "Touch 03", "Touch 02", "Touch 01", "Touch 00"]
    assert older.find("timeline-more") is None
    assert "autofocus" in older.all("li")[0].attrs  # focus moves to the first activity loaded
    assert older.find("account-header") is None  # only the list items, not the page


def test_the_account_page_query_count_does_not_grow_with_contacts_activities_or_lines(
    client_for, bob, bea, tenant_a, initech, today, django_assert_max_num_queries
):
    def add_rows(count: int) -> None:
        with scopes_disabled():
            product = ProductFactory(tenant=tenant_a)
            boss = None
            for _ in range(count):
                boss = ContactFactory(account=initech, reports_to=boss)
                ContactFactory(account=initech, left_on=today)
                SubscriptionLineFactory(
                    account=initech, product=product, start_date=today, end_date=today + dt.timedelta(days=30)
                )
                SubscriptionLineFactory(account=initech, start_date=today, end_date=today + dt.timedelta(days=30))
                activity = ActivityFactory(account=initech, created_by=bob)
                activity.team.add(bob, bea, through_defaults={"tenant": tenant_a})
                activity.contacts.add(boss, through_defaults={"tenant": tenant_a})

    client = client_for(bob)
    add_rows(1)
    client.get(url("detail", account_id=initech.pk))  # the signed-in identity is cached from here on
    with CaptureQueriesContext(connection) as few:
        assert client.get(url("detail", account_id=initech.pk)).status_code == 200
    add_rows(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = page_of(client, initech)
    assert len(page.by_id("timeline-items").all("article")) == 25  # the latest; older ones on demand
    # The page (6: account, contacts, the timeline's activities and their people's names, ARR by
    # product, the nav's count of tasks due), the success-plan card (3), the health card (2), the
    # renewal card (1) and the playbooks card (2 without alerts).
    assert len(few.captured_queries) == 6 + 3 + 2 + 1 + 2


# --- Logging an activity ---------------------------------------------------------------------


def activity_post(contact: Contact, *people, **overrides) -> dict:
    return {
        "kind": ActivityKind.MEETING,
        "occurred_at": "2026-11-20T09:30",
        "team": [person.pk for person in people],
        "contacts": [contact.pk],
        "purpose": "Plan the QBR agenda",
        "summary": "Agreed three goals.",
        "next_step": "Send the agenda",
        "next_step_due": "2026-11-27",
        **overrides,
    }


def test_logging_an_activity_with_htmx_puts_it_on_top_of_the_timeline_and_resets_the_form(
    client_for, bob, bea, initech, org
):
    with scopes_disabled():
        ActivityFactory(account=initech, purpose="Kick-off")
    client = client_for(bob)
    response = client.post(
        url("activity_log", account_id=initech.pk), activity_post(org["vera"], bob, bea), headers=HTMX
    )

    assert response.status_code == 200
    swap = parse(response)
    timeline = swap.by_id("timeline")
    assert timeline.attrs["hx-swap-oob"] == "true"
    first = timeline.all("li")[0].text()
    for fact in (
        "Meeting",
        "Fri 20 Nov 2026, 09:30 EST",
        "Plan the QBR agenda",
        "Our people Bea Csm, Bob Csm",
        "Their contacts Vera Vp",
        "Next step Send the agenda, due 27 Nov 2026",
    ):
        assert fact in first
    assert "Kick-off" in timeline.all("li")[1].text()
    fresh_form = swap.by_id("activity-form")
    assert "value" not in fresh_form.by_id("id_purpose").attrs
    assert swap.find("account-header") is None
    assert "Activity logged." in swap.by_id("account-flash").text()

    with scopes_disabled():
        activity = Activity.objects.get(purpose="Plan the QBR agenda")
        assert activity.occurred_at == dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC)  # 09:30 in New York
        assert activity.created_by == bob
    timeline = page_of(client, initech).by_id("timeline-items")
    assert timeline.all("h3")[0].text() == "Plan the QBR agenda"


def test_any_member_may_log_an_activity_on_someone_elses_account(client_for, bea, initech, org):
    response = client_for(bea).post(
        url("activity_log", account_id=initech.pk), activity_post(org["vera"], bea), headers=HTMX
    )
    assert response.status_code == 200
    assert activity_count() == 1


def test_without_htmx_logging_an_activity_returns_to_the_page_with_a_message(client_for, bob, initech, org):
    client = client_for(bob)
    response = client.post(url("activity_log", account_id=initech.pk), activity_post(org["vera"], bob), follow=True)
    assert response.redirect_chain == [(url("detail", account_id=initech.pk), 302)]
    page = parse(response)
    assert "Activity logged." in page.by_id("main").text()
    assert page.by_id("timeline-items").all("h3")[0].text() == "Plan the QBR agenda"


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("missing purpose", "purpose"),
        ("just checking in", "purpose"),
        ("contact of another account", "contacts"),
        ("departed contact", "contacts"),
        ("member of another tenant", "team"),
        ("nobody of ours", "team"),
        ("due date without a next step", "next_step"),
    ],
)
def test_a_bad_activity_shows_the_error_at_its_field_and_writes_nothing(
    case, field, client_for, bob, charlie, tenant_a, initech, hooli, org
):
    with scopes_disabled():
        elsewhere = ContactFactory(account=hooli, name="Hooli Person")
    data = activity_post(org["vera"], bob)
    data.update(
        {
            "missing purpose": {"purpose": ""},
            "just checking in": {"purpose": "Just checking in!"},
            "contact of another account": {"contacts": [elsewhere.pk]},
            "departed contact": {"contacts": [org["dora"].pk]},
            "member of another tenant": {"team": [bob.pk, charlie.pk]},
            "nobody of ours": {"team": []},
            "due date without a next step": {"next_step": ""},
        }[case]
    )
    response = client_for(bob).post(url("activity_log", account_id=initech.pk), data, headers=HTMX)

    assert response.status_code == 422
    form = parse(response).by_id("activity-form")
    assert form.by_id(f"id_{field}_error").text()
    assert activity_count() == 0


def test_the_page_fetches_the_activity_form_when_its_section_opens(client_for, bob, initech):
    page = page_of(client_for(bob), initech)
    wrap = page.by_id("activity-form-wrap")
    assert wrap.attrs["hx-get"] == url("activity_log", account_id=initech.pk)
    assert wrap.attrs["hx-trigger"] == "show.bs.collapse once"
    assert page.find("activity-form") is None  # not rendered until asked for

    form = parse(client_for(bob).get(wrap.attrs["hx-get"], headers=HTMX)).by_id("activity-form")
    assert "autofocus" in form.by_id("id_kind").attrs  # ready to type into once it arrives


def test_the_activity_form_offers_only_this_tenants_members_and_this_accounts_current_contacts(
    client_for, bob, bea, charlie, initech, hooli, org
):
    with scopes_disabled():
        ContactFactory(account=hooli, name="Hooli Person")
    form = parse(client_for(bob).get(url("activity_log", account_id=initech.pk), headers=HTMX))
    people = [e.text() for e in form.all("label") if e.attrs.get("for", "").startswith("id_team_")]
    contacts = [e.text() for e in form.all("label") if e.attrs.get("for", "").startswith("id_contacts_")]
    assert people == ["Bea Csm", "Bob Csm"]
    assert sorted(name.split(",")[0] for name in contacts) == ["Mark Manager", "Sam Sponsor", "Uma User", "Vera Vp"]


# --- Contacts ------------------------------------------------------------------------------------


def contact_post(**overrides) -> dict:
    return {
        "name": "Nina New",
        "title": "Head of Data",
        "email": "nina@initech.example",
        "role": ContactRole.POWER_USER,
        "level": ContactLevel.MANAGER,
        "reports_to": "",
        **overrides,
    }


def test_adding_a_contact_with_htmx_updates_the_contacts_and_org_map_and_closes_the_modal(
    client_for, bob, initech, org
):
    response = client_for(bob).post(
        url("contact_add", account_id=initech.pk), contact_post(reports_to=org["vera"].pk), headers=HTMX
    )
    assert response.status_code == 200
    assert "closeModal" in json.loads(response["HX-Trigger"])
    assert response["HX-Reswap"] == "none"
    swap = parse(response)
    panel = swap.by_id("contacts-panel")
    assert panel.attrs["hx-swap-oob"] == "true"
    assert "Manager 2" in panel.text()
    assert org_chart(swap)["Vera Vp"] == ["Mark Manager", "Nina New"]
    assert "Nina New saved." in swap.by_id("account-flash").text()
    with scopes_disabled():
        assert Contact.objects.get(name="Nina New").account == initech


def test_editing_a_contact_changes_their_title_and_manager(client_for, bob, initech, org):
    uma = org["uma"]
    data = contact_post(name="Uma User", title="Team lead", reports_to=org["sam"].pk)
    response = client_for(bob).post(url("contact_edit", account_id=initech.pk, contact_id=uma.pk), data, headers=HTMX)
    assert response.status_code == 200
    assert org_chart(parse(response))["Sam Sponsor"] == ["Uma User"]
    assert contact_row(uma)[1] == "Team lead"


def test_a_contact_form_offers_only_this_accounts_other_contacts_as_managers(client_for, bob, initech, hooli, org):
    with scopes_disabled():
        ContactFactory(account=hooli, name="Hooli Person")
    form = parse(
        client_for(bob).get(url("contact_edit", account_id=initech.pk, contact_id=org["mark"].pk), headers=HTMX)
    )
    managers = [option.text() for option in form.by_id("id_reports_to").all("option")]
    assert [name.split(",")[0] for name in managers] == [
        "No one here (top of the map)",
        "Sam Sponsor",
        "Uma User",
        "Vera Vp",
    ]


@pytest.mark.parametrize("manager", ["uma", "mark", "elsewhere"])
def test_a_bad_manager_shows_an_error_at_reports_to_and_changes_nothing(client_for, bob, initech, hooli, org, manager):
    """Mark cannot report to Uma (she reports to him: a loop), to himself, or to another account's contact."""
    with scopes_disabled():
        elsewhere = ContactFactory(account=hooli)
    mark = org["mark"]
    before = contact_row(mark)
    manager_id = elsewhere.pk if manager == "elsewhere" else org[manager].pk
    data = contact_post(name="Mark Renamed", reports_to=manager_id)
    response = client_for(bob).post(url("contact_edit", account_id=initech.pk, contact_id=mark.pk), data, headers=HTMX)
    assert response.status_code == 422
    error = parse(response).by_id("id_reports_to_error").text()
    if manager == "uma":
        assert "Uma User already reports to Mark Manager" in error
    assert contact_row(mark) == before


def test_a_contact_without_a_name_is_not_added(client_for, bob, initech):
    response = client_for(bob).post(url("contact_add", account_id=initech.pk), contact_post(name=""), headers=HTMX)
    assert response.status_code == 422
    assert parse(response).by_id("id_name_error").text()
    with scopes_disabled():
        assert not Contact.objects.filter(account=initech).exists()


def test_marking_a_contact_as_left_moves_them_to_departed(client_for, bob, initech, org, today):
    mark = org["mark"]
    data = {"left_on": (today - dt.timedelta(days=2)).isoformat(), "note": "Retired"}
    response = client_for(bob).post(url("contact_left", account_id=initech.pk, contact_id=mark.pk), data, headers=HTMX)
    assert response.status_code == 200
    swap = parse(response)
    departed = swap.by_id("departed-contacts").text()
    assert "Mark Manager" in departed
    assert "Retired" in departed
    assert "Reported to" not in departed
    assert org_chart(swap) == {"": ["Sam Sponsor", "Vera Vp", "Uma User"]}
    assert contact_row(mark)[5:] == (today - dt.timedelta(days=2), "Retired")


def test_the_left_form_warns_when_a_champion_is_leaving(client_for, bob, initech, org):
    form = parse(
        client_for(bob).get(url("contact_left", account_id=initech.pk, contact_id=org["vera"].pk), headers=HTMX)
    )
    assert "top churn risk" in form.text()


@pytest.mark.parametrize("left_on", ["", "not a date", "tomorrow"])
def test_marking_left_needs_a_real_date_that_has_passed(client_for, bob, initech, org, today, left_on):
    mark = org["mark"]
    before = contact_row(mark)
    if left_on == "tomorrow":
        left_on = (today + dt.timedelta(days=1)).isoformat()
    response = client_for(bob).post(
        url("contact_left", account_id=initech.pk, contact_id=mark.pk), {"left_on": left_on, "note": "x"}, headers=HTMX
    )
    assert response.status_code == 422
    assert parse(response).by_id("id_left_on_error").text()
    assert contact_row(mark) == before


def test_a_contact_of_another_account_is_not_found_under_this_one(client_for, bob, initech, hooli):
    with scopes_disabled():
        elsewhere = ContactFactory(account=hooli)
    for name in ("contact_edit", "contact_left"):
        address = url(name, account_id=initech.pk, contact_id=elsewhere.pk)
        assert client_for(bob).get(address).status_code == 404
        assert client_for(bob).post(address, contact_post()).status_code == 404


# --- Editing the account and who may ----------------------------------------------------------------


def account_post(account: Account, **overrides) -> dict:
    return {
        "name": account.name,
        "domain": account.domain,
        "industry": account.industry,
        "employee_count": account.employee_count or "",
        "lifecycle_stage": account.lifecycle_stage,
        "customer_since": account.customer_since.isoformat() if account.customer_since else "",
        "segment": account.segment_id or "",
        "segment_pinned": "on" if account.segment_pinned else "",
        **overrides,
    }


def owner_and_name(account: Account) -> tuple:
    with scopes_disabled():
        fresh = Account.objects.select_related("owner").get(pk=account.pk)
    return fresh.owner, fresh.name


def test_the_owner_edits_the_account_and_the_header_updates_in_place(client_for, bob, initech):
    data = account_post(initech, name="Initech Europe", lifecycle_stage=LifecycleStage.VALUE)
    response = client_for(bob).post(url("edit", account_id=initech.pk), data, headers=HTMX)
    assert response.status_code == 200
    assert "closeModal" in json.loads(response["HX-Trigger"])
    header = parse(response).by_id("account-header")
    assert header.attrs["hx-swap-oob"] == "true"
    assert "Initech Europe" in header.text()
    assert "Delivering value" in header.text()
    assert owner_and_name(initech) == (bob, "Initech Europe")


def test_a_csm_does_not_see_the_owner_field_and_cannot_reassign_even_their_own_account(client_for, bob, bea, initech):
    client = client_for(bob)
    form = parse(client.get(url("edit", account_id=initech.pk), headers=HTMX))
    assert form.find("id_owner") is None
    response = client.post(url("edit", account_id=initech.pk), account_post(initech, owner=bea.pk, name="Mine now"))
    assert response.status_code == 403
    assert owner_and_name(initech) == (bob, "Initech")


def test_a_csm_cannot_edit_another_csms_account_or_its_contacts(client_for, bob, hooli):
    with scopes_disabled():
        contact = ContactFactory(account=hooli)
    client = client_for(bob)
    page = page_of(client, hooli)
    assert [a.text() for a in page.by_id("contacts-panel").all("a") if "hx-get" in a.attrs] == []  # no buttons
    assert "Edit account" not in page.by_id("account-header").text()
    for address, data in (
        (url("edit", account_id=hooli.pk), account_post(hooli, name="Taken over")),
        (url("contact_add", account_id=hooli.pk), contact_post()),
        (url("contact_edit", account_id=hooli.pk, contact_id=contact.pk), contact_post()),
        (url("contact_left", account_id=hooli.pk, contact_id=contact.pk), {"left_on": "2026-01-01"}),
    ):
        assert client.get(address).status_code == 403
        assert client.post(address, data, headers=HTMX).status_code == 403
    assert owner_and_name(hooli)[1] == "Hooli"
    assert contact_row(contact)[0] != "Nina New"
    assert contact_row(contact)[5] is None


def test_a_leader_reassigns_an_account_choosing_among_the_tenants_members_only(
    client_for, alice, lena, bob, bea, charlie, hooli
):
    client = client_for(lena)
    form = parse(client.get(url("edit", account_id=hooli.pk), headers=HTMX))
    owners = [option.text() for option in form.by_id("id_owner").all("option")]
    assert owners == ["Unassigned", "Alice Admin", "Bea Csm", "Bob Csm", "Lena Leader"]

    response = client.post(url("edit", account_id=hooli.pk), account_post(hooli, owner=bob.pk), headers=HTMX)
    assert response.status_code == 200
    assert "Bob Csm" in parse(response).by_id("account-header").text()
    assert owner_and_name(hooli)[0] == bob


def test_an_owner_from_another_tenant_is_refused_at_the_owner_field(client_for, lena, bea, charlie, hooli):
    response = client_for(lena).post(
        url("edit", account_id=hooli.pk), account_post(hooli, owner=charlie.pk), headers=HTMX
    )
    assert response.status_code == 422
    assert parse(response).by_id("id_owner_error").text()
    assert owner_and_name(hooli)[0] == bea


def test_a_segment_of_another_tenant_or_an_unpinned_choice_is_refused(client_for, bob, tenant_b, initech):
    with scopes_disabled():
        theirs = SegmentFactory(tenant=tenant_b, name="Their segment")
        high = Segment.objects.get(tenant=initech.tenant, name="High touch")
    client = client_for(bob)
    for data in (account_post(initech, segment=theirs.pk), account_post(initech, segment=high.pk, segment_pinned="")):
        response = client.post(url("edit", account_id=initech.pk), data, headers=HTMX)
        assert response.status_code == 422
        assert parse(response).by_id("id_segment_error").text()
    with scopes_disabled():
        assert Account.objects.get(pk=initech.pk).segment.name == "Low touch"


def test_without_javascript_the_edit_form_is_a_page_of_its_own(client_for, bob, initech):
    response = client_for(bob).get(url("edit", account_id=initech.pk))
    page = parse(response)
    assert page.by_id("form-modal-title").text() == "Edit Initech"
    assert page.find("account-header") is None
    assert page.find("main") is not None  # the full layout, not a fragment


# --- Another tenant's ids ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["detail", "edit", "activity_log", "contact_add", "contact_edit", "contact_left"])
def test_another_tenants_account_or_contact_is_not_found(client_for, alice, bob, initech, charlies_account, name):
    account, contact = charlies_account
    kwargs = {"account_id": account.pk}
    if name.startswith("contact_") and name != "contact_add":
        kwargs["contact_id"] = contact.pk
    before = activity_count()
    for user in (alice, bob):
        client = client_for(user)
        assert client.get(url(name, **kwargs)).status_code == 404
        expected = 405 if name == "detail" else 404
        assert client.post(url(name, **kwargs), contact_post(), headers=HTMX).status_code == expected
    assert activity_count() == before
    with scopes_disabled():
        assert Contact.objects.get(pk=contact.pk).name == "Their Contact"
