"""A real `paperwire serve` process: the huggingface_hub client, the command line, HTTP races."""

import json
import sqlite3
import threading

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from tests.conftest import DEMO, FIXTURES, paperwire_env, run_paperwire, start_site, stop_site


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("live-home")
    env = paperwire_env(home)
    for path in (DEMO, FIXTURES / "hf_2025-07-22.json"):
        result = run_paperwire("import", str(path), env=env)
        assert result.returncode == 0, result.stderr
    site = start_site(home)
    yield site
    stop_site(site)


def test_huggingface_hub_reads_daily_papers(site):
    api = HfApi(endpoint=site.url, token=False)
    papers = list(api.list_daily_papers(date="2025-07-22"))
    assert [p.id for p in papers] == ["2507.14683", "2507.13334"]
    top = papers[0]
    assert top.upvotes == 63
    assert top.title.startswith("MiroMind-M1")
    assert [a.name for a in top.authors] == ["Xingxuan Li", "Lidong Bing"]
    assert top.submitted_by.username == "veggiebird"
    assert top.organization.name == "miromind-ai"
    assert top.github_repo == "https://github.com/MiroMindAsia/MiroMind-M1"
    assert top.published_at.isoformat().startswith("2025-07-19T16:21:23")
    assert [p.id for p in api.list_daily_papers(week="2025-W30", limit=1)] == ["2507.14683"]
    assert [p.id for p in api.list_daily_papers(month="2025-07", submitter="akhaliq")] == ["2507.13334"]
    # Trending on a site without recent votes: the newest papers fill the list (docs/feeds.md).
    trending = [p.id for p in api.list_daily_papers(sort="trending", limit=5)]
    status, body = site.get("/api/daily_papers?sort=trending&limit=5")
    assert status == 200 and trending == [entry["paper"]["id"] for entry in json.loads(body)]
    assert len(trending) == 5 and trending[0] == "2510.13554"  # the newest paper of the demo


def test_huggingface_hub_reads_one_paper_and_its_markdown(site):
    api = HfApi(endpoint=site.url, token=False)
    info = api.paper_info("2410.10819")
    assert info.id == "2410.10819" and info.title and info.summary
    assert len(info.authors) == 8
    markdown = api.read_paper("2507.14683")
    assert markdown.startswith("# MiroMind-M1")
    assert "## Abstract" in markdown
    with pytest.raises(HfHubHTTPError) as error:
        api.paper_info("2501.99999")
    assert error.value.response.status_code == 404


def test_huggingface_hub_searches_papers(site):
    api = HfApi(endpoint=site.url, token=False)
    found = list(api.list_papers(query="attention sinks in large language models", limit=3))
    assert len(found) == 3
    assert "Attention Sink" in found[0].title or "Attention Sinks" in found[0].title
    assert [p.id for p in api.list_papers(query="2410.10819")][0] == "2410.10819"


def test_concurrent_http_votes_count_once_each(site):
    run_paperwire(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "[User.objects.create_user(f'racer{n}', password='pw') for n in range(4)]",
        env=site.env,
    )

    sessions = [site.log_in(f"racer{n}", "pw") for n in range(4)]
    results = []

    def click(opener, csrf):
        results.append(site.vote(opener, csrf, "2507.13334"))

    threads = [threading.Thread(target=click, args=s) for s in sessions for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 12
    db = sqlite3.connect(site.home / "paperwire.sqlite3")
    assert db.execute("select count(*) from papers_vote where paper_id = '2507.13334'").fetchone() == (4,)
    assert db.execute("select upvotes from papers_paper where id = '2507.13334'").fetchone() == (12 + 4,)


# --- the command line -------------------------------------------------------------------------


def test_commands_migrate_a_fresh_home_by_themselves(tmp_path):
    env = paperwire_env(tmp_path / "fresh")
    del env["PAPERWIRE_SECRET_KEY"]  # generated once and kept in PAPERWIRE_HOME
    result = run_paperwire("import", str(DEMO), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [
        "indexed 41 papers, computed 41 embeddings",
        "imported 41 new, 0 updated, 0 rejected",
    ]
    assert (tmp_path / "fresh" / "paperwire.sqlite3").exists()
    assert (tmp_path / "fresh" / "secret_key").stat().st_mode & 0o077 == 0


def test_errors_are_one_line_and_non_zero(tmp_path):
    env = paperwire_env(tmp_path / "home")
    result = run_paperwire("import", str(tmp_path / "missing.jsonl"), env=env)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("CommandError: could not import 1 file")
    bad_date = run_paperwire("ingest", "hf-daily", "--date", "yesterday", env=env)
    assert (
        bad_date.returncode != 0
        and bad_date.stderr
        == "paperwire ingest hf-daily: error: argument --date: invalid value 'yesterday': expected a day, "
        "YYYY-MM-DD (see paperwire ingest hf-daily --help)\n"
    )


def test_an_unreachable_source_fails_clearly(tmp_path):
    env = paperwire_env(tmp_path / "home", PAPERWIRE_HF_ENDPOINT="http://127.0.0.1:9", PAPERWIRE_HTTP_RETRIES="0")
    result = run_paperwire("ingest", "hf-daily", "--date", "2025-07-22", env=env)
    assert result.returncode != 0
    assert (
        "failed: http://127.0.0.1:9/api/daily_papers?date=2025-07-22&limit=100: [Errno 111] Connection refused"
        in result.stderr
    )


def test_pending_submissions_against_an_unreachable_arxiv_fail_in_one_line(tmp_path):
    env = paperwire_env(
        tmp_path / "home", PAPERWIRE_ARXIV_API_URL="http://127.0.0.1:9/api/query", PAPERWIRE_HTTP_RETRIES="0"
    )
    shell = (
        "from paperwire.papers.models import Submission as S; from django.contrib.auth.models import User; "
        "S.objects.create(user=User.objects.create_user('ada'), arxiv_id='2501.00001', state=S.PENDING)"
    )
    run_paperwire("migrate", env=env)
    created = run_paperwire("shell", "-c", shell, env=env)
    assert created.returncode == 0, created.stderr
    result = run_paperwire("ingest", "submissions", env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and lines[0].startswith("CommandError: arXiv did not answer (")
        and lines[0].endswith("the submissions stay pending for the next run")
    ), result.stderr


def test_static_files_have_hashed_names_compression_and_a_year_of_caching(site):
    import re
    import urllib.request

    html = site.get("/")[1].decode()
    stylesheet = re.search(r'href="(/static/paperwire/paperwire\.[0-9a-f]{12}\.css)"', html)
    assert stylesheet, "pages link the content-hashed stylesheet collected by serve"
    request = urllib.request.Request(site.url + stylesheet[1], headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert "immutable" in response.headers["Cache-Control"]
        assert "max-age=315360000" in response.headers["Cache-Control"]
    status, headers, body = site.fetch("/static/paperwire/paperwire.css")  # the plain name still answers
    assert status == 200 and b".vote" in body
