"""The cross-tenant probe: every page that takes an object id, asked for another tenant's object.

It walks the project's URL resolver, so a page added later is probed without anyone writing a
test for it. Convention (STYLE.md): an id in a URL is named after its model (``account_id``,
``contact_id``, ``line_id``...), never a bare ``pk``. Signed in as alice (tenant A's admin, so
role checks pass), every such URL built with tenant B's ids must be 404 to GET and to POST,
and so must every mix of tenant A's own ids with one of tenant B's. A kwarg the probe does not
know fails, and says where to teach it. A second test asks every page signed out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.db.models import Model
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLResolver, get_resolver, resolve
from django.urls.converters import IntConverter
from django.utils.regex_helper import normalize
from django_scopes import scopes_disabled

from api.keys import api_key_create
from csplatform.models import Membership

from .factories import (
    AccountFactory,
    ActivityFactory,
    ContactFactory,
    ProductFactory,
    SegmentFactory,
    SubscriptionLineFactory,
)
from .health.factories import SupportTicketFactory
from .imports.factories import ImportJobFactory
from .playbooks.page_factories import EpisodeFactory, TaskFactory, TaskTemplateFactory, TriggerFactory
from .renewals.factories import ChurnReasonFactory, ExpansionOpportunityFactory, RenewalFactory
from .successplans.factories import (
    HandoffFactory,
    JourneyFactory,
    MeasureFactory,
    MilestoneFactory,
    PlanFactory,
    ReviewFactory,
)

# Django's own admin is for platform staff and has its own guard; static files are public.
SKIPPED_PREFIXES = ("/platform-admin/", "/" + settings.STATIC_URL.lstrip("/"))
# Pages a signed-out visitor may see.
PUBLIC_URL_NAMES = {
    "login",
    "logout",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "successplans:plan_shared",  # a read-only plan for whoever holds a live share link
    # The API's description (no data); the API itself answers 401 without a key.
    "api:schema",
    "api:docs",
    "api:redoc",
}
# Integer URL kwargs that are not object ids (a year, a page number): none yet.
NOT_OBJECT_IDS: set[str] = set()
# Values for kwargs that are not ids; anything else gets "x" (or 1 when it is an integer).
PLACEHOLDERS = {"format": "json", "kind": "survey"}
REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class Route:
    name: str  # "accounts:detail"; "/accounts/<account_id>/" when the pattern has no name
    template: str  # "accounts/%(account_id)s/"
    params: tuple[str, ...]
    converters: dict = field(compare=False)
    callback: object = field(compare=False)

    def __str__(self) -> str:
        return self.name

    @property
    def id_kwargs(self) -> list[str]:
        return [
            param
            for param in self.params
            if param.endswith("_id")
            or param in ("pk", "id")
            or (isinstance(self.converters.get(param), IntConverter) and param not in NOT_OBJECT_IDS)
        ]

    def url(self, ids: dict[str, int]) -> str:
        values = {}
        for param in self.params:
            converter = self.converters.get(param)
            if param in ids:
                value = ids[param]
            elif param in PLACEHOLDERS:
                value = PLACEHOLDERS[param]
            else:
                value = 1 if isinstance(converter, IntConverter) else "x"
            values[param] = converter.to_url(value) if converter else value
        return "/" + self.template % values


def _walk(resolver: URLResolver, prefix: str = "", converters: dict | None = None, namespaces: tuple = ()):
    for pattern in resolver.url_patterns:
        regex = prefix + pattern.pattern.regex.pattern.removeprefix("^")
        known = {**(converters or {}), **getattr(pattern.pattern, "converters", {})}
        if isinstance(pattern, URLResolver):
            inner = (*namespaces, pattern.namespace) if pattern.namespace else namespaces
            yield from _walk(pattern, regex, known, inner)
            continue
        # The same reading of a pattern that reverse() uses; an optional group gives several.
        template, params = max(normalize(regex), key=lambda possibility: len(possibility[1]))
        if pattern.name:
            name = ":".join((*namespaces, pattern.name))
        else:
            name = "/" + re.sub(r"%\((\w+)\)s", r"<\1>", template)
        yield Route(name, template, tuple(params), known, pattern.callback)


ROUTES = [route for route in _walk(get_resolver()) if not route.url({}).startswith(SKIPPED_PREFIXES)]
ID_ROUTES = [route for route in ROUTES if route.id_kwargs]
# The REST API authenticates with a key, not a session: tests/api/test_api_probe.py asks its
# routes for another tenant's ids (GET, PUT, PATCH, DELETE, POST) with a key of tenant A.
API_PREFIX = "/api/"
API_ID_ROUTES = [route for route in ID_ROUTES if route.url({}).startswith(API_PREFIX)]
ID_ROUTES = [route for route in ID_ROUTES if route not in API_ID_ROUTES]


def objects_by_kwarg(tenant, member) -> dict[str, Model]:
    """One object of each model that a URL names by id, all in ``tenant`` and related to each
    other, keyed by the URL kwarg that carries its id. Teach the probe a new kwarg here."""
    with scopes_disabled():
        segment = SegmentFactory(tenant=tenant)
        account = AccountFactory(tenant=tenant, segment=segment, owner=member)
        product = ProductFactory(tenant=tenant)
        line = SubscriptionLineFactory(account=account, product=product)
        objects = {
            "account_id": account,
            "contact_id": ContactFactory(account=account),
            "activity_id": ActivityFactory(account=account, created_by=member),
            "segment_id": segment,
            "product_id": product,
            "line_id": line,
            "subscription_line_id": line,
            "membership_id": Membership.objects.get(tenant=tenant, user=member),
            "renewal_id": RenewalFactory(account=account),
            "churn_reason_id": ChurnReasonFactory(tenant=tenant),
            "expansion_opportunity_id": ExpansionOpportunityFactory(account=account, product=product),
            # Users are not tenant-owned, but one who belongs only to another tenant is not ours.
            "user_id": member,
            "handoff_id": HandoffFactory(account=account, author=member),
            "journey_id": JourneyFactory(segment=segment),
            "api_key_id": api_key_create(tenant=tenant, name="Probe", by=member).api_key,
            "import_id": ImportJobFactory(tenant=tenant, created_by=member),
            "support_ticket_id": SupportTicketFactory(account=account),
        }
        plan = PlanFactory(account=account)
        objects.update(
            plan_id=plan,
            milestone_id=MilestoneFactory(plan=plan),
            measure_id=MeasureFactory(plan=plan),
            review_id=ReviewFactory(plan=plan),
        )
        trigger = TriggerFactory(tenant=tenant)
        episode = EpisodeFactory(account=account, trigger=trigger)
        objects.update(
            trigger_id=trigger,
            playbook_id=trigger.playbook,
            step_id=TaskTemplateFactory(playbook=trigger.playbook),
            task_id=TaskFactory(account=account, assignee=member, episode=episode),
        )
    return objects


@pytest.fixture
def ids_of_a_and_b(tenant_a, tenant_b, bob, charlie) -> tuple[dict[str, int], dict[str, int]]:
    """(tenant A's ids, tenant B's ids), by URL kwarg."""
    own = {kwarg: obj.pk for kwarg, obj in objects_by_kwarg(tenant_a, bob).items()}
    other = {kwarg: obj.pk for kwarg, obj in objects_by_kwarg(tenant_b, charlie).items()}
    return own, other


def _request(client: Client, method: str, url: str, who: str):
    try:
        return getattr(client, method)(url)
    except Exception as exc:
        raise AssertionError(f"{method.upper()} {url} ({who}) raised {exc!r}") from exc


def _unknown_kwargs_message(route: Route, known: dict) -> str | None:
    bare = [kwarg for kwarg in route.id_kwargs if kwarg in ("pk", "id")]
    if bare:
        return f"{route} captures a bare {bare}: name the URL kwarg after its model (account_id, contact_id...)."
    unknown = [kwarg for kwarg in route.id_kwargs if kwarg not in known]
    if unknown:
        return (
            f"The cross-tenant probe does not know the URL kwarg(s) {unknown} of {route} (/{route.template}). "
            "Add each to objects_by_kwarg() in tests/test_cross_tenant_probe.py (an object of the tenant, "
            "built with its factory) so the page is probed with another tenant's ids; an integer that is "
            "not an object id goes in NOT_OBJECT_IDS."
        )
    return None


@pytest.mark.parametrize("route", ID_ROUTES, ids=str)
def test_another_tenants_ids_are_404_to_get_and_to_post(route, client_for, alice, ids_of_a_and_b):
    own, other = ids_of_a_and_b
    problem = _unknown_kwargs_message(route, own)
    assert problem is None, problem
    client = client_for(alice)
    kwargs = route.id_kwargs

    own_url = route.url(own)
    assert resolve(own_url).func is route.callback, f"the probe built {own_url} for {route}, which resolves elsewhere"
    own_status = {"get": _request(client, "get", own_url, "tenant A's own ids").status_code}
    assert own_status["get"] != 404, (
        f"GET {own_url} ({route} with tenant A's own, related ids) is 404, so a 404 for tenant B's ids would "
        "prove nothing. Relate the objects in objects_by_kwarg() the way the page expects."
    )

    variants = {"all of tenant B's ids": {**own, **{kwarg: other[kwarg] for kwarg in kwargs}}}
    if len(kwargs) > 1:
        for kwarg in kwargs:
            variants[f"tenant B's {kwarg}, tenant A's other ids"] = {**own, kwarg: other[kwarg]}

    failures = []
    for label, ids in variants.items():
        url = route.url(ids)
        for method in ("get", "post"):
            status = _request(client, method, url, label).status_code
            if status == 405:
                # Refused by method before any lookup: fine if our own object is refused alike.
                if method not in own_status:
                    own_status[method] = _request(client, method, own_url, "tenant A's own ids").status_code
                if own_status[method] == 405:
                    continue
            if status != 404:
                failures.append(f"{method.upper()} {url} ({label}) as tenant A's admin: {status}, expected 404")
    assert not failures, f"{route} lets tenant A reach tenant B's objects:\n" + "\n".join(failures)


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_signed_out_visitor_is_sent_to_sign_in_and_never_gets_data(route, client, ids_of_a_and_b):
    own, _ = ids_of_a_and_b
    url = route.url(own)
    response = _request(client, "get", url, "signed out")
    if route.name in PUBLIC_URL_NAMES:
        assert response.status_code < 500, f"GET {url} (public) signed out: {response.status_code}"
        return
    sign_in = resolve_url(settings.LOGIN_URL)
    redirected_to_sign_in = response.status_code in REDIRECTS and response["Location"].startswith(sign_in)
    assert redirected_to_sign_in or response.status_code in (401, 403, 405), (
        f"GET {url} ({route}) signed out gave {response.status_code}"
        + (f" to {response['Location']}" if response.status_code in REDIRECTS else "")
        + f"; a page for signed-in users must redirect to {sign_in} (or 401/403/405). "
        "If the page is meant to be public, add its name to PUBLIC_URL_NAMES."
    )


def test_the_probe_finds_the_pages_that_take_ids():
    # Guards against a probe that passes because its walk found nothing to ask.
    names = {route.name for route in ID_ROUTES}
    assert "accounts:detail" in names
    assert {route.name for route in ROUTES} >= {"home", "login", "accounts:my_book", "accounts:detail"}
