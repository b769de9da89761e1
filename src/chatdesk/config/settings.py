"""Django settings, derived from the validated environment in `chatdesk.config.env`.

Nothing here reads `os.environ`: add a variable to `AppSettings` instead.
"""

from pathlib import Path

import dj_database_url

from chatdesk.accounts.providers import socialaccount_providers_build
from chatdesk.config.env import DEFAULT_VAR_DIR, AppEnv, EmailProvider, load_environment
from chatdesk.config.logging import build_logging_config

ENVIRONMENT = load_environment()
ENV = ENVIRONMENT.settings
# Read by the startup guard and the system checks (chatdesk.config.checks).
CHATDESK_CONFIG_PROBLEMS = ENVIRONMENT.problems
APP_ENV = ENV.APP_ENV.value
APP_BASE_URL = ENV.base_url

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = ENV.secret_key
DEBUG = ENV.debug
ALLOWED_HOSTS = ENV.allowed_hosts
CSRF_TRUSTED_ORIGINS = [ENV.base_url, *ENV.CSRF_TRUSTED_ORIGINS]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tasks_db",
    # Before allauth, so its templates (accounts/templates/allauth/...) override allauth's own.
    "chatdesk.accounts",
    "chatdesk.crm",
    "chatdesk.messaging",
    "chatdesk.inbox",
    "chatdesk.reports",
    "chatdesk.audit",
    "chatdesk.workspace_settings",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.google",
    "chatdesk.config.apps.ConfigAppConfig",
    "chatdesk.common",
    "chatdesk.tenancy",
    "chatdesk.ops",
    "chatdesk.jobs",
    "chatdesk.assistant",
    "chatdesk.notifications",
    "chatdesk.web",
]
if ENV.APP_ENV is not AppEnv.PRODUCTION:
    INSTALLED_APPS.append("chatdesk.devtools")

MIDDLEWARE = [
    "chatdesk.ops.request_id.RequestIdMiddleware",
    "chatdesk.ops.probes.HealthProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "chatdesk.config.urls"
WSGI_APPLICATION = "chatdesk.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "chatdesk.tenancy.context_processors.workspace",
            ],
        },
    },
]

if not ENV.DATABASE_URL:
    DEFAULT_VAR_DIR.mkdir(exist_ok=True)  # the embedded SQLite file lives in ./var
DATABASES = {
    "default": dj_database_url.parse(ENV.database_url, conn_max_age=60, conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web server and workers share the embedded database.
    # Connections are kept (CONN_MAX_AGE above) as on PostgreSQL: opening one costs ~1.5 ms of
    # CPU (Django registers its SQL functions, runs the pragmas), and closing the last one
    # checkpoints and deletes the WAL file, which the next request then creates again.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": ""}
else:
    # A hung database must not hold a request (or the readiness probe) indefinitely. JIT off:
    # it spent ~600 ms compiling the dashboard's aggregates on every run and never paid back.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"connect_timeout": 5, "options": "-c jit=off"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One shared cache for every process: Redis when configured, else the database. Login throttling
# (allauth rate limits) lives here, so it holds across web processes in every mode.
if ENV.REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": ENV.REDIS_URL,
            "KEY_PREFIX": f"chatdesk:{APP_ENV}",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "chatdesk_cache",
        }
    }
RATE_LIMIT_STORAGE_URI = ENV.rate_limit_storage_uri
# (seconds, count) pairs. Meta: 80 msg/s per business number by default; about one message per
# 6 s to one customer with bursts up to 45 (see docs/ARCHITECTURE.md, "Outbound").
OUTBOUND_RATE_LIMITS = {"number": [(1, 80)], "pair": [(270, 45)]}

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "inbound", "outbound", "bulk"],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "tenancy:home"
LOGOUT_REDIRECT_URL = "account_login"

# django-allauth: email + password, mandatory verification, invitation-only sign-up.
ACCOUNT_ADAPTER = "chatdesk.accounts.adapter.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "chatdesk.accounts.adapter.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[chatdesk] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if ENV.base_url.startswith("https") else "http"
# Failed logins: at most 10 a minute from one IP and 5 per 5 minutes for one account.
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "login": "30/m/ip",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}
# In production gunicorn sits behind one reverse proxy (as SECURE_PROXY_SSL_HEADER assumes),
# so REMOTE_ADDR is the proxy: without this every visitor would share one per-IP login budget.
# allauth then takes the client from the last X-Forwarded-For entry, the one our proxy appended;
# earlier entries are client-controlled and ignored.
ALLAUTH_TRUSTED_PROXY_COUNT = 1 if ENV.is_production else 0
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "chatdesk"
SOCIALACCOUNT_ONLY = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_PROVIDERS = socialaccount_providers_build(settings=ENV)

DEFAULT_FROM_EMAIL = ENV.from_email
SERVER_EMAIL = ENV.from_email
# Django 6.1 mailers: Resend through django-anymail in production, console or memory otherwise.
if ENV.email_provider is EmailProvider.RESEND:
    MAILERS = {
        "default": {
            "BACKEND": "anymail.backends.resend.EmailBackend",
            "OPTIONS": {
                "api_key": ENV.RESEND_API_KEY.get_secret_value() if ENV.RESEND_API_KEY else ""
            },
        }
    }
elif ENV.email_provider is EmailProvider.MEMORY:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}

ENCRYPTION_KEYS = ENV.encryption_keys
# Values the log redaction filter masks wherever they appear (chatdesk.ops.logging).
REDACTED_VALUES = ENV.secret_values()
LOGGING_CONFIG = "logging.config.dictConfig"
LOGGING = build_logging_config(level=ENV.LOG_LEVEL, fmt=ENV.log_format.value)

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Customers' attachments: private files, never routed publicly (served through an
# authenticated view when the inbox needs them).
MEDIA_ROOT = DEFAULT_VAR_DIR / "media"

STATIC_URL = "static/"
# collectstatic is a deploy step; development and tests serve static files from the apps.
STATIC_ROOT = DEFAULT_VAR_DIR / "static" if ENV.is_production else None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if ENV.is_production
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if ENV.is_production:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Health probes come over plain http from the load balancer.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True

SIMULATOR_ENABLED = ENV.SIMULATOR_ENABLED and not ENV.is_production
