"""The vote count of a paper always fits its column and always counts the votes that exist.

Imported upvotes go up to 2,147,483,647 (PostgreSQL's `integer`, docs/import.md); the votes cast
here are added to them, and the sum is held at that maximum (it used to overflow the column:
a 500 on PostgreSQL). A real `paperwire serve` on both databases.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from tests.conftest import paper, paperwire_env, run_paperwire, start_site, stop_site, write_jsonl

MAX = 2**31 - 1


def post_vote(site, opener, csrf: str, paper_id: str, action: str = "up") -> tuple[int, str]:
    """The HTML form's vote, redirects followed: the status and the address of the page shown."""
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": csrf, "action": action}).encode()
    request = urllib.request.Request(f"{site.url}/papers/{paper_id}/vote", body, headers={"Referer": site.url})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.geturl().removeprefix(site.url)
    except urllib.error.HTTPError as error:
        return error.code, ""


def api_upvotes(site, paper_id: str) -> int:
    status, body = site.get(f"/api/papers/{paper_id}")
    assert status == 200, body
    return json.loads(body)["upvotes"]


def test_votes_on_imported_upvotes_at_the_maximum(tmp_path, database):
    home = tmp_path / "home"
    env = paperwire_env(home, **database)
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [paper("2401.00001", upvotes=MAX), paper("2401.00002", upvotes=MAX - 1), paper("2401.00003", upvotes=str(MAX))],
    )
    result = run_paperwire("import", "--no-index", str(path), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "imported 3 new, 0 updated, 0 rejected"
    result = run_paperwire(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "[User.objects.create_user(f'voter{n}', password='a long pass phrase') for n in range(2)]",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    site = start_site(home, wait_for_index=False, **database)
    try:
        first, csrf1 = site.log_in("voter0", "a long pass phrase")
        second, csrf2 = site.log_in("voter1", "a long pass phrase")
        # The JSON vote and the form's vote, on a paper at the maximum: the count stays there.
        assert site.vote(first, csrf1, "2401.00001") == {"id": "2401.00001", "upvotes": MAX, "voted": True}
        assert post_vote(site, second, csrf2, "2401.00003") == (200, "/papers/2401.00003")
        assert api_upvotes(site, "2401.00003") == MAX
        # One below: the first vote reaches the maximum, the second is held there.
        assert site.vote(first, csrf1, "2401.00002")["upvotes"] == MAX
        assert site.vote(second, csrf2, "2401.00002")["upvotes"] == MAX
        assert site.vote(second, csrf2, "2401.00002", "down")["upvotes"] == MAX
        assert site.vote(first, csrf1, "2401.00002", "down")["upvotes"] == MAX - 1
        status, page = site.get("/papers/2401.00001")
        assert status == 200 and b'<span class="count">2147483647</span>' in page
        # Importing again changes nothing: the count is kept, the votes are not lost.
        result = run_paperwire("import", "--no-index", str(path), env=env)
        assert result.stdout.strip().splitlines()[-1] == "imported 0 new, 0 updated, 0 rejected"
        assert site.vote(first, csrf1, "2401.00001", "down") == {"id": "2401.00001", "upvotes": MAX, "voted": False}
    finally:
        stop_site(site)
