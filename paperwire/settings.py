"""Paperwire settings: everything a deployment changes comes from the environment.

The variables are listed, with their defaults, in docs/configuration.md; a test keeps
that page and this module in step.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import socket
import tempfile
from decimal import Decimal
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from paperwire.core.argtypes import ARXIV_CATEGORY


def invalid(name: str, value: str, expected: str) -> ImproperlyConfigured:
    """The one-line error of a malformed variable; `paperwire` prints it alone (paperwire/cli.py)."""
    return ImproperlyConfigured(f"{name}={value!r} is not valid: expected {expected}")


def envstr(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def envbool(name: str, default: str = "0") -> bool:
    value = envstr(name, default).lower()
    if value not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise invalid(name, value, "1, true, yes, on, 0, false, no or off")
    return value in ("1", "true", "yes", "on")


# A number is written in ASCII digits, as docs/configuration.md says: int() and float() also read
# other scripts' digits ("١٢٣", "²" via isdigit), "1_000", "1e3", "nan" and "inf", which no one
# means as a setting and some of which passed the start-up check only to fail at run time.
WHOLE = re.compile(r"-?[0-9]+")
DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
SPACE = " \t\r\n"  # ignored around a value (env files, CRLF lines); no other whitespace is
# Every numeric variable's kind and range, as read (docs/configuration.md states them; a test compares).
NUMBER_RANGES: dict[str, tuple[type, float, float]] = {}


def envraw(name: str) -> str:
    return os.environ.get(name, "").strip(SPACE)


def in_words(number: float) -> str:
    return f"{number:,}" if float(number).is_integer() else str(number)


def read_number(text: str, kind: type, low: float, high: float) -> int | float | None:
    """``text`` as a ``kind`` within [low, high], else None."""
    if not (WHOLE if kind is int else DECIMAL).fullmatch(text):
        return None
    exact = Decimal(text)  # any number of digits, compared exactly
    return kind(exact) if Decimal(str(low)) <= exact <= Decimal(str(high)) else None


def envnumber(name: str, default: float, kind: type, low: float, high: float):
    """An int or float from the environment, in ASCII digits, from ``low`` to ``high``."""
    NUMBER_RANGES[name] = (kind, low, high)
    value = envraw(name)
    if not value:
        return default
    number = read_number(value, kind, low, high)
    if number is None:
        kind_words = "an integer" if kind is int else "a number"
        raise invalid(name, value, f"{kind_words} from {in_words(low)} to {in_words(high)}")
    return number


def envint(name: str, default: int, low: int, high: int) -> int:
    return envnumber(name, default, int, low, high)


def envfloat(name: str, default: float, low: float, high: float) -> float:
    return envnumber(name, default, float, low, high)


RATE_COUNT = (0, 1_000_000)
# At most a day: the counters of older windows are deleted (paperwire/core/limits.py).
RATE_SECONDS = (1, 86_400)


def envrate(name: str, default: str) -> str:
    """A rate limit, "<count>/<seconds>" (paperwire/core/limits.py), in ASCII digits."""
    value = envraw(name) or default
    count, slash, seconds = value.partition("/")
    count = read_number(count.strip(SPACE), int, *RATE_COUNT)
    seconds = read_number(seconds.strip(SPACE), int, *RATE_SECONDS)
    if not slash or count is None or seconds is None:
        raise invalid(
            name,
            value,
            "<count>/<seconds>, e.g. 60/60: a count from "
            f"{in_words(RATE_COUNT[0])} to {in_words(RATE_COUNT[1])} in a window of "
            f"{in_words(RATE_SECONDS[0])} to {in_words(RATE_SECONDS[1])} seconds",
        )
    return f"{count}/{seconds}"


def envchoice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of ``choices``, in any case."""
    value = envstr(name, default)
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise invalid(name, value, " or ".join(choices))


def envaddress(name: str, default: str) -> str:
    """A sender address, with or without a display name."""
    value = envstr(name, default)
    if "\n" in value or "\r" in value or "@" not in parseaddr(value)[1]:
        raise invalid(name, value, 'an email address, e.g. "Paperwire <papers@example.org>"')
    return value


# A host name as Django accepts it in Host (letters, digits, hyphens; dot-separated labels), or an
# IP address: anything else ("exa mple.com", "exa_mple.com", "ex%41mple.com") would be refused on
# every request, or make broken links.
HOST_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
# Servers Paperwire only connects to (SMTP, Hugging Face, arXiv) may be named with underscores
# (container names such as mail_relay); the site's own name may not.
SERVER_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
# Whitespace, control characters and backslashes are refused anywhere in a URL setting: urlsplit
# silently drops tabs and line ends, and browsers read a backslash as a slash.
URL_NOISE = re.compile(r"[\s\x00-\x1f\x7f\\]")


