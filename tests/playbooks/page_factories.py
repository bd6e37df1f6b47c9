"""The task factory the pages' tests use, beside the engine's factories (re-exported here)."""

import datetime as dt

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from playbooks.models import Task

from ..factories import AccountFactory
from .factories import EpisodeFactory, PlaybookFactory, TaskTemplateFactory, TriggerFactory

__all__ = ["EpisodeFactory", "PlaybookFactory", "TaskFactory", "TaskTemplateFactory", "TriggerFactory"]


class TaskFactory(DjangoModelFactory):
    class Meta:
        model = Task

    account = factory.SubFactory(AccountFactory)
    tenant = factory.SelfAttribute("account.tenant")
    title = factory.Sequence(lambda n: f"Task {n}")
    purpose = "Find out why usage dropped"
    due_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=3))
