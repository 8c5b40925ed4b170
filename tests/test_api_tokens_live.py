"""API tokens through a real `paperwire serve` (gunicorn, several worker processes), on SQLite and
PostgreSQL: huggingface_hub's whoami and overviews with a token, votes raced from several
processes with one token (one vote, counted once), and headers gunicorn passes as raw bytes."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import urllib.parse

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from tests.conftest import paper, paperwire_env, run_paperwire, start_site, stop_site, write_jsonl

PAPER = "2401.00001"
BASE_UPVOTES = 5
RACERS = 6  # client processes
ROUNDS = 8  # requests each

MAKE_TOKEN = (
    "from django.contrib.auth.models import User; "
    "from paperwire.accounts.tokens import create_token; "
    "user = User.objects.create_user('alice', 'alice@example.org', 'a long pass phrase'); "
    "print(create_token(user, 'laptop')[1])"
)

# One client process: ROUNDS requests with the token, each on its own connection; prints the statuses.
RACER = """
import http.client, json, sys
host, port, secret, paper, methods = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5].split(",")
statuses = []
for method in methods:
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.request(method, f"/api/papers/{paper}/vote", headers={"Authorization": f"Bearer {secret}"})
    response = connection.getresponse()
    body = json.loads(response.read())
    statuses.append((response.status, body.get("voted"), body.get("upvotes")))
    connection.close()
print(json.dumps(statuses))
"""


@pytest.fixture
def live(tmp_path, database):
    home = tmp_path / "home"
    env = paperwire_env(home, **database)
    path = write_jsonl(tmp_path / "p.jsonl", [paper(PAPER, "Tokens", upvotes=BASE_UPVOTES, organization="Acme")])
    result = run_paperwire("import", "--no-index", str(path), env=env)
    assert result.returncode == 0, result.stderr
    made = run_paperwire("shell", "-c", MAKE_TOKEN, env=env)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("pw_")
    # Votes beyond the account's limit would be refused (429: tests/test_api_tokens.py checks it).
    site = start_site(
        home, "--workers", "2", "--threads", "4", wait_for_index=False, PAPERWIRE_RATE_VOTE="10000/60", **database
    )
    yield site, secret
    stop_site(site)


def raw_request(site, method: str, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict, bytes]:
    """A request whose header bytes are sent exactly as given (non-ASCII included)."""
    host, port = urllib.parse.urlsplit(site.url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest(method, path)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def upvotes(site) -> int:
    status, body = site.get(f"/api/papers/{PAPER}")
    assert status == 200, body
    return json.loads(body)["upvotes"]


def vote_rows(site) -> int:
    count = site.command("shell", "-c", "from paperwire.papers.models import Vote; print(Vote.objects.count())")
    assert count.returncode == 0, count.stderr
    return int(count.stdout.strip().splitlines()[-1])


def race(site, secret: str, plans: list[list[str]]) -> list[list[tuple[int, bool, int]]]:
    host, port = urllib.parse.urlsplit(site.url).netloc.split(":")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, host, port, secret, PAPER, ",".join(plan)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for plan in plans
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results.append([tuple(answer) for answer in json.loads(out)])
    return results


def test_huggingface_hub_reads_the_account_and_the_organization_with_a_token(live):
    site, secret = live
    api = HfApi(endpoint=site.url, token=secret)
    me = api.whoami()
    assert me["name"] == "alice" and me["type"] == "user" and me["orgs"] == []
    assert me["auth"]["accessToken"]["displayName"] == "laptop"
    user = api.get_user_overview("alice")
    assert (user.username, user.fullname, user.num_papers, user.orgs) == ("alice", "alice", 0, [])
    org = api.get_organization_overview("Acme")
    assert (org.name, org.fullname, org.num_papers, org.num_models) == ("Acme", "Acme", 1, None)
    # The papers' client methods with the token, and without one.
    assert api.paper_info(PAPER).title == "Tokens"
    assert HfApi(endpoint=site.url, token=False).paper_info(PAPER).upvotes == BASE_UPVOTES
    # A huggingface.co token (HF_TOKEN, `hf auth login`) is not this site's: reads go on without it.
    assert HfApi(endpoint=site.url, token="hf_" + "x" * 34).paper_info(PAPER).upvotes == BASE_UPVOTES
    with pytest.raises(HfHubHTTPError) as refused:
        HfApi(endpoint=site.url, token="pw_" + "0" * 43).whoami()
    assert refused.value.response.status_code == 401 and "Invalid user token." in str(refused.value)
    with pytest.raises(HfHubHTTPError) as missing:
        api.get_organization_overview("Nobody")
    assert missing.value.response.status_code == 404


def test_votes_raced_from_processes_with_one_token_count_once(live):
    site, secret = live
    # Every process votes at once, again and again: one vote, counted once.
    results = race(site, secret, [["POST"] * ROUNDS for _ in range(RACERS)])
    assert {answer for answers in results for answer in answers} == {(200, True, BASE_UPVOTES + 1)}
    assert upvotes(site) == BASE_UPVOTES + 1 and vote_rows(site) == 1
    # Votes and withdrawals at once: whatever the order, the count is the votes that exist.
    plans = [["POST", "DELETE"] * (ROUNDS // 2) if n % 2 else ["DELETE", "POST"] * (ROUNDS // 2) for n in range(RACERS)]
    results = race(site, secret, plans)
    assert {status for answers in results for status, _, _ in answers} == {200}
    assert {count for answers in results for _, _, count in answers} <= {BASE_UPVOTES, BASE_UPVOTES + 1}
    assert upvotes(site) == BASE_UPVOTES + vote_rows(site)
    status, _, body = raw_request(
        site, "DELETE", f"/api/papers/{PAPER}/vote", [(b"Authorization", f"Bearer {secret}".encode())]
    )
    assert (status, json.loads(body)) == (200, {"id": PAPER, "upvotes": BASE_UPVOTES, "voted": False})
    assert vote_rows(site) == 0


HOSTILE = [
    b"Bearer \xff\xfe\x80",
    "Bearer pw_é".encode(),
    b"Bearer",
    b"Bearer pw_" + b"a" * 8000,
    b"bearer pw_" + b"\xe2\x80\x8b" * 14 + b"a",
]


def test_raw_hostile_authorization_headers_are_json_401s(live):
    site, _ = live
    for value in HOSTILE:
        status, headers, body = raw_request(site, "POST", f"/api/papers/{PAPER}/vote", [(b"Authorization", value)])
        assert status == 401, (value[:40], body[:300])
        assert headers["Content-Type"] == "application/json" and set(json.loads(body)) == {"error"}
        assert headers["WWW-Authenticate"].startswith('Bearer realm="Paperwire"')
    assert upvotes(site) == BASE_UPVOTES
