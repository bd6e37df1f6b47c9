"""gunicorn settings, read from the working directory (the image's command and bench/ use them).

Sync workers, two per core plus one by default (gunicorn's own advice; ``WEB_CONCURRENCY``
overrides): a page spends part of its time waiting for PostgreSQL, and with more workers than
cores another request uses the CPU meanwhile and a slow page does not hold up a quick one. On
two cores with 4 concurrent clients (README, "Pages under load") 5 and 2 workers measured the
same within the noise of the shared machine.
"""

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# Recycle a worker now and then so a slow leak cannot grow without bound; the jitter keeps
# the workers from restarting together.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
