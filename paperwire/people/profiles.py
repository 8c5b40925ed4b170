"""People's profiles: the rules for what a profile may hold (one validator for the settings
form and any other writer) and who may see one (docs/community.md, "Profiles")."""

from __future__ import annotations

import re
import unicodedata

from django.contrib.auth import get_user_model
from django.db.models import Q

from paperwire.papers.links import web_url
from paperwire.people.models import Profile

DISPLAY_NAME_CHARS = 80
BIO_CHARS = 1000
MAX_LINKS = 5
LINK_CHARS = 300

# Characters no profile text holds: NUL and the other C0/C1 controls (line ends aside, in a bio),
# lone surrogates (not text: they cannot be written as UTF-8), the non-characters U+FFFE/U+FFFF,
# and the bidirectional overrides and isolates, which turn the text after them around (a display
# name shown beside others'; the marks U+200E/U+200F, which right-to-left names use, stay).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]")
_LINE_ENDS = re.compile("[\r\n]")


class ProfileError(ValueError):
    """A profile value refused, with the sentence that says why (shown beside the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def clean_text(field: str, value: str, limit: int, *, multiline: bool = False) -> str:
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n")).strip()
    if _FORBIDDEN.search(value) or (not multiline and _LINE_ENDS.search(value)):
        raise ProfileError(field, "This holds a character that cannot be shown (a control character or a broken one).")
    if len(value) > limit:
        raise ProfileError(field, f"At most {limit:,} characters (this has {len(value):,}).")
    return value


def clean_links(value: str) -> list[str]:
    """One link a line: each an absolute http(s) URL (the site's one link filter), at most MAX_LINKS."""
    lines = [line.strip() for line in value.replace("\r\n", "\n").split("\n") if line.strip()]
    if len(lines) > MAX_LINKS:
        raise ProfileError("links", f"At most {MAX_LINKS} links, one a line.")
    links = []
    for line in lines:
        if len(line) > LINK_CHARS or _FORBIDDEN.search(line):
            raise ProfileError("links", f"A link is at most {LINK_CHARS} characters, written plainly.")
        url = web_url(line)
        if not url:
            raise ProfileError("links", f"Only http:// and https:// addresses can be links: “{line[:80]}” is not one.")
        if url not in links:
            links.append(url)
    return links


def clean_profile(data) -> dict:
    """The profile fields of a posted form, cleaned; raises ProfileError on the first bad one."""
    return {
        "display_name": clean_text("display_name", data.get("display_name", ""), DISPLAY_NAME_CHARS),
        "bio": clean_text("bio", data.get("bio", ""), BIO_CHARS, multiline=True),
        "links": clean_links(data.get("links", "")),
        "public": data.get("public") == "on",
        "upvotes_public": data.get("upvotes_public") == "on",
    }


def profile_of(user) -> Profile:
    """The user's profile, or an unsaved one with the defaults."""
    found = Profile.objects.filter(user=user).first()
    return found or Profile(user=user)


def save_profile(user, values: dict) -> Profile:
    profile, _ = Profile.objects.update_or_create(user=user, defaults=values)
    return profile


def unlisted_users(user_ids) -> set[int]:
    """Of ``user_ids``, the accounts whose profile page nobody else may see (a hidden profile, a
    banned or inactive account): their names are shown without a link to it."""
    ids = set(user_ids)
    if not ids:
        return set()
    unlisted = get_user_model().objects.filter(pk__in=ids).filter(Q(is_active=False) | Q(profile__public=False))
    return set(unlisted.values_list("pk", flat=True))


def shown_user(username: str, viewer):
    """The account whose profile ``/u/<username>`` shows to ``viewer``, with its profile, or
    (None, None): no such account, a banned or inactive one, or a hidden profile (its owner still
    sees it)."""
    if not isinstance(username, str) or _FORBIDDEN.search(username) or len(username) > 150:
        return None, None
    # Names are unique whatever their case (accounts_username_upper_uniq): /u/ALICE is alice's.
    # The exact name is looked up first (by the index on it); the account returned then names
    # the page's address, which callers may send the reader on to.
    accounts = get_user_model().objects.filter(is_active=True)
    user = accounts.filter(username=username).first() or accounts.filter(username__iexact=username).first()
    if user is None:
        return None, None
    profile = profile_of(user)
    if not profile.public and not (viewer.is_authenticated and viewer.pk == user.pk):
        return None, None
    return user, profile
