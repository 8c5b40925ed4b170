"""Test settings: the real settings module, with PAPERWIRE_HOME in a fresh temporary folder."""

import os
import tempfile

os.environ["PAPERWIRE_HOME"] = tempfile.mkdtemp(prefix="paperwire-test-")
# Where a model converted from weights would be kept (the shipped model needs none): per checkout.
os.environ.setdefault(
    "PAPERWIRE_MODEL_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), ".cache", "models")
)
os.environ.setdefault("PAPERWIRE_SECRET_KEY", "tests-only-secret-key-not-for-production-use-0123456789")

from paperwire.settings import *  # noqa: E402,F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ARXIV_REQUEST_INTERVAL = 0.0
HTTP_TIMEOUT = 2.0
HTTP_RETRIES = 2
HTTP_BACKOFF = 0.05
SEARCH_RELOAD_SECONDS = 0.0
PROGRESS_SECONDS = 3600.0  # no progress lines in the output tests read (tests of the lines set theirs)
# Tests make many reads from one address; the tests of the limits set their own.
RATE_LIMITS = dict(RATE_LIMITS, search="100000/60", api="100000/60")

# A database file, like production, rather than SQLite's shared in-memory mode (whose table
# locks ignore the busy timeout and would make the concurrency tests meaningless).
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(PAPERWIRE_HOME / "test.sqlite3")}
