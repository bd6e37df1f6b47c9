"""factory_boy factories of the playbooks models. Related rows always share one tenant."""

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from playbooks.models import Episode, Playbook, TaskTemplate, Trigger, TriggerKind
from tests.factories import AccountFactory


class PlaybookFactory(DjangoModelFactory):
    class Meta:
        model = Playbook

    tenant = factory.SubFactory("tests.factories.TenantFactory")
    name = factory.Sequence(lambda n: f"Playbook {n}")
    description = "Recover an account at risk"


class TaskTemplateFactory(DjangoModelFactory):
    class Meta:
        model = TaskTemplate

    playbook = factory.SubFactory(PlaybookFactory)
    tenant = factory.SelfAttribute("playbook.tenant")
    position = factory.Sequence(lambda n: n)
    title = factory.Sequence(lambda n: f"Step {n}")
    purpose = "Find out what changed and agree a recovery plan"
    due_offset_days = 3


class TriggerFactory(DjangoModelFactory):
    class Meta:
        model = Trigger
        skip_postgeneration_save = True

    tenant = factory.SubFactory("tests.factories.TenantFactory")
    playbook = factory.SubFactory(PlaybookFactory, tenant=factory.SelfAttribute("..tenant"))
    name = factory.Sequence(lambda n: f"Trigger {n}")
    kind = TriggerKind.BAND_ENTERED
    params = factory.LazyFunction(lambda: {"band": "red"})
    enabled = True

    @factory.post_generation
    def segments(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.segments.set(extracted)


class EpisodeFactory(DjangoModelFactory):
    class Meta:
        model = Episode

    account = factory.SubFactory(AccountFactory)
    tenant = factory.SelfAttribute("account.tenant")
    trigger = factory.SubFactory(TriggerFactory, tenant=factory.SelfAttribute("..tenant"))
    opened_at = factory.LazyFunction(timezone.now)
