"""Template filters for titles and abstracts: formulas marked up for the browser to render,
links made links (paperwire/papers/latex.py finds them, paperwire/static/paperwire/maths.js
renders the formulas)."""

from django import template
from django.template.defaultfilters import stringfilter
from django.utils.safestring import SafeString

from paperwire.papers import latex as tex

register = template.Library()


@register.filter
@stringfilter
def latex(text: str) -> SafeString:
    """``text`` escaped, its formulas marked up, its links links."""
    return tex.html(text)


@register.filter
@stringfilter
def latex_title(text: str) -> SafeString:
    """A title, which pages show inside a link: its formulas marked up, its links as their text,
    isolated in ``<bdi>`` so that its direction (an Arabic title, or a stray right-to-left override
    from a feed) never reorders the text around it: the upvotes, the date, the next title."""
    return SafeString(f"<bdi>{tex.html(text, links=False)}</bdi>")


@register.filter
@stringfilter
def latex_paragraphs(text: str) -> SafeString:
    """Like ``linebreaks``: paragraphs, formulas marked up (displayed ones on their own line), links."""
    return tex.html_paragraphs(text)


@register.filter
@stringfilter
def latex_words(text: str, count: int) -> SafeString:
    """Like ``truncatewords``, never cutting a formula or a link, then as ``latex``."""
    try:
        count = int(count)
    except ValueError:
        return tex.html(text)
    return tex.html(tex.truncate_words(text, count))
