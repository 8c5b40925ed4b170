"""Personas, data locations and loopback servers shared by the tests."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEMO = ROOT / "paperwire" / "demo" / "attention_papers.jsonl"
SHARED_DATA = Path(os.environ.get("PAPERWIRE_SHARED_DATA", ROOT.parent / "shared" / "data"))


# --- the PostgreSQL pass ----------------------------------------------------------------------

# What gives a test the Django test database (the server's, in the PostgreSQL pass), or a child
# process a PostgreSQL database of its own (the ``database`` fixture's "postgres" side).
DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--postgres-pass",
        action="store_true",
        help="run only the tests whose database is PostgreSQL when DATABASE_URL names a server "
        "(the rest run the same in the SQLite pass: `make test-postgres` uses it)",
    )


def uses_the_server(item) -> bool:
    """Whether ``item`` reads or writes the database DATABASE_URL names: the Django test database,
    or a child process's PostgreSQL database. The others (pure functions, and child processes on a
    SQLite file of their own, the ``database`` fixture's "sqlite" side included) do exactly what
    they did in the SQLite pass."""
    if item.get_closest_marker("django_db") is not None or DATABASE_FIXTURES & set(item.fixturenames):
        return True
    if item.get_closest_marker("postgres_server") is not None:  # reads DATABASE_URL itself
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("database") == "postgres"


def pytest_collection_modifyitems(config, items) -> None:
    if not config.getoption("--postgres-pass"):
        return
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise pytest.UsageError("--postgres-pass needs DATABASE_URL to name a PostgreSQL server")
    kept, left = [], []
    for item in items:
        (kept if uses_the_server(item) else left).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept
        print(f"\nthe PostgreSQL pass: {len(kept)} tests use the database; {len(left)} others ran in the SQLite pass")


def pytest_runtest_setup(item) -> None:
    if item.get_closest_marker("postgres_server") and not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("needs a PostgreSQL server (DATABASE_URL)")


def shared_data(relative: str) -> Path:
    """A path under ../shared/data, or skip the test saying what is missing."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared data {path} is absent (set PAPERWIRE_SHARED_DATA to the data folder)")
    return path


def write_jsonl(path: Path, records: list, compress: bool = False) -> Path:
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def paper(id: str, title: str = "A paper", **fields) -> dict:
    """An import JSONL record with sensible defaults."""
    record = {"id": id, "title": title, "abstract": f"The abstract of {title}.", "authors": ["Ada Lovelace"]}
    record.update(fields)
    return record


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.org", "correct horse battery")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.org", "correct horse battery")


@pytest.fixture
def charlie(django_user_model):
    return django_user_model.objects.create_user("charlie", "charlie@example.org", "correct horse battery")


@pytest.fixture(autouse=True)
def _own_home(tmp_path, settings):
    """Each test gets its own PAPERWIRE_HOME, so that index files never leak between tests."""
    settings.PAPERWIRE_HOME = tmp_path / "home"
    settings.PAPERWIRE_HOME.mkdir()


@pytest.fixture(autouse=True)
def _empty_page_cache():
    """Each test's database starts at the same content version: no test may see another's pages."""
    from django.core.cache import caches

    caches["pages"].clear()


# --- loopback HTTP servers standing in for Hugging Face and arXiv -------------------------


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


class RecordedServer:
    """A real HTTP server on 127.0.0.1 that answers from recorded replies.

    ``add(path, *replies)`` queues replies for a path (query string included or not);
    the last reply of a queue is repeated. Every request is logged in ``requests``.
    """

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[str] = []
        self.answering = threading.Event()
        self.answering.set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.requests.append(self.path)
                server.answering.wait()
                reply = server.reply_for(self.path)
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body.encode() if isinstance(reply.body, str) else reply.body
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def add(self, path: str, *replies: Reply) -> None:
        self.routes.setdefault(path, []).extend(replies)

    def hang(self) -> None:
        """From now on, read each request and answer nothing until ``answer()`` (a source that hangs)."""
        self.answering.clear()

    def answer(self) -> None:
        self.answering.set()

    def reply_for(self, path: str) -> Reply:
        for key in (path, path.split("?", 1)[0]):
            queue = self.routes.get(key)
            if queue:
                return queue.pop(0) if len(queue) > 1 else queue[0]
        return Reply(404, "not found")

    def close(self) -> None:
        self.answering.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def recorded_server() -> Iterator[RecordedServer]:
    server = RecordedServer()
    yield server
    server.close()


