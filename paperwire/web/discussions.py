"""The discussion under a paper: its threads on the paper's page, and the forms that post, reply,
edit, delete, upvote and report comments.

Every form works without JavaScript: it posts, and the answer is a redirect to the comment's
anchor on the paper's page (``#comment-<id>``), or, when it is refused, the page again with the
error beside the form and what was written kept in it. paperwire/static/paperwire/comments.js
sends the same forms with ``Accept: application/json`` and puts the answer in place: the comment's
HTML as the page would show it (``_comment.html``), or ``{"error": ...}`` with the same status.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from paperwire.core.limits import new_account
from paperwire.discussions import rendering
from paperwire.discussions.models import Comment, CommentReport
from paperwire.discussions.threads import (
    THREADS_PER_PAGE,
    CommentError,
    Thread,
    can_edit,
    can_reply_to,
    comment_path,
    delete_comment,
    edit_comment,
    editable_until,
    page_of_threads,
    post_comment,
    report_comment,
    reported_comments,
    set_comment_vote,
    stub_of,
    threads,
)
from paperwire.operations.errors import json_error, wants_json
from paperwire.operations.ratelimit import limit_writes
from paperwire.papers.models import Paper
from paperwire.web.comment_html import Viewer, comment_html, thread_html, threads_html


def thread_page(request: HttpRequest) -> int:
    raw = request.GET.get("comments", "1")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw[:9]) <= 100_000:
        raise Http404("There is no such page of comments.")
    return int(raw)


def discussion_context(request: HttpRequest, paper: Paper, form_state: dict | None = None) -> dict:
    """The threads of the paper's page (``?comments=<n>`` for the n-th page of them), and the
    state of the new comment's form when it was refused (its text and error)."""
    every = threads(paper)
    number = thread_page(request)
    pages = max((len(every) + THREADS_PER_PAGE - 1) // THREADS_PER_PAGE, 1)
    if number > pages:
        raise Http404("There is no such page of comments.")
    shown = page_of_threads(every, number)
    comments = [c for t in shown for c in ([] if t.stub else [t.comment]) + t.replies]
    state = form_state or {}
    return {
        "threads": shown,
        "threads_html": threads_html(shown, Viewer.of(request, comments, paper.get_absolute_url())),
        "comment_page": number,
        "comment_pages": pages,
        "form_state": state,
        "new_form_refused": state.get("form") == "new",
        "new_comment_url": reverse("post_comment", args=[paper.pk]),
        "max_body": rendering.MAX_BODY_CHARS,
    }


comment_url = comment_path  # where a comment is shown (paperwire.discussions.threads)


def shown_html(request: HttpRequest, comment: Comment) -> str:
    """The comment as the paper's page shows it, for the script to put in place ("" when it is no
    longer shown)."""
    stub = stub_of(comment)
    if stub and (comment.parent_id or not comment.replies.filter(deleted_at__isnull=True, hidden=False).exists()):
        return ""
    return comment_html(comment, Viewer.of(request, [comment], comment.paper.get_absolute_url()), stub)


def log_in_first(request: HttpRequest, paper: Paper) -> HttpResponse:
    if wants_json(request):
        return json_error("log in to take part in the discussion", 401)
    return redirect(f"{reverse('login')}?next={paper.get_absolute_url()}")


def refused_on_page(request: HttpRequest, paper: Paper, error: CommentError, form_state: dict) -> HttpResponse:
    """The paper's page again, the error beside the form that was sent (JSON: the error)."""
    if wants_json(request):
        return json_error(error.message, error.status)
    from paperwire.web.papers import paper_context  # the paper's page, whose module imports this one

    context = paper_context(request, paper) | discussion_context(request, paper, {**form_state, "error": error.message})
    return render(request, "papers/paper.html", context, status=error.status)


def answered(request: HttpRequest, comment: Comment, status: int = 200) -> HttpResponse:
    """Where the comment is now shown (a redirect to it), or for the script: its HTML as the page
    shows it ("" when it is no longer shown), a new top comment's whole thread, and the counts."""
    if wants_json(request):
        paper = Paper.objects.get(pk=comment.paper_id)
        data = {
            "id": comment.pk,
            "html": shown_html(request, comment),
            "count": paper.local_comments,
            "numComments": paper.comment_count,
            "url": comment_url(comment, paper),
        }
        if status == 201 and comment.parent_id is None:
            viewer = Viewer.of(request, [comment], paper.get_absolute_url())
            data["thread"] = thread_html(Thread(comment), viewer)
        return JsonResponse(data, status=status)
    return HttpResponseRedirect(comment_url(comment))


def find_comment(pk: int) -> Comment:
    comment = Comment.objects.select_related("paper", "author").filter(pk=pk, paper__hidden=False).first()
    if comment is None:
        raise Http404("There is no such comment.")
    return comment


@require_POST
@limit_writes("comment", per={"comment_new": new_account}, what="comments")
def post(request: HttpRequest, paper_id: str) -> HttpResponse:
    paper = get_object_or_404(Paper.visible.select_related("organization", "submitter"), pk=paper_id)
    if not request.user.is_authenticated:
        return log_in_first(request, paper)
    body = request.POST.get("body", "")
    raw_target = request.POST.get("reply_to", "")  # a reply from a script (the pages reply by /reply)
    target = int(raw_target) if raw_target.isascii() and raw_target.isdigit() and len(raw_target) < 19 else None
    try:
        if raw_target and target is None:
            raise CommentError("The comment you replied to is not on this paper's page any more.", 404)
        comment = post_comment(request.user, paper, body, target)
    except CommentError as error:
        return refused_on_page(request, paper, error, {"form": "new", "body": body})
    return answered(request, comment, status=201)


def reply(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the form that replies to a comment (the page works without JavaScript; the script
    shows the same form under the comment); POST: the reply, in the comment's thread."""
    comment, answer = form_request(request, pk, send_reply)
    if answer is not None:
        return answer
    if not can_reply_to(comment):
        raise Http404("There is no such comment.")
    return reply_page(request, comment, {})


def form_request(request: HttpRequest, pk: int, send) -> tuple[Comment, HttpResponse | None]:
    """What the forms of an action on a comment (reply, edit, report) share: the comment, and the
    answer when there is one already (signed out: the login page; POST: ``send``'s; another
    method: 405); None when the form's page is to be shown."""
    comment = find_comment(pk)
    if not request.user.is_authenticated:
        return comment, log_in_first(request, comment.paper)
    if request.method == "POST":
        return comment, send(request, comment)
    if request.method not in ("GET", "HEAD"):
        return comment, HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
    return comment, None


def reply_page(request: HttpRequest, comment: Comment, state: dict, status: int = 200) -> HttpResponse:
    context = {
        "comment": comment,
        "paper": comment.paper,
        "action": reverse("reply_comment", args=[comment.pk]),
        "form_state": state,
        "refused": bool(state),
        "max_body": rendering.MAX_BODY_CHARS,
        "back": comment_url(comment),
    }
    return render(request, "discussions/reply.html", context, status=status)


@limit_writes("comment", per={"comment_new": new_account}, what="comments")
def send_reply(request: HttpRequest, comment: Comment) -> HttpResponse:
    body = request.POST.get("body", "")
    try:
        posted = post_comment(request.user, comment.paper, body, comment.pk)
    except CommentError as error:
        if wants_json(request):
            return json_error(error.message, error.status)
        return reply_page(request, comment, {"body": body, "error": error.message}, error.status)
    return answered(request, posted, status=201)


def edit(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the form that edits a comment (the page works without JavaScript); POST: the edit."""
    comment, answer = form_request(request, pk, save_edit)
    if answer is not None:
        return answer
    if comment.author_id != request.user.pk or not comment.visible:
        raise Http404("There is no such comment of yours.")
    return edit_page(request, comment, comment.body)


def edit_page(request: HttpRequest, comment: Comment, body: str, error: str = "", status: int = 200) -> HttpResponse:
    context = {
        "comment": comment,
        "paper": comment.paper,
        "body": body,
        "error": error,
        "editable": can_edit(request.user, comment),
        "until": editable_until(comment),
        "edit_minutes": settings.COMMENT_EDIT_MINUTES,
        "max_body": rendering.MAX_BODY_CHARS,
        "back": comment_url(comment),
    }
    return render(request, "discussions/edit.html", context, status=status)


@limit_writes("comment_edit", per={"comment_edit_new": new_account}, what="edits")
def save_edit(request: HttpRequest, comment: Comment) -> HttpResponse:
    body = request.POST.get("body", "")
    try:
        comment = edit_comment(request.user, comment.pk, body)
    except CommentError as error:
        if wants_json(request):
            return json_error(error.message, error.status)
        return edit_page(request, comment, body, error.message, error.status)
    return answered(request, Comment.objects.select_related("paper", "author").get(pk=comment.pk))


@require_POST
@limit_writes("comment_edit", per={"comment_edit_new": new_account}, what="edits")
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    comment = find_comment(pk)
    if not request.user.is_authenticated:
        return log_in_first(request, comment.paper)
    try:
        comment = delete_comment(request.user, comment.pk)
    except CommentError as error:
        return refused_on_page(request, comment.paper, error, {"form": "delete", "target": comment.pk})
    if not wants_json(request):
        messages.success(request, "Your comment was deleted.")
    return answered(request, Comment.objects.select_related("paper", "author").get(pk=comment.pk))


@require_POST
@limit_writes("comment_vote", per={"comment_vote_new": new_account}, what="votes")
def vote(request: HttpRequest, pk: int) -> HttpResponse:
    comment = find_comment(pk)
    if not request.user.is_authenticated:
        return log_in_first(request, comment.paper)
    up = request.POST.get("action", "up") != "down"
    try:
        upvotes, voted = set_comment_vote(request.user, comment.pk, up)
    except CommentError as error:
        return refused_on_page(request, comment.paper, error, {"form": "vote", "target": comment.pk})
    if wants_json(request):
        return JsonResponse({"id": comment.pk, "upvotes": upvotes, "voted": voted})
    return HttpResponseRedirect(comment_url(comment))


def report(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the form that reports a comment to the moderators; POST: the report."""
    comment, answer = form_request(request, pk, send_report)
    if answer is not None:
        return answer
    if not comment.visible:
        raise Http404("There is no such comment.")
    return report_page(request, comment, {})


def report_page(request: HttpRequest, comment: Comment, values: dict, error: str = "", status: int = 200):
    context = {
        "comment": comment,
        "paper": comment.paper,
        "reasons": CommentReport.REASONS,
        "values": values,
        "error": error,
        "max_details": CommentReport.MAX_DETAILS,
        "already": comment.pk in reported_comments(request.user, [comment]),
        "back": comment_url(comment),
    }
    return render(request, "discussions/report.html", context, status=status)


@limit_writes("comment_report", per={"comment_report_new": new_account}, what="reports")
def send_report(request: HttpRequest, comment: Comment) -> HttpResponse:
    values = {"reason": request.POST.get("reason", ""), "details": request.POST.get("details", "")}
    try:
        _, new = report_comment(request.user, comment.pk, values["reason"], values["details"])
    except CommentError as error:
        if wants_json(request):
            return json_error(error.message, error.status)
        return report_page(request, comment, values, error.message, error.status)
    said = "Thank you: the moderators will look at it." if new else "You have reported this comment already."
    if wants_json(request):
        return JsonResponse({"id": comment.pk, "reported": True, "message": said})
    messages.success(request, said)
    return HttpResponseRedirect(comment_url(comment))
