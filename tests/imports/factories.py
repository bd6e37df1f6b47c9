import factory
from factory.django import DjangoModelFactory

from imports.models import ImportJob, ImportKind, ImportStatus


class ImportJobFactory(DjangoModelFactory):
    class Meta:
        model = ImportJob

    tenant = factory.SubFactory("tests.factories.TenantFactory")
    kind = ImportKind.ACCOUNTS
    status = ImportStatus.READY
    file_name = "accounts.csv"
    content = b"name,domain\nInitech,initech.example\n"
    size = factory.LazyAttribute(lambda job: len(job.content))
    headers = factory.LazyFunction(lambda: ["name", "domain"])
    mapping = factory.LazyFunction(lambda: {"0": "name", "1": "domain"})
    rows_total = 1
    errors = factory.LazyFunction(lambda: [[2, "domain", "x", "not a domain like example.com"]])
    error_count = 1