def arxiv_feed(*entries: dict, total: int | None = None) -> str:
    """An arXiv API Atom response with the given entries (id, title, summary, authors, published)."""
    parts = []
    for e in entries:
        summary = e.get("summary", "An abstract that spans\n  two lines.")
        authors = "".join(f"<author><name>{a}</name></author>" for a in e.get("authors", ["Ada Lovelace"]))
        categories = "".join(
            f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>' for c in e.get("categories", ["cs.CL"])
        )
        parts.append(
            f"""<entry>
<id>http://arxiv.org/abs/{e["id"]}</id>
<updated>{e.get("published", "2025-07-20T10:00:00Z")}</updated>
<published>{e.get("published", "2025-07-20T10:00:00Z")}</published>
<title>{e["title"]}</title>
<summary>{summary}</summary>
{authors}
<arxiv:comment xmlns:arxiv="http://arxiv.org/schemas/atom">{e.get("comment", "10 pages")}</arxiv:comment>
<link href="http://arxiv.org/abs/{e["id"]}" rel="alternate" type="text/html"/>
<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="{e.get("categories", ["cs.CL"])[0]}"/>
{categories}
</entry>"""
        )
    total = len(entries) if total is None else total
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title type="html">ArXiv Query</title>
<id>http://arxiv.org/api/x</id>
<updated>2025-07-22T00:00:00-04:00</updated>
<opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{total}</opensearch:totalResults>
<opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:startIndex>
{"".join(parts)}
</feed>"""


# --- a real `paperwire serve` process ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveSite:
    url: str
    home: Path
    env: dict
    process: subprocess.Popen

    def command(self, *args: str) -> subprocess.CompletedProcess:
        return run_paperwire(*args, env=self.env)

    def get(self, path: str) -> tuple[int, bytes]:
        status, _, body = self.fetch(path)
        return status, body

    def fetch(self, path: str, opener=None) -> tuple[int, dict[str, str], bytes]:
        """GET ``path``: status, headers and body (``opener``: a signed-in session from log_in)."""
        try:
            with (opener or urllib.request.build_opener()).open(self.url + path, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def log_in(self, username: str, password: str):
        """A urllib opener holding a signed-in session, and its CSRF token."""
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(f"{self.url}/accounts/login").read().decode()
        token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
        opener.open(urllib.request.Request(f"{self.url}/accounts/login", form.encode(), headers={"Referer": self.url}))
        return opener, next(c.value for c in jar if c.name == "csrftoken")

    def vote(self, opener, csrf: str, paper_id: str, action: str = "up") -> dict:
        """Vote as the session's user through the JSON answer of the vote form."""
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": csrf, "action": action}).encode()
        request = urllib.request.Request(
            f"{self.url}/papers/{paper_id}/vote", body, headers={"Accept": "application/json", "Referer": self.url}
        )
        return json.loads(opener.open(request, timeout=10).read())


def paperwire_env(home: Path, **extra: str) -> dict:
    """The environment of a `paperwire` child process with its own PAPERWIRE_HOME (and so its own
    SQLite database, unless ``extra`` names a DATABASE_URL)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env.update(
        {
            "PAPERWIRE_HOME": str(home),
            "PAPERWIRE_SECRET_KEY": "live-test-secret-key-0123456789-abcdefghij",
            "PAPERWIRE_MODEL_DIR": os.environ["PAPERWIRE_MODEL_DIR"],
            "PAPERWIRE_SEARCH_RELOAD_SECONDS": "0",
            # No progress lines in the output tests read, however slow the machine (tests of the
            # lines set their own).
            "PAPERWIRE_PROGRESS_SECONDS": "3600",
        }
    )
    env.update(extra)
    return env


def run_paperwire(*args: str, env: dict, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "paperwire", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        input=input,
        cwd=ROOT,
    )


def start_paperwire(*args: str, env: dict, **options) -> subprocess.Popen:
    """`paperwire <args>` in the background, its output in pipes as text (``options``: Popen's)."""
    options = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **options}
    return subprocess.Popen([sys.executable, "-m", "paperwire", *args], env=env, cwd=ROOT, **options)


def index_writer_busy(home: Path):
    """Hold the index writers' own lock (search.integrity.write_lock): the node's updater waits
    for it before it can update or rebuild."""
    from paperwire.search.integrity import write_lock

    return write_lock(home / "index")