def valid_host(host: str, label: re.Pattern = SERVER_LABEL) -> bool:
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    return all(label.fullmatch(part) for part in host.split("."))


def without_password(url: str) -> str:
    """``url`` as an error message may show it: the password of its user part, if any, masked."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return url
    user, at, host = netloc.rpartition("@")
    if not at or ":" not in user:
        return url
    return url.replace(netloc, f"{user.partition(':')[0]}:***@{host}", 1)


def envurl(name: str, default: str, label: re.Pattern = SERVER_LABEL) -> str:
    """An http(s) URL, in the spelling browsers send as Origin; ``default`` when unset ("" allowed).
    A base to which paths are added: no query, fragment, user name or spaces."""
    value = envstr(name, default).rstrip("/")
    if not value:
        return value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (reading it validates it)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or not valid_host(parts.hostname, label)
        or "@" in parts.netloc
        or "?" in value
        or "#" in value
        or URL_NOISE.search(value)
    ):
        raise invalid(
            name,
            without_password(value),
            "an http:// or https:// URL with a host name, and no spaces, user name, query or fragment",
        )
    # The spelling browsers send as Origin (lower case, no default port): CSRF_TRUSTED_ORIGINS and
    # ALLOWED_HOSTS are derived from it, and "https://Papers.Example.org:443" refused every form.
    scheme = parts.scheme.lower()
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = "" if parts.port in (None, {"http": 80, "https": 443}[scheme]) else f":{parts.port}"
    return urlunsplit((scheme, host + port, parts.path, parts.query, "")).rstrip("/")


BASE_DIR = Path(__file__).resolve().parent
PAPERWIRE_HOME = Path(envstr("PAPERWIRE_HOME", "~/.local/share/paperwire")).expanduser()
try:
    PAPERWIRE_HOME.mkdir(parents=True, exist_ok=True)
except OSError as error:
    raise invalid("PAPERWIRE_HOME", str(PAPERWIRE_HOME), f"a folder Paperwire can create ({error.strerror})") from None


# A key file's content: printable ASCII with no spaces, long enough not to be guessed (the
# generated one has 67 characters; Django's deployment check asks for 50).
KEY_TEXT = re.compile(r"[!-~]{32,}")


def _secret_key() -> str:
    """PAPERWIRE_SECRET_KEY, else a key generated once and kept in PAPERWIRE_HOME/secret_key.

    The file appears whole or not at all: the key is written to a temporary file, synced, then
    linked to its name, which fails if it exists; so of first starts racing, one key wins and all
    read it. A file that holds no usable key (empty, binary, short) stops the start with one line
    saying what to do, never overwritten (the owner decides) and never used."""
    if os.environ.get("PAPERWIRE_SECRET_KEY"):
        return os.environ["PAPERWIRE_SECRET_KEY"]
    path = PAPERWIRE_HOME / "secret_key"
    if not path.exists():
        _create_key_file(path)
    try:
        key = path.read_bytes().decode("ascii").strip(SPACE)
    except UnicodeDecodeError:
        key = ""
    if not KEY_TEXT.fullmatch(key):
        raise ImproperlyConfigured(
            f"{path} holds no usable secret key (it must be at least 32 printable characters with no spaces): "
            "delete it to have a new one generated at the next start (sessions and links signed with the old "
            "key stop working), or set PAPERWIRE_SECRET_KEY"
        )
    return key


def _create_key_file(path: Path) -> None:
    fd, temporary = tempfile.mkstemp(prefix=".secret_key.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return  # another start made it first: its key is the one
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the name survives a crash too
        finally:
            os.close(folder)
    finally:
        os.unlink(temporary)


SECRET_KEY = _secret_key()
DEBUG = envbool("PAPERWIRE_DEBUG")
# The public URL of every absolute link (mail, feeds); "" when unset: links then follow the
# address each request came to, or the one `serve` listens on (paperwire/core/siteurl.py).
BASE_URL = envurl("PAPERWIRE_BASE_URL", "", HOST_LABEL)


def _allowed_hosts(base_url: str) -> list[str]:
    """The public host of PAPERWIRE_BASE_URL, loopback (local checks, a proxy on the same
    machine), PAPERWIRE_ALLOWED_HOSTS and the host `serve --host` listens on (added by serve):
    a request naming any other host gets 400."""
    public = urlsplit(base_url).hostname if base_url else None
    hosts = ["[" + public + "]" if ":" in public else public] if public else []
    hosts += ["127.0.0.1", "localhost", "[::1]"]
    hosts += os.environ.get("PAPERWIRE_ALLOWED_HOSTS", "").replace(",", " ").split()
    return list(dict.fromkeys(hosts))


ALLOWED_HOSTS = _allowed_hosts(BASE_URL)
# A form posted from the site's own address (any allowed host and port) passes Django's
# same-origin check; the public URL is listed for a proxy that rewrites Host.
CSRF_TRUSTED_ORIGINS = [BASE_URL] if BASE_URL else []

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Floor by floor, from the bottom (docs/architecture.md): an app imports only from below it.
    "paperwire.core",
    "paperwire.papers",
    "paperwire.accounts",
    "paperwire.discussions",
    "paperwire.people",
    "paperwire.ingest",
    "paperwire.search",
    "paperwire.digests",
    "paperwire.operations",
    "paperwire.api",
    "paperwire.web",
]

MIDDLEWARE = [
    "paperwire.operations.head.HeadWithoutBodyMiddleware",
    "paperwire.operations.csp.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "paperwire.operations.errors.JsonErrorMiddleware",
    "paperwire.operations.requestlimits.RequestLimitsMiddleware",
    "paperwire.operations.staticstorage.StaticFilesMiddleware",  # WhiteNoise, that damaged copies cannot break
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "paperwire.core.siteurl.RequestSiteMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "paperwire.operations.tokens.BearerTokenMiddleware",  # on /api/: a token's owner replaces the session's
    "paperwire.operations.ratelimit.RateLimitMiddleware",
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
    try:
        DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
    except ValueError:
        raise invalid("DATABASE_URL", os.environ["DATABASE_URL"], "postgres://user:password@host:5432/name") from None
else:
    # SQLite's page cache, per connection (its default is 2 MiB): a million papers' indexes are
    # hundreds of MiB, and an import writes to all of them (bench/import_speed.py --baseline-env).
    SQLITE_CACHE_MIB = envint("PAPERWIRE_SQLITE_CACHE_MIB", 64, low=2, high=4096)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": PAPERWIRE_HOME / "paperwire.sqlite3",
            # WAL lets readers go on while an import writes; the busy timeout makes
            # concurrent writers (votes, a running import) wait instead of failing.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": (
                    f"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-{SQLITE_CACHE_MIB * 1024};"
                ),
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
# The first only counts attempts against the login limits; Django's checks the password.
AUTHENTICATION_BACKENDS = [
    "paperwire.accounts.backends.LoginAttemptLimit",
    "django.contrib.auth.backends.ModelBackend",
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
# Made by `paperwire serve`, which collects the files into it at every start; until then (and
# should it be damaged) pages link the package's files (paperwire/operations/staticstorage.py).
WHITENOISE_USE_FINDERS = True  # files not collected yet are served from the package
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "paperwire.operations.staticstorage.StaticStorage"},
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# The site's own page for a form that failed the check (Django's has an inline style, which the
# Content-Security-Policy blocks), and JSON for the API (paperwire/urls.py).
CSRF_FAILURE_VIEW = "paperwire.urls.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Only the site's own files run or style a page (paperwire/operations/csp.py, docs/security.md).
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
# (paperwire/operations/pagecache.py): a vote or an import in any process makes every process recompute.
PAGE_CACHE_SECONDS = envint("PAPERWIRE_PAGE_CACHE_SECONDS", 60, low=0, high=86_400)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "pages": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "paperwire-pages",
        "TIMEOUT": max(PAGE_CACHE_SECONDS, 1),
        "OPTIONS": {"MAX_ENTRIES": envint("PAPERWIRE_PAGE_CACHE_ENTRIES", 500, low=1, high=100_000)},
    },
}


YES = ("1", "true", "yes", "on")
NO = ("0", "false", "no", "off")


def _email_settings(url: str) -> dict[str, object]:
    """Translate PAPERWIRE_EMAIL_URL (smtp://, smtps://, console://) into Django settings: every
    part it does not understand (a parameter, a path, a starttls that is neither yes nor no,
    STARTTLS on a connection that is TLS from the start) is refused, never ignored."""
    expected = (
        "smtp://user:password@host:port (smtps:// for TLS from the start, or smtp:// with ?starttls=1 for "
        f"STARTTLS; starttls is {', '.join(YES + NO[:-1])} or {NO[-1]}) or console://"
    )
    try:
        parts = urlsplit(url)
        port = parts.port
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise invalid("PAPERWIRE_EMAIL_URL", without_password(url), expected) from None
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    starttls = query.pop("starttls", ["0"])
    if (
        parts.scheme not in ("smtp", "smtps")
        or query  # another parameter
        or len(starttls) != 1
        or starttls[0].lower() not in YES + NO
        or (parts.scheme == "smtps" and starttls[0].lower() in YES)  # Django refuses both at the first mail
        or parts.path not in ("", "/")
        or "#" in url
        or URL_NOISE.search(url)
        or (parts.hostname and not valid_host(parts.hostname))
    ):
        raise invalid("PAPERWIRE_EMAIL_URL", without_password(url), expected)
    return {
        "EMAIL_BACKEND": "paperwire.digests.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": port or (465 if parts.scheme == "smtps" else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": parts.scheme == "smtps",
        "EMAIL_USE_TLS": starttls[0].lower() in YES,
    }


globals().update(_email_settings(envstr("PAPERWIRE_EMAIL_URL", "console://")))
DEFAULT_FROM_EMAIL = SERVER_EMAIL = envaddress("PAPERWIRE_EMAIL_FROM", "Paperwire <papers@localhost>")

HF_ENDPOINT = envurl("PAPERWIRE_HF_ENDPOINT", "https://huggingface.co")
ARXIV_API_URL = envurl("PAPERWIRE_ARXIV_API_URL", "https://export.arxiv.org/api/query")
# arXiv asks API clients for one request every three seconds.
ARXIV_REQUEST_INTERVAL = envfloat("PAPERWIRE_ARXIV_INTERVAL", 3.0, low=0, high=3600)
ARXIV_CATEGORIES = envstr("PAPERWIRE_ARXIV_CATEGORIES", "cs.AI cs.CL cs.CV cs.LG").split()
if not all(ARXIV_CATEGORY.fullmatch(category) for category in ARXIV_CATEGORIES):
    raise invalid("PAPERWIRE_ARXIV_CATEGORIES", " ".join(ARXIV_CATEGORIES), "arXiv categories such as cs.AI or hep-th")
HTTP_TIMEOUT = envfloat("PAPERWIRE_HTTP_TIMEOUT", 30.0, low=0.1, high=3600)
HTTP_RETRIES = envint("PAPERWIRE_HTTP_RETRIES", 4, low=0, high=20)
HTTP_BACKOFF = 1.0  # seconds before the first retry, doubled each time
# A web request waits at most this long on an outside service (one attempt, no retries): the
# arXiv API when a paper is submitted, the SMTP server for mail sent while the user waits.
# Slower work belongs to the worker, which waits longer and retries.
WEB_OUTSIDE_TIMEOUT = envfloat("PAPERWIRE_WEB_OUTSIDE_TIMEOUT", 3.0, low=0.1, high=60)
# Django's default for every SMTP connection is the web's, so any mail sent during a request
# is bounded; the digest sender, a background job, asks for the longer one.
EMAIL_TIMEOUT = WEB_OUTSIDE_TIMEOUT
# Seconds the digest sender waits for each answer of the SMTP server. A digest whose final
# answer does not come in time is "uncertain" (the server may have it) and is not sent again.
BACKGROUND_EMAIL_TIMEOUT = envfloat("PAPERWIRE_EMAIL_TIMEOUT", 30.0, low=0.1, high=3600)

EMBEDDING_MODEL = envstr("PAPERWIRE_EMBEDDING_MODEL", "all-MiniLM-L6-v2")
MODEL_DIR = Path(envstr("PAPERWIRE_MODEL_DIR", str(PAPERWIRE_HOME / "models"))).expanduser()
EMBEDDING_THREADS = envint("PAPERWIRE_EMBEDDING_THREADS", min(os.cpu_count() or 2, 4), low=1, high=64)
# Seconds between two index updates in a serving process (0: only at start).
INDEX_INTERVAL = envfloat("PAPERWIRE_INDEX_INTERVAL", 60.0, low=0, high=86_400)
# Papers per indexing batch; the index files are saved every 16 batches.
INDEX_BATCH = envint("PAPERWIRE_INDEX_BATCH", 256, low=1, high=4096)
# Embedding is shared by every process on every machine of one database through claims
# (paperwire/search/claims.py): a claim not renewed for this long is taken over by another worker.
EMBED_LEASE_SECONDS = envint("PAPERWIRE_EMBED_LEASE_SECONDS", 300, low=2, high=86_400)
# An update embeds for at most this long before its index pass takes in what was stored (and the
# papers changed meanwhile), then goes on: with a long backlog (a large import), keyword search
# and the vectors stored so far do not wait for every embedding.
EMBED_PHASE_SECONDS = envint("PAPERWIRE_EMBED_PHASE_SECONDS", 300, low=1, high=86_400)
# This machine's name in the claims (and in what they log): the host name unless set.
NODE_NAME = envstr("PAPERWIRE_NODE_NAME", socket.gethostname())[:100]
if URL_NOISE.search(NODE_NAME):
    raise invalid("PAPERWIRE_NODE_NAME", NODE_NAME, "a name without spaces or control characters")
# Seconds between two progress lines of a long command whose stderr is not a terminal (a
# terminal gets a bar): paperwire/core/progress.py.
PROGRESS_SECONDS = envfloat("PAPERWIRE_PROGRESS_SECONDS", 30.0, low=0, high=86_400)
# How often a serving process looks for index files written by another process.
SEARCH_RELOAD_SECONDS = envfloat("PAPERWIRE_SEARCH_RELOAD_SECONDS", 2.0, low=0, high=3600)

SUBMISSIONS_PER_DAY = envint("PAPERWIRE_SUBMISSIONS_PER_DAY", 10, low=0, high=10_000)
# Fetches of a submitted paper arXiv did not answer for (the web request's quick one, then one
# per worker cycle) before the submission is given up.
SUBMISSION_MAX_ATTEMPTS = envint("PAPERWIRE_SUBMISSION_MAX_ATTEMPTS", 5, low=1, high=100)
# "<count>/<seconds>" per client for each kind of write.
RATE_LIMITS = {
    "vote": envrate("PAPERWIRE_RATE_VOTE", "60/60"),
    "submit": envrate("PAPERWIRE_RATE_SUBMIT", "10/60"),
    # "I am this author" claims, per client (docs/community.md).
    "claim": envrate("PAPERWIRE_RATE_CLAIM", "10/3600"),
    # Follows and unfollows, and profile edits (with new addresses of the Following feed), per
    # client (docs/community.md).
    "follow": envrate("PAPERWIRE_RATE_FOLLOW", "60/600"),
    "profile": envrate("PAPERWIRE_RATE_PROFILE", "20/3600"),
    "signup": envrate("PAPERWIRE_RATE_SIGNUP", "5/3600"),
    # Logins are counted per client address and per account name, on every login form
    # (paperwire/accounts/backends.py): over either, even the right password waits.
    "login": envrate("PAPERWIRE_RATE_LOGIN", "10/300"),
    "login_account": envrate("PAPERWIRE_RATE_LOGIN_ACCOUNT", "20/900"),
    "password_reset": envrate("PAPERWIRE_RATE_PASSWORD_RESET", "5/3600"),
    "password_reset_address": envrate("PAPERWIRE_RATE_PASSWORD_RESET_ADDRESS", "3/3600"),
    "verify_resend": envrate("PAPERWIRE_RATE_VERIFY_RESEND", "3/3600"),
    "verify_address": envrate("PAPERWIRE_RATE_VERIFY_ADDRESS", "5/86400"),
    "subscribe": envrate("PAPERWIRE_RATE_SUBSCRIBE", "10/3600"),
    "subscribe_address": envrate("PAPERWIRE_RATE_SUBSCRIBE_ADDRESS", "3/86400"),
    # POSTs on a link from a mail (confirm, manage, unsubscribe, verify, set a new password): per
    # client and per link; one-click unsubscribe per subscription only (mail providers post it).
    "link": envrate("PAPERWIRE_RATE_LINK", "30/3600"),
    # Discussions (docs/community.md): per account; an account younger than NEW_ACCOUNT_HOURS is
    # also counted against the "_new" kind of each, which is stricter.
    "comment": envrate("PAPERWIRE_RATE_COMMENT", "10/600"),
    "comment_new": envrate("PAPERWIRE_RATE_COMMENT_NEW", "3/600"),
    "comment_edit": envrate("PAPERWIRE_RATE_COMMENT_EDIT", "30/600"),
    "comment_edit_new": envrate("PAPERWIRE_RATE_COMMENT_EDIT_NEW", "10/600"),
    "comment_vote": envrate("PAPERWIRE_RATE_COMMENT_VOTE", "60/60"),
    "comment_vote_new": envrate("PAPERWIRE_RATE_COMMENT_VOTE_NEW", "20/60"),
    "comment_report": envrate("PAPERWIRE_RATE_COMMENT_REPORT", "10/3600"),
    "comment_report_new": envrate("PAPERWIRE_RATE_COMMENT_REPORT_NEW", "3/3600"),
    # Personal API tokens made (docs/security.md, "API tokens"), per account.
    "api_token": envrate("PAPERWIRE_RATE_API_TOKEN", "10/3600"),
    "search": envrate("PAPERWIRE_RATE_SEARCH", "120/60"),
    "api": envrate("PAPERWIRE_RATE_API", "600/60"),
}
# Discussions (docs/community.md): how long after posting its author may edit a comment (0: never),
# and how young an account is "new" for the rate limits.
COMMENT_EDIT_MINUTES = envint("PAPERWIRE_COMMENT_EDIT_MINUTES", 60, low=0, high=525_600)
NEW_ACCOUNT_HOURS = envint("PAPERWIRE_NEW_ACCOUNT_HOURS", 24, low=0, high=8760)

# Digests (docs/digests.md)
DIGEST_TOP_PAPERS = envint("PAPERWIRE_DIGEST_TOP_PAPERS", 10, low=0, high=100)
DIGEST_TOPIC_PAPERS = envint("PAPERWIRE_DIGEST_TOPIC_PAPERS", 5, low=0, high=100)
# "From what you follow" (docs/community.md, "Following"): papers at most in that section.
DIGEST_FOLLOWED_PAPERS = envint("PAPERWIRE_DIGEST_FOLLOWED_PAPERS", 10, low=0, high=100)
DIGEST_MAX_TOPICS = 10
DIGEST_CANDIDATES = 2000  # papers of a period considered for topics
DIGEST_TOPIC_THRESHOLD = envfloat("PAPERWIRE_DIGEST_TOPIC_THRESHOLD", 0.35, low=-1, high=1)
DIGEST_BOUNCE_LIMIT = envint("PAPERWIRE_DIGEST_BOUNCE_LIMIT", 3, low=1, high=100)
DIGEST_MAX_ATTEMPTS = envint("PAPERWIRE_DIGEST_MAX_ATTEMPTS", 8, low=1, high=100)
DIGEST_LEASE_MINUTES = envint("PAPERWIRE_DIGEST_LEASE_MINUTES", 15, low=0, high=1440)
DIGEST_CONFIRM_DAYS = envint("PAPERWIRE_DIGEST_CONFIRM_DAYS", 3, low=1, high=365)
# Notifications of comments (docs/community.md): at most one mail a person this often.
NOTIFY_INTERVAL_MINUTES = envint("PAPERWIRE_NOTIFY_INTERVAL_MINUTES", 60, low=1, high=10_080)
# `paperwire worker`: what it ingests each cycle (e.g. "hf-daily arxiv"; none by default:
# an offline install has no source), how often, and when digests go out (UTC).
WORKER_INGEST = os.environ.get("PAPERWIRE_WORKER_INGEST", "").split()
if any(source not in ("hf-daily", "arxiv") for source in WORKER_INGEST):
    raise invalid("PAPERWIRE_WORKER_INGEST", " ".join(WORKER_INGEST), "sources among hf-daily and arxiv")
WORKER_INTERVAL = envint("PAPERWIRE_WORKER_INTERVAL", 900, low=0, high=86_400)
DIGEST_HOUR = envint("PAPERWIRE_DIGEST_HOUR", 6, low=0, high=23)  # yesterday's daily digest goes out after this hour
DIGEST_WEEKLY_DAY = envint("PAPERWIRE_DIGEST_WEEKLY_DAY", 1, low=1, high=7)  # ISO weekday, 1 = Monday
DIGEST_CONFIRMATION_INTERVAL_MINUTES = 24 * 60  # at most one confirmation mail an address a day
ACCOUNT_VERIFY_DAYS = 3  # how long the link that verifies an account's address works

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "paperwire.core.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": envchoice("PAPERWIRE_LOG_FORMAT", "text", ("text", "json")),
        },
    },
    "root": {"handlers": ["console"], "level": envchoice("PAPERWIRE_LOG_LEVEL", "WARNING", LOG_LEVELS)},
}
