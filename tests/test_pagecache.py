"""Anonymous pages and API responses come from the cache until something they show changes."""

import pytest
from django.test import Client

from paperwire.ingest.importer import import_files
from paperwire.papers.models import Paper
from paperwire.search.updating import update_indexes
from tests.conftest import paper, write_jsonl

pytestmark = pytest.mark.django_db

DAY = "2024-10-14"
PAGES = ["/", f"/papers/date/{DAY}", "/papers/2410.10819", "/papers/trending", "/orgs/acme"]
API = [f"/api/daily_papers?date={DAY}", "/api/papers/2410.10819"]


@pytest.fixture
def attention(tmp_path):
    record = paper("2410.10819", "Attention sinks", published=DAY, upvotes=2, organization="acme")
    import_files([write_jsonl(tmp_path / "a.jsonl", [record])], progress=False)
    return Paper.objects.get(pk="2410.10819")


def upvotes_shown(response) -> int:
    if response["Content-Type"].startswith("application/json"):
        body = response.json()
        item = body[0] if isinstance(body, list) else body
        return (item.get("paper") or item)["upvotes"]
    return int(response.content.decode().split('<span class="count">')[1].split("<")[0])


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_second_anonymous_request_is_served_from_the_cache(client, attention):
    for path in PAGES + API + ["/papers/feed.atom", "/papers/feed.rss"]:
        first, second = client.get(path), client.get(path)
        assert (first.status_code, second.status_code) == (200, 200), path
        assert (first["X-Cache"], second["X-Cache"]) == ("miss", "hit"), path
        assert second.content == first.content
        assert second["Content-Type"] == first["Content-Type"]


def test_a_vote_refreshes_every_page_that_shows_the_count(client, attention, bob):
    for path in PAGES + API:
        assert upvotes_shown(client.get(path)) == 2, path
    answer = signed_in(bob).post("/papers/2410.10819/vote", {"action": "up"}, HTTP_ACCEPT="application/json")
    assert answer.json()["upvotes"] == 3
    for path in PAGES + API:
        response = client.get(path)
        assert response["X-Cache"] == "miss" and upvotes_shown(response) == 3, path
    signed_in(bob).post("/papers/2410.10819/vote", {"action": "down"}, HTTP_ACCEPT="application/json")
    assert all(upvotes_shown(client.get(path)) == 2 for path in PAGES + API)


def test_an_import_refreshes_the_feeds(client, attention, tmp_path):
    assert "A second paper" not in client.get(f"/papers/date/{DAY}").content.decode()
    import_files([write_jsonl(tmp_path / "b.jsonl", [paper("2410.10820", "A second paper", published=DAY)])])
    assert "A second paper" in client.get(f"/papers/date/{DAY}").content.decode()
    assert [item["paper"]["id"] for item in client.get(f"/api/daily_papers?date={DAY}").json()] == [
        "2410.10819",
        "2410.10820",
    ]
    unchanged = import_files(
        [write_jsonl(tmp_path / "c.jsonl", [paper("2410.10820", "A second paper", published=DAY)])]
    )
    assert unchanged.stats.new == unchanged.stats.updated == 0
    assert client.get(f"/papers/date/{DAY}")["X-Cache"] == "hit"  # nothing changed, nothing recomputed


def test_moderation_refreshes_the_pages(client, attention, django_user_model):
    moderator = django_user_model.objects.create_superuser("moderator", "mod@example.org", "a long pass phrase 43")
    assert client.get("/papers/2410.10819").status_code == 200
    assert len(client.get(f"/api/daily_papers?date={DAY}").json()) == 1
    signed_in(moderator).post("/admin/papers/paper/", {"action": "hide", "_selected_action": ["2410.10819"]})
    assert Paper.objects.get(pk="2410.10819").hidden
    assert client.get("/papers/2410.10819").status_code == 404
    assert client.get(f"/api/daily_papers?date={DAY}").json() == []


def test_search_results_are_cached_until_the_index_or_a_vote_changes(client, attention, bob, tmp_path):
    update_indexes(show_progress=False)
    paths = ["/api/papers/search?q=sinks&mode=lexical", "/search?q=sinks&mode=lexical", "/search/feed.atom?q=sinks"]
    for path in paths:
        assert [client.get(path)["X-Cache"] for _ in range(2)] == ["miss", "hit"], path
    record = paper("2410.10821", "Sinks everywhere", published=DAY)
    import_files([write_jsonl(tmp_path / "b.jsonl", [record])], progress=False)
    assert client.get(paths[0])["X-Cache"] == "miss"  # the import changed the content version
    assert len(client.get(paths[0]).json()) == 1  # but this node has not indexed it yet
    update_indexes(show_progress=False)
    for path in paths:
        response = client.get(path)
        assert response["X-Cache"] == "miss" and "Sinks everywhere" in response.content.decode(), path
    signed_in(bob).post("/papers/2410.10819/vote", {"action": "up"}, HTTP_ACCEPT="application/json")
    found = {item["paper"]["id"]: item["paper"]["upvotes"] for item in client.get(paths[0]).json()}
    assert found == {"2410.10819": 3, "2410.10821": 0}


def test_signed_in_readers_always_see_their_own_votes(attention, bob):
    reader = signed_in(bob)
    reader.post("/papers/2410.10819/vote", {"action": "up"})
    for _ in range(2):
        response = reader.get("/papers/2410.10819")
        assert "X-Cache" not in response
        assert 'class="vote voted"' in response.content.decode()


def test_pages_with_a_form_or_a_message_are_never_stored(client, attention):
    for path in ["/subscribe", "/accounts/login"]:
        assert "X-Cache" not in client.get(path), path  # forms hold a CSRF token
    client.cookies["messages"] = "anything"
    assert "X-Cache" not in client.get("/papers/2410.10819")


def test_the_cache_can_be_turned_off(client, attention, settings):
    settings.PAGE_CACHE_SECONDS = 0
    assert "X-Cache" not in client.get("/papers/2410.10819")
    assert "X-Cache" not in client.get("/papers/2410.10819")
