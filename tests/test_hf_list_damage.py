"""A broken item inside a Hugging Face list costs that item only.

A real day of the archive (hf_daily/2024-06-12.json, 16 items) damaged in the ways a file or an
answer gets damaged; `paperwire import` and `paperwire ingest hf-daily` run as real processes
(the latter against a loopback HTTP server). The good items are all kept, the broken one is
named by the line it starts on and counted; `ingest` leaves its resume cursor before a day it
could not read whole, so that the next run fetches that day again.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from paperwire.ingest.importer import import_files
from paperwire.papers.models import Paper
from tests.conftest import RecordedServer, Reply, paperwire_env, run_paperwire, shared_data

pytestmark = pytest.mark.django_db


def day_file() -> Path:
    return shared_data("hf_daily/2024-06-12.json")


ITEM3_LINE = 183  # the line item 3 (2406.07436) starts on
ITEM3_ID = "2406.07436"


def all_ids() -> list[str]:
    return [item["paper"]["id"] for item in json.loads(day_file().read_text())]


def item3_span(text: str) -> tuple[int, int]:
    """Where item 3 starts (its `{`) and ends (after its `}`) in the pretty-printed day."""
    lines = text.split("\n")
    start = sum(len(line) + 1 for line in lines[: ITEM3_LINE - 1]) + lines[ITEM3_LINE - 1].index("{")
    _, end = json.JSONDecoder().raw_decode(text, start)
    return start, end


def junk_in_item3(text: str) -> str:
    """The attacker's damage: `undefined, ` inside item 3."""
    start, _ = item3_span(text)
    opening = text.index('"paper": {', start) + len('"paper": {')
    return text[:opening] + "undefined, " + text[opening:]


def item3_not_closed(text: str) -> str:
    start, end = item3_span(text)
    return text[: end - 1] + text[end:]  # its last `}` lost: it runs into item 4


def item3_extra_brace(text: str) -> str:
    _, end = item3_span(text)
    return text[:end] + "}" + text[end:]


def junk_before_item3(text: str) -> str:
    start, _ = item3_span(text)
    return text[:start] + "undefined,\n    " + text[start:]


def item3_unclosed_string(text: str) -> str:
    start, _ = item3_span(text)
    title = text.index('"title": "', start) + len('"title": "')
    closing = text.index('",', title)
    return text[:closing] + text[closing + 1 :]


def minified(damage):
    """The same damage in the list written on one line (no newline ends a runaway string)."""

    def apply(text: str) -> str:
        damaged = damage(text)
        # Re-serialise everything but the damage: collapse the indentation outside strings.
        return re.sub(r"\n\s*", "", damaged)

    return apply


def wrapped(damage):
    def apply(text: str) -> str:
        return '{"status": "success", "data": ' + damage(text) + "}"

    return apply


DAMAGES = {
    "junk inside an item": junk_in_item3,
    "an item not closed": item3_not_closed,
    "an extra closing brace": item3_extra_brace,
    "junk between items": junk_before_item3,
    "a string not closed": item3_unclosed_string,
    "a string not closed, on one line": minified(item3_unclosed_string),
    "junk inside an item, on one line": minified(junk_in_item3),
    "an item not closed, on one line": minified(item3_not_closed),
    "junk inside an item of a wrapped response": wrapped(junk_in_item3),
}


@pytest.mark.parametrize("damage", DAMAGES.values(), ids=DAMAGES.keys())
def test_a_broken_item_costs_that_item_only(tmp_path, damage):
    path = tmp_path / "day.json"
    path.write_text(damage(day_file().read_text()))
    report = import_files([path], progress=False)
    one_line = "\n" not in path.read_text().strip()
    line = 1 if one_line else ITEM3_LINE
    # Junk between items is an item of its own: item 3 is whole then.
    junk = damage is junk_before_item3
    assert not report.unreadable
    assert [where for where, _ in report.rejected] == [f"{path}:{line}"]
    assert report.rejected[0][1].startswith("invalid JSON")
    kept = set(all_ids()) - (set() if junk else {ITEM3_ID})
    assert set(Paper.objects.values_list("pk", flat=True)) == kept
    assert report.summary() == f"imported {len(kept)} new, 0 updated, 1 rejected"


