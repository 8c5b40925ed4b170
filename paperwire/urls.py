import re
from functools import cache
from pathlib import Path

from django.contrib import admin
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import REASON_NO_CSRF_COOKIE
from django.urls import include, path, re_path, register_converter
from django.views.decorators.http import require_safe

from paperwire.api import feeds, openapi
from paperwire.api import views as api
from paperwire.operations import health
from paperwire.operations.errors import error_page, error_response, json_error, wants_json
from paperwire.operations.pagecache import cache_for_anonymous
from paperwire.search import index_version
from paperwire.web import authors, digests, discussions, notifications, papers, people, search
from paperwire.web.accounts import account_settings
from paperwire.web.papers import same_site_path

# Paper ids may contain a slash (old arXiv ids such as hep-th/9901001).
PAPER_ID = r"(?P<paper_id>[A-Za-z0-9][A-Za-z0-9._:/-]{0,80}?)"


class RowId:
    """A row's id in a path: digits that fit a 64-bit column (a longer number is a 404, not a
    database error)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(RowId, "id")


@cache
def favicon_bytes() -> bytes:
    return (Path(__file__).resolve().parent / "static" / "paperwire" / "favicon.ico").read_bytes()


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, asked for by browsers and feed readers whatever a page links (pages link
    static/paperwire/icon.svg): the same icon as an ICO file, answered here, not redirected."""
    response = HttpResponse(favicon_bytes(), content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response


urlpatterns = [
    path("", papers.home, name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("papers/trending", papers.trending, name="trending"),
    # Feeds are read with GET (a POST would also pass by the search limit, counted on reads).
    path("papers/feed.rss", require_safe(cache_for_anonymous(feeds.LatestPapersRss())), name="feed_rss"),
    path("papers/feed.atom", require_safe(cache_for_anonymous(feeds.LatestPapersAtom())), name="feed_atom"),
    path(
        "search/feed.atom",
        require_safe(cache_for_anonymous(feeds.SearchAtom(), depends_on=index_version)),
        name="search_feed",
    ),
    re_path(r"^papers/(?P<kind>date|week|month)/(?P<value>[^/]{1,20})$", papers.feed, name="feed"),
    re_path(rf"^papers/{PAPER_ID}\.md$", papers.paper_markdown, name="paper_markdown"),
    re_path(rf"^papers/{PAPER_ID}/vote$", papers.vote, name="vote"),
    re_path(rf"^papers/{PAPER_ID}/comments$", discussions.post, name="post_comment"),
    path("comments/<id:pk>/edit", discussions.edit, name="edit_comment"),
    path("comments/<id:pk>/delete", discussions.delete, name="delete_comment"),
    path("comments/<id:pk>/vote", discussions.vote, name="vote_comment"),
    path("comments/<id:pk>/report", discussions.report, name="report_comment"),
    path("comments/<id:pk>/reply", discussions.reply, name="reply_comment"),
    re_path(rf"^papers/{PAPER_ID}/claim$", authors.claim, name="claim"),
    re_path(rf"^papers/{PAPER_ID}$", papers.paper_detail, name="paper"),
    path("submit", papers.submit, name="submit"),
    path("orgs", papers.organizations, name="organizations"),
    # Slugs keep the letters of any script (papers.orgnames); old URLs held names. No control
    # character is either (PostgreSQL refuses NUL in a query).
    re_path(r"^orgs/(?P<slug>[^/\x00-\x1f\x7f]{1,300})$", papers.organization, name="organization"),
    # Author slugs keep the letters of any script, like organizations' (paperwire.people.names).
    re_path(r"^authors/(?P<slug>[^/\x00-\x1f\x7f]{1,300})$", authors.author, name="author"),
    # Usernames: Django's letters, digits and @.+-_ (of any script); anything else is a 404.
    re_path(r"^u/(?P<username>[^/\x00-\x1f\x7f]{1,150})$", people.profile, name="profile"),
    path("follow", people.follow, name="follow"),
    path("following", people.following_page, name="following"),
    path("following/feed/rotate", people.rotate_feed, name="rotate_feed"),
    re_path(
        r"^following/feed/(?P<token>[0-9]{1,18}-[0-9a-f]{40})\.atom$", people.following_feed, name="following_feed"
    ),
    path("accounts/profile", people.edit_profile, name="edit_profile"),
    path("accounts/", include("paperwire.web.account_urls")),
    path("search", search.search_page, name="search"),
    path("subscribe", digests.subscribe, name="subscribe"),
    path("subscribe/confirm/<str:token>", digests.confirm, name="confirm_subscription"),
    path("subscription/<str:token>", digests.manage, name="manage_subscription"),
    path("subscription/<str:token>/new-link", digests.new_links, name="new_subscription_links"),
    path("unsubscribe/<str:token>", digests.unsubscribe, name="unsubscribe"),
    path("digest/preview", digests.preview, name="digest_preview"),
    path("digest/<str:token>/<str:period>", digests.web_version, name="digest_web"),
    path("accounts/settings", account_settings, name="account_settings"),
    path("accounts/settings/notifications", notifications.save_settings, name="notification_settings"),
    path("notifications/unsubscribe/<str:token>", notifications.unsubscribe, name="notifications_unsubscribe"),
    path("api/daily_papers", api.daily_papers, name="api_daily_papers"),
    path("api/papers/search", api.papers_search, name="api_search"),
    re_path(rf"^api/papers/{PAPER_ID}/comments$", api.paper_comments, name="api_paper_comments"),
    re_path(rf"^api/papers/{PAPER_ID}/vote$", api.paper_vote, name="api_paper_vote"),
    re_path(rf"^api/papers/{PAPER_ID}$", api.paper_detail, name="api_paper"),
    path("api/whoami-v2", api.whoami, name="api_whoami"),
    path("api/following", api.following_feed, name="api_following"),
    # Names as huggingface.co's (a user name, an organization's handle); imported organization
    # names may hold any letter or space, never a slash or a control character.
    re_path(r"^api/users/(?P<name>[^/\x00-\x1f\x7f]{1,150})/overview$", api.user_overview, name="api_user"),
    re_path(
        r"^api/organizations/(?P<name>[^/\x00-\x1f\x7f]{1,300})/overview$",
        api.organization_overview,
        name="api_organization",
    ),
    path("healthz", api.api_view(health.healthz), name="healthz"),
    path("api/openapi.json", api.api_view(openapi.openapi_json), name="openapi"),
    path("admin/", admin.site.urls),
]


# get_object_or_404's words ("No Paper matches the given query."): meant for developers, not said to people.
DJANGO_NOT_FOUND = re.compile(r"No \w+ matches the given query\.")
NOTHING_HERE = "There is nothing at this address: the link may be mistyped, or what it led to is gone."


def handler404(request: HttpRequest, exception=None):
    """The site's 404 page (templates/404.html: what the view said, a search box, a way home)."""
    args = getattr(exception, "args", ())
    message = args[0] if args and isinstance(args[0], str) and not DJANGO_NOT_FOUND.fullmatch(args[0]) else ""
    return error_response(
        request,
        404,
        message or "not found",
        title="Page not found",
        page_message=message or NOTHING_HERE,
        template="404.html",
    )


def handler500(request: HttpRequest):
    return error_response(
        request, 500, "internal error", title="Something broke", page_message="The error has been logged."
    )


def handler400(request: HttpRequest, exception=None):
    if isinstance(exception, RequestDataTooBig):
        return error_response(request, 413, "request body too large", title="Too large")
    if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        return error_response(request, 400, "too many parameters", title="Bad request")
    return error_response(
        request, 400, "bad request", title="Bad request", page_message="The request could not be read."
    )


def handler403(request: HttpRequest, exception=None):
    return error_response(request, 403, "forbidden", title="Forbidden", page_message="You may not do that.")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form whose token no longer matches the browser's cookie (the page was
    open too long, the visitor logged in or out in another tab) or that came without the cookie.
    The site's page says so in plain words, with a link back to the form's page when the
    Referer names a page of this site; an API client gets the JSON error. Django logs the reason."""
    if wants_json(request):
        return json_error(f"CSRF check failed: {reason.rstrip('.')}", 403)
    context = {
        "title": "This form could not be sent",
        "no_cookie": reason == REASON_NO_CSRF_COOKIE,
        "back": same_site_path(request, request.headers.get("Referer", "")),
    }
    return error_page(request, 403, "csrf_failure.html", context)
