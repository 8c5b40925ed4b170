"""Every answer of the JSON API matches /api/openapi.json, whatever was imported or stored.

The submitter of a Hugging Face item (``submittedOnDailyBy``) is kept from the import and
served back: the import refuses one whose fields have other types than the schema's, keeps
only the schema's fields, and the API serves only what fits even of a value stored otherwise
(before these checks, or edited in the admin). The whole Hugging Face archive is served
within the schema too.
"""

import ast
import json

import pytest
from huggingface_hub.hf_api import PaperInfo
from jsonschema import Draft202012Validator

from paperwire.ingest.importer import import_files
from paperwire.papers import ranking
from paperwire.papers.models import Paper, content_changed
from tests.conftest import shared_data
from tests.test_import import HF_ITEM
from tests.test_openapi import response_schema, validate

pytestmark = pytest.mark.django_db

ID = HF_ITEM["paper"]["id"]


def hf_file(tmp_path, *submitters) -> "Path":  # noqa: F821
    """A Hugging Face response whose items differ only by id and submitter."""
    items = []
    for n, submitter in enumerate(submitters):
        items.append(dict(HF_ITEM, paper=dict(HF_ITEM["paper"], id=f"2507.{10000 + n}", submittedOnDailyBy=submitter)))
    path = tmp_path / "hf.json"
    path.write_text(json.dumps(items))
    return path


@pytest.fixture
def spec(client):
    return client.get("/api/openapi.json").json()


def served(client, spec, paper_id: str) -> tuple[dict, dict]:
    """The paper as /api/papers/<id> and as its /api/daily_papers item, both checked against the schema."""
    detail = client.get(f"/api/papers/{paper_id}")
    validate(spec, "/api/papers/{id}", detail)
    day = Paper.objects.get(pk=paper_id).daily_date.isoformat()
    listing = client.get("/api/daily_papers", {"date": day, "limit": 100})
    validate(spec, "/api/daily_papers", listing)
    [item] = [i for i in listing.json() if i["paper"]["id"] == paper_id]
    return detail.json(), item


# A submitter the schema cannot hold is refused at import, naming the field.
REFUSED = [
    ({"user": "alice", "fullname": 7}, "submittedOnDailyBy.fullname must be a string"),
    ({"user": "alice", "name": ["alice"]}, "submittedOnDailyBy.name must be a string"),
    ({"user": ["alice"]}, "submittedOnDailyBy.user must be a string"),
    ({"user": 12}, "submittedOnDailyBy.user must be a string"),
    ({"user": "alice", "isPro": "yes"}, "submittedOnDailyBy.isPro must be true or false"),
    ({"user": "alice", "isPro": 1}, "submittedOnDailyBy.isPro must be true or false"),
    ({"user": "alice", "followerCount": -1}, "submittedOnDailyBy.followerCount must not be negative"),
    ({"user": "alice", "followerCount": 2**40}, "submittedOnDailyBy.followerCount is larger than 2,147,483,647"),
    ({"user": "alice", "followerCount": True}, "submittedOnDailyBy.followerCount must be an integer"),
    ({"user": "alice", "followerCount": 1.5}, "submittedOnDailyBy.followerCount must be an integer"),
    ({"user": "alice", "avatarUrl": {"src": "/a.png"}}, "submittedOnDailyBy.avatarUrl must be a string"),
    (
        {"user": "alice", "fullname": "x" * 900_000},
        "submittedOnDailyBy.fullname is 900,000 characters long, more than 500",
    ),
    ({"user": "u" * 101}, "submittedOnDailyBy.user is 101 characters long, more than 100"),
    ({"user": "alice", "fullname": "\ud800"}, "submittedOnDailyBy.fullname is not valid Unicode (a lone surrogate)"),
    ({"fullname": "Nobody", "avatarUrl": "/a.png"}, "submittedOnDailyBy has no user (nor name)"),
    ("veggiebird", "submittedOnDailyBy must be an object"),
    ([{"user": "alice"}], "submittedOnDailyBy must be an object"),
]


def test_a_submitter_the_schema_cannot_hold_is_refused_at_import_naming_the_field(tmp_path):
    report = import_files([hf_file(tmp_path, *(s for s, _ in REFUSED))], progress=False)
    assert [reason for _, reason in report.rejected] == [reason for _, reason in REFUSED]
    assert not Paper.objects.exists()


# Accepted as what the schema declares: the other keys dropped, `user` from `name` where
# Hugging Face sent only that (its older items), NUL characters dropped.
KEPT = [
    (
        {"user": "alice", "fullname": "Alice", "orgs": 5, "isFollowing": {"a": 1}, "": "x", "extra " * 3: [1]},
        {"user": "alice", "fullname": "Alice"},
    ),
    (
        {"name": "yulunliu", "fullname": "Yu-Lun Liu", "isPro": False, "isHf": False, "isMod": True},
        {
            "user": "yulunliu",
            "name": "yulunliu",
            "fullname": "Yu-Lun Liu",
            "isPro": False,
            "isHf": False,
            "isMod": True,
        },
    ),
    (
        {
            "_id": "63fd",
            "user": "zery",
            "name": "Zery",
            "type": "user",
            "followerCount": 13,
            "avatarUrl": "/avatars/z.svg",
        },
        {
            "_id": "63fd",
            "user": "zery",
            "name": "Zery",
            "type": "user",
            "followerCount": 13,
            "avatarUrl": "/avatars/z.svg",
        },
    ),
    ({"user": "bo\x00b", "fullname": None}, {"user": "bob"}),
]