def item_spans(text: str) -> list[tuple[int, int]]:
    """Where each item of the pretty-printed day starts (its `{`) and ends (after its `}`)."""
    decoder, spans, position = json.JSONDecoder(), [], text.index("[") + 1
    while True:
        while text[position] in " \t\r\n,":
            position += 1
        if text[position] == "]":
            return spans
        _, end = decoder.raw_decode(text, position)
        spans.append((position, end))
        position = end


def junk_inside(text: str, start: int) -> str:
    """Before the item's `"paper"`: the item no longer starts as Hugging Face's do."""
    return text[: start + 1] + "undefined, " + text[start + 1 :]


def string_not_closed(text: str, start: int) -> str:
    title = text.index('"title": "', start) + len('"title": "')
    closing = text.index('",', title)
    return text[:closing] + text[closing + 1 :]


def extra_brace(text: str, start: int) -> str:
    _, end = json.JSONDecoder().raw_decode(text, start)
    return text[:end] + "}" + text[end:]


IN_A_ROW = {
    "junk, junk": ([junk_inside, junk_inside], 2),
    "junk, a string not closed": ([junk_inside, string_not_closed], 2),
    "a string not closed, junk": ([string_not_closed, junk_inside], 2),
    "an extra brace, junk": ([extra_brace, junk_inside], 2),
    "junk three times": ([junk_inside, junk_inside, junk_inside], 2),
    "the last two, junk": ([junk_inside, junk_inside], 14),
}


@pytest.mark.parametrize("damages, first", IN_A_ROW.values(), ids=IN_A_ROW.keys())
def test_broken_items_in_a_row_are_each_named(tmp_path, damages, first):
    """Each broken item is named on its own line; the one after a broken one was once skipped
    unnamed (the list resumed at the next item that started as Hugging Face's do)."""
    text = day_file().read_text()
    spans = item_spans(text)
    broken = range(first, first + len(damages))
    lines = [text.count("\n", 0, spans[index][0]) + 1 for index in broken]  # no damage adds a line
    for index in reversed(broken):  # from the end, so that the earlier positions hold
        text = damages[index - first](text, spans[index][0])
    path = tmp_path / "day.json"
    path.write_text(text)
    report = import_files([path], progress=False)
    assert not report.unreadable
    assert [where for where, _ in report.rejected] == [f"{path}:{line}" for line in lines]
    assert all(reason.startswith("invalid JSON") for _, reason in report.rejected)
    ids = all_ids()
    kept = set(ids) - {ids[index] for index in broken}
    assert set(Paper.objects.values_list("pk", flat=True)) == kept
    assert report.summary() == f"imported {len(kept)} new, 0 updated, {len(damages)} rejected"


def test_the_last_item_broken(tmp_path):
    text = day_file().read_text()
    last = text.rindex('"paper": {') + len('"paper": {')
    path = tmp_path / "day.json"
    path.write_text(text[:last] + "undefined, " + text[last:])
    report = import_files([path], progress=False)
    assert not report.unreadable
    assert report.rejected_count == 1 and report.rejected[0][1].startswith("invalid JSON")
    assert Paper.objects.count() == 15


def test_a_list_cut_off_inside_an_item_is_a_file_not_read_whole(tmp_path):
    """Nothing after the break to resynchronise on: the items before are kept, the cut item is
    named, and the file is reported as not read whole (the command exits 1)."""
    text = day_file().read_text()
    start, _ = item3_span(text)
    path = tmp_path / "day.json"
    path.write_text(text[: start + 200])
    report = import_files([path], progress=False)
    assert Paper.objects.count() == 2
    assert report.unreadable == [str(path)]
    assert (f"{path}:{ITEM3_LINE}", report.rejected[0][1]) == report.rejected[0]
    assert "the rest of the list could not be read" in report.rejected[-1][1]


