import pytest

from csplatform.models import Role
from tests.conftest import _member


@pytest.fixture
def sam(tenant_a):
    """An account executive (sales) in tenant A."""
    return _member(tenant_a, Role.SALES, "sam@acme.example", "Sam Sales")
