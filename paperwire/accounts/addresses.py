"""One rule for email addresses: what a form accepts, how two spellings are compared, and what
the per-address mail limits count.

RFC 5322 lets one mailbox be written many ways: ``"victim"@example.org``, ``"vic\\tim"@…``,
``victim(comment)@…``, folding whitespace, and mail software maps ``ＥＸＡＭＰＬＥ.org``,
``example。org``, ``exa\u200bmple.org`` (a zero-width space) or ``xn--…`` punycode onto one domain.
Counted as different addresses, each spelling would get its own share of every per-address
limit. So:

- **Refused**, with a form error saying why: quoted local parts, backslashes, comments,
  brackets (domain literals), whitespace, control and invisible characters anywhere inside the
  address, and a dot at the start or end of either part or two in a row. The local part is
  ASCII (letters, digits and ``!#$%&'*+/=?^_`{|}~-``), as Django's own validator has it.
- **Accepted and canonicalised**: surrounding whitespace is trimmed; the domain is put in the
  one form Django's mail sending reaches (IDNA, as ``django.utils.encoding.punycode`` encodes it
  for SMTP), then written back in Unicode and lower-cased: full-width letters, ideographic full
  stops, upper case and punycode all become the same domain. ``canonical_email`` lower-cases
  the local part too; it is how addresses are compared and how subscribers are stored.
- **Per-address mail limits** count a *mailbox*: the canonical address without its ``+tag``
  (``victim+news@`` and ``victim@`` reach one inbox at most providers), hashed like every
  rate-limit key (``paperwire.operations.ratelimit``).

Sign-up, the admin's account forms, password reset and subscribing use ``AddressField``; the
limits use ``mailbox_key``; comparisons use ``canonical_email``.
"""

from __future__ import annotations

import re
import unicodedata
from email.errors import MessageError
from email.headerregistry import Address

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from paperwire.core.limits import named_key

MAX_LENGTH = 254
PLAIN_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
QUOTING = set('"\\()[]<>,;:')

INVALID = "Enter a valid email address, e.g. name@example.org."
HIDDEN = "An email address cannot contain spaces, tabs or invisible characters."
QUOTED = "Write the address plainly, without quotes, comments, brackets or backslashes, e.g. name@example.org."
DOTS = "An email address cannot start or end with a dot, or have two dots in a row, on either side of the @."
TOO_LONG = f"An email address has at most {MAX_LENGTH} characters."


def hidden(character: str) -> bool:
    """Whitespace, control, format (zero-width, soft hyphen, bidi marks), private-use,
    surrogate or unassigned characters: none belongs inside an address."""
    return character.isspace() or unicodedata.category(character) in ("Cc", "Cf", "Co", "Cs", "Cn", "Zs", "Zl", "Zp")


def split_address(value: str) -> tuple[str, str]:
    """(local part as typed, canonical domain) of an address, or ValidationError saying what is
    wrong with it."""
    address = str(value).strip()
    if not address:
        raise ValidationError(INVALID, code="invalid")
    if len(address) > MAX_LENGTH:
        raise ValidationError(TOO_LONG, code="max_length")
    if any(hidden(c) for c in address):
        raise ValidationError(HIDDEN, code="hidden")
    if any(c in QUOTING for c in address):
        raise ValidationError(QUOTED, code="quoted")
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or "@" in local:
        raise ValidationError(INVALID, code="invalid")
    if local.startswith(".") or local.endswith(".") or ".." in local or domain.endswith(".") or ".." in domain:
        raise ValidationError(DOTS, code="dots")
    if not PLAIN_LOCAL.match(local) or len(local) > 64:
        raise ValidationError(INVALID, code="invalid")
    domain = canonical_domain(domain)
    try:
        validate_email(f"{local}@{domain}")  # Django's rules for the domain (labels, top-level domain)
    except ValidationError:
        raise ValidationError(INVALID, code="invalid") from None
    if len(f"{local}@{domain}") > MAX_LENGTH:
        raise ValidationError(TOO_LONG, code="max_length")
    return local, domain


def canonical_domain(domain: str) -> str:
    """The domain in the one form that reaches the same mail server: encoded as Django encodes it
    for SMTP (IDNA 2003: NFKC, case folding, ideographic full stops, zero-width characters
    dropped), decoded back to Unicode, lower-case."""
    try:
        ascii_form = domain.encode("idna").lower()
        return ascii_form.decode("idna").lower()
    except UnicodeError:
        raise ValidationError(INVALID, code="invalid") from None


def clean_address(value: str) -> str:
    """The address to store and mail: as typed, trimmed, with its domain canonical; or
    ValidationError."""
    local, domain = split_address(value)
    return f"{local}@{domain}"


def canonical_email(address: str) -> str:
    """How addresses are compared everywhere (and subscribers stored): the domain canonical,
    all lower-case. Never raises: an address stored before this rule (or one that breaks it) is
    compared the old way, trimmed and lower-cased."""
    try:
        local, domain = split_address(address)
    except ValidationError:
        return (address or "").strip().lower()
    return f"{local.lower()}@{domain}"


def mailbox(address: str) -> str:
    """The mailbox an address reaches, for the per-address limits: canonical, without a
    ``+tag``. An address stored before this rule is read as RFC 5322 reads it (the quoted
    ``"vic\\tim"`` is ``victim``)."""
    try:
        local, domain = split_address(address)
    except ValidationError:
        try:
            parsed = Address(addr_spec=str(address).strip())
            local, domain = parsed.username, parsed.domain
        except (ValueError, TypeError, IndexError, MessageError):
            return canonical_email(address)
    return f"{local.lower().split('+', 1)[0]}@{domain.lower()}"


def mailbox_key(address: str) -> str:
    """The rate-limit key of the mailbox an address reaches ("" for no address)."""
    return named_key(mailbox(address)) if str(address or "").strip() else ""


def posted_mailbox(field: str):
    """For ``limit_writes``: the mailbox key of the address in a field of the POSTed form."""
    return lambda request: mailbox_key(request.POST.get(field, ""))


class AddressField(forms.EmailField):
    """An email field that applies the rule and cleans to ``clean_address``."""

    default_validators = []  # the rule below replaces Django's validate_email

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", MAX_LENGTH)
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return value
        try:
            return clean_address(value)
        except ValidationError as error:
            raise ValidationError(error.messages[0], code=error.code) from None