def test_paperwire_import_keeps_the_15_good_items_of_a_damaged_day(tmp_path, database):
    """The attacker's case, as a person runs it."""
    env = paperwire_env(tmp_path / "home", **database)
    path = tmp_path / "2024-06-12.json"
    path.write_text(junk_in_item3(day_file().read_text()))
    result = run_paperwire("import", "--no-index", str(path), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "imported 15 new, 0 updated, 1 rejected"
    assert f"rejected {path}:{ITEM3_LINE}: invalid JSON" in result.stderr
    assert "not read" not in result.stderr
    # The undamaged day adds item 3 only: the 15 others are there.
    again = run_paperwire("import", "--no-index", str(day_file()), env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == "imported 1 new, 0 updated, 0 rejected"


@pytest.fixture
def fake_hf():
    server = RecordedServer()
    server.add("/api/daily_papers", Reply(body="[]"))  # every other day: no papers
    yield server
    server.close()


def test_ingest_hf_daily_fetches_a_damaged_day_again(tmp_path, database, fake_hf):
    """`ingest hf-daily` keeps the good items of a damaged day, says the day was not read whole,
    exits 1, and leaves its cursor before that day: the next run fetches it again."""
    env = paperwire_env(tmp_path / "home", PAPERWIRE_HF_ENDPOINT=fake_hf.url, **database)
    today = dt.datetime.now(dt.UTC).date()
    before, damaged = today - dt.timedelta(days=2), today - dt.timedelta(days=1)
    damaged_url = f"/api/daily_papers?date={damaged}&limit=100"
    fake_hf.add(damaged_url, Reply(body=junk_in_item3(day_file().read_text())))
    result = run_paperwire("ingest", "hf-daily", "--since", str(before), "--no-index", env=env)
    assert result.returncode == 1
    assert result.stdout.strip().splitlines()[-1] == "imported 15 new, 0 updated, 1 rejected, 1 failed requests"
    assert f"rejected hf-daily {damaged}:{ITEM3_LINE}: invalid JSON" in result.stderr
    assert (
        f"failed: {fake_hf.url}/api/daily_papers?date={damaged}: 1 item could not be read;"
        " the day will be fetched again" in result.stderr
    )

    fake_hf.requests.clear()
    fake_hf.routes[damaged_url] = [Reply(body=day_file().read_text())]  # Hugging Face answers whole again
    result = run_paperwire("ingest", "hf-daily", "--no-index", env=env)
    assert result.returncode == 0, result.stderr
    assert f"/api/daily_papers?date={damaged}&limit=100" in fake_hf.requests
    assert result.stdout.strip().splitlines()[-1] == "imported 1 new, 0 updated, 0 rejected"


def write_days(server: RecordedServer, bodies: dict[str, Reply]) -> None:
    for day, reply in bodies.items():
        server.routes[f"/api/daily_papers?date={day}&limit=100"] = [reply]


def test_a_failed_day_holds_the_cursor_even_when_later_days_succeed(tmp_path, database, fake_hf):
    """A sibling: a day that fails (HTTP 500) among days that do not; the cursor used to move to the
    last good day, past the failed one, which no later run fetched again."""
    env = paperwire_env(tmp_path / "home", PAPERWIRE_HF_ENDPOINT=fake_hf.url, PAPERWIRE_HTTP_RETRIES="0", **database)
    today = dt.datetime.now(dt.UTC).date()
    days = [today - dt.timedelta(days=n) for n in (3, 2, 1)]
    write_days(fake_hf, {str(days[1]): Reply(500, "down")})
    result = run_paperwire("ingest", "hf-daily", "--since", str(days[0]), "--no-index", env=env)
    assert result.returncode == 1
    fake_hf.requests.clear()
    write_days(fake_hf, {str(days[1]): Reply(body=day_file().read_text())})
    result = run_paperwire("ingest", "hf-daily", "--no-index", env=env)
    assert result.returncode == 0, result.stderr
    assert f"/api/daily_papers?date={days[1]}&limit=100" in fake_hf.requests
    assert result.stdout.strip().splitlines()[-1] == "imported 16 new, 0 updated, 0 rejected"


def test_the_shared_archive_items_all_start_with_their_paper(tmp_path):
    """What the resynchronisation leans on when an item is not closed: Hugging Face writes each
    item's `paper` first (checked on a sample of the archive)."""
    for path in sorted(day_file().parent.glob("2024-06-1*.json")):
        items = json.loads(path.read_text())
        assert all(next(iter(item)) == "paper" for item in items), path
