"""``{% author_names paper %}``: a paper's names, each a link to its author's page, marked when
the author is on Paperwire (a claim was approved). Views give papers their ``names`` in one
query (``paperwire.people.authors.attach_names``); a paper without them shows its names as text."""

from django import template
from django.utils.safestring import SafeString

from paperwire.web.cards import names_html

register = template.Library()


@register.simple_tag
def author_names(paper, limit: int | None = None) -> SafeString:
    return names_html(paper, limit)
