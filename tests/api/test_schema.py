"""The OpenAPI schema: valid, every operation described with its errors, the documentation
pages served without a CDN, and schemathesis in-process against it with no server error."""

from __future__ import annotations

import re

import pytest
import schemathesis
from django.core.management import call_command
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from api.keys import api_key_create
from tests.factories import AccountFactory, ContactFactory, SubscriptionLineFactory
from tests.renewals.factories import RenewalFactory

SCHEMA_URL = "/api/v1/schema/"


@pytest.fixture
def openapi(client):
    return client.get(SCHEMA_URL, HTTP_ACCEPT="application/json").json()


def test_the_schema_is_valid_openapi_3_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert out.read_text().startswith("openapi: 3")


def test_every_operation_has_a_summary_and_documents_its_errors(openapi):
    assert openapi["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    problems = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            if not operation.get("summary"):
                problems.append(f"{method.upper()} {path}: no summary")
            missing = {"401", "429"} - codes
            if "{" in path:
                missing |= {"404"} - codes
            if method in ("post", "put", "patch", "delete"):
                missing |= {"400", "403"} - codes
            if missing:
                problems.append(f"{method.upper()} {path}: undocumented {sorted(missing)}")
    assert not problems, "\n".join(problems)


def test_the_docs_pages_load_their_assets_locally(client):
    for url in ("/api/v1/docs/", "/api/v1/redoc/"):
        page = client.get(url).content.decode()
        # Any address with a host (http://, https:// or protocol-relative //) would be fetched
        # from elsewhere. (Not a bare "cdn" search: the page's random CSRF token can hold it.)
        assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page, flags=re.IGNORECASE), url
        assert not re.findall(r"""["'](?:https?:)?//[^"']*\.(?:js|css)\b""", page, flags=re.IGNORECASE), url
        assert "/static/drf_spectacular_sidecar/" in page, url


# --- schemathesis -------------------------------------------------------------------------------


@pytest.fixture
def api_schema():
    from django.core.wsgi import get_wsgi_application

    # Examples and random generation, bounded by max_examples below; the exhaustive coverage
    # phase (every boundary of every parameter) would take minutes on two shared cores.
    config = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
    return schemathesis.openapi.from_wsgi(SCHEMA_URL, get_wsgi_application(), config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def key_with_data(tenant_a, alice):
    with scopes_disabled():
        account = AccountFactory(tenant=tenant_a, external_id="CRM-1")
        ContactFactory(account=account, external_id="P-1")
        SubscriptionLineFactory(account=account)
        RenewalFactory(account=account)
        return api_key_create(tenant=tenant_a, name="schemathesis", by=alice).plain_key


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db(transaction=True)
def test_the_api_answers_every_generated_request_without_a_server_error(case, key_with_data):
    # A new key for each operation: its throttle counters start at zero.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("health.tasks.recompute_accounts.apply_async", lambda *args, **kwargs: None)
        case.call_and_validate(headers={"Authorization": f"Bearer {key_with_data}"}, checks=[not_a_server_error])
