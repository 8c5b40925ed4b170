"""Make the upgrade fixture: a SQLite database written by a released Paperwire's own code.

tests/test_upgrade.py upgrades a copy of it with the current code and checks that every row and
every page a person saw survived. The database must come from the old release itself (its
migrations, its import, its forms), so this script runs the OLD checkout's code: run it with the
old checkout as the current directory, with the project's Python environment:

    git -C <repo> archive 700f3ac | tar -x -C /tmp/old     # or: git worktree add /tmp/old 700f3ac
    cd /tmp/old && <repo>/.venv/bin/python <repo>/tools/make_upgrade_fixture.py --release 700f3ac

It writes, in tests/fixtures/upgrade/: paperwire-<release>.sqlite3 (vacuumed); the search
indexes the release left beside it, paperwire-<release>-index.tar.gz; and the manifest,
paperwire-<release>.json: the counts and a hash of every row of each table, and the rows the
test checks by meaning (accounts and their passwords, a session, votes, a pending submission,
subscribers and their mailed links, a delivery, rate-limit counters, stored vectors, what the
home page and /api/daily_papers showed).

What it does, all through the old code: `paperwire migrate`; `paperwire import` of the demo
corpus, of papers with hostile values (accents, emoji, right-to-left text, brackets in
organization names) and of Hugging Face daily items (indexed, so paper vectors are stored unless
--model-dir none); `paperwire createsuperuser`; then, in this process, the old site's own pages
through Django's test client (sign-ups, an address verified by its mailed link, logins, votes, a
submission arXiv does not answer, subscriptions confirmed and unsubscribed by their mailed
links, an admin hiding a paper, searches and API reads, which leave rate-limit counters); and
its `digest send` for a day, whose mail gives the manage and unsubscribe links.

--model-dir: a folder holding the old release's converted model (a checkout's .cache/models,
where its tests kept it), so that nothing is converted; without it the old code converts the
model with torch into a temporary folder (minutes); `none` stores no vectors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SECRET_KEY = "live-test-secret-key-0123456789-abcdefghij"  # tests/conftest.py's paperwire_env uses it too
BASE_URL = "http://127.0.0.1:8000"
DIGEST_DAY = "2025-10-20"  # the day of the hostile papers, the latest day of the fixture

ACCOUNTS = [
    # username, email as typed, password, verifies its address
    ("ada", "Ada.Lovelace@Example.org", "correct horse battery staple", True),
    ("zoë", "zoe@example.org", "another long passphrase 42", False),
]
ADMIN = ("root", "root@example.org", "admin passphrase for the fixture")
VOTES = {"ada": ["2510.20001", "2510.13554", "2410.10819"], "zoë": ["2510.20001"]}
SUBMITTED = "2511.00042"  # not in the database; arXiv does not answer: the submission stays pending
HIDDEN = "2510.20004"

HOSTILE = [
    {
        "id": "2510.20001",
        "title": "Attention für alle: ünïcödé — ‘quotes’, <b>tags</b> & 🤖 robots",
        "abstract": "Straße, naïve café, 👩‍🔬 scientists and <script>alert(1)</script> in an abstract about attention.",
        "authors": ["Zoë Ørsted", "José Álvarez-Núñez", "李小龙"],
        "categories": ["cs.CL", "cs.LG"],
        "published": "2025-10-20",
        "upvotes": 7,
        "organization": "[Lab] (FAIR) — Montréal",
        "code_urls": ["https://github.com/example/attention-fur-alle"],
        "comment": "12 pages, $O(n^2)$ → $O(n)$",
    },
    {
        "id": "2510.20002",
        "title": "الانتباه هو كل ما تحتاجه: attention in right-to-left text",
        "abstract": "نموذج لغوي قائم على الانتباه. A mixed right-to-left and left-to-right abstract.",
        "authors": ["محمد علي", "שרה כהן"],
        "categories": ["cs.CL"],
        "published": "2025-10-20",
        "upvotes": 3,
        "organization": "جامعة القاهرة",
    },
    {
        "id": "pw-local.2025:emoji",
        "title": 'Emoji 🧠🔥 in titles, "double quotes" & ampersands',
        "abstract": "A local paper (not on arXiv) whose id has a colon and whose title has emoji.",
        "authors": ["👩‍💻 Anonymous"],
        "published": "2025-10-20",
        "upvotes": 1,
        "organization": "🤖 Robots & Co.",
    },
    {
        "id": HIDDEN,
        "title": "Buy cheap attention now (spam an admin hides)",
        "abstract": "Spam.",
        "authors": ["Spammer"],
        "published": "2025-10-20",
    },
]

HF_DAILY = [
    {
        "paper": {
            "id": "2510.20005",
            "title": "Brackets {and} [parens] (in) organization names",
            "summary": "A Hugging Face daily item with every optional field filled in.",
            "authors": [{"name": "Åsa Öberg"}, {"name": "Chloé Dubois"}],
            "publishedAt": "2025-10-18T17:00:00.000Z",
            "submittedOnDailyAt": "2025-10-20T09:00:00.000Z",
            "upvotes": 12,
            "organization": {"_id": "6650abc0ffee", "name": "bracket-lab", "fullname": "[Brackets] Lab {and} (parens)"},
            "submittedOnDailyBy": {"user": "hf_user", "fullname": "Hügging Fäce Üser"},
            "githubRepo": "https://github.com/example/brackets",
            "githubStars": 42,
            "projectPage": "https://example.org/brackets?a=1&b=2",
            "ai_summary": "Names with brackets are names.",
            "ai_keywords": ["brackets", "organizations", "ünïcode"],
        },
        "publishedAt": "2025-10-18T17:00:00.000Z",
        "title": "Brackets {and} [parens] (in) organization names",
        "numComments": 2,
    }
]

# Tables every upgrade may add rows to (and a moved model may rewrite): counted, not hashed.
GROWING = {"django_migrations", "django_content_type", "auth_permission"}


def closed_port() -> int:
    """A loopback port nothing listens on: arXiv, for the submission, does not answer."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(checkout: Path, env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "paperwire", *args], cwd=checkout, env=env, capture_output=True, text=True
    )
    if result.returncode:
        sys.exit(f"paperwire {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def mailed_link(message, path: str) -> str:
    """The path of the first link to ``path``… in a mail's text part."""
    found = re.search(re.escape(BASE_URL) + r"(" + re.escape(path) + r"[^\s\"'<>]+)", message.body)
    if not found:
        sys.exit(f"no {path} link in the mail {message.subject!r}:\n{message.body}")
    return found.group(1)


def expect(response, status: int = 200, what: str = "") -> None:
    if response.status_code != status:
        body = response.content.decode(errors="replace")[:2000]
        sys.exit(f"{what or response.request['PATH_INFO']}: {response.status_code}, expected {status}\n{body}")


def paper_order(body: str, ids: list[str]) -> list[str]:
    """The papers a page links to, in the order it shows them (first link of each)."""
    places = {pid: body.find(f'href="/papers/{pid}"') for pid in ids}
    return [pid for pid, at in sorted(places.items(), key=lambda item: item[1]) if at >= 0]


def use_the_site(checkout: Path, home: Path) -> dict:
    """Everything a person and an admin do on the old site, through its own views; returns
    what the manifest records about it."""
    sys.path.insert(0, str(checkout))
    import django

    django.setup()
    import paperwire

    if not Path(paperwire.__file__).resolve().is_relative_to(checkout):
        sys.exit(f"imported {paperwire.__file__}, not the code of {checkout}: run from the old checkout")
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core import mail
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the mails stay in mail.outbox; 'testserver' is an allowed host
    User = get_user_model()
    record: dict = {}

    # Sign-ups, and the address verified by the link mailed to it.
    accounts = []
    for username, email, password, verify in ACCOUNTS:
        mail.outbox.clear()
        form = {"username": username, "email": email, "password1": password, "password2": password}
        expect(Client().post("/accounts/signup", form), 302, f"sign-up of {username}")
        if verify:
            link = mailed_link(mail.outbox[-1], "/accounts/verify/")
            expect(Client().post(link), 200, f"verification of {username}")
        user = User.objects.get(username=username)
        accounts.append(
            {"username": username, "email": user.email, "password": password, "verified": verify, "staff": False}
        )
    accounts.append({"username": ADMIN[0], "email": ADMIN[1], "password": ADMIN[2], "verified": False, "staff": True})
    record["accounts"] = accounts

    def logged_in(username: str) -> Client:
        client = Client()
        password = next(a["password"] for a in accounts if a["username"] == username)
        expect(client.post("/accounts/login", {"username": username, "password": password}), 302, f"login {username}")
        return client

    # Votes, through the vote button's JSON answer.
    clients = {username: logged_in(username) for username in VOTES}
    for username, paper_ids in VOTES.items():
        for paper_id in paper_ids:
            response = clients[username].post(
                f"/papers/{paper_id}/vote", {"action": "up"}, HTTP_ACCEPT="application/json"
            )
            expect(response, 200, f"{username}'s vote on {paper_id}")
    record["votes"] = [[u, p] for u, ids in VOTES.items() for p in ids]

    # A submission arXiv does not answer: pending.
    ada = clients["ada"]
    expect(ada.post("/submit", {"paper": f"https://arxiv.org/abs/{SUBMITTED}"}), 302, "the submission")
    from paperwire.papers.models import Submission

    submission = Submission.objects.get(arxiv_id=SUBMITTED)
    if submission.state != "pending":
        sys.exit(f"the submission is {submission.state}, not pending: {submission.last_error}")
    record["submission"] = {"username": "ada", "arxiv_id": SUBMITTED, "state": submission.state}

    # The admin hides a spam paper.
    admin = logged_in(ADMIN[0])
    hide = {"action": "hide", "_selected_action": [HIDDEN]}
    expect(admin.post("/admin/papers/paper/", hide), 302, "the admin's hide action")
    record["hidden"] = HIDDEN

    # Digest subscriptions: ada's (her verified address, from her account), confirmed by its mailed
    # link; a reader who confirmed then unsubscribed by one click; one who never confirmed.
    def subscribe(client: Client, email: str, frequency: str, topics: str, confirm: bool) -> None:
        mail.outbox.clear()
        expect(client.post("/subscribe", {"email": email, "frequency": frequency, "topics": topics}), 200, email)
        if confirm:
            expect(client.post(mailed_link(mail.outbox[-1], "/subscribe/confirm/")), 200, f"confirmation {email}")

    subscribe(ada, accounts[0]["email"], "daily", "attention\ntransformers für alle", confirm=True)
    subscribe(Client(), "Weekly.Reader@example.org", "weekly", "right-to-left", confirm=True)
    subscribe(Client(), "pending.reader@example.org", "daily", "", confirm=False)
    from paperwire.accounts.addresses import canonical_email
    from paperwire.digests.models import Subscriber
    from paperwire.digests.tokens import subscriber_token

    weekly = Subscriber.objects.get(email="weekly.reader@example.org")
    expect(Client().post(f"/unsubscribe/{subscriber_token(weekly)}"), 200, "one-click unsubscribe")

    # The digest of the fixture's latest day, sent; its mail gives ada's links.
    mail.outbox.clear()
    call_command("digest", "send", "--frequency=daily", f"--date={DIGEST_DAY}")
    if len(mail.outbox) != 1:
        sys.exit(f"the digest sent {len(mail.outbox)} mails, expected 1 (to ada)")
    digest = mail.outbox[0]
    subscriber = Subscriber.objects.get(email=canonical_email(accounts[0]["email"]))
    delivery = subscriber.deliveries.get()
    unsubscribe = digest.message()["List-Unsubscribe"].strip("<>")
    record["subscriber"] = {
        "email": subscriber.email,
        "username": "ada",
        "state": subscriber.state,
        "frequency": subscriber.frequency,
        "topics": subscriber.topics,
        "manage_path": mailed_link(digest, "/subscription/"),
        "unsubscribe_path": unsubscribe.removeprefix(BASE_URL),
        "web_version_path": mailed_link(digest, "/digest/"),
    }
    record["other_subscribers"] = {
        s.email: s.state for s in Subscriber.objects.exclude(pk=subscriber.pk).order_by("email")
    }
    record["delivery"] = {
        "period": delivery.period,
        "state": delivery.state,
        "subject": digest.subject,
        "papers": list(delivery.shown.order_by("position").values_list("paper_id", flat=True)),
    }

    # A session that outlives the upgrade (its expiry is set far ahead: the fixture must not age).
    session = SessionStore(session_key=ada.cookies["sessionid"].value)
    session.set_expiry(3_000_000_000 - 1_800_000_000)  # seconds from now: about 38 years
    session.save()
    record["session"] = {"key": session.session_key, "username": "ada"}

    # What an anonymous reader sees: the home page and the API; searches (rate-limit counters).
    reader = Client()
    home_page = reader.get("/")
    expect(home_page)
    from paperwire.papers.models import Paper

    ids = list(Paper.objects.values_list("id", flat=True))
    record["home_page"] = paper_order(home_page.content.decode(), ids)
    api = reader.get("/api/daily_papers")
    expect(api)
    record["api_daily_papers"] = [
        {"id": item["paper"]["id"], "title": item["title"], "upvotes": item["paper"]["upvotes"]} for item in api.json()
    ]
    for query in ("attention", "Montréal", "الانتباه"):
        expect(reader.get("/search", {"q": query}))
    expect(reader.get("/api/papers/search", {"q": "attention"}))

    from paperwire.ingest.models import SourceCursor

    SourceCursor.put("hf-daily", DIGEST_DAY)  # as `ingest hf-daily` leaves it after that day
    connection.close()
    return record


def row_hash(values: tuple) -> str:
    text = json.dumps([v.hex() if isinstance(v, bytes) else v for v in values], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def row_hashes(db: sqlite3.Connection, table: str, columns: list[str], key: str) -> dict[str, str]:
    """A hash of each row of ``table`` (of ``columns`` only), by its ``key``: tests/test_upgrade.py
    computes them again after the upgrade, over the same columns."""
    select = ", ".join(f'"{c}"' for c in columns)
    rows = db.execute(f'SELECT {select} FROM "{table}" ORDER BY "{key}"').fetchall()
    return {str(row[columns.index(key)]): row_hash(row) for row in rows}


def describe(database: Path) -> dict:
    """Every table: its row count; for the tables of data, its columns and a hash of each row by key."""
    db = sqlite3.connect(database)
    tables = {}
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
    for table in sorted(names):
        (count,) = db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
        entry: dict = {"count": count}
        if table not in GROWING:
            info = db.execute(f'PRAGMA table_info("{table}")').fetchall()
            columns = [c[1] for c in info]
            key = next(c[1] for c in info if c[5] == 1)
            entry.update(key=key, columns=columns, rows=row_hashes(db, table, columns, key))
        tables[table] = entry
    record = {
        "tables": tables,
        "migrations": sorted([app, name] for app, name in db.execute("SELECT app, name FROM django_migrations")),
        "rate_counters": [list(r) for r in db.execute("SELECT bucket, window_start, hits FROM api_ratecounter")],
        "vectors": {
            "models": sorted({m for (m,) in db.execute("SELECT model FROM search_papervector")}),
            "rows": {
                p: hashlib.sha256(v).hexdigest()[:16]
                for p, v in db.execute("SELECT paper_id, vector FROM search_papervector ORDER BY paper_id")
            },
        },
        "papers": {
            pid: {"title": title, "upvotes": upvotes, "hidden": bool(hidden), "organization": org}
            for pid, title, upvotes, hidden, org in db.execute(
                "SELECT p.id, p.title, p.upvotes, p.hidden, COALESCE(o.fullname, '') FROM papers_paper p"
                " LEFT JOIN papers_organization o ON o.id = p.organization_id ORDER BY p.id"
            )
        },
    }
    db.close()
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", type=Path, default=Path.cwd(), help="the old release's code (default: .)")
    parser.add_argument("--release", default="700f3ac", help="the old release's commit, named in the files")
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures" / "upgrade")
    parser.add_argument("--model-dir", help="the old release's converted model folder, or `none` (see above)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder (its PAPERWIRE_HOME) to look at")
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    if not (checkout / "paperwire" / "settings.py").exists():
        sys.exit(f"{checkout} is not a Paperwire checkout")

    work = Path(tempfile.mkdtemp(prefix="paperwire-upgrade-fixture-"))
    home = work / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",) and not k.startswith("PAPERWIRE_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "paperwire.settings",
            "PAPERWIRE_HOME": str(home),
            "PAPERWIRE_SECRET_KEY": SECRET_KEY,
            "PAPERWIRE_BASE_URL": BASE_URL,
            "PAPERWIRE_EMAIL_URL": "console://",
            "PAPERWIRE_ARXIV_API_URL": f"http://127.0.0.1:{closed_port()}/api/query",
            "PAPERWIRE_ARXIV_INTERVAL": "0",
            "PAPERWIRE_HTTP_RETRIES": "0",
            "PAPERWIRE_HTTP_TIMEOUT": "2",
            "PAPERWIRE_PROGRESS_SECONDS": "3600",
            "PYTHONPATH": str(checkout),
        }
    )
    if args.model_dir == "none":
        env["PAPERWIRE_EMBEDDING_MODEL"] = "none"
    else:
        models = work / "models"  # a copy: the old code may write its record beside the model
        if args.model_dir:
            shutil.copytree(args.model_dir, models)
        env["PAPERWIRE_MODEL_DIR"] = str(models)

    cli(checkout, env, "migrate", "--no-input")
    hostile = work / "hostile.jsonl"
    hostile.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in HOSTILE), encoding="utf-8")
    hf_daily = work / "hf_daily.json"
    hf_daily.write_text(json.dumps(HF_DAILY, ensure_ascii=False), encoding="utf-8")
    print(cli(checkout, env, "import", str(checkout / "paperwire" / "demo" / "attention_papers.jsonl"), str(hostile)))
    print(cli(checkout, env, "import", "--format", "hf-daily", str(hf_daily)))
    cli(checkout, {**env, "DJANGO_SUPERUSER_PASSWORD": ADMIN[2]}, "createsuperuser", "--no-input",
        "--username", ADMIN[0], "--email", ADMIN[1])  # fmt: skip

    os.environ.update(env)
    record = use_the_site(checkout, home)

    args.out.mkdir(parents=True, exist_ok=True)
    database = args.out / f"paperwire-{args.release}.sqlite3"
    database.unlink(missing_ok=True)
    source = sqlite3.connect(home / "paperwire.sqlite3")
    source.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    source.execute("VACUUM INTO ?", (str(database),))
    source.close()
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA journal_mode=DELETE")  # one file, whatever mode the release used
    # The search indexes the release left (derived files an upgrade finds in PAPERWIRE_HOME).
    indexes = args.out / f"paperwire-{args.release}-index.tar.gz"
    with tarfile.open(indexes, "w:gz") as archive:
        archive.add(home / "index", arcname="index")
    manifest = {
        "release": args.release,
        "made_by": "tools/make_upgrade_fixture.py",
        "database": database.name,
        "index_archive": indexes.name,
        "secret_key": SECRET_KEY,
        "base_url": BASE_URL,
        **record,
        **describe(database),
    }
    manifest_path = args.out / f"paperwire-{args.release}.json"
    manifest_path.write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work)
    counts = {t: e["count"] for t, e in manifest["tables"].items() if e["count"]}
    print(f"wrote {database} ({database.stat().st_size} bytes) and {manifest_path.name}: {counts}")


if __name__ == "__main__":
    main()
