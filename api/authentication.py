"""``Authorization: Bearer <key>``: the key's tenant becomes the request's tenant.

The tenant is activated for the rest of the request by ``api.views.TenantScopedMixin`` through
``csplatform.tenancy.tenant_scope``, the same context the web middleware enters.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .keys import api_key_authenticate


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the key as “Authorization: Bearer <key>”.")
        try:
            plain_key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("The API key is not valid.") from exc
        api_key = api_key_authenticate(plain_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("The API key is unknown or has been revoked.")
        # request.tenant, as the web middleware sets it for pages.
        request._request.tenant = api_key.tenant
        # The key acts for its tenant, not as a person: writes that record an author use the
        # admin who created the key (None once that user is gone).
        return (ApiKeyUser(api_key), api_key)

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (with WWW-Authenticate) rather than 403 when no key is sent.
        return f'{self.keyword} realm="api"'


class ApiKeyUser:
    """The ``request.user`` of a key-authenticated request."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, api_key):
        self.api_key = api_key
        self.pk = None
        self.id = None

    @property
    def author(self):
        return self.api_key.created_by

    def __str__(self) -> str:
        return f"API key {self.api_key.prefix}"


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key created by an admin under Settings > API keys, sent as "
            "`Authorization: Bearer csp_…`. The key acts only inside its own company.",
        }
