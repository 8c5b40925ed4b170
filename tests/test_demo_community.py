"""`paperwire demo`: the demo corpus shows the community as `make run` serves it (demo accounts,
comments and replies with maths, comment votes, an approved author claim), every piece of it
marked as demo, and running it again adds nothing."""

from __future__ import annotations

import json

from django.contrib.auth.models import User

from tests.conftest import DEMO, paperwire_env, run_paperwire, start_site, stop_site

DUO = "2410.10819"  # DuoAttention: a thread of three demo comments, and its claimed author


def test_the_demo_community_is_seeded_once_and_shown_as_demo(tmp_path, database):
    home = tmp_path / "home"
    env = paperwire_env(home, **database)
    assert run_paperwire("import", str(DEMO), env=env).returncode == 0
    first = run_paperwire("demo", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == (
        "demo community: 3 demo accounts, 7 comments added (7 in all), 4 comment votes, 1 author claims approved"
    )
    again = run_paperwire("demo", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == (
        "demo community: 3 demo accounts, 0 comments added (7 in all), 0 comment votes, 0 author claims approved"
    )

    site = start_site(home, **database)
    try:
        status, page = site.get(f"/papers/{DUO}")
        text = page.decode()
        assert status == 200
        for name in ("demo-ada", "demo-ben", "demo-chloe"):
            assert name in text
        assert text.count("Demo comment, seeded by <code>paperwire demo</code>") == 3
        assert '<span class="maths">$O(r \\cdot n)$</span>' in text  # maths kept for KaTeX
        # The claimed author is marked on the paper's page, and their page names the demo account.
        status, author_page = site.get("/authors/guangxuan-xiao")
        assert status == 200 and "demo-chloe" in author_page.decode()

        status, body = site.get(f"/api/papers/{DUO}")
        paper = json.loads(body)
        assert paper["numComments"] == 3
        [claimed] = [a for a in paper["authors"] if "user" in a]
        assert (claimed["name"], claimed["user"]["user"]) == ("Guangxuan Xiao", "demo-chloe")
        status, body = site.get(f"/api/papers/{DUO}/comments")
        [thread] = json.loads(body)
        assert thread["author"]["name"] == "demo-ada" and thread["data"]["upvotes"] == 2
        assert [r["author"]["name"] for r in thread["replies"]] == ["demo-ben", "demo-chloe"]

        # Nobody can log in as a demo account, and none has an address to mail.
        checked = run_paperwire(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model as u;"
            "print(sorted((x.username, x.has_usable_password(), x.email) for x in u().objects.all()))",
            env=env,
        )
        assert (
            checked.stdout.strip().splitlines()[-1]
            == "[('demo-ada', False, ''), ('demo-ben', False, ''), ('demo-chloe', False, '')]"
        )
    finally:
        stop_site(site)


def test_demo_says_what_to_run_first_without_the_demo_corpus(tmp_path):
    env = paperwire_env(tmp_path / "home")
    assert run_paperwire("migrate", "--noinput", env=env).returncode == 0
    result = run_paperwire("demo", env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "CommandError: the demo corpus is not imported (no paper 1506.03134, 2410.10781, 2410.10819, 2501.00663): "
        "run `paperwire import paperwire/demo/attention_papers.jsonl` first"
    )


def test_demo_never_writes_as_a_real_account_named_demo(tmp_path):
    """Sign-up refuses the prefix, but an account made otherwise (the admin, an older version)
    with a password is someone's: the demo neither comments as it nor gives it an author."""
    env = paperwire_env(tmp_path / "home")
    assert run_paperwire("import", "--no-index", str(DEMO), env=env).returncode == 0
    made = run_paperwire(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; User.objects.create_user('demo-chloe', password='Att4cker-pw!!')",
        env=env,
    )
    assert made.returncode == 0, made.stderr
    refused = run_paperwire("demo", env=env)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        "CommandError: an account named demo-chloe exists and is not a demo account (it has a password, an "
        "address or has logged in): nothing was seeded; rename or delete it in the admin first"
    )
    counted = run_paperwire(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; from paperwire.discussions.models import Comment;"
        "from paperwire.people.models import Author, AuthorClaim;"
        "print(sorted(User.objects.values_list('username', flat=True)), Comment.objects.count(),"
        " AuthorClaim.objects.count(), Author.objects.filter(user__isnull=False).count())",
        env=env,
    )
    assert counted.stdout.strip().splitlines()[-1] == "['demo-chloe'] 0 0 0"


def test_sign_up_keeps_the_demo_prefix_for_the_demo(client, db):
    page = client.get("/accounts/signup").content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    for name in ("demo-zed", "Demo-Zed", "DEMO-x"):
        response = client.post(
            "/accounts/signup",
            {
                "csrfmiddlewaretoken": token,
                "username": name,
                "email": "zed@example.org",
                "password1": "a long pass phrase 42",
                "password2": "a long pass phrase 42",
            },
        )
        assert response.status_code == 200, name
        assert "are kept for the demo community" in response.content.decode()
    assert not User.objects.exists()
