"""Settings for the whole project, read from the environment (django-environ).

Every variable has an embedded default that needs no external service: SQLite, the
in-memory channel layer, local-memory cache, local media storage and the offline LM.
Setting DATABASE_URL / REDIS_URL switches to the scale-out shape without code changes.
The README's configuration table lists every variable read here.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Datasets, the SQLite file, the secret key and users' encrypted provider keys live here:
# nothing in it is readable by other local users (the directory 0700, its files 0600).
# Not a process-wide umask: the sandbox server inherits ours, and the private root it
# builds must stay traversable by the unprivileged uid its runs drop to.


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_uid == os.geteuid():  # an operator's shared directory is left alone
        path.chmod(0o700)
    return path


DATA_DIR = _private_dir(Path(env.str("DATA_DIR", default=str(BASE_DIR / "var"))))


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
    # SQLite gives its -wal and -shm files the database file's mode: create it 0600 (an
    # empty file is an empty database), and tighten one an older version left 0644.
    _db_name = str(DATABASES["default"]["NAME"])
    if _db_name and _db_name != ":memory:" and not _db_name.startswith("file:") and Path(_db_name).parent.is_dir():
        os.close(os.open(_db_name, os.O_CREAT | os.O_WRONLY, 0o600))
        for _suffix in ("", "-wal", "-shm"):
            _path = Path(f"{_db_name}{_suffix}")
            if _path.exists() and _path.stat().st_uid == os.geteuid():
                _path.chmod(0o600)
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
MEDIA_ROOT = _private_dir(Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media"))))
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": env.str("DATASET_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage")},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- uploads --------------------------------------------------------------------------
MAX_UPLOAD_MB = env.int("MAX_UPLOAD_MB", default=300)
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
# What an uploaded (or sandbox-saved) dataset may take once decoded in the web process:
# small files can decode to huge tables, so every reader refuses past this with 413.
MAX_DECODED_MB = env.int("MAX_DECODED_MB", default=400)
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

# Slow clients (config.serve): all of a request's headers within this many seconds (408
# after), and no silence longer than the idle timeout while a request is being sent.
SERVER_HEADER_TIMEOUT = env.float("SERVER_HEADER_TIMEOUT", default=20.0)
SERVER_IDLE_TIMEOUT = env.float("SERVER_IDLE_TIMEOUT", default=60.0)

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
# ``auto`` refuses to start when the host allows only the ``process`` level (no
# namespaces: no private root, no network namespace), unless this is set.
SANDBOX_ALLOW_WEAK_ISOLATION = env.bool("SANDBOX_ALLOW_WEAK_ISOLATION", default=False)
# Concurrent sandbox runs: for the whole deployment (through the cache, so Redis shares
# it between web processes when configured) and per caller; a run waits up to
# SANDBOX_QUEUE_SECONDS for a slot, then gets 429 with Retry-After.
SANDBOX_MAX_CONCURRENT_RUNS = env.int("SANDBOX_MAX_CONCURRENT_RUNS", default=4)
SANDBOX_MAX_RUNS_PER_CALLER = env.int("SANDBOX_MAX_RUNS_PER_CALLER", default=2)
SANDBOX_QUEUE_SECONDS = env.float("SANDBOX_QUEUE_SECONDS", default=5.0)
# /health and /api/health reuse one deep check (database, channel layer, storage,
# sandbox round trip) for this long, so a flood of probes forks no sandbox child.
HEALTH_CACHE_SECONDS = env.float("HEALTH_CACHE_SECONDS", default=10.0)
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
# --- deep analysis ----------------------------------------------------------------------
# Runs at once in one web process (the rest wait in its queue), and agent tasks at once per run.
DEEP_ANALYSIS_WORKERS = env.int("DEEP_ANALYSIS_WORKERS", default=2)
DEEP_ANALYSIS_AGENT_WORKERS = env.int("DEEP_ANALYSIS_AGENT_WORKERS", default=4)
# Unfinished runs one caller may have before a new one is a 429.
DEEP_ANALYSIS_MAX_ACTIVE_PER_CALLER = env.int("DEEP_ANALYSIS_MAX_ACTIVE_PER_CALLER", default=2)
# A run's process touches its rows this often; a row silent for STALE seconds is failed.
DEEP_ANALYSIS_HEARTBEAT_SECONDS = env.float("DEEP_ANALYSIS_HEARTBEAT_SECONDS", default=10.0)
DEEP_ANALYSIS_STALE_SECONDS = env.float("DEEP_ANALYSIS_STALE_SECONDS", default=60.0)
# DSPy/LiteLLM must not fetch a price map from the network, and cache under DATA_DIR.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("DSPY_CACHEDIR", str(DATA_DIR / "dspy-cache"))

# --- CORS -----------------------------------------------------------------------------
# The web frontend may be served from any port; by default any http://localhost:<port> or
# http://127.0.0.1:<port> page may call the API (regexes below), plus CORS_ALLOWED_ORIGINS
# (comma-separated, exact origins such as https://analyst.example.com). No credentials
# (cookies) are ever allowed cross-origin: callers identify with a session id or API key.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
LOCALHOST_ORIGIN = r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$"
CORS_ALLOWED_ORIGIN_REGEXES = [LOCALHOST_ORIGIN] if env.bool("CORS_ALLOW_LOCALHOST", default=True) else []
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_METHODS = ["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"]
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "x-api-key",
    "x-admin-api-key",
    "x-session-id",
    "x-force-refresh",
    "x-csrftoken",
    "x-admin-api-key",
    # The frontend sends these two on /chat and /chat/{agent}; the second by mistake
    # (a response header sent as a request header), but the browser still preflights it.
    "cache-control",
    "access-control-allow-origin",
]
CORS_EXPOSE_HEADERS = ["Content-Disposition"]
CORS_PREFLIGHT_MAX_AGE = 600

# --- client-chosen session ids ----------------------------------------------------------
# The web frontend mints its own session ids (auto_<ms>_<random>) and uses them without
# asking the server; a well-formed unknown id is created on first use. Turning this off
# makes the server the only source of ids (POST /generate-session), which the unchanged
# frontend cannot use.
CLIENT_SESSION_IDS = env.bool("CLIENT_SESSION_IDS", default=True)

# Feedback stars arrive with no session and no credentials (the web frontend): they may rate
# the caller's anonymous chats active in this many minutes, matched by address and browser.
FEEDBACK_FINGERPRINT_MINUTES = env.int("FEEDBACK_FINGERPRINT_MINUTES", default=30)

# --- rate limits ----------------------------------------------------------------------
# Per caller (user, else session, else IP) and per budget, counted in the cache above.
RATE_LIMITS_ENABLED = env.bool("RATE_LIMITS_ENABLED", default=True)
RATE_LIMITS = {
    "upload": env.str("RATE_LIMIT_UPLOAD", default="30/min"),
    "chat": env.str("RATE_LIMIT_CHAT", default="20/min"),
    "code": env.str("RATE_LIMIT_CODE", default="60/min"),
    "deep_analysis": env.str("RATE_LIMIT_DEEP_ANALYSIS", default="5/min"),
    "describe": env.str("RATE_LIMIT_DESCRIBE", default="30/min"),
}
# Anonymous callers mint session ids freely: their address draws from this many times the
# per-caller budget, whichever session they send.
RATE_LIMIT_ANONYMOUS_ADDRESS_FACTOR = env.int("RATE_LIMIT_ANONYMOUS_ADDRESS_FACTOR", default=4)
for _scope, _rate in RATE_LIMITS.items():
    if _rate and not re.fullmatch(r"\d+/\d*(s|sec|second|m|min|minute|h|hour|d)", _rate.strip().lower()):
        raise ImproperlyConfigured(f"RATE_LIMIT_{_scope.upper()}={_rate!r}: use e.g. 30/min, 5/s, 100/hour.")
# Which paths draw from which budget (writes only; first match wins).
RATE_LIMIT_ROUTES = {
    "upload": r"^/(upload_dataframe|upload_excel|api/excel-sheets|preview-csv-upload)/?$",
    "chat": r"^/chat(/[^/]+)?/?$",
    "code": r"^/code/",
    "deep_analysis": r"^/deep_analysis",
    "describe": r"^/(generate-description-from-preview|chat_history_name)/?$",
}

# --- DRF and OpenAPI ------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "chats.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["chats.permissions.CallerAllowed"],
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.ExpensiveRouteThrottle"],
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.BoundedJSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "config.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "config.openapi.AnalystAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Client addresses (rate limits) come from REMOTE_ADDR unless this many trusted proxies
    # put theirs in X-Forwarded-For: a client-sent header is never believed by default.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
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
