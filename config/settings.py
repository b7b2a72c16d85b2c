"""Settings for the whole project, read from the environment (django-environ).

Every variable has an embedded default that needs no external service: SQLite, the
in-memory channel layer, local-memory cache, local media storage and the offline LM.
Setting DATABASE_URL / REDIS_URL switches to the scale-out shape without code changes.
The README's configuration table lists every variable read here.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """Use DJANGO_SECRET_KEY, else a random key persisted in DATA_DIR.

    Persisting matters: the key derives the encryption key for users' stored LLM keys,
    so a key regenerated on every start would make those unreadable.
    """
    configured = env.str("DJANGO_SECRET_KEY", default="")
    if configured:
        return configured
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "chats",
    "codeexec",
    "templates",
    "sessions_app",
    "deep_analysis",
    "analytics",
]

MIDDLEWARE = [
    "config.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
AUTH_USER_MODEL = "chats.User"

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
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers proceed while one writer commits; IMMEDIATE transactions take the
    # write lock up front so two writers queue on busy_timeout instead of deadlocking.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- channel layer and cache ----------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- static and media -----------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "analytics.staticfiles.PlotlyFinder",  # plotly.js from the plotly package, for the admin dashboard
]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": env.str("DATASET_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage")},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- uploads --------------------------------------------------------------------------
MAX_UPLOAD_MB = env.int("MAX_UPLOAD_MB", default=300)
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
# A whole request body: the file plus its multipart envelope and small form fields.
MAX_REQUEST_BODY_BYTES = MAX_UPLOAD_BYTES + 1024 * 1024
# Form fields and JSON bodies (not files) are held in memory: keep them modest.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_JSON_BODY_BYTES", default=10 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
FILE_UPLOAD_HANDLERS = [
    "config.uploads.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- identity and sessions ------------------------------------------------------------
ALLOW_ANONYMOUS = env.bool("ALLOW_ANONYMOUS", default=True)
ANALYSIS_SESSION_IDLE_HOURS = env.float("SESSION_IDLE_HOURS", default=72.0)
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")

# --- analytics ------------------------------------------------------------------------
# The operator's key for /analytics/* (header X-Admin-API-Key). No default: unset, key
# auth is off and only staff users (API key or admin login) read analytics.
ADMIN_API_KEY = env.str("ADMIN_API_KEY", default="")
# Accept ?admin_api_key= too (the web frontend's feedback proxy sends it so). Off by
# default: URLs land in proxy logs, browser history and Referer headers.
ANALYTICS_ALLOW_QUERY_KEY = env.bool("ANALYTICS_ALLOW_QUERY_KEY", default=False)
# The realtime feed recomputes the users page's session stats at most this often.
ANALYTICS_SESSION_STATS_INTERVAL_SECONDS = env.float("ANALYTICS_SESSION_STATS_INTERVAL_SECONDS", default=2.0)


# --- code sandbox ---------------------------------------------------------------------
def _sandbox_socket() -> str:
    configured = env.str("SANDBOX_SOCKET", default="")
    if configured:
        return configured
    path = DATA_DIR / "sandbox" / "sandbox.sock"
    if len(str(path)) > 100:  # Unix socket paths are limited to 108 bytes
        import hashlib

        path = Path("/tmp") / f"analyst-sandbox-{hashlib.sha256(str(DATA_DIR).encode()).hexdigest()[:16]}.sock"
    return str(path)


SANDBOX_SOCKET = _sandbox_socket()
SANDBOX_AUTOSTART = env.bool("SANDBOX_AUTOSTART", default=True)
SANDBOX_ISOLATION = env.str("SANDBOX_ISOLATION", default="auto")
SANDBOX_WALL_SECONDS = env.float("SANDBOX_WALL_SECONDS", default=30.0)
SANDBOX_CPU_SECONDS = env.int("SANDBOX_CPU_SECONDS", default=30)
SANDBOX_MEMORY_MB = env.int("SANDBOX_MEMORY_MB", default=2048)
SANDBOX_FILE_MB = env.int("SANDBOX_FILE_MB", default=100)
SANDBOX_POOL_SIZE = env.int("SANDBOX_POOL_SIZE", default=2)
MAX_CODE_BYTES = env.int("MAX_CODE_BYTES", default=256 * 1024)

# --- language models ------------------------------------------------------------------
MODEL_PROVIDER = env.str("MODEL_PROVIDER", default="")
MODEL_NAME = env.str("MODEL_NAME", default="")
MODEL_TEMPERATURE = env.float("TEMPERATURE", default=1.0)
MODEL_MAX_TOKENS = env.int("MAX_TOKENS", default=6000)
PROVIDER_API_KEYS = {
    "openai": env.str("OPENAI_API_KEY", default=""),
    "anthropic": env.str("ANTHROPIC_API_KEY", default=""),
    "groq": env.str("GROQ_API_KEY", default=""),
    "gemini": env.str("GEMINI_API_KEY", default=""),
    "openai_compatible": env.str("OPENAI_COMPATIBLE_API_KEY", default=""),
}
OLLAMA_BASE_URL = env.str("OLLAMA_BASE_URL", default="")
OPENAI_COMPATIBLE_BASE_URL = env.str("OPENAI_COMPATIBLE_BASE_URL", default="")
# One language-model call may take this long before it is a 504 (reference: 90 s).
LM_TIMEOUT_SECONDS = env.float("LM_TIMEOUT_SECONDS", default=90.0)
# A whole /chat/{agent} answer (several calls, sandbox runs, repairs) before it is a 504.
ANSWER_TIMEOUT_SECONDS = env.float("ANSWER_TIMEOUT_SECONDS", default=300.0)
# Repairs of an agent's failing code before its answer is sent (each one run in the sandbox).
CODE_FIX_ATTEMPTS = env.int("CODE_FIX_ATTEMPTS", default=3)
# Background work (naming chats) runs inline instead of on worker threads: for the tests.
BACKGROUND_TASKS_EAGER = env.bool("BACKGROUND_TASKS_EAGER", default=False)
# DSPy/LiteLLM must not fetch a price map from the network, and cache under DATA_DIR.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("DSPY_CACHEDIR", str(DATA_DIR / "dspy-cache"))

# --- CORS -----------------------------------------------------------------------------
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=["http://localhost:3000", "http://127.0.0.1:3000"])
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "x-api-key",
    "x-admin-api-key",
    "x-session-id",
    "x-force-refresh",
    "x-csrftoken",
]

# --- DRF and OpenAPI ------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "chats.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["chats.permissions.CallerAllowed"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "config.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AI data-analyst backend",
    "DESCRIPTION": "Auto-Analyst compatible HTTP API: sessions, datasets, agents, code execution.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- i18n -----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# --- logging --------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Our own one-line-per-request log replaces django.request's noisier lines.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
    },
}
