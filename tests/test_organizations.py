"""Organizations: any name gets a working, stable page; spellings of one organization fold into one."""

import html
import json
import re
import unicodedata

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paperwire.ingest.importer import import_files
from paperwire.papers.models import Organization, Paper, set_vote
from paperwire.search.updating import update_indexes
from tests.conftest import paper, write_jsonl

pytestmark = pytest.mark.django_db

DAY = "2025-07-21"
DAY_PAGES = ["/", f"/papers/date/{DAY}", "/papers/week/2025-W30", "/papers/month/2025-07", "/papers/trending"]

HOSTILE_NAMES = [
    "Université de Montréal",
    "Meta AI (FAIR)",
    "台灣大學",
    "جامعة القاهرة",
    "🤖🦾",
    "AT&T <Labs> \"quoted\" 'single'",
    "a/b\\c?d#e%2Fg",
    "..",
    ".",
    "-",
    "org.with.dots",
    "  spaced\tout\nname  ",
    "x" * 500,
    "Ærø Straße Łódź",
    "<script>alert(1)</script>",
    "javascript:alert(1)",
    "lone \ud800 surrogate\x00 and NUL",
    "\u202eevil bidi override",
]


def import_orgs(tmp_path, names, voter=None):
    """One paper per organization name, all on DAY; returns the papers' ids in order."""
    records = [
        paper(f"2507.{n + 1:05d}", f"Zanzibar paper {n}", published=DAY, upvotes=n, organization=name)
        for n, name in enumerate(names)
    ]
    report = import_files([write_jsonl(tmp_path / "orgs.jsonl", records)], progress=False)
    assert report.stats.new + report.stats.updated + report.stats.unchanged == len(records)
    if voter is not None:
        for record in records:
            set_vote(voter, Paper.objects.get(pk=record["id"]), True)
    return [r["id"] for r in records]


def shown_name(name: str) -> str:
    """What a reader sees: the name without control characters or lone surrogates, its whitespace
    collapsed, cut at the stored length."""
    kept = "".join(c for c in name if c.isspace() or unicodedata.category(c) not in ("Cc", "Cs"))
    return " ".join(kept.split())[: Organization._meta.get_field("fullname").max_length].strip()


