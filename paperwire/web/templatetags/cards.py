"""``{% paper_cards papers %}``: the cards of a list of papers; ``{% vote_button paper %}``: a
paper's upvote button (paperwire/web/cards.py renders both)."""

from django import template
from django.utils.safestring import SafeString, mark_safe

from paperwire.web.cards import Reader, cards_html, vote_html

register = template.Library()


@register.simple_tag(takes_context=True)
def paper_cards(context, papers) -> SafeString:
    return cards_html(papers, Reader.of(context))


@register.simple_tag(takes_context=True)
def vote_button(context, paper) -> SafeString:
    return mark_safe(vote_html(paper, Reader.of(context)))
