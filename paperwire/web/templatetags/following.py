"""``{% follow_button kind key target %}``: the follow form of an author's, an organization's or
a person's page (templates/people/_follow.html). A signed-in reader gets their own state (such
pages are never served from the page cache: it keeps anonymous readers' pages only); an
anonymous one a link to log in, the same for everyone."""

from django import template

from paperwire.people.following import is_following

register = template.Library()


@register.inclusion_tag("people/_follow.html", takes_context=True)
def follow_button(context, kind: str, key: str, target, name: str = "") -> dict:
    request = context["request"]
    user = request.user
    return {
        "request": request,
        "user": user,
        "csrf_token": context.get("csrf_token"),
        "kind": kind,
        "key": key,
        "name": name or str(target),
        # Nobody follows themselves: their profile, nor an author linked to their account.
        "own": user.is_authenticated
        and (
            (kind == "user" and user.pk == target.pk)
            or (kind == "author" and getattr(target, "user_id", None) == user.pk)
        ),
        "following": is_following(user, target),
    }
