"""Organization names: the cleaned name people see, the key that says two spellings are one
organization, and the slug of its URL.

Pure functions (no models), so that the data migration uses the very same rules.

- ``clean_name``: control characters and lone surrogates dropped, whitespace collapsed, cut
  to ``NAME_LENGTH``. Any other character is kept: accents, brackets, emoji, right-to-left
  scripts are names people use.
- ``fold``: case, accents, whitespace and punctuation ignored ("Zhejiang University",
  "zhejiang  university", "Zhéjiang-University!" fold alike). A name with no letter or digit
  at all ("🤖", "!!!") folds to itself, lower-cased: symbols are all it has to tell it apart.
- ``slug_for``: lower-case ASCII words joined by dashes when the name is written in Latin
  letters ("universite-de-montreal"); the name's own letters when it is written in another
  script ("台灣大學", shown as such by browsers, percent-encoded on the wire); ``org-`` and a
  short hash of the folded name when it has no letters or digits. A slug is computed once,
  when the organization is created, and then kept: renaming never moves a page.
- ``best_spelling``: the name an organization is shown by, chosen among the spellings its
  papers came with (docs/feeds.md).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping

NAME_LENGTH = 200
SLUG_LENGTH = 80
KEY_LENGTH = 240  # of a folded name in an alias key (the column holds 255)
# Latin letters that NFKD does not decompose into an ASCII letter and a mark.
LATIN_FOLDS = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "SS",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "Þ": "Th",
        "ı": "i",
        "ħ": "h",
        "Ħ": "H",
    }
)


def clean_name(value: str) -> str:
    kept = "".join(c for c in value if c.isspace() or unicodedata.category(c) not in ("Cc", "Cs"))
    return " ".join(kept.split())[:NAME_LENGTH].strip()


def _is_word_char(c: str) -> bool:
    return unicodedata.category(c)[0] in "LNM"


def _without_accents(text: str) -> str:
    """Accents taken off Latin letters ("é" -> "e"); other scripts' marks (Devanagari vowel
    signs, Arabic vowels) are part of their words and stay."""
    kept: list[str] = []
    for c in unicodedata.normalize("NFKD", text.translate(LATIN_FOLDS)):
        if unicodedata.combining(c) and kept and kept[-1].isascii():
            continue
        kept.append(c)
    return "".join(kept)


def fold(name: str) -> str:
    """The key under which spellings of one organization meet ("" for an empty name)."""
    name = clean_name(name)
    letters = "".join(c for c in _without_accents(name).casefold() if _is_word_char(c))
    return letters or name.casefold()


def _words(text: str) -> list[str]:
    """Runs of letters, digits and marks, lower-cased; anything else separates words."""
    words, current = [], ""
    for c in unicodedata.normalize("NFKC", text).lower():
        if _is_word_char(c):
            current += c
        elif current:
            words.append(current)
            current = ""
    return [*words, current] if current else words


def slug_for(name: str, fullname: str = "") -> str:
    """The URL slug of a new organization (see the module's docstring): made from its name,
    else from its fullname, else a hash."""
    for text in (name, fullname):
        text = clean_name(text)
        latin = _without_accents(text)
        letters = [c for c in latin if _is_word_char(c)]
        words = _words(latin) if letters and all(c.isascii() for c in letters) else _words(text)
        slug = ""
        for word in words:
            candidate = f"{slug}-{word}" if slug else word
            if len(candidate) > SLUG_LENGTH:
                slug = slug or word[:SLUG_LENGTH]
                break
            slug = candidate
        if slug:
            return slug
    return "org-" + _digest(fold(name) or fold(fullname), 5)


def _digest(text: str, size: int) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=size).hexdigest()


def _key(folded: str) -> str:
    """A folded name short enough to be a key (NFKD can make a name several times longer)."""
    return folded if len(folded) <= KEY_LENGTH else f"{folded[: KEY_LENGTH - 33]}~{_digest(folded, 16)}"


def name_key(name: str) -> str:
    """The ``n:`` alias key of a name ("" for an empty one)."""
    folded = fold(name)
    return f"n:{_key(folded)}" if folded else ""


def alias_keys(name: str, fullname: str = "", hf_id: str = "") -> set[str]:
    """Every key by which an organization seen with these names is found again.

    ``n:`` keys hold folded names, ``hf:`` Hugging Face's id of the organization (it stays
    when the organization is renamed there). The organization's own slugs (``s:``, the one
    it has and those of organizations it absorbed) are added by the model and looked up
    only for old URLs.
    """
    keys = {name_key(text) for text in (name, fullname)} - {""}
    if hf_id.strip():
        keys.add(f"hf:{hf_id.strip()}")
    return keys


def _has_capitals(spelling: str) -> bool:
    return any(c.isupper() for c in spelling)


def best_spelling(counts: Mapping[str, int], handle: str = "") -> str:
    """The name to show for an organization whose papers came with these spellings (each with
    its number of papers); ``handle`` is its short name (Hugging Face's), used as a spelling
    only where it writes the same name ("UCAS" for "ucas"), never in place of another name.

    Spellings that fold alike (``fold``) are one name: the name with the most papers wins
    (ties: the one whose best spelling sorts first). Among its spellings, one with capitals
    comes before one all in lower case ("Alibaba-Inc" before "alibaba-inc", whatever their
    counts: lower case only is how handles and hurried hands write), then the one with the
    most papers, then the first by code point (capitals first). The result depends only on
    the counts, not on the order papers were imported in. Without spellings: the handle.
    """
    names: dict[str, dict[str, int]] = {}
    for spelling, papers in counts.items():
        spelling = clean_name(spelling)
        if spelling:
            spellings = names.setdefault(fold(spelling), {})
            spellings[spelling] = spellings.get(spelling, 0) + papers
    handle = clean_name(handle)
    if not names:
        return handle
    if handle and fold(handle) in names:
        names[fold(handle)].setdefault(handle, 0)

    def best(spellings: dict[str, int]) -> str:
        return min(spellings, key=lambda s: (not _has_capitals(s), -spellings[s], s))

    return best(min(names.values(), key=lambda spellings: (-sum(spellings.values()), best(spellings))))