def test_a_kept_submitter_is_served_as_the_schema_declares_it(client, spec, tmp_path):
    report = import_files([hf_file(tmp_path, *(s for s, _ in KEPT))], progress=False)
    assert report.rejected == []
    for n, (_, expected) in enumerate(KEPT):
        detail, item = served(client, spec, f"2507.{10000 + n}")
        assert detail["submittedOnDailyBy"] == expected
        assert item["submittedBy"] == item["paper"]["submittedOnDailyBy"] == expected
        # The official client reads it into its User.
        assert PaperInfo(**item).submitted_by.username == expected["user"]
    assert Paper.objects.get(pk="2507.10001").submitter_name == "yulunliu"


# Values stored by other means than this import (older versions of it, the admin's JSON
# fields) are served within the schema all the same: what does not fit is left out.
STORED = [
    ({"user": "alice", "fullname": 7, "name": ["x"], "isPro": "yes", "orgs": 5}, {"user": "alice"}),
    ({"name": "old", "avatarUrl": "javascript:alert(1)"}, {"user": "old", "name": "old", "avatarUrl": ""}),
    ({"user": "alice", "fullname": "x" * 1_000_000}, {"user": "alice"}),
    ({"fullname": "Nobody"}, None),
    ({"user": 5}, None),
    (["alice"], None),
    ("alice", None),
    (17, None),
]


@pytest.mark.parametrize(("stored", "expected"), STORED)
def test_a_submitter_stored_otherwise_is_served_within_the_schema(client, spec, tmp_path, stored, expected):
    import_files([hf_file(tmp_path, {"user": "alice"})], progress=False)
    Paper.objects.filter(pk="2507.10000").update(hf_submitter=stored)
    detail, item = served(client, spec, "2507.10000")
    assert detail.get("submittedOnDailyBy") == item.get("submittedBy") == expected


def test_other_stored_lists_are_served_within_the_schema(client, spec, tmp_path):
    import_files([hf_file(tmp_path, {"user": "alice"})], progress=False)
    Paper.objects.filter(pk="2507.10000").update(
        authors=["Ada", 7, None, {"name": "x"}, "Grace"], ai_keywords=[1, "RLVR", ["x"]], base_upvotes=-5, upvotes=-5
    )
    detail, item = served(client, spec, "2507.10000")
    assert [a["name"] for a in detail["authors"]] == ["Ada", "Grace"]
    assert detail["ai_keywords"] == item["ai_keywords"] == ["RLVR"]
    assert detail["upvotes"] == 0
    Paper.objects.filter(pk="2507.10000").update(authors={"name": "Ada"}, ai_keywords="RLVR")
    content_changed()  # as the admin does: the page cache forgets the answers above
    detail, _ = served(client, spec, "2507.10000")
    assert detail["authors"] == [] and "ai_keywords" not in detail


def test_the_schema_declares_the_user_object_exactly(spec):
    user = spec["components"]["schemas"]["User"]
    assert user["additionalProperties"] is False and user["required"] == ["user"]
    assert user["properties"]["followerCount"] == {"type": "integer", "minimum": 0}
    with pytest.raises(Exception, match="fullname"):
        Draft202012Validator({**user, "components": spec["components"]}).validate({"user": "a", "fullname": 7})


def archive_submitters(folder) -> dict[str, str | None]:
    """paper id -> the user who submitted it to the daily feed, straight from the raw files (the
    last item of a paper naming one wins, as in the import)."""
    submitters = {}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        for item in data["data"] if isinstance(data, dict) else data:
            item = ast.literal_eval(item) if isinstance(item, str) else item
            by = item["paper"].get("submittedOnDailyBy") or item.get("submittedBy") or {}
            if by or item["paper"]["id"] not in submitters:
                submitters[item["paper"]["id"]] = by.get("user") or by.get("name")
    return submitters


def test_every_answer_over_the_hugging_face_archive_matches_the_schema(client, spec):
    """All 9,877 papers of ../shared/data/hf_daily: every day's /api/daily_papers answer, every page
    of the newest-first listing and of the trending one."""
    folder = shared_data("hf_daily")
    report = import_files(sorted(folder.glob("*.json")), progress=False)
    assert report.rejected == []
    assert Paper.objects.count() == 9877
    served_submitters = {}
    days = sorted({d.isoformat() for d in Paper.objects.values_list("daily_date", flat=True)})
    for day in days:
        response = client.get("/api/daily_papers", {"date": day, "limit": 100})
        validate(spec, "/api/daily_papers", response)
        served_submitters |= {i["paper"]["id"]: i.get("submittedBy", {}).get("user") for i in response.json()}
    # Every paper is served, with the submitter Hugging Face named, by `user` or (in 2,580 older
    # items) by `name` only.
    assert served_submitters == archive_submitters(folder)
    for sort in ("publishedAt", "trending"):  # trending: the papers of the last days only
        listed, page, answer = [], 0, [None]
        while answer:
            response = client.get("/api/daily_papers", {"sort": sort, "limit": 100, "p": page})
            validate(spec, "/api/daily_papers", response)
            answer = response.json()
            listed += answer
            page += 1
        assert len(listed) == (9877 if sort == "publishedAt" else len(ranking.trending_scores()))
    schema = Draft202012Validator(response_schema(spec, "/api/papers/{id}", 200))
    for paper_id in list(Paper.objects.order_by("id").values_list("id", flat=True))[::33]:
        schema.validate(client.get(f"/api/papers/{paper_id}").json())
