"""OLA Portal settings: one module, every difference between environments is a variable.

Development defaults are safe: DEBUG is off unless asked for, and without DEBUG the
portal refuses to start without a SECRET_KEY. See README.md for every variable.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from apps.core import limits

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

# Read as-is: django-environ treats a value starting with "$" as a reference to another
# variable, and Django's own generated keys start with "$" about one time in fifty.
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY (production) or DEBUG=true (development)."
        )
    # Only ever used with DEBUG on, i.e. on a developer's machine.
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Applications -------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "simple_history",
    "csp",
    "apps.core",
    "apps.accounts",
    "apps.calendars",
    "apps.teams",
    "apps.agreements",
    "apps.handoffs",
    "apps.notifications",
    "apps.reviews",
    "apps.reports",
    "apps.dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.middleware.PermissionsPolicyMiddleware",
    "apps.core.middleware.ContentSecurityPolicyMiddleware",
    "apps.core.middleware.RejectNullCharactersMiddleware",
    "apps.core.middleware.RequestBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.accounts.middleware.LoginRequiredMiddleware",
    "apps.accounts.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

# The largest request body read (apps.core.limits; 413 beyond it). No page or endpoint
# takes a file upload, so this caps every body.
DATA_UPLOAD_MAX_MEMORY_SIZE = limits.REQUEST_BODY_MAX

ROOT_URLCONF = "olaportal.urls"
WSGI_APPLICATION = "olaportal.wsgi.application"

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
                "olaportal.context_processors.navigation",
                "apps.notifications.context_processors.unread",
            ],
        },
    },
]

# --- Data -----------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# The detail page's one big query and each request's session and user queries are bound
# and prepared on the server, their plans kept per connection (apps.core.sql.prepared):
# PgBouncer in transaction mode needs 1.21 or newer with max_prepared_statements set, else
# DATABASE_PREPARE=false.
DATABASE_PREPARE = env.bool("DATABASE_PREPARE", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env.bool(
    "DATABASE_JIT", default=False
):
    # No JIT compilation for the portal's queries: they are short, and PostgreSQL
    # compiles any plan costed above jit_above_cost (100,000) whatever its real run time.
    # The dashboard's at-risk count spent 95 ms compiling at 10,000 open handoffs before
    # its partial indexes, and still spends ~29 ms once a team's open work prices its plan
    # past the threshold (~14,000 open; issue 14). DATABASE_JIT=true keeps the server's.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file. A deferred transaction that
    # reads and then writes cannot wait for the lock (SQLite answers "database is locked"
    # at once): IMMEDIATE takes the write lock at BEGIN, where the busy timeout applies.
    # WAL lets readers go on while one process writes; NORMAL sync is safe with WAL.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

# Shared by every process: DRF's request throttles count here. The default is per process
# (fine for `make run`); production sets CACHE_URL=redis://… (README).
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Authentication -------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"
# Sign-in throttling (apps.accounts): after this many failed sign-ins for one username
# (any letter case), or from one client address, within the window, further attempts are
# refused without checking the password until the oldest failure leaves the window.
SIGN_IN_USERNAME_FAILURES = env.int("SIGN_IN_USERNAME_FAILURES", default=5)
SIGN_IN_IP_FAILURES = env.int("SIGN_IN_IP_FAILURES", default=20)
SIGN_IN_WINDOW_MINUTES = env.int("SIGN_IN_WINDOW_MINUTES", default=15)
# Reverse proxies in front of gunicorn that append to X-Forwarded-For: the client address
# (sign-in throttling, DRF throttles) is the one the outermost of them saw. With 0, it is
# REMOTE_ADDR and X-Forwarded-For, which anyone can send, is ignored.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
if min(SIGN_IN_USERNAME_FAILURES, SIGN_IN_IP_FAILURES, SIGN_IN_WINDOW_MINUTES) < 1:
    raise ImproperlyConfigured(
        "SIGN_IN_USERNAME_FAILURES, SIGN_IN_IP_FAILURES and SIGN_IN_WINDOW_MINUTES must be "
        "at least 1."
    )
if NUM_PROXIES < 0:
    raise ImproperlyConfigured("NUM_PROXIES must be 0 or more.")

# --- Internationalisation and time -----------------------------------------------------

LANGUAGE_CODE = "en-us"
# Everything is stored in UTC; pages activate the signed-in user's zone (accounts.middleware).
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Hashed, compressed names need `collectstatic`; production always runs it (README).
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
# Without the manifest (development, tests) look files up per request instead of indexing
# every app's static files each time the middleware loads (each test client does).
WHITENOISE_AUTOREFRESH = not STATIC_MANIFEST

# --- Security ---------------------------------------------------------------------------

# HTTPS=true when the portal is served over TLS (directly or behind a proxy that sets
# X-Forwarded-Proto). It turns on every HTTPS-only protection Django offers.
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=HTTPS)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Django's database sessions, read by a query compiled once per process.
SESSION_ENGINE = "apps.accounts.sessions"
# Django's, reading each request's user by a query compiled once per process.
AUTHENTICATION_BACKENDS = ["apps.accounts.backends.ModelBackend"]
# Browser features no page of the portal uses, switched off for every page and frame
# (apps.core.middleware.PermissionsPolicyMiddleware). Only features Chromium knows: an
# unknown one is an error in the console.
PERMISSIONS_POLICY = {
    "accelerometer": [],
    "camera": [],
    "geolocation": [],
    "gyroscope": [],
    "magnetometer": [],
    "microphone": [],
    "midi": [],
    "payment": [],
    "usb": [],
}
# Content-Security-Policy (django-csp): scripts, styles, fonts and fetches only from our
# own origin, nothing inline, no eval, never framed. Templates keep to it: behaviour lives
# in static/js/, looks in static/css/, htmx's injected indicator style is off (base.html).
# Third-party pages that cannot are given a narrow exception, on their URL only
# (apps.core.middleware.ContentSecurityPolicyMiddleware).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    },
}

# --- Email --------------------------------------------------------------------------------

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="OLA Portal <ola@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Absolute links in emails and webhooks.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Email replies (apps.notifications.replies, apps.handoffs.inbound): notification emails
# about a handoff carry Reply-To handoff+<id>.<user>.<signature>@REPLY_DOMAIN (empty: off),
# and the mailbox that domain delivers to is read every minute: a Maildir on this machine
# (REPLY_MAILDIR) and/or an IMAP folder (REPLY_IMAP_URL=imaps://user:pass@host/INBOX).
REPLY_DOMAIN = env.str("REPLY_DOMAIN", default="").strip().lower()
REPLY_MAILDIR = env.str("REPLY_MAILDIR", default="")
REPLY_IMAP_URL = env.str("REPLY_IMAP_URL", default="")
if REPLY_DOMAIN and not re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", REPLY_DOMAIN):
    raise ImproperlyConfigured(f"REPLY_DOMAIN is not a domain name: {REPLY_DOMAIN!r}.")
if REPLY_IMAP_URL and not REPLY_IMAP_URL.startswith(("imaps://", "imap://")):
    raise ImproperlyConfigured("REPLY_IMAP_URL must start with imaps:// (or imap://).")

# --- Celery -------------------------------------------------------------------------------

# Zero-setup default: kombu's filesystem transport under var/ (no server needed).
# Production and CI: CELERY_BROKER_URL=redis://…
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_QUEUE_DIR = VAR_DIR / "celery" / "queue"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(CELERY_QUEUE_DIR),
        "data_folder_out": str(CELERY_QUEUE_DIR),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        # Broadcast (pidbox) messages; kombu's default is ./control in the working dir.
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem://")
    else {"visibility_timeout": 3600}
)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Email and every other task on Celery's default queue; team webhooks on their own
# (apps/notifications/queue.py), so that a receiver that hangs cannot hold email back.
# Workers consume both: `celery -A olaportal worker -Q celery,webhooks` (Procfile).
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Static schedule, UTC intervals, each `expires` shorter than its interval so that a
# backlog never piles up duplicate runs.
CELERY_BEAT_SCHEDULE = {
    "handoffs-sweep-clocks": {
        "task": "apps.handoffs.tasks.sweep_clocks",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 50},
    },
    "handoffs-read-email-replies": {
        "task": "apps.handoffs.tasks.read_email_replies",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 50},
    },
    # The periodic sender, one per channel on that channel's queue: every due email and
    # webhook row (pending, held until now, failed with attempts left, abandoned by a dead
    # worker) goes out, whatever became of its Celery message.
    "notifications-send-due-email": {
        "task": "apps.notifications.tasks.send_due_notifications",
        "schedule": timedelta(minutes=1),
        "args": ("email",),
        "options": {"expires": 50, "queue": "celery"},
    },
    "notifications-send-due-webhooks": {
        "task": "apps.notifications.tasks.send_due_notifications",
        "schedule": timedelta(minutes=1),
        "args": ("webhook",),
        "options": {"expires": 50, "queue": "webhooks"},
    },
    "handoffs-remind-waiting-requesters": {
        "task": "apps.handoffs.tasks.remind_waiting_requesters",
        "schedule": timedelta(hours=1),
        "options": {"expires": 60 * 50},
    },
    "handoffs-team-digests": {
        "task": "apps.handoffs.tasks.send_team_digests",
        "schedule": timedelta(days=1),
        "options": {"expires": 60 * 60 * 12},
    },
    "reviews-daily": {
        "task": "apps.reviews.tasks.reviews_daily",
        "schedule": timedelta(days=1),
        "options": {"expires": 60 * 60 * 12},
    },
    "calendars-extend-holidays": {
        "task": "apps.calendars.tasks.extend_country_holidays",
        "schedule": timedelta(days=1),
        "options": {"expires": 60 * 60 * 12},
    },
}

# --- REST API --------------------------------------------------------------------------------

REST_FRAMEWORK = {
    # Token first: an unauthenticated call then gets 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.ZonedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.api.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=50),
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OLA Portal API",
    "DESCRIPTION": "Internal service-level agreements between teams.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The portal must work on a closed network: Swagger UI comes from our static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two different `kind` choice sets, and one set of parties behind four fields.
    "ENUM_NAME_OVERRIDES": {
        "AgreementKindEnum": "apps.agreements.models.Kind",
        "TriageFieldKindEnum": "apps.agreements.models.FieldKind",
        "PartyEnum": "apps.agreements.models.Party",
        # Several models have a `status`: each choice set gets its own name.
        "AgreementStatusEnum": "apps.agreements.models.Status",
        "ExceptionWindowStatusEnum": "apps.agreements.models.ExceptionWindow.Status",
        "HandoffStatusEnum": "apps.handoffs.models.Status",
        "ClockStatusEnum": "apps.handoffs.models.ClockStatus",
        "NotificationStatusEnum": "apps.notifications.models.Status",
        "ReviewStatusEnum": "apps.reviews.models.ReviewStatus",
    },
    # Every operation lists the 400/401/403/404/409/429 it can answer, in the shapes
    # apps.core.api.exception_handler produces (apps/core/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.schema.document_error_responses",
    ],
}

# --- Forms ---------------------------------------------------------------------------------

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Logging --------------------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Domain settings ----------------------------------------------------------------------------

# Years of a country's public holidays copied into a calendar ahead of today.
HOLIDAY_YEARS_AHEAD = env.int("HOLIDAY_YEARS_AHEAD", default=2)
# Notification delivery: webhook timeout (s), first retry delay (s, doubling per attempt),
# how long a claimed delivery may stay "sending" before the periodic sender takes it back
# (s; longer than a delivery task may run), how long a due row is left to its Celery
# message before the periodic sender sends it itself (s), and the window in which emails
# to one person about one subject arrive as one (s).
NOTIFICATION_WEBHOOK_TIMEOUT = env.float("NOTIFICATION_WEBHOOK_TIMEOUT", default=5.0)
NOTIFICATION_RETRY_BACKOFF = env.float("NOTIFICATION_RETRY_BACKOFF", default=10.0)
NOTIFICATION_CLAIM_TIMEOUT = env.int("NOTIFICATION_CLAIM_TIMEOUT", default=300)
NOTIFICATION_QUEUE_GRACE = env.int("NOTIFICATION_QUEUE_GRACE", default=30)
NOTIFICATION_COALESCE_SECONDS = env.int("NOTIFICATION_COALESCE_SECONDS", default=60)
# Team webhooks go to public internet addresses only; set this where the receiver lives
# inside the network (a self-hosted chat server), knowing that any lead can then aim the
# portal's requests at internal services.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)
# Quarterly reviews recommend the period's 80th percentile plus this buffer (percent).
REVIEW_BUFFER_PERCENT = env.int("REVIEW_BUFFER_PERCENT", default=10)
# Exception windows: how far in the past one may start (checked when it is requested and
# again when it is approved) and how long one may last, in days.
EXCEPTION_WINDOW_MAX_BACKDATE = timedelta(
    days=env.int("EXCEPTION_WINDOW_MAX_BACKDATE_DAYS", default=7)
)
EXCEPTION_WINDOW_MAX_LENGTH = timedelta(
    days=env.int("EXCEPTION_WINDOW_MAX_LENGTH_DAYS", default=14)
)
if timedelta(0) > EXCEPTION_WINDOW_MAX_BACKDATE or timedelta(0) >= EXCEPTION_WINDOW_MAX_LENGTH:
    raise ImproperlyConfigured(
        "EXCEPTION_WINDOW_MAX_BACKDATE_DAYS must be 0 or more, "
        "EXCEPTION_WINDOW_MAX_LENGTH_DAYS more than 0."
    )
