"""Discussions under load from real processes: a `paperwire serve` with two workers on SQLite and
on PostgreSQL, many people replying, editing, voting and deleting at once. No comment is lost, no
vote counted twice, no reply hangs under a comment that is gone, the paper's count is the number
of visible comments, and nobody gets a 500."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from tests.conftest import paper, start_site, stop_site, write_jsonl
from tests.test_submit_processes import in_threads, shell_output

PAPER = "2401.00001"
PEOPLE = [f"racer{n}" for n in range(8)]
ROOM = {
    f"PAPERWIRE_RATE_COMMENT{kind}{new}": "10000/60"
    for kind in ("", "_EDIT", "_VOTE", "_REPORT")
    for new in ("", "_NEW")
}


def post(site, session, path: str, fields: dict) -> tuple[int, dict]:
    """POST a comment form as the script does (JSON answer): the status and the answer."""
    opener, csrf = session
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": csrf, **fields}).encode()
    request = urllib.request.Request(site.url + path, body, headers={"Accept": "application/json", "Referer": site.url})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def counts(site) -> dict:
    code = (
        "import json; from paperwire.discussions.models import Comment, CommentVote; "
        "from paperwire.papers.models import Paper; "
        f"p = Paper.objects.get(pk={PAPER!r}); "
        "visible = Comment.objects.filter(paper=p, deleted_at__isnull=True, hidden=False); "
        "print(json.dumps({'local': p.local_comments, 'visible': visible.count(), "
        "'upvotes': {c.pk: [c.upvotes, CommentVote.objects.filter(comment=c).count()] "
        "for c in Comment.objects.all()}}))"
    )
    return json.loads(shell_output(site, code))


def test_people_replying_editing_and_voting_at_once(tmp_path, database):
    home = tmp_path / "home"
    site = start_site(home, "--workers", "2", wait_for_index=False, **ROOM, **database)
    try:
        result = site.command("import", "--no-index", str(write_jsonl(tmp_path / "p.jsonl", [paper(PAPER)])))
        assert result.returncode == 0, result.stderr
        code = (
            "from django.contrib.auth.models import User; "
            f"[User.objects.create_user(name, password='correct horse battery') for name in {PEOPLE!r}]"
        )
        assert site.command("shell", "-c", code).returncode == 0
        sessions = [site.log_in(name, "correct horse battery") for name in PEOPLE]
        status, first = post(site, sessions[0], f"/papers/{PAPER}/comments", {"body": "The top comment"})
        assert status == 201
        top = first["id"]

        # Everyone at once: three replies each, an upvote of the top comment sent twice, a comment
        # of one's own, then its edit.
        def work(n: int) -> list[int]:
            me = sessions[n]
            statuses = []
            for k in range(3):
                statuses.append(post(site, me, f"/papers/{PAPER}/comments", {"body": f"{n}.{k}", "reply_to": top})[0])
            statuses += [post(site, me, f"/comments/{top}/vote", {"action": "up"})[0] for _ in range(2)]
            status, mine = post(site, me, f"/papers/{PAPER}/comments", {"body": f"Mine {n}"})
            statuses += [status, post(site, me, f"/comments/{mine['id']}/edit", {"body": f"Mine {n}, edited"})[0]]
            return statuses

        answers = in_threads(len(PEOPLE), work)
        assert answers == [[201, 201, 201, 200, 200, 201, 200]] * len(PEOPLE), answers
        state = counts(site)
        assert state["local"] == state["visible"] == 1 + 3 * len(PEOPLE) + len(PEOPLE)
        assert state["upvotes"][str(top)] == [len(PEOPLE), len(PEOPLE)]
        status, body = site.get(f"/api/papers/{PAPER}/comments?limit=100")
        threads = json.loads(body)
        assert status == 200 and len(threads) == 1 + len(PEOPLE)
        assert sorted(r["data"]["latest"]["raw"] for r in threads[0]["replies"]) == sorted(
            f"{n}.{k}" for n in range(len(PEOPLE)) for k in range(3)
        )
        assert sorted(t["data"]["latest"]["raw"] for t in threads[1:]) == sorted(
            f"Mine {n}, edited" for n in range(len(PEOPLE))
        )
        assert json.loads(site.get(f"/api/papers/{PAPER}")[1])["numComments"] == state["local"]

        # Votes withdrawn and cast again by everyone at once, twice over: each vote counted once.
        def flip(n: int) -> list[int]:
            me = sessions[n]
            return [
                post(site, me, f"/comments/{top}/vote", {"action": a})[1]["upvotes"] >= 0 for a in "down up".split()
            ]

        assert all(all(result) for result in in_threads(len(PEOPLE), flip))
        assert counts(site)["upvotes"][str(top)] == [len(PEOPLE), len(PEOPLE)]

        # Deleting a comment while others reply to it: each reply is either kept under the stub or
        # refused (409), never left under a comment that is gone; the count follows.
        status, lonely = post(site, sessions[0], f"/papers/{PAPER}/comments", {"body": "Soon deleted"})
        assert status == 201

        def race(n: int) -> int:
            if n == 0:
                return post(site, sessions[0], f"/comments/{lonely['id']}/delete", {})[0]
            return post(site, sessions[n], f"/papers/{PAPER}/comments", {"body": "Hi", "reply_to": lonely["id"]})[0]

        outcome = in_threads(len(PEOPLE), race)
        assert outcome[0] == 200 and set(outcome[1:]) <= {201, 409}, outcome
        kept = outcome[1:].count(201)
        status, body = site.get(f"/api/papers/{PAPER}/comments?limit=100")
        last = json.loads(body)[-1] if kept else None
        if kept:
            assert last["id"] == str(lonely["id"]) and last["data"]["deleted"] and len(last["replies"]) == kept
        else:
            assert all(t["id"] != str(lonely["id"]) for t in json.loads(body))
        state = counts(site)
        assert state["local"] == state["visible"] == 1 + 4 * len(PEOPLE) + kept
    finally:
        stop_site(site)
