"""``{% author_names paper %}``: a paper's names, each a link to its author's page, marked when
the author is on Paperwire (a claim was approved). Views give papers their ``names`` in one
query (``paperwire.people.authors.attach_names``); a paper without them shows its names as text."""

from django import template

from paperwire.people.authors import NameOnPaper
from paperwire.people.linking import names_of

register = template.Library()


@register.inclusion_tag("people/_names.html")
def author_names(paper, limit: int | None = None) -> dict:
    everyone = names_of(paper.authors)
    names = getattr(paper, "names", None)
    if names is None:
        names = [NameOnPaper(n, name, None) for n, name in enumerate(everyone)]
    if limit is not None and len(everyone) > limit:
        return {"count": len(everyone)}
    return {"names": names}