def fold(text: str) -> str:
    """The test's own idea of 'the same name': case, accents, spaces and punctuation ignored
    (names made only of punctuation or symbols are compared as they are)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return "".join(c for c in plain.casefold() if c.isalnum()) or " ".join(text.casefold().split())


ORG_LINK = re.compile(r'<a class="org" href="([^"]+)">')


def org_links(body: str) -> set[str]:
    return {html.unescape(href) for href in ORG_LINK.findall(body)}


def check_pages(client: Client, names: list[str], paper_ids: list[str]) -> None:
    """Every page showing these organizations answers 200, with the names escaped and links that
    lead to one page per organization (names that fold together share one)."""
    groups: dict[str, set[str]] = {}
    for name in names:
        if shown_name(name):
            groups.setdefault(fold(shown_name(name)), set()).add(shown_name(name))
    bodies, links = {}, set()
    for url in [*DAY_PAGES, "/orgs", "/search?q=Zanzibar", *(f"/papers/{pid}" for pid in paper_ids)]:
        response = client.get(url)
        assert response.status_code == 200, url
        bodies[url] = response.content.decode()
        links |= org_links(bodies[url])
    headings = {}
    for link in links:
        assert link.startswith("/orgs/"), link
        response = client.get(link)
        assert response.status_code == 200, link
        h1 = re.search(r"<h1>(.*?)</h1>", response.content.decode(), re.S).group(1)
        headings[link] = html.unescape(re.sub(r"<[^>]+>", "", h1)).strip()
    assert {fold(h) for h in headings.values()} == set(groups)
    for heading in headings.values():
        assert heading in groups[fold(heading)]
        for url in ("/orgs", f"/papers/date/{DAY}", "/search?q=Zanzibar"):
            assert html.escape(heading) in bodies[url], (url, heading)
    for pid, name in zip(paper_ids, names, strict=True):
        data = client.get(f"/api/papers/{pid}").json()
        if shown_name(name):
            assert fold(data["organization"]["fullname"]) == fold(shown_name(name))
            assert data["organization"]["name"].strip()
        else:
            assert "organization" not in data
    daily = client.get(f"/api/daily_papers?date={DAY}&limit=100")
    assert daily.status_code == 200 and len(daily.json()) == len(paper_ids)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_any_organization_name_gets_a_working_page(client, tmp_path, alice, name):
    ids = import_orgs(tmp_path, [name], voter=alice)
    update_indexes()
    check_pages(client, [name], ids)
    org = Organization.objects.get()
    assert client.get(org.get_absolute_url()).status_code == 200
    markdown = client.get(f"/papers/{ids[0]}.md").content.decode()
    assert f"**Organization:** {shown_name(name)}" in markdown


names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),
    min_size=1,
    max_size=120,
)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(names, min_size=1, max_size=4))
def test_arbitrary_unicode_names_never_break_a_page(client, tmp_path, alice, batch):
    Paper.objects.all().delete()
    Organization.objects.all().delete()
    ids = import_orgs(tmp_path, batch, voter=alice)
    update_indexes()
    check_pages(client, batch, ids)


def test_spellings_of_one_organization_fold_into_one(client, tmp_path):
    hf_item = {
        "paper": {
            "id": "2507.09001",
            "title": "From Hugging Face",
            "summary": "An abstract.",
            "authors": [{"name": "Ada"}],
            "publishedAt": "2025-07-21T10:00:00.000Z",
            "organization": {"_id": "64d1", "name": "zju", "fullname": "Zhejiang University", "avatar": ""},
        },
        "publishedAt": "2025-07-21T10:00:00.000Z",
        "title": "From Hugging Face",
    }
    renamed = json.loads(json.dumps(hf_item))
    renamed["paper"].update(
        id="2507.09002", organization={"_id": "77aa", "name": "ZhejiangUniversity", "fullname": "Zhejiang university"}
    )
    (tmp_path / "hf.json").write_text(json.dumps([hf_item, renamed]))
    import_files([tmp_path / "hf.json"], progress=False)
    spellings = ["Zhejiang University", "zhejiang  university", "Zhéjiang University!", "ZJU", "Zhejiang Lab"]
    import_orgs(tmp_path, spellings)
    listing = client.get("/orgs").content.decode()
    labels = [html.unescape(t) for t in re.findall(r'<li><a href="[^"]+"><bdi>(.*?)</bdi></a>', listing)]
    assert sorted(labels) == ["Zhejiang Lab", "Zhejiang University"]
    zju = Organization.objects.get(fullname="Zhejiang University")
    assert zju.papers.count() == 6  # two from Hugging Face, four spellings ("ZJU" is zju's name)
    assert {fold(o.fullname) for o in Organization.objects.all()} == {"zhejianguniversity", "zhejianglab"}
    # The API keeps the organization's own name, as Hugging Face does.
    assert client.get("/api/papers/2507.09001").json()["organization"]["name"] == "zju"


def test_an_organization_url_is_stable_and_old_urls_redirect(client, tmp_path):
    import_orgs(tmp_path, ["Acme Labs"])
    org = Organization.objects.get()
    url = org.get_absolute_url()
    assert url == "/orgs/acme-labs"
    # Importing again, or with a fuller name, does not move the page.
    import_orgs(tmp_path, ["ACME labs"])
    org.refresh_from_db()
    assert org.get_absolute_url() == url and Organization.objects.count() == 1
    # The URLs of the old scheme (/orgs/<name with dashes>) lead to the page.
    for old in ("/orgs/Acme-Labs", "/orgs/acme_labs", "/orgs/ACME%20Labs"):
        response = client.get(old)
        assert response.status_code == 301 and response["Location"] == url, old
    assert client.get("/orgs/nobody").status_code == 404


def test_names_that_make_no_ascii_slug_get_their_own_urls(client, tmp_path):
    import_orgs(tmp_path, ["台灣大學", "香港科技大学", "🤖", "🦾", "!!!"])
    urls = {o.get_absolute_url() for o in Organization.objects.all()}
    assert len(urls) == 5
    for url in urls:
        assert client.get(url).status_code == 200
    assert "/orgs/%E5%8F%B0%E7%81%A3%E5%A4%A7%E5%AD%B8" in urls


def test_the_migration_gives_existing_organizations_urls_and_merges_duplicates(transactional_db):
    executor = MigrationExecutor(connection)
    before = [("papers", "0003_pending_submissions")]
    after = executor.loader.graph.leaf_nodes()  # the apps that stand on papers' migrations too
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    OldOrg, OldPaper = old.get_model("papers", "Organization"), old.get_model("papers", "Paper")
    rows = [
        ("zju", "Zhejiang University", "64d1"),
        ("ZhejiangUniversity", "Zhejiang University", ""),
        ("Université-de-Montréal", "Université de Montréal", ""),
        ("Meta-AI-(FAIR)", "Meta AI (FAIR)", ""),
        ("nvidia", "NVIDIA", "60262b"),
    ]
    for n, (name, fullname, hf_id) in enumerate(rows):
        org = OldOrg.objects.create(name=name, fullname=fullname, hf_id=hf_id)
        OldPaper.objects.create(id=f"2507.0000{n}", title=name, abstract="x", organization=org)
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    assert Organization.objects.count() == 4
    zju = Organization.objects.get(name="zju")
    assert sorted(zju.papers.values_list("id", flat=True)) == ["2507.00000", "2507.00001"]
    assert zju.hf_id == "64d1"
    slugs = dict(Organization.objects.values_list("name", "slug"))
    assert slugs == {
        "zju": "zju",
        "Université-de-Montréal": "universite-de-montreal",
        "Meta-AI-(FAIR)": "meta-ai-fair",
        "nvidia": "nvidia",
    }
    client = Client()
    for old_url, name in [("/orgs/ZhejiangUniversity", "zju"), ("/orgs/nvidia", "nvidia")]:
        response = client.get(old_url, follow=True)
        assert response.status_code == 200
        assert response.context["organization"].name == name


# --- the name an organization is shown by ---------------------------------------------------

# Days of the Hugging Face archive where one organization is spelled several ways:
# "university of science and technology  of china" (ustc, 2 papers) and "University of Science
# and Technology of China" (ustc-community, 3 papers); "ucas" (fullname of the handle "UCAS");
# "Zhejiang University" and "Zhejiang university"; "alibaba-inc" and "Alibaba-Inc".
HF_DAYS = ["2025-10-29", "2025-12-23", "2026-03-04", "2026-04-08", "2026-05-15", "2026-05-22", "2026-06-01"]
HF_DAYS += ["2026-06-25", "2026-08-21"]
SHOWN = {
    "universityofscienceandtechnologyofchina": "University of Science and Technology of China",
    "ucas": "UCAS",
    "zhejianguniversity": "Zhejiang University",
    "alibabainc": "Alibaba-Inc",
}


def shown_names(client) -> dict[str, str]:
    """The folded name -> the name /orgs shows, for the organizations of SHOWN."""
    listing = client.get("/orgs?page=1").content.decode()
    labels = [html.unescape(t) for t in re.findall(r'<li><a href="[^"]+"><bdi>(.*?)</bdi></a>', listing)]
    return {fold(label): label for label in labels if fold(label) in SHOWN}


def test_an_organization_is_shown_by_its_best_spelling(client):
    from tests.conftest import shared_data

    files = [shared_data(f"hf_daily/{day}.json") for day in HF_DAYS]
    import_files(files, progress=False)
    assert shown_names(client) == {key: name for key, name in SHOWN.items()}
    ustc = Organization.objects.get(fullname=SHOWN["universityofscienceandtechnologyofchina"])
    assert ustc.papers.count() == 5
    # The cards of a day whose item spelled it in lower case show the best spelling.
    day = client.get("/papers/date/2025-12-23").content.decode()
    assert "<bdi>University of Science and Technology of China</bdi>" in day
    assert "university of science and technology" not in day
    api = client.get("/api/daily_papers", {"date": "2025-12-23"}).json()
    assert {i["paper"]["organization"]["fullname"] for i in api if "organization" in i["paper"]} >= {
        "University of Science and Technology of China"
    }
    before = dict(Organization.objects.values_list("slug", "fullname"))

    # Stable: importing again, in any order, shows the same names and moves no page.
    import_files(list(reversed(files)), progress=False)
    assert dict(Organization.objects.values_list("slug", "fullname")) == before
    Paper.objects.all().delete()
    Organization.objects.all().delete()
    import_files(list(reversed(files)), progress=False)
    assert shown_names(client) == SHOWN
    assert sorted(Organization.objects.values_list("fullname", flat=True)) == sorted(before.values())


USTC = "University of Science and Technology of China"


@pytest.mark.parametrize(
    ("counts", "handle", "shown"),
    [
        ({USTC.lower(): 2, USTC: 3}, "ustc", USTC),
        ({USTC.lower(): 3, USTC: 2}, "ustc", USTC),  # capitals before lower case only
        ({"alibaba-inc": 22, "Alibaba-Inc": 1}, "alibaba-inc", "Alibaba-Inc"),
        ({"ucas": 3}, "UCAS", "UCAS"),  # the handle is a spelling of the same name, with capitals
        ({"galbot": 2}, "GalaxyGeneralRobotics", "galbot"),  # a handle that is another name is not used
        ({"OPPO": 4, "Oppo": 1}, "", "OPPO"),
        ({"Zhejiang University": 2, "Zhejiang university": 2}, "", "Zhejiang University"),  # a tie: capitals first
        ({"ZJU": 3, "Zhejiang University": 2, "zhejiang university": 2}, "zju", "Zhejiang University"),  # 4 > 3
        ({"NYU VisionX": 2, "VISIONx @ NYU": 2}, "nyu-visionx", "NYU VisionX"),
        ({"台灣大學": 1}, "", "台灣大學"),
        ({}, "Acme", "Acme"),
    ],
)
def test_the_best_spelling(counts, handle, shown):
    from paperwire.papers.orgnames import best_spelling

    assert best_spelling(counts, handle) == shown
    assert best_spelling(dict(reversed(list(counts.items()))), handle) == shown  # whatever the order


def test_the_migration_shows_an_organization_by_its_handle_when_that_writes_its_name_with_capitals(
    transactional_db,
):
    executor = MigrationExecutor(connection)
    before = [("papers", "0006_organization_slug_required")]
    after = executor.loader.graph.leaf_nodes()  # every app: those standing on papers' migrations were undone too
    executor.migrate(before)
    OldOrg = executor.loader.project_state(before).apps.get_model("papers", "Organization")
    for name, fullname in [("UCAS", "ucas"), ("ShanghaiAiLab", "shanghai ailab"), ("kuaishou", "kuaishou technology")]:
        OldOrg.objects.create(name=name, fullname=fullname, slug=name.lower())
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    assert dict(Organization.objects.values_list("name", "fullname")) == {
        "UCAS": "UCAS",
        "ShanghaiAiLab": "ShanghaiAiLab",
        "kuaishou": "kuaishou technology",  # another name than its handle's: kept
    }
