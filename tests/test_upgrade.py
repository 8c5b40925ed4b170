"""Upgrades from the last release (700f3ac) keep every row, and the site shows what it showed.

Written against data and pages, never module paths: models and modules may move between apps
(a model moved with state-only migrations keeps its table and rows).

1. The database tools/make_upgrade_fixture.py made with 700f3ac's own code (its migrations,
   import, forms and digest), with the search indexes it left, is upgraded by the current
   `paperwire migrate`; every row of it is still there, and a served site shows its papers,
   signs its accounts in with their old passwords and keeps its session, mailed subscription
   links and search working.
2. On each database (SQLite and PostgreSQL): the schema is taken back to 700f3ac's migrations,
   rows are written with the historical models, the schema goes forward to the latest, and
   the current models and pages read them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html.parser
import importlib.util
import json
import shutil
import sqlite3
import tarfile
import urllib.parse
import urllib.request

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.conftest import FIXTURES, ROOT, paperwire_env, run_paperwire, start_site, stop_site

RELEASE = "700f3ac"
FIXTURE = FIXTURES / "upgrade" / f"paperwire-{RELEASE}.sqlite3"
MANIFEST = json.loads((FIXTURES / "upgrade" / f"paperwire-{RELEASE}.json").read_text(encoding="utf-8"))

# The last migration of each of Paperwire's apps at 700f3ac, from
# `git show 700f3ac:paperwire/<app>/migrations/` (every database made by that release has
# exactly these applied). Apps that came later have none applied there.
RELEASE_LEAVES = {
    "accounts": "0002_canonical_addresses_one_username_ignoring_case",
    "api": "0001_initial",
    "digests": "0003_delivery_message_started_at",
    "ingest": "0001_initial",
    "papers": "0008_paper_upvotes_changed_at_and_hidden_index",
    "search": "0001_initial",
}

# Tables renamed since 700f3ac (old name: new name). A table of the release that is gone and
# not listed here fails the upgrade test: its rows would be lost.
RENAMED_TABLES: dict[str, str] = {}


def fixture_tool():
    """tools/make_upgrade_fixture.py, for the row hashes it recorded (imports nothing of paperwire)."""
    spec = importlib.util.spec_from_file_location("make_upgrade_fixture", ROOT / "tools" / "make_upgrade_fixture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TextOf(html.parser.HTMLParser):
    """The text a person reads on a page (no scripts, styles or markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs) -> None:
        self.skipping += tag in ("script", "style")

    def handle_endtag(self, tag) -> None:
        self.skipping -= tag in ("script", "style") and self.skipping > 0

    def handle_data(self, data) -> None:
        if not self.skipping:
            self.parts.append(data)


def visible_text(body: bytes | str) -> str:
    parser = TextOf()
    parser.feed(body.decode() if isinstance(body, bytes) else body)
    return " ".join(" ".join(parser.parts).split())


def paper_order(body: bytes | str, ids: list[str]) -> list[str]:
    """The papers a page links to, in the order it shows them."""
    text = body.decode() if isinstance(body, bytes) else body
    places = {}
    for pid in ids:
        found = [text.find(f'href="/papers/{form}"') for form in {pid, urllib.parse.quote(pid, safe="")}]
        places[pid] = min((at for at in found if at >= 0), default=-1)
    return [pid for pid, at in sorted(places.items(), key=lambda item: item[1]) if at >= 0]


