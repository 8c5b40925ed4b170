"""Paperwire settings: everything a deployment changes comes from the environment.

The variables are listed, with their defaults, in docs/configuration.md; a test keeps
that page and this module in step.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url


def envbool(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def envstr(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


BASE_DIR = Path(__file__).resolve().parent
PAPERWIRE_HOME = Path(envstr("PAPERWIRE_HOME", "~/.local/share/paperwire")).expanduser()
PAPERWIRE_HOME.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """PAPERWIRE_SECRET_KEY, else a key generated once and kept in PAPERWIRE_HOME."""
    if os.environ.get("PAPERWIRE_SECRET_KEY"):
        return os.environ["PAPERWIRE_SECRET_KEY"]
    path = PAPERWIRE_HOME / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = envbool("PAPERWIRE_DEBUG")
BASE_URL = envstr("PAPERWIRE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = ["*"]
CSRF_TRUSTED_ORIGINS = [BASE_URL]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "paperwire.papers",
    "paperwire.ingest",
    "paperwire.accounts",
    "paperwire.api",
    "paperwire.search",
    "paperwire.digests",
]

MIDDLEWARE = [
    "paperwire.csp.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "paperwire.ratelimit.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "paperwire.urls"
WSGI_APPLICATION = "paperwire.wsgi.application"

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
            ],
        },
    },
]

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": PAPERWIRE_HOME / "paperwire.sqlite3",
            # WAL lets readers go on while an import writes; the busy timeout makes
            # concurrent writers (votes, a running import) wait instead of failing.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = PAPERWIRE_HOME / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns about a missing one
WHITENOISE_USE_FINDERS = True  # files not collected yet are served from the package
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "paperwire.staticstorage.StaticStorage"},
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Only the site's own files run or style a page (paperwire/csp.py, docs/security.md).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
if BASE_URL.startswith("https://"):
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
# Paperwire sits behind a TLS-terminating proxy (docs/deployment.md): redirecting plain HTTP
# and sending Strict-Transport-Security are the proxy's, so `check --deploy` need not warn.
SILENCED_SYSTEM_CHECKS = ["security.W004", "security.W008"]

# Whole responses of anonymous GETs, per process, keyed by the database's content version
# (paperwire/pagecache.py): a vote or an import in any process makes every process recompute.
PAGE_CACHE_SECONDS = envint("PAPERWIRE_PAGE_CACHE_SECONDS", 60)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "pages": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "paperwire-pages",
        "TIMEOUT": max(PAGE_CACHE_SECONDS, 1),
        "OPTIONS": {"MAX_ENTRIES": envint("PAPERWIRE_PAGE_CACHE_ENTRIES", 500)},
    },
}


def _email_settings(url: str) -> dict[str, object]:
    """Translate PAPERWIRE_EMAIL_URL (smtp://, smtps://, console://) into Django settings."""
    parts = urlsplit(url)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"PAPERWIRE_EMAIL_URL: unsupported scheme {parts.scheme!r} (smtp, smtps, console)")
    query = parse_qs(parts.query)
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": parts.port or (465 if parts.scheme == "smtps" else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": parts.scheme == "smtps",
        "EMAIL_USE_TLS": query.get("starttls", ["0"])[0] in ("1", "true"),
        "EMAIL_TIMEOUT": 30,
    }


globals().update(_email_settings(envstr("PAPERWIRE_EMAIL_URL", "console://")))
DEFAULT_FROM_EMAIL = SERVER_EMAIL = envstr("PAPERWIRE_EMAIL_FROM", "Paperwire <papers@localhost>")

HF_ENDPOINT = envstr("PAPERWIRE_HF_ENDPOINT", "https://huggingface.co").rstrip("/")
ARXIV_API_URL = envstr("PAPERWIRE_ARXIV_API_URL", "https://export.arxiv.org/api/query")
# arXiv asks API clients for one request every three seconds.
ARXIV_REQUEST_INTERVAL = float(envstr("PAPERWIRE_ARXIV_INTERVAL", "3"))
ARXIV_CATEGORIES = envstr("PAPERWIRE_ARXIV_CATEGORIES", "cs.AI cs.CL cs.CV cs.LG").split()
HTTP_TIMEOUT = float(envstr("PAPERWIRE_HTTP_TIMEOUT", "30"))
HTTP_RETRIES = envint("PAPERWIRE_HTTP_RETRIES", 4)
HTTP_BACKOFF = 1.0  # seconds before the first retry, doubled each time