def start_site(
    home: Path, *serve_args: str, wait_for_index: bool = True, host: str = "127.0.0.1", **extra_env: str
) -> LiveSite:
    """`paperwire serve --host <host>` answering; with ``wait_for_index``, once its search index is
    whole (`serve` builds or repairs it in the background: /healthz says `degraded` until then).
    PAPERWIRE_BASE_URL is the address served on unless ``extra_env`` sets it ("" for unset)."""
    port = free_port()
    env = paperwire_env(home, **{"PAPERWIRE_BASE_URL": f"http://{host}:{port}", **extra_env})
    process = start_paperwire(
        "serve", "--host", host, "--port", str(port), *serve_args, env=env, stderr=subprocess.STDOUT
    )
    site = LiveSite(f"http://{host}:{port}", home, env, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"paperwire serve exited: {process.stdout.read()}")
        try:
            status, body = site.get("/healthz")
            if status == 200 and (not wait_for_index or json.loads(body)["status"] == "ok"):
                return site
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("paperwire serve did not answer /healthz within 60 s")


def stop_site(site: LiveSite) -> None:
    """SIGINT: gunicorn's quick shutdown (SIGTERM waits for open keep-alive connections)."""
    site.process.send_signal(signal.SIGINT)
    try:
        site.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        site.process.kill()
        site.process.wait()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request):
    """The child processes' database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield {}
        return
    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith("postgres"):
        pytest.skip("PostgreSQL runs when DATABASE_URL names a server (.ci/run does)")
    import psycopg

    name = f"pw_child_{uuid.uuid4().hex[:12]}"
    admin = server.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield {"DATABASE_URL": server.rsplit("/", 1)[0] + f"/{name}"}
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


PINNED_NOW = dt.datetime(2025, 7, 22, 12, 0, tzinfo=dt.UTC)


# --- a real SMTP server on loopback -----------------------------------------------------------


class RecordingHandler:
    """aiosmtpd handler: keeps every accepted message; answers scripted codes for some addresses.

    ``rcpt_answers[address]`` is a list of SMTP replies for RCPT TO (None = accept, a number =
    accept after that many seconds), used in turn, the last one repeated; ``data_answers``
    the same for the end of the message (a refusal there keeps nothing); ``mail_answer``: the
    reply to every MAIL FROM (None = accept). ``hold_at``: after storing that many messages,
    wait ``hold_seconds`` before answering (a server slow to acknowledge).
    """

    def __init__(self) -> None:
        import threading

        self.messages: list = []
        self.rcpt_answers: dict[str, list] = {}
        self.data_answers: dict[str, list] = {}
        self.mail_answer: str | None = None
        self.refused: list[str] = []
        self.hold_at = 0
        self.hold_seconds = 0.0
        self.held = threading.Event()

    @staticmethod
    def scripted(answers: list | None) -> str | float | None:
        if not answers:
            return None
        return answers.pop(0) if len(answers) > 1 else answers[0]

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        if self.mail_answer:
            return self.mail_answer
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        import asyncio

        answer = self.scripted(self.rcpt_answers.get(address.lower()))
        if isinstance(answer, float | int):
            await asyncio.sleep(answer)
        elif answer:
            self.refused.append(address)
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        import asyncio
        import email
        import email.policy

        refusal = self.scripted(self.data_answers.get(envelope.rcpt_tos[0].lower()))
        if refusal:
            self.refused.append(envelope.rcpt_tos[0])
            return refusal
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)
        if self.hold_at and len(self.messages) == self.hold_at:
            self.held.set()
            await asyncio.sleep(self.hold_seconds)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["To"]]


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: RecordingHandler

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server (aiosmtpd) on 127.0.0.1; Django's mail goes to it over SMTP."""
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "paperwire.digests.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = settings.BACKGROUND_EMAIL_TIMEOUT = 10
    yield SmtpServer("127.0.0.1", port, handler)
    controller.stop()


# --- a server that accepts connections and never says a word ---------------------------------


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts every connection and never answers: an SMTP server
    that never greets, an HTTP server that never replies. Connections stay open until close()."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.socket.settimeout(0.1)
        self.accepted: list[socket.socket] = []
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.accepted.append(connection)

    def close(self) -> None:
        self.closing.set()
        self.thread.join()
        self.socket.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the browser tests; importing tests.chromium skips them (or fails,
    in CI) when it is missing."""
    from tests.chromium import launch, sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


def query_plan(queryset) -> str:
    """The database's plan for ``queryset`` (PostgreSQL told to avoid scanning whole tables, as
    it would with a corpus's statistics)."""
    sql, params = queryset.query.sql_with_params()
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return " ".join(str(row[-1]) for row in cursor.fetchall())
