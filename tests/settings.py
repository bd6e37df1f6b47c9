"""The handful of values tests override. Tests run on PostgreSQL and Redis, never SQLite."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/csplatform")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")

from csplatform.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; not a security setting here
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
CELERY_TASK_ALWAYS_EAGER = False

# Each xdist worker (and each concurrent run) has its own test database, so tenant and account
# ids repeat between them: keep their cache keys (coalescing marks, throttles) apart on the
# shared Redis. A test's Celery worker gets the same prefix (tests/workers.py).
CACHES["default"]["KEY_PREFIX"] = "test-{}-{}".format(  # noqa: F405
    DATABASES["default"]["NAME"],  # noqa: F405
    os.environ.get("PYTEST_XDIST_WORKER", "main"),
)
# Likewise each xdist worker's tasks go to its own queue, consumed only by its own test worker
# (tests/workers.py): a worker started by the other xdist process must never take them.
CELERY_TASK_DEFAULT_QUEUE = CACHES["default"]["KEY_PREFIX"]  # noqa: F405