EMBEDDING_MODEL = envstr("PAPERWIRE_EMBEDDING_MODEL", "all-MiniLM-L6-v2")
MODEL_DIR = Path(envstr("PAPERWIRE_MODEL_DIR", str(PAPERWIRE_HOME / "models"))).expanduser()
EMBEDDING_THREADS = envint("PAPERWIRE_EMBEDDING_THREADS", min(os.cpu_count() or 2, 4))
# Seconds between two index updates in a serving process (0: only at start).
INDEX_INTERVAL = float(envstr("PAPERWIRE_INDEX_INTERVAL", "60"))
# Papers per indexing batch; the index files are saved every 16 batches.
INDEX_BATCH = envint("PAPERWIRE_INDEX_BATCH", 256)
# How often a serving process looks for index files written by another process.
SEARCH_RELOAD_SECONDS = float(envstr("PAPERWIRE_SEARCH_RELOAD_SECONDS", "2"))

SUBMISSIONS_PER_DAY = envint("PAPERWIRE_SUBMISSIONS_PER_DAY", 10)
# "<count>/<seconds>" per client for each kind of write.
RATE_LIMITS = {
    "vote": envstr("PAPERWIRE_RATE_VOTE", "60/60"),
    "submit": envstr("PAPERWIRE_RATE_SUBMIT", "10/60"),
    "signup": envstr("PAPERWIRE_RATE_SIGNUP", "5/3600"),
    "login": envstr("PAPERWIRE_RATE_LOGIN", "10/300"),
    "password_reset": envstr("PAPERWIRE_RATE_PASSWORD_RESET", "5/3600"),
    "subscribe": envstr("PAPERWIRE_RATE_SUBSCRIBE", "10/3600"),
    "subscribe_address": envstr("PAPERWIRE_RATE_SUBSCRIBE_ADDRESS", "3/86400"),
    "search": envstr("PAPERWIRE_RATE_SEARCH", "120/60"),
    "api": envstr("PAPERWIRE_RATE_API", "600/60"),
}

# Digests (docs/digests.md)
DIGEST_TOP_PAPERS = envint("PAPERWIRE_DIGEST_TOP_PAPERS", 10)
DIGEST_TOPIC_PAPERS = envint("PAPERWIRE_DIGEST_TOPIC_PAPERS", 5)
DIGEST_MAX_TOPICS = 10
DIGEST_CANDIDATES = 2000  # papers of a period considered for topics
DIGEST_TOPIC_THRESHOLD = float(envstr("PAPERWIRE_DIGEST_TOPIC_THRESHOLD", "0.35"))
DIGEST_BOUNCE_LIMIT = envint("PAPERWIRE_DIGEST_BOUNCE_LIMIT", 3)
DIGEST_MAX_ATTEMPTS = envint("PAPERWIRE_DIGEST_MAX_ATTEMPTS", 8)
DIGEST_LEASE_MINUTES = envint("PAPERWIRE_DIGEST_LEASE_MINUTES", 15)
DIGEST_CONFIRM_DAYS = envint("PAPERWIRE_DIGEST_CONFIRM_DAYS", 3)
# `paperwire worker`: what it ingests each cycle (e.g. "hf-daily arxiv"; none by default:
# an offline install has no source), how often, and when digests go out (UTC).
WORKER_INGEST = os.environ.get("PAPERWIRE_WORKER_INGEST", "").split()
WORKER_INTERVAL = envint("PAPERWIRE_WORKER_INTERVAL", 900)
DIGEST_HOUR = envint("PAPERWIRE_DIGEST_HOUR", 6)  # yesterday's daily digest goes out after this hour
DIGEST_WEEKLY_DAY = envint("PAPERWIRE_DIGEST_WEEKLY_DAY", 1)  # ISO weekday of the weekly digest, 1 = Monday
DIGEST_CONFIRMATION_INTERVAL_MINUTES = 24 * 60  # at most one confirmation mail an address a day

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "paperwire.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": envstr("PAPERWIRE_LOG_FORMAT", "text")},
    },
    "root": {"handlers": ["console"], "level": envstr("PAPERWIRE_LOG_LEVEL", "WARNING")},
}
