"""The Hugging Face archive of ../shared/data/hf_daily, imported and served back day by day."""

import ast
import datetime as dt
import json
from collections import defaultdict

import pytest
from django.core.management import call_command
from django.utils.html import escape

from paperwire.papers.periods import period_containing
from tests.conftest import shared_data

pytestmark = pytest.mark.django_db


def expected_days(folder):
    """paper id -> (day, upvotes), straight from the raw files and the contract's rules."""
    latest: dict[str, str] = {}
    upvotes: dict[str, int] = defaultdict(int)
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        for item in data["data"] if isinstance(data, dict) else data:
            item = ast.literal_eval(item) if isinstance(item, str) else item
            paper = item["paper"]
            when = paper.get("submittedOnDailyAt") or item["publishedAt"]
            latest[paper["id"]] = max(latest.get(paper["id"], when), when)
            upvotes[paper["id"]] = max(upvotes[paper["id"]], paper["upvotes"])
    by_day = defaultdict(dict)
    for paper_id, when in latest.items():
        by_day[when[:10]][paper_id] = upvotes[paper_id]
    return by_day


def test_the_whole_archive_imports_and_every_day_is_served(client, capsys):
    folder = shared_data("hf_daily")
    call_command("import", *sorted(str(p) for p in folder.glob("*.json")), no_index=True)
    new, updated, rejected = (int(w) for w in capsys.readouterr().out.split() if w.isdigit())
    assert new >= 9800 and rejected <= 5, (new, updated, rejected)

    by_day = expected_days(folder)
    for day, papers in by_day.items():
        response = client.get("/api/daily_papers", {"date": day, "limit": 100})
        assert response.status_code == 200
        items = response.json()
        assert {i["paper"]["id"]: i["paper"]["upvotes"] for i in items} == papers, day
        counts = [i["paper"]["upvotes"] for i in items]
        assert counts == sorted(counts, reverse=True), day

    sample_day = "2025-07-22"
    top = max(by_day[sample_day].items(), key=lambda kv: kv[1])[0]
    day = dt.date.fromisoformat(sample_day)
    for kind in ("date", "week", "month"):
        period = period_containing(kind, day)
        page = client.get(f"/papers/{kind}/{period.slug}")
        assert page.status_code == 200
        assert f'id="paper-{top}"' in page.content.decode()
    html = client.get(f"/papers/date/{sample_day}").content.decode()
    assert html.index(f'<article class="paper-card" id="paper-{top}">') == html.index('<article class="paper-card"')

    # Every week and month of the archive renders.
    weeks = {period_containing("week", dt.date.fromisoformat(d)).slug for d in by_day}
    months = {d[:7] for d in by_day}
    for slug in sorted(weeks):
        assert client.get(f"/papers/week/{slug}").status_code == 200
    for slug in sorted(months):
        response = client.get(f"/papers/month/{slug}")
        assert response.status_code == 200
        assert escape("Daily Papers") in response.content.decode()
