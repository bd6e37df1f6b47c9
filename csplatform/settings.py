"""The one settings module. Everything comes from the environment.

Defaults are the *embedded* local run (SQLite, no Redis) with production-safe choices
(DEBUG off, secure cookies off-TLS only when DEBUG). Production sets the variables listed in
`.env.production.example`; `manage.py check --deploy` is clean with them.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("CSPLATFORM_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
# Django's deploy check flags the "django-insecure-" prefix, so forgetting SECRET_KEY in
# production is loud, while the local run and the tests need no setup.
SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-local-development-key-not-for-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "csplatform.admin_site.PlatformAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "csplatform",
    "accounts",
    "renewals",
    "health",
    "playbooks",
    "successplans",
    "api",
    "imports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csplatform.tenancy.TenantMiddleware",
]

ROOT_URLCONF = "csplatform.urls"
WSGI_APPLICATION = "csplatform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csplatform.tenancy.tenant_context",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------
# Embedded default: SQLite in WAL mode so the web process and the worker can share it.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'csplatform.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
            "transaction_mode": "IMMEDIATE",
        }
    )
    # SQLite cannot hold covering (INCLUDE) unique constraints or indexes; PostgreSQL, where
    # they matter for speed, has them. Uniqueness itself is kept by the writer.
    SILENCED_SYSTEM_CHECKS = ["models.W039", "models.W040"]
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    # A "SELECT 1" before a request's first query on a kept connection: about 0.4 ms wall and
    # 0.08 ms of the web process's CPU (measured 2026-11-24), 1% of a page. Kept: without it the
    # first request of each worker after a PostgreSQL restart or failover fails.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Iterating a queryset must not open a server-side cursor: three round trips instead of
    # one, and unusable behind a transaction-pooling PgBouncer.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache / Redis / Celery ------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Installations (or test runs) sharing one Redis keep their keys apart by prefix.
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default=""),
        }
    }
    CELERY_BROKER_URL = REDIS_URL
else:
    # Without a Redis server, kombu's filesystem transport gives a real worker and beat
    # (a folder is the queue); eager mode would hide ordering bugs.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "filesystem://"
    _queue_dir = VAR_DIR / "celery-queue"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "control_folder": str(VAR_DIR / "celery-control"),
        "store_processed": False,
        # kombu polls the folder once a second by default: an event's recompute then waits up
        # to a second more than it needs to (health: the score should show within 2 s).
        "polling_interval": 0.2,
    }
# Whether every web process reads the same cache. Caches that must take effect in every process
# at once (a sign-out, a role change) are only used then; per-process local memory would let
# one process keep serving what another has revoked.
SHARED_CACHE = bool(REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_IGNORE_RESULT = True
# One queue per installation by default; concurrent test runs sharing a Redis give each its own.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "refresh-account-rollups-nightly": {
        "task": "accounts.tasks.refresh_rollups_all_tenants",
        "schedule": 60 * 60 * 6,
    },
    "refresh-renewals-and-ledger": {
        "task": "renewals.tasks.refresh_renewals_all_tenants",
        "schedule": 60 * 60 * 6,
    },
    "health-recompute-hourly": {"task": "health.tasks.recompute_all_tenants", "schedule": 60 * 60},
    # Each health recompute chains a playbooks evaluation; this one covers a recompute skipped
    # because another held the lock.
    "playbooks-evaluate": {"task": "playbooks.tasks.evaluate_all_tenants", "schedule": 60 * 60 * 3},
}
CELERY_TIMEZONE = "UTC"

# --- Auth -------------------------------------------------------------------------------
AUTH_USER_MODEL = "csplatform.User"
# The model backend with the signed-in user and their memberships read from the shared cache
# (csplatform.tenancy.identity): no user or membership query on each page.
AUTHENTICATION_BACKENDS = ["csplatform.tenancy.CachedModelBackend"]
# Sessions stay server-side, so signing out (or an admin deleting a session) revokes them at
# once: signed-cookie sessions would save the same query but stay valid until they expire,
# whatever happens on the server. With a shared cache a session is read from it and written
# through to the database; without one (the embedded run), from the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db" if SHARED_CACHE else "django.contrib.sessions.backends.db"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = env.list(
    "PASSWORD_HASHERS",
    default=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    ],
)
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 7  # invitations travel through the same link

# --- E-mail -----------------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend",
)
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="csplatform <noreply@localhost>")

# --- i18n / time ------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"  # storage; each tenant's own zone is activated per request
USE_I18N = True
USE_TZ = True

# --- Static -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_BACKEND",
            default="whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage",
        )
    },
}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request otherwise
WHITENOISE_USE_FINDERS = DEBUG

# --- Security ---------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- REST API (api/: per-tenant keys, /api/v1/, docs at /api/v1/docs/) ------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.HasApiKey"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ApiKeyRateThrottle"],
    # Per key; counted in the cache (Redis when REDIS_URL is set, shared by every process).
    "DEFAULT_THROTTLE_RATES": {
        "api_key": env.str("API_THROTTLE_RATE", default="1200/min"),
        "api_ingest": env.str("API_INGEST_THROTTLE_RATE", default="600/min"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "csplatform API",
    "DESCRIPTION": (
        "Per-company REST API. Authenticate with an API key created under Settings > API keys: "
        '`Authorization: Bearer csp_…`. Errors: `{"errors": [{"field", "message", "code"}]}`; '
        "401 no or bad key, 403 read-only key writing, 404 no such object in your company, "
        "429 too many requests for the key (see `Retry-After`). Lists use cursor pagination "
        "(`next` / `previous` links, `page_size` up to 1000) and `ordering=field` or `-field`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc from the vendored sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Product knobs
PORTFOLIO_PAGE_SIZE = 50
