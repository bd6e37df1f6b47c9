"""Requests per API key, counted in Django's cache (Redis when ``REDIS_URL`` is set, so every
web process shares the count; the embedded run's local-memory cache counts per process)."""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self):
        # Read at each request (not at import as DRF does) so settings overrides apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        api_key = request.auth
        if api_key is None or not hasattr(api_key, "prefix"):
            return None
        return self.cache_format % {"scope": self.scope, "ident": api_key.pk}


class IngestRateThrottle(ApiKeyRateThrottle):
    """Batches of events have their own, lower count."""

    scope = "api_ingest"
