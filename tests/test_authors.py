"""Papers' names linked to authors (paperwire/people/linking.py): by the import, by an admin
edit, by the data migration of an existing database; the matching rule applied to the corpus
as it grows; every step safe to run again. On SQLite, and on PostgreSQL with DATABASE_URL."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paperwire.ingest.importer import import_files
from paperwire.ingest.records import PaperRecord
from paperwire.ingest.upsert import Upserter
from paperwire.papers.models import Paper, current_content_version
from paperwire.people.linking import link_all
from paperwire.people.models import Author, PaperAuthor
from tests.conftest import paper, write_jsonl

pytestmark = pytest.mark.django_db

PAPERS = [
    paper("2501.00001", "Deep learning", authors=["Yann LeCun", "Yoshua Bengio", "Geoffrey Hinton"], upvotes=30),
    paper("2501.00002", "Convolutional nets", authors=["Y. LeCun", "L. Bottou", "Y. Bengio"], upvotes=20),
    paper("2501.00003", "Energy-based models", authors=["YANN LECUN", "Sumit Chopra"], upvotes=10),
    paper("2501.00004", "Zoë's paper", authors=["Zoë Ørsted", "محمد علي", "李伟", "🤖", "Ada Lovelace [Engines]"]),
]


def run_import(tmp_path, records, name="a.jsonl"):
    return import_files([write_jsonl(tmp_path / name, records)], progress=False)


def places() -> dict[tuple[str, int], str]:
    """(paper, position) -> the key of the author there."""
    return {(pid, pos): key for pid, pos, key in PaperAuthor.objects.values_list("paper_id", "position", "author__key")}


def authors() -> dict[str, tuple]:
    """key -> (slug, name, key of same_as)."""
    return {
        a.key: (a.slug, a.name, a.same_as.key if a.same_as else None) for a in Author.objects.select_related("same_as")
    }


def test_an_import_links_every_name_to_its_author(tmp_path):
    run_import(tmp_path, PAPERS)
    assert places() == {
        ("2501.00001", 0): "yann|lecun",
        ("2501.00001", 1): "yoshua|bengio",
        ("2501.00001", 2): "geoffrey|hinton",
        ("2501.00002", 0): "y.|lecun",
        ("2501.00002", 1): "l.|bottou",
        ("2501.00002", 2): "y.|bengio",
        ("2501.00003", 0): "yann|lecun",
        ("2501.00003", 1): "sumit|chopra",
        ("2501.00004", 0): "zoe|orsted",
        ("2501.00004", 1): "محمد|علي",
        ("2501.00004", 2): "|李伟",
        ("2501.00004", 3): "|🤖",
        ("2501.00004", 4): "ada|lovelace",
    }
    found = authors()
    # One author a key, shown by its best spelling, its slug from the name; the abbreviations
    # that nothing contradicts and a co-author supports are on their full name's page ("Y.
    # LeCun" and "Y. Bengio" each other's support); "L. Bottou" has no full name to join.
    assert found["yann|lecun"] == ("yann-lecun", "Yann LeCun", None)
    assert found["y.|lecun"] == ("y-lecun", "Y. LeCun", "yann|lecun")
    assert found["y.|bengio"] == ("y-bengio", "Y. Bengio", "yoshua|bengio")
    assert found["l.|bottou"] == ("l-bottou", "L. Bottou", None)
    assert found["zoe|orsted"][:2] == ("zoe-orsted", "Zoë Ørsted")
    assert found["محمد|علي"][0] == "محمد-علي" and found["|李伟"][0] == "李伟"
    assert found["|🤖"][0].startswith("author-")
    assert found["ada|lovelace"][:2] == ("ada-lovelace-engines", "Ada Lovelace [Engines]")


def test_a_name_longer_than_the_column_is_shown_cut(tmp_path, client):
    """A list of names pasted as one (the arXiv set has one of 300 characters): the paper is
    imported, its author shown by the first 200 characters. PostgreSQL refused the whole
    record before (SQLite does not check a column's length)."""
    long = "Ada Lovelace and the Analytical Engine Society " * 7
    result = run_import(tmp_path, [paper("2501.00009", "Long", authors=[long, "Charles\x07 Babbage"])])
    assert (result.stats.new, result.rejected_count) == (1, 0)
    shown = Author.objects.get(paper_links__paper_id="2501.00009", paper_links__position=0)
    assert shown.name == long.strip()[:200].strip() and len(shown.name) <= 200
    assert Author.objects.get(key="charles|babbage").name == "Charles Babbage"
    response = client.get(shown.get_absolute_url())
    assert response.status_code == 200 and shown.name in response.content.decode()
    assert run_import(tmp_path, [paper("2501.00009", "Long", authors=[long])], "b.jsonl").rejected_count == 0


def test_importing_again_changes_nothing(tmp_path):
    run_import(tmp_path, PAPERS)
    before = (places(), authors(), list(Author.objects.values_list("pk", flat=True)), current_content_version())
    result = run_import(tmp_path, PAPERS, "again.jsonl")
    assert (result.stats.new, result.stats.updated) == (0, 0)
    after = (places(), authors(), list(Author.objects.values_list("pk", flat=True)), current_content_version())
    assert after == before


def test_a_second_given_name_undoes_the_match_and_its_removal_restores_it(
    tmp_path, client, django_capture_on_commit_callbacks
):
    run_import(tmp_path, PAPERS)
    assert client.get("/authors/y-lecun")["Location"] == "/authors/yann-lecun"
    run_import(tmp_path, [paper("2501.00005", "Another LeCun", authors=["Yves LeCun"])], "b.jsonl")
    assert authors()["y.|lecun"][2] is None
    response = client.get("/authors/y-lecun")
    assert response.status_code == 200 and "Convolutional nets" in response.content.decode()
    # The paper that contradicted it is deleted: "Y. LeCun" is Yann's again.
    with django_capture_on_commit_callbacks(execute=True):
        Paper.objects.get(pk="2501.00005").delete()
    assert authors()["y.|lecun"][2] == "yann|lecun"
    assert client.get("/authors/y-lecun")["Location"] == "/authors/yann-lecun"


LOVELACE = [  # a match in another group, that a crowded "y|lecun" leaves alone
    paper("2501.00006", "Notes", authors=["Ada Lovelace", "Charles Babbage"]),
    paper("2501.00007", "Engines", authors=["A. Lovelace", "Charles Babbage"]),
]


def test_a_group_crowded_by_a_second_full_name_loses_its_matches_and_no_other_group(tmp_path):
    """The batch that brings "Yves LeCun" names no one else: the match it contradicts is undone
    (its support too, so that no later import reads it again), the matches of other groups stay."""
    run_import(tmp_path, PAPERS + LOVELACE)
    assert [authors()[k][2] for k in ("y.|lecun", "y.|bengio", "a.|lovelace")] == [
        "yann|lecun",
        "yoshua|bengio",
        "ada|lovelace",
    ]
    run_import(tmp_path, [paper("2501.00005", "Another LeCun", authors=["Yves LeCun"])], "b.jsonl")
    assert [authors()[k][2] for k in ("y.|lecun", "y.|bengio", "a.|lovelace")] == [
        None,
        "yoshua|bengio",
        "ada|lovelace",
    ]
    assert Author.objects.get(key="y.|lecun").support == ""
    assert Author.objects.get(key="a.|lovelace").support == "c|babbage"


def test_one_full_name_on_many_papers_and_one_without_papers_leave_a_group_uncrowded(tmp_path):
    """A group is crowded by two full names that have papers: one name on three papers is one
    name, and a name whose only paper now lists others (its author stays, with no paper) counts
    for nothing."""
    more = [paper(f"2501.0001{n}", f"More {n}", authors=["Yann LeCun", "Sumit Chopra"]) for n in range(3)]
    run_import(tmp_path, PAPERS + more)
    assert authors()["y.|lecun"][2] == "yann|lecun"
    run_import(tmp_path, [paper("2501.00005", "Another LeCun", authors=["Yves LeCun"])], "b.jsonl")
    assert authors()["y.|lecun"][2] is None
    run_import(tmp_path, [paper("2501.00005", "Another LeCun", authors=["Ada Lovelace"])], "c.jsonl")
    assert not PaperAuthor.objects.filter(author__key="yves|lecun").exists()
    assert Author.objects.filter(key="yves|lecun").exists()
    assert authors()["y.|lecun"][2] == "yann|lecun"


def test_only_an_unambiguous_co_author_supports_a_match(tmp_path):
    """ "S. Sharma" may be any of several names: sharing them proves nothing (names.UNAMBIGUOUS);
    the import and the migration both read it so."""
    records = [
        paper("2502.00001", "One", authors=["Yann LeCun", "S. Sharma"]),
        paper("2502.00002", "Two", authors=["Y. LeCun", "S. Sharma"]),
        *(paper(f"2502.0001{n}", "More", authors=[name]) for n, name in enumerate(["Sanjay Sharma", "Swati Sharma"])),
    ]
    run_import(tmp_path, records)
    assert authors()["y.|lecun"][2] == "yann|lecun"  # two names carry "S. Sharma": unambiguous enough
    run_import(tmp_path, [paper("2502.00020", "Third", authors=["Sunil Sharma"])], "b.jsonl")
    assert authors()["y.|lecun"][2] is None  # three full names and "S. Sharma": four
    link_all(Paper, Author, PaperAuthor)
    assert authors()["y.|lecun"][2] is None


def test_new_names_on_a_paper_move_it_between_authors(tmp_path):
    run_import(tmp_path, PAPERS)
    changed = paper("2501.00003", "Energy-based models", authors=["Sumit Chopra", "Raia Hadsell"], upvotes=10)
    result = run_import(tmp_path, [changed], "b.jsonl")
    assert result.stats.updated == 1
    assert [k for (pid, _), k in sorted(places().items()) if pid == "2501.00003"] == ["sumit|chopra", "raia|hadsell"]
    lecun = Author.objects.get(key="yann|lecun")
    assert sorted(lecun.paper_links.values_list("paper_id", flat=True)) == ["2501.00001"]


def test_an_admin_edit_of_the_names_links_them_again(tmp_path, admin_client):
    run_import(tmp_path, PAPERS)
    response = admin_client.get("/admin/papers/paper/2501.00003/change/")
    assert response.status_code == 200
    form = response.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(authors='["Yann LeCun", "Ada Lovelace"]', categories="[]", code_urls="[]", ai_keywords="[]")
    data["hf_submitter"] = "null"
    response = admin_client.post("/admin/papers/paper/2501.00003/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert [k for (pid, _), k in sorted(places().items()) if pid == "2501.00003"] == ["yann|lecun", "ada|lovelace"]
    assert not PaperAuthor.objects.filter(author__key="sumit|chopra").exists()


def test_names_that_are_not_strings_keep_the_api_numbering(tmp_path):
    """A list edited in the admin may hold anything: positions count its strings, as the API's
    ``_id``s do."""
    run_import(tmp_path, PAPERS[:1])
    Paper.objects.filter(pk="2501.00001").update(authors=[None, "Yann LeCun", 3, "Geoffrey Hinton"])
    Paper.objects.get(pk="2501.00001").save()
    assert [k for (pid, _), k in sorted(places().items()) if pid == "2501.00001"] == ["yann|lecun", "geoffrey|hinton"]


# --- the data migration -----------------------------------------------------------------------


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def test_the_migration_links_an_existing_database_as_the_import_does(transactional_db, tmp_path):
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        run_import(tmp_path, PAPERS)
        by_import = (places(), authors())
        # A database of the version before: papers, and no author tables.
        migrate([("people", None)])
        assert "people_author" not in connection.introspection.table_names()
        assert Paper.objects.count() == 4
        migrate(latest)
        assert (places(), authors()) == by_import
        # Run again, it finds nothing to do.
        found = link_all(Paper, Author, PaperAuthor)
        assert found == {"papers": 4, "authors": 0, "places": 13, "touched": 0, "merged": 0}
        assert (places(), authors()) == by_import
    finally:
        migrate(latest)


def test_the_migration_with_the_historical_models_finds_what_is_missing(transactional_db, tmp_path):
    """Half a job (links lost, a wrong one, a merge undone) is completed by running it again."""
    run_import(tmp_path, PAPERS)
    expected = (places(), authors())
    PaperAuthor.objects.filter(paper_id="2501.00004").delete()
    PaperAuthor.objects.filter(paper_id="2501.00001", position=0).update(author=Author.objects.get(key="sumit|chopra"))
    Author.objects.filter(key="y.|lecun").update(same_as=None)
    old = MigrationExecutor(connection).loader.project_state([("people", "0002_link_paper_authors")]).apps
    found = link_all(
        old.get_model("papers", "Paper"), old.get_model("people", "Author"), old.get_model("people", "PaperAuthor")
    )
    assert found["authors"] == 0 and found["merged"] == 1 and found["touched"] > 0
    assert (places(), authors()) == expected
    assert apps.get_model("people", "Author") is Author


# --- any order, any batches: the state a migration would compute ------------------------------

POOL = [
    "Yann LeCun", "Y. LeCun", "YANN LECUN", "Yves LeCun", "Y. A. LeCun", "Léon Bottou", "L. Bottou", "S. Sharma",
    "Sanjay Sharma", "Swati Sharma", "Sunil Sharma", "Sam Sharma", "Ada Lovelace", "A. Lovelace", "李伟",
]  # fmt: skip


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(  # a match made, then made ambiguous by a later batch ("S. Sharma" is one name too many)
    papers=[
        ["Yann LeCun", "S. Sharma"],
        ["Y. LeCun", "S. Sharma"],
        ["Sanjay Sharma"],
        ["Swati Sharma"],
        ["Sunil Sharma"],
    ],
    batch=1,
)
@example(papers=[["Y. LeCun", "L. Bottou"], ["Yann LeCun", "Léon Bottou"], ["Yves LeCun"]], batch=2)
@given(
    papers=st.lists(st.lists(st.sampled_from(POOL), min_size=1, max_size=4, unique=True), min_size=1, max_size=10),
    batch=st.integers(min_value=1, max_value=4),
)
def test_imports_in_any_order_and_batches_leave_what_the_migration_computes(papers, batch):
    """Each import resolves only the families it touches (and the matches its names make
    ambiguous); whatever the order and batches, running the whole computation again
    (``link_all``, the migration's) finds nothing to change."""
    with transaction.atomic():
        upserter = Upserter(batch_size=batch)
        for n, names in enumerate(papers):
            upserter.add(PaperRecord(id=f"2601.{n:05d}", title="T", abstract="A", authors=names))
        upserter.flush()
        before = authors()
        found = link_all(Paper, Author, PaperAuthor)
        assert (found["authors"], found["touched"], found["merged"]) == (0, 0, 0), (found, before)
        assert authors() == before
        transaction.set_rollback(True)