# --- 1. the release's own database, upgraded by the current `paperwire migrate` --------------


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory):
    """A PAPERWIRE_HOME holding a copy of the fixture, migrated by the current code; and the
    rows read back right after the migration (before any page or command touches them)."""
    home = tmp_path_factory.mktemp("upgrade") / "home"
    home.mkdir()
    shutil.copyfile(FIXTURE, home / "paperwire.sqlite3")
    with tarfile.open(FIXTURES / "upgrade" / MANIFEST["index_archive"]) as archive:
        archive.extractall(home, filter="data")  # the search indexes the release left
    env = paperwire_env(home, PAPERWIRE_SECRET_KEY=MANIFEST["secret_key"])
    result = run_paperwire("migrate", "--no-input", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr

    db = sqlite3.connect(home / "paperwire.sqlite3")
    tool = fixture_tool()
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    after: dict = {"tables": tables, "rows": {}, "counts": {}, "missing": {}}
    for old, entry in MANIFEST["tables"].items():
        table = RENAMED_TABLES.get(old, old)
        if table not in tables:
            continue
        (after["counts"][old],) = db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
        if "columns" in entry:
            columns = {r[1] for r in db.execute(f'PRAGMA table_info("{table}")')}
            after["missing"][old] = [c for c in entry["columns"] if c not in columns]
            if not after["missing"][old]:
                after["rows"][old] = tool.row_hashes(db, table, entry["columns"], entry["key"])
    after["migrations"] = {tuple(r) for r in db.execute("SELECT app, name FROM django_migrations")}
    counters = RENAMED_TABLES.get("api_ratecounter", "api_ratecounter")
    if counters in tables:
        after["counters"] = sorted(list(r) for r in db.execute(f'SELECT bucket, window_start, hits FROM "{counters}"'))
    db.close()
    return home, env, after


def sql(home, query: str, *params) -> list[tuple]:
    with sqlite3.connect(home / "paperwire.sqlite3") as db:
        return db.execute(query, params).fetchall()


def test_the_upgrade_keeps_every_table_and_every_row(upgraded):
    home, env, after = upgraded
    gone = [t for t in MANIFEST["tables"] if RENAMED_TABLES.get(t, t) not in after["tables"]]
    assert not gone, f"tables of {RELEASE} gone after the upgrade (renamed? list them in RENAMED_TABLES): {gone}"
    dropped = {t: cols for t, cols in after["missing"].items() if cols}
    assert not dropped, f"columns of {RELEASE} gone after the upgrade: {dropped}"
    for table, entry in MANIFEST["tables"].items():
        if "rows" not in entry:  # content types, permissions and migrations: an upgrade adds to them
            assert after["counts"][table] >= entry["count"], table
            continue
        assert after["counts"][table] == entry["count"], (
            f"{table}: {entry['count']} rows became {after['counts'][table]}"
        )
        changed = sorted(k for k, h in entry["rows"].items() if after["rows"][table].get(k) != h)
        assert not changed, f"{table}: rows lost or changed by the upgrade (by {entry['key']}): {changed}"
    lost = {tuple(m) for m in MANIFEST["migrations"]} - after["migrations"]
    assert not lost, f"migrations of {RELEASE} no longer recorded: {sorted(lost)}"
    # The rate-limit counters every process counts against (a table that may move between apps).
    assert after.get("counters") == sorted(MANIFEST["rate_counters"])


def test_the_upgrade_keeps_what_each_row_means(upgraded):
    """The same rows, read by meaning: accounts, votes, submission, subscriptions, vectors."""
    home, env, after = upgraded
    users = dict(sql(home, "SELECT username, email FROM auth_user"))
    assert users == {a["username"]: a["email"] for a in MANIFEST["accounts"]}
    verified = sql(
        home, "SELECT u.username, v.email FROM accounts_verifiedemail v JOIN auth_user u ON u.id = v.user_id"
    )
    ada = next(a for a in MANIFEST["accounts"] if a["verified"])
    assert verified == [(ada["username"], ada["email"].lower())]
    votes = sql(home, "SELECT u.username, v.paper_id FROM papers_vote v JOIN auth_user u ON u.id = v.user_id")
    assert sorted(votes) == sorted(map(tuple, MANIFEST["votes"]))
    papers = {
        pid: {"title": title, "upvotes": upvotes, "hidden": bool(hidden), "organization": org}
        for pid, title, upvotes, hidden, org in sql(
            home,
            "SELECT p.id, p.title, p.upvotes, p.hidden, COALESCE(o.fullname, '') FROM papers_paper p"
            " LEFT JOIN papers_organization o ON o.id = p.organization_id",
        )
    }
    assert papers == MANIFEST["papers"]
    submission = MANIFEST["submission"]
    assert sql(home, "SELECT arxiv_id, state FROM papers_submission") == [(submission["arxiv_id"], submission["state"])]
    subscribers = dict(sql(home, "SELECT email, state FROM digests_subscriber"))
    assert subscribers == {MANIFEST["subscriber"]["email"]: "confirmed", **MANIFEST["other_subscribers"]}
    delivery = MANIFEST["delivery"]
    assert sql(home, "SELECT period, state FROM digests_delivery") == [(delivery["period"], delivery["state"])]
    shown = sql(home, "SELECT paper_id FROM digests_shownpaper ORDER BY position")
    assert [pid for (pid,) in shown] == delivery["papers"]
    vectors = sql(home, "SELECT paper_id, model FROM search_papervector")
    assert {model for _, model in vectors} == set(MANIFEST["vectors"]["models"])
    assert sorted(pid for pid, _ in vectors) == sorted(MANIFEST["vectors"]["rows"])


def test_the_upgraded_site_shows_what_the_release_showed(upgraded):
    home, env, after = upgraded
    site = start_site(home, PAPERWIRE_SECRET_KEY=MANIFEST["secret_key"])
    try:
        papers = MANIFEST["papers"]
        status, body = site.get("/")
        assert status == 200
        assert paper_order(body, list(papers)) == MANIFEST["home_page"]
        text = visible_text(body)
        for pid in MANIFEST["home_page"][:5]:
            assert papers[pid]["title"] in text, pid

        for pid in MANIFEST["delivery"]["papers"]:  # the latest day: accents, RTL, emoji, brackets
            status, body = site.get(f"/papers/{urllib.parse.quote(pid, safe=':')}")
            assert status == 200, pid
            text = visible_text(body)
            assert papers[pid]["title"] in text and papers[pid]["organization"] in text, pid
        status, body = site.get(f"/papers/{MANIFEST['hidden']}")
        assert status == 404 and papers[MANIFEST["hidden"]]["title"] not in visible_text(body)

        # Every author has a page, linked from the names (the upgrade's data migration made them).
        status, body = site.get("/papers/2510.20002")
        arabic = "/authors/" + urllib.parse.quote("محمد-علي")
        assert status == 200 and f'href="{arabic}"' in body.decode()
        status, body = site.get(arabic)
        assert status == 200 and papers["2510.20002"]["title"] in visible_text(body)
        status, body = site.get("/authors/vahab-mirrokni")
        assert status == 200 and paper_order(body, list(papers)) == ["2501.00663", "2310.05869"]  # by upvotes
        status, body = site.get("/authors/spammer")  # their one paper is hidden
        assert status == 404 and papers[MANIFEST["hidden"]]["title"] not in visible_text(body)

        # Search, over the indexes the release left: its hidden paper stays out.
        status, body = site.get("/search?" + urllib.parse.urlencode({"q": papers["2510.20002"]["title"]}))
        assert status == 200 and paper_order(body, list(papers))[0] == "2510.20002"
        status, body = site.get("/search?" + urllib.parse.urlencode({"q": papers[MANIFEST["hidden"]]["title"]}))
        found = paper_order(body, list(papers))  # (the query itself is echoed on the page)
        assert status == 200 and found and MANIFEST["hidden"] not in found

        status, body = site.get("/api/daily_papers")
        assert status == 200
        served = [
            {"id": i["paper"]["id"], "title": i["title"], "upvotes": i["paper"]["upvotes"]} for i in json.loads(body)
        ]
        assert served == MANIFEST["api_daily_papers"]

        # The session ada had before the upgrade still signs her in.
        session = urllib.request.build_opener()
        session.addheaders = [("Cookie", f"sessionid={MANIFEST['session']['key']}")]
        status, _, body = site.fetch("/accounts/settings", session)
        subscriber = MANIFEST["subscriber"]
        text = visible_text(body)
        assert status == 200 and subscriber["email"] in text.lower() and "· verified" in text

        # Every account logs in with its old password; a wrong one does not.
        for account in MANIFEST["accounts"]:
            opener, _ = site.log_in(account["username"], account["password"])
            status, _, body = site.fetch("/accounts/settings", opener)
            text = visible_text(body)
            assert status == 200 and account["email"] in text, account["username"]
            assert ("· verified" in text) == account["verified"], account["username"]
            if account["username"] == subscriber["username"]:
                assert "Daily digest · Confirmed · topics: attention, transformers für alle" in text
                status, _, body = site.fetch("/submit", opener)
                assert status == 200 and MANIFEST["submission"]["arxiv_id"] in visible_text(body)
        opener, _ = site.log_in(subscriber["username"], "not the password")
        status, _, body = site.fetch("/accounts/settings", opener)
        assert subscriber["email"] not in visible_text(body).lower(), "signed in with a wrong password"

        # The links mailed in the digest before the upgrade.
        status, body = site.get(subscriber["manage_path"])
        text = visible_text(body)
        assert (
            status == 200 and f"{subscriber['email']} · Confirmed" in text and "transformers für alle" in body.decode()
        )
        status, body = site.get(subscriber["web_version_path"])
        text = visible_text(body)
        assert status == 200 and all(papers[pid]["title"] in text for pid in MANIFEST["delivery"]["papers"])
        request = urllib.request.Request(site.url + subscriber["unsubscribe_path"], b"List-Unsubscribe=One-Click")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200 and "unsubscribed" in visible_text(response.read()).lower()
        assert sql(home, "SELECT state FROM digests_subscriber WHERE email = ?", subscriber["email"]) == [
            ("unsubscribed",)
        ]
    finally:
        stop_site(site)


def test_index_and_search_run_on_the_upgraded_database(upgraded):
    home, env, after = upgraded
    result = run_paperwire("index", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    # The vectors the release computed are its model's: none is computed again.
    vectors = dict(sql(home, "SELECT paper_id, vector FROM search_papervector"))
    assert {pid: hashlib.sha256(v).hexdigest()[:16] for pid, v in vectors.items()} == MANIFEST["vectors"]["rows"]
    title = MANIFEST["papers"]["2510.20001"]["title"]
    result = run_paperwire("search", title, "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["id"] == "2510.20001"
    result = run_paperwire("search", "الانتباه", "--json", "--mode", "lexical", env=env)
    assert result.returncode == 0 and [r["id"] for r in json.loads(result.stdout)] == ["2510.20002"], result.stdout


# --- 2. on each database: 700f3ac's schema and rows, migrated forward -------------------------


def release_targets(loader) -> list[tuple[str, str | None]]:
    """Each app's migration target for a database of the release: its leaf then for Paperwire's
    apps (none for an app that came later), the current leaf for Django's own."""
    graph = loader.graph
    missing = [(app, name) for app, name in RELEASE_LEAVES.items() if (app, name) not in graph.nodes]
    assert not missing, (
        f"migrations every {RELEASE} database has applied are gone (squash them with replaces=): {missing}"
    )
    targets: list[tuple[str, str | None]] = []
    for app in sorted({app for app, _ in graph.nodes}):
        if app in RELEASE_LEAVES:
            targets.append((app, RELEASE_LEAVES[app]))
        elif apps.get_app_config(app).name.startswith("paperwire."):
            targets.append((app, None))
        else:
            targets.extend(graph.leaf_nodes(app))
    return targets


def model_named(name: str):
    """The current model of that class name, wherever it lives now."""
    (model,) = [m for m in apps.get_models() if m.__name__ == name]
    return model


def migrate_to(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def write_release_rows(old) -> dict:
    """Representative rows, written with 700f3ac's historical models."""
    User = old.get_model(*settings.AUTH_USER_MODEL.split("."))
    Organization, Alias = old.get_model("papers", "Organization"), old.get_model("papers", "OrganizationAlias")
    Paper, Vote = old.get_model("papers", "Paper"), old.get_model("papers", "Vote")
    Submission, ContentVersion = old.get_model("papers", "Submission"), old.get_model("papers", "ContentVersion")
    Subscriber, Delivery = old.get_model("digests", "Subscriber"), old.get_model("digests", "Delivery")
    ShownPaper, RateCounter = old.get_model("digests", "ShownPaper"), old.get_model("api", "RateCounter")

    ada = User.objects.create(username="ada", email="ada@example.org", password=make_password("correct horse battery"))
    zoe = User.objects.create(username="zoë", email="zoe@example.org", password=make_password("another passphrase"))
    old.get_model("accounts", "VerifiedEmail").objects.create(user=ada, email="ada@example.org")
    lab = Organization.objects.create(name="[Lab] (FAIR)", slug="lab-fair", fullname="[Lab] (FAIR) — Montréal")
    Alias.objects.create(key="s:old-lab-slug", organization=lab)
    day = dt.date(2025, 10, 20)
    at = dt.datetime(2025, 10, 20, 9, tzinfo=dt.UTC)
    rows = [
        ("2510.20001", "Attention für alle: <b>tags</b> & 🤖", lab, 7, False),
        ("2510.20002", "الانتباه هو كل ما تحتاجه", None, 3, False),
        ("pw-local.2025:emoji", 'Emoji 🧠🔥 "quotes"', None, 1, False),
        ("2510.20004", "Spam an admin hid", None, 0, True),
    ]
    for pid, title, org, base, hidden in rows:
        Paper.objects.create(
            id=pid,
            title=title,
            abstract=f"The abstract of {title}.",
            authors=["Zoë Ørsted", "محمد علي"],
            categories=["cs.CL"],
            published=day,
            published_at=at,
            daily_date=day,
            organization=org,
            organization_name=org.fullname if org else "",
            hf_submitter={"user": "hf_user", "fullname": "Hügging Fäce"},
            ai_summary=f"Summary of {title} ✓",
            ai_keywords=["ünïcode"],
            base_upvotes=base,
            upvotes=base + (pid == "2510.20001") * 2,
            hidden=hidden,
        )
    for user in (ada, zoe):
        Vote.objects.create(user=user, paper_id="2510.20001")
    ContentVersion.objects.update_or_create(pk=1, defaults={"token": "0" * 32, "counter": 41})
    Submission.objects.create(user=ada, arxiv_id="2511.00042", state="pending", attempts=1, last_error="no answer")
    reader = Subscriber.objects.create(
        email="ada@example.org", frequency="daily", topics="attention\nfür alle", state="confirmed", user=ada,
        confirmed_at=at, link_secret="secret-of-the-release",
    )  # fmt: skip
    delivery = Delivery.objects.create(
        subscriber=reader, period="daily:2025-10-20", state="sent", attempts=1, sent_at=at, message_id="<m@x>"
    )
    ShownPaper.objects.create(subscriber=reader, paper_id="2510.20001", delivery=delivery, position=0)
    RateCounter.objects.create(bucket="api:0123abcd", window_start=1_795_680_000, hits=5)
    old.get_model("ingest", "SourceCursor").objects.create(source="hf-daily", value="2025-10-20")
    old.get_model("search", "PaperVector").objects.create(
        paper_id="2510.20001", model="model-int8-6c335a5f", text_hash="f" * 32, vector=bytes(range(256)) * 3
    )
    return {"reader": reader.pk, "link_secret": reader.link_secret}


def stored_values(registry, name: str, fields: list[str] | None = None) -> dict[str, dict]:
    """Every field (or ``fields``) of every row of the model of that class name in ``registry``
    (historical or current), by primary key."""
    (model,) = [m for m in registry.get_models() if m.__name__ == name]
    fields = fields or [f.attname for f in model._meta.concrete_fields]
    return {
        str(row[model._meta.pk.attname]): {k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items()}
        for row in model._default_manager.values(*fields, model._meta.pk.attname)
    }


def test_rows_of_the_release_schema_are_read_by_the_current_models(transactional_db, client):
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    release = release_targets(executor.loader)
    try:
        executor.migrate(release)
        old = executor.loader.project_state([node for node in release if node[1]]).apps
        written = write_release_rows(old)
        names = [m.__name__ for m in old.get_models() if m._meta.app_label in RELEASE_LEAVES] + ["User"]
        before = {name: stored_values(old, name) for name in names}
        before = {name: rows for name, rows in before.items() if rows}
        assert {"Paper", "Vote", "Subscriber", "Delivery", "RateCounter", "PaperVector", "User"} <= set(before)
        migrate_to(latest)
        ContentType.objects.clear_cache()

        # Every field of every row, read by the current model of the same name (wherever it lives).
        for name, rows in before.items():
            fields = list(next(iter(rows.values())))
            assert stored_values(apps, name, fields) == rows, name

        Paper, User = model_named("Paper"), model_named("User")
        first = Paper.objects.get(pk="2510.20001")
        assert (first.title, first.upvotes, first.base_upvotes) == ("Attention für alle: <b>tags</b> & 🤖", 9, 7)
        assert first.organization.fullname == "[Lab] (FAIR) — Montréal"
        assert first.authors == ["Zoë Ørsted", "محمد علي"] and first.hf_submitter["fullname"] == "Hügging Fäce"
        assert sorted(Paper.objects.filter(hidden=True).values_list("pk", flat=True)) == ["2510.20004"]
        assert sorted(model_named("Vote").objects.values_list("user__username", flat=True)) == ["ada", "zoë"]
        assert model_named("Submission").objects.get().state == "pending"
        assert model_named("VerifiedEmail").objects.get().user.username == "ada"
        assert model_named("RateCounter").objects.get().hits == 5
        assert model_named("SourceCursor").get("hf-daily") == "2025-10-20"
        assert bytes(model_named("PaperVector").objects.get().vector) == bytes(range(256)) * 3
        delivery = model_named("Delivery").objects.get()
        assert (delivery.state, delivery.subscriber.email, delivery.shown.get().paper_id) == (
            "sent",
            "ada@example.org",
            "2510.20001",
        )
        assert User.objects.get(username="zoë").check_password("another passphrase")

        # What people see: pages and JSON over the rows the release wrote.
        response = client.get("/papers/2510.20001")
        text = visible_text(response.content)
        assert response.status_code == 200 and "Attention für alle: <b>tags</b> & 🤖" in text and "Montréal" in text
        assert client.get("/papers/2510.20004").status_code == 404
        response = client.get("/authors/zoe-orsted")
        text = visible_text(response.content)
        assert response.status_code == 200 and "Zoë Ørsted" in text and "3 papers" in text
        assert "Spam an admin hid" not in text and "محمد علي" in text  # her co-author
        response = client.get("/api/daily_papers", {"date": "2025-10-20"})
        assert response.status_code == 200
        assert [(i["paper"]["id"], i["paper"]["upvotes"]) for i in response.json()] == [
            ("2510.20001", 9),
            ("2510.20002", 3),
            ("pw-local.2025:emoji", 1),
        ]
        response = client.get("/orgs/old-lab-slug")
        assert response.status_code == 301 and response["Location"] == "/orgs/lab-fair"
        assert model_named("RateCounter").objects.count() == 2  # the API request was counted beside the old row
        signer = signing.Signer(salt=f"paperwire.digests.subscriber:{written['link_secret']}")  # as 700f3ac signed
        response = client.get(f"/subscription/{signer.sign(str(written['reader']))}")
        assert response.status_code == 200 and "ada@example.org · Confirmed" in visible_text(response.content)
        assert client.login(username="ada", password="correct horse battery")
        response = client.get("/accounts/settings")
        assert "ada@example.org · verified" in visible_text(response.content)
    finally:
        migrate_to(latest)
        ContentType.objects.clear_cache()
