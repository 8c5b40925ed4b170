"""What an account's scripts write through the API, with a personal API token (docs/api.md,
"Writing with a token"): votes on papers, comments and replies.

Each goes through the domain's one write path, as the pages' forms do (``papers.models.set_vote``,
``discussions.threads.post_comment``), behind the same rate limits per account (``limit_writes``,
with the stricter kinds of new accounts), so that counts, bans, the new-account rules and the page
cache's content version behave the same whichever way a vote or comment comes.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from paperwire.api.params import BadRequest
from paperwire.api.serializers import comment_json
from paperwire.core import jsondata
from paperwire.core.limits import new_account
from paperwire.core.siteurl import absolute
from paperwire.discussions.threads import CommentError, post_comment
from paperwire.operations.errors import json_error
from paperwire.operations.ratelimit import limit_writes
from paperwire.papers.ids import arxiv_id
from paperwire.papers.models import Paper, set_vote

COMMENT_FIELDS = ("body", "reply_to")
MAX_COMMENT_ID = 10**18 - 1  # a row id (paperwire/urls.py's RowId)


def find_paper(paper_id: str) -> Paper | None:
    return Paper.visible.filter(pk=arxiv_id(paper_id) or paper_id).first()


def not_found(paper_id: str) -> JsonResponse:
    return json_error(f"paper {paper_id[:100]!r} not found", 404)


@limit_writes("vote", what="votes")
def vote(request: HttpRequest, paper_id: str) -> HttpResponse:
    """``POST /api/papers/<id>/vote``: upvote; ``DELETE``: withdraw the vote. Both idempotent."""
    paper = find_paper(paper_id)
    if paper is None:
        return not_found(paper_id)
    up = request.method == "POST"
    upvotes = set_vote(request.user, paper, up)
    return JsonResponse({"id": paper.pk, "upvotes": upvotes, "voted": up})


def json_object(request: HttpRequest) -> dict:
    """The request's body, a JSON object; BadRequest saying what is wrong otherwise."""
    kind = request.content_type or ""
    if kind != "application/json":
        raise BadRequest(f'send the body as JSON with "Content-Type: application/json" (not {kind[:100]!r})')
    try:
        data = jsondata.parse(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the body is not valid JSON (UTF-8)") from None
    if not isinstance(data, dict):
        raise BadRequest('the body must be a JSON object, {"body": "..."}')
    return data


def comment_target(value: object) -> int | None:
    """``reply_to``: a comment's id, as the API gives it (a string of digits) or as a number."""
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        value = int(value)
    if type(value) is not int or not 1 <= value <= MAX_COMMENT_ID:
        raise BadRequest("reply_to must be a comment's id (a string of digits, as the API gives it) or null")
    return value


@limit_writes("comment", per={"comment_new": new_account}, what="comments")
def comment(request: HttpRequest, paper_id: str) -> HttpResponse:
    """``POST /api/papers/<id>/comments`` with ``{"body": "...", "reply_to": "<id>"}`` (``reply_to``
    for a reply): 201 and the comment, in the shape the list gives it."""
    paper = find_paper(paper_id)
    if paper is None:
        return not_found(paper_id)
    data = json_object(request)
    unknown = sorted(set(data) - set(COMMENT_FIELDS))
    if unknown:
        raise BadRequest(f"unknown field {unknown[0][:100]!r}: a comment has {' and '.join(COMMENT_FIELDS)}")
    if not isinstance(data.get("body"), str):
        raise BadRequest("body must be the comment's text (Markdown), a string")
    try:
        posted = post_comment(request.user, paper, data["body"], comment_target(data.get("reply_to")))
    except CommentError as error:
        return json_error(error.message, error.status)
    posted.author_name = request.user.get_username()
    response = JsonResponse(comment_json(posted), status=201)
    response["Location"] = absolute(f"{paper.get_absolute_url()}#comment-{posted.pk}")
    return response
