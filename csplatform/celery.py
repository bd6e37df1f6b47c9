"""The Celery app. Tasks live in each domain app's ``tasks.py`` and stay thin: they take
primitive ids, activate the tenant (``csplatform.tenancy.tenant_scope``) and call a service."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csplatform.settings")

app = Celery("csplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
