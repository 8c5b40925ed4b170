"""Text whose direction is not ours (a title, a name, a query) kept from turning the text around
it: in HTML, pages use ``<bdi>``; in plain text (the digest email's text part), ``isolate``."""

from django import template
from django.template.defaultfilters import stringfilter

register = template.Library()

FIRST_STRONG_ISOLATE, POP_DIRECTIONAL_ISOLATE = "\u2068", "\u2069"


@register.filter
@stringfilter
def isolate(text: str) -> str:
    """``text`` between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE: its own direction, and
    any override it holds ends with it (Unicode's bidirectional algorithm, as ``<bdi>``)."""
    return f"{FIRST_STRONG_ISOLATE}{text}{POP_DIRECTIONAL_ISOLATE}" if text else text
