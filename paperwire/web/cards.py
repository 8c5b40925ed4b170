"""Paper cards, the vote button and a paper's names, rendered in Python.

Every list of papers (a day, a week, a month, trending, an organization, an author, a profile,
the followed papers) shows them, 50 to a page: rendered by Django's template engine, a card
cost about 2 ms (three templates included for each, some twenty variables looked up), most
of a feed page's time at a million papers (docs/scale.md). Here a card is a few string joins.
What a page needs to know of its reader (signed in, the papers they voted for, the CSRF token,
the page's own path) is read once per page (``Reader``), not once per card.

Every value is escaped as the template engine escapes it (``conditional_escape``); the filters
the templates used (``date``, ``intcomma``, ``join``, ``pluralize``, ``urlencode``, the LaTeX
ones) are called as they are, so the HTML is the templates' to the byte.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import date, join, pluralize, urlencode
from django.urls import reverse
from django.utils.html import conditional_escape as escape
from django.utils.safestring import SafeString, mark_safe

from paperwire.people.authors import NameOnPaper
from paperwire.people.linking import names_of
from paperwire.web.templatetags.latex import latex_title, latex_words

CARD_WORDS = 60  # of the abstract


@dataclass(frozen=True)
class Reader:
    """Who a page is rendered for, as the cards need it."""

    signed_in: bool
    voted: frozenset
    csrf_token: str
    path: str  # the page's path and query, where a vote or a login comes back to

    @classmethod
    def of(cls, context) -> Reader:
        """From a template's context (what the context processors and the view put there)."""
        user, request = context.get("user"), context.get("request")
        signed_in = bool(user is not None and user.is_authenticated)
        # Only a signed-in reader's form carries the token: reading it sets the CSRF cookie, and
        # a response that sets a cookie is not kept by the page cache (anonymous pages are).
        token = context.get("csrf_token") if signed_in else None
        return cls(
            signed_in=signed_in,
            voted=frozenset(context.get("voted") or ()),
            csrf_token="" if not token or str(token) == "NOTPROVIDED" else str(token),
            path=request.get_full_path() if request is not None else "",
        )


def vote_html(paper, reader: Reader) -> str:
    """The upvote button of ``paper`` (a form for a signed-in reader, else a link to log in)."""
    count = f'<span class="arrow">▲</span><span class="count">{escape(str(paper.upvotes))}</span>'
    if not reader.signed_in:
        login = f"{escape(reverse('login'))}?next={escape(urlencode(reader.path))}"
        return f'<a class="vote" href="{login}" title="Log in to upvote">\n  {count}\n</a>\n'
    voted = paper.id in reader.voted
    token = f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(reader.csrf_token)}">'
    return (
        f'<form class="vote {"voted" if voted else ""}" method="post" action="{escape(paper.vote_url)}">\n'
        f"  {token if reader.csrf_token else ''}\n"
        f'  <input type="hidden" name="next" value="{escape(reader.path)}">\n'
        f'  <input type="hidden" name="action" value="{"down" if voted else "up"}">\n'
        f'  <button type="submit" title="{"Remove your upvote" if voted else "Upvote"}"'
        f' aria-pressed="{"true" if voted else "false"}">\n'
        f"    {count}\n"
        "  </button>\n"
        "</form>\n"
    )


def names_html(paper, limit: int | None = None) -> SafeString:
    """A paper's names, each a link to its author's page, marked when the author is on Paperwire;
    "N authors" past ``limit``. Papers given their ``names`` by ``attach_names`` show them;
    one without shows its names as text."""
    everyone = names_of(paper.authors)
    if limit is not None and len(everyone) > limit:
        return mark_safe(f"{len(everyone)} authors")
    names = getattr(paper, "names", None)
    if names is None:
        names = [NameOnPaper(n, name, None) for n, name in enumerate(everyone)]
    parts = []
    for name in names:
        text = f"<bdi>{escape(name.name)}</bdi>"
        url = name.url
        part = f'<a class="author" href="{escape(url)}">{text}</a>' if url else text
        user = name.user
        if user:
            part += (
                f'<span class="on-site" title="On Paperwire as {escape(user.get_username())}">'
                '<span aria-hidden="true">✓</span><span class="visually-hidden"> (on Paperwire)</span></span>'
            )
        parts.append(part)
    return mark_safe(", ".join(parts))


def stats_html(paper) -> str:
    """Code, GitHub stars and comments, after the card's date."""
    out = ""
    code, stars = paper.code_url, paper.github_stars
    if code or stars:
        link = f'<a class="code" href="{escape(code)}" rel="nofollow noopener">Code</a>' if code else ""
        star = (
            f'<span class="stars" title="GitHub stars"><span aria-hidden="true">★</span> {escape(intcomma(stars))}'
            '<span class="visually-hidden"> GitHub stars</span></span>'
            if stars
            else ""
        )
        out += f'<span class="paper-stats">·\n  {link}\n  {star}\n</span>'
    out += "\n"
    count = paper.comment_count
    if count:
        words = f"{escape(intcomma(count))} comment{pluralize(count)}"
        if paper.comments_are_local:
            shown = f'<a class="comments" href="{escape(paper.get_absolute_url())}#discussion">{words}</a>'
        else:
            shown = f'<span class="comments" title="Comments on Hugging Face">{words}</span>'
        out += f'<span class="paper-stats">· {shown}</span>'
    return out + "\n"


def card_html(paper, reader: Reader) -> str:
    """One paper as every list shows it."""
    organization = paper.organization
    org = (
        f'· <a class="org" href="{escape(organization.get_absolute_url())}"><bdi>{escape(str(organization))}</bdi></a>'
        if organization
        else ""
    )
    published = paper.published
    when = (
        f'· <time datetime="{escape(date(published, "Y-m-d"))}">{escape(date(published, "M j, Y"))}</time>'
        if published
        else ""
    )
    reasons = getattr(paper, "reasons", None)
    why = ""
    if reasons:
        links = "; ".join(f'<a href="{escape(r.url)}"><bdi>{escape(r.text)}</bdi></a>' for r in reasons)
        why = f'<p class="why">Why it is here: {links}</p>'
    authors = escape(join(paper.authors, ", ", autoescape=True))
    url = escape(paper.get_absolute_url())
    return (
        f'<article class="paper-card" id="paper-{escape(paper.id)}">\n'
        f"  {vote_html(paper, reader)}\n"
        '  <div class="paper-body">\n'
        f'    <h3 class="paper-title"><a href="{url}">{latex_title(paper.title)}</a></h3>\n'
        f'    <p class="paper-abstract">{latex_words(paper.abstract, CARD_WORDS)}</p>\n'
        '    <p class="paper-meta">\n'
        f'      <span class="authors" title="{authors}">{names_html(paper, 3)}</span>\n'
        f"      {org}\n"
        f"      {when}\n"
        f"      {stats_html(paper)}\n"
        "    </p>\n"
        f"    {why}\n"
        "  </div>\n"
        "</article>\n"
    )


def cards_html(papers, reader: Reader) -> SafeString:
    return mark_safe("".join(card_html(paper, reader) for paper in papers))
