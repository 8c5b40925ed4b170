"""Papers in the JSON shape of huggingface.co's API, so that huggingface_hub reads them unchanged."""

from __future__ import annotations

import datetime as dt

from paperwire.discussions.models import Comment
from paperwire.discussions.threads import Thread
from paperwire.papers.hfusers import hf_user
from paperwire.papers.links import web_url
from paperwire.papers.models import Organization, Paper
from paperwire.people.authors import NameOnPaper, claimed_names


def hf_time(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def organization_json(org: Organization | None) -> dict | None:
    if org is None:
        return None
    return {
        "_id": org.hf_id or f"pw-org-{org.pk}",
        "name": org.name,
        "fullname": org.fullname or org.name,
        "avatar": web_url(org.avatar_url),
    }


def user_json(user) -> dict:
    """An account of this site as Hugging Face's API gives a user."""
    return {
        "_id": f"pw-user-{user.pk}",
        "avatarUrl": "",
        "isPro": False,
        "fullname": user.get_username(),
        "user": user.get_username(),
        "type": "user",
    }


def submitter_json(paper: Paper) -> dict | None:
    if paper.submitter_id is not None:
        return user_json(paper.submitter)
    # What of the stored value fits the schema's User (an import keeps nothing else, but a value
    # stored before these checks or edited in the admin may hold anything).
    submitter, _ = hf_user(paper.hf_submitter)
    if submitter and "avatarUrl" in submitter:
        # Hugging Face gives paths on its own site ("/avatars/..."), kept as they are.
        submitter["avatarUrl"] = web_url(submitter["avatarUrl"], allow_site_path=True)
    return submitter


def strings(value: object) -> list[str]:
    """The strings of a stored list (imports store nothing else; the admin's JSON fields may)."""
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def author_json(paper: Paper, n: int, name: str, claimed: NameOnPaper | None) -> dict:
    """One of ``paper.authors``. A name whose author is linked to an account (an approved
    claim) carries the account as huggingface.co gives a claimed author: ``user``, and
    ``status`` "claimed_verified" since when."""
    if claimed is None:
        return {"_id": f"{paper.id}-{n}", "name": name, "hidden": False}
    return {
        "_id": f"{paper.id}-{n}",
        "user": user_json(claimed.user),
        "name": name,
        "status": "claimed_verified",
        "statusLastChangedAt": hf_time(claimed.claimed_at),
        "hidden": False,
    }


def claims_of(papers) -> dict[str, dict[int, NameOnPaper]]:
    """What ``paper_json`` and ``daily_item_json`` need to know of these papers' claimed
    authors, in one query."""
    return claimed_names(papers)


def paper_json(paper: Paper, claimed: dict[int, NameOnPaper] | None = None) -> dict:
    """The ``paper`` object of an HF daily-papers item, also the body of ``/api/papers/<id>``;
    ``claimed``: its names linked to an account, by position (``claims_of``)."""
    claimed = claimed or {}
    data: dict = {
        "id": paper.id,
        "authors": [author_json(paper, n, name, claimed.get(n)) for n, name in enumerate(strings(paper.authors))],
        "publishedAt": hf_time(paper.published_at),
        "title": paper.title,
        "summary": paper.abstract,
        "upvotes": max(paper.upvotes, 0),
        "discussionId": paper.id,
        "numComments": paper.comment_count,
    }
    if paper.submitted_on_daily_at:
        data["submittedOnDailyAt"] = hf_time(paper.submitted_on_daily_at)
    if submitter := submitter_json(paper):
        data["submittedOnDailyBy"] = submitter
    if paper.ai_summary:
        data["ai_summary"] = paper.ai_summary
    if keywords := strings(paper.ai_keywords):
        data["ai_keywords"] = keywords
    if paper.code_url:
        data["githubRepo"] = paper.code_url
    if paper.github_stars is not None:
        data["githubStars"] = paper.github_stars
    if paper.project_url:
        data["projectPage"] = paper.project_url
    if paper.organization_id:
        data["organization"] = organization_json(paper.organization)
    return data


def daily_items_json(papers) -> list[dict]:
    papers = list(papers)
    claimed = claims_of(papers)
    return [daily_item_json(p, claimed.get(p.pk)) for p in papers]


def daily_item_json(paper: Paper, claimed: dict[int, NameOnPaper] | None = None) -> dict:
    """One item of ``/api/daily_papers``.

    huggingface_hub's PaperInfo reads links and AI fields from the item rather than from
    its ``paper``, so they are repeated at the top level.
    """
    inner = paper_json(paper, claimed)
    item = {
        "paper": inner,
        "publishedAt": hf_time(paper.feed_time),
        "title": paper.title,
        "summary": paper.abstract,
        "thumbnail": "",
        "numComments": paper.comment_count,
        "isAuthorParticipating": False,
    }
    if submitter := submitter_json(paper):
        item["submittedBy"] = submitter
    if paper.organization_id:
        item["organization"] = inner["organization"]
    for key in ("githubRepo", "githubStars", "projectPage", "ai_summary", "ai_keywords"):
        if key in inner:
            item[key] = inner[key]
    return item


def commenter_json(user_id: int, name: str) -> dict:
    """A comment's author as huggingface.co's discussions name one (huggingface_hub reads ``name``)."""
    return {
        "_id": f"pw-user-{user_id}",
        "avatarUrl": "",
        "isPro": False,
        "fullname": name,
        "name": name,
        "user": name,
        "type": "user",
    }


def comment_json(comment: Comment, stub: str = "") -> dict:
    """A comment in the shape of a huggingface.co discussion event of type "comment" (what
    huggingface_hub's ``deserialize_event`` reads): ``id``, ``type``, ``createdAt``, ``author``
    (absent for a deleted account or a stub), ``data`` with ``edited``, ``hidden`` and
    ``latest: {raw, html, updatedAt}``; and Paperwire's own ``data.upvotes``, ``data.deleted``
    and, for a reply, ``data.parentCommentId``. A stub (deleted, or hidden by a moderator) has
    no text."""
    data: dict = {
        "edited": comment.edited_at is not None,
        "hidden": bool(stub),
        "deleted": stub == "deleted",
        "upvotes": 0 if stub else comment.upvotes,
        "latest": {
            "raw": "" if stub else comment.body,
            "html": "" if stub else comment.html,
            "updatedAt": hf_time(comment.edited_at or comment.created_at),
        },
    }
    if comment.parent_id:
        data["parentCommentId"] = str(comment.parent_id)
    item: dict = {"id": str(comment.pk), "type": "comment", "createdAt": hf_time(comment.created_at), "data": data}
    if comment.author_id is not None and not stub:
        item["author"] = commenter_json(comment.author_id, comment.author_name)  # read by ``threads``
    return item


def thread_json(thread: Thread) -> dict:
    """A top comment (or its stub) with its visible replies, oldest first."""
    return comment_json(thread.comment, thread.stub) | {"replies": [comment_json(reply) for reply in thread.replies]}
