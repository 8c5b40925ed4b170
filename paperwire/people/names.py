"""Author names: the key that says two spellings are one name, initials, the rule that puts an
abbreviated name ("Y. LeCun") on the page of a full one ("Yann LeCun"), the spelling shown and
the slug of an author's URL.

Pure functions (no models), so that the data migration, the import and bench/author_matching.py
use the very same rules (docs/community.md, "Authors").

How a name is read (``parse``):
- Cleaned like every name (control characters dropped, whitespace collapsed), then NFKC.
  Bracketed asides ("Ada Lovelace (Analytical Engines Ltd)", "[on behalf of …]") are left out
  of the key when the name has letters outside them.
- "Family, Given" (one comma, and what follows it is not a suffix such as "Jr.") is turned
  round; otherwise the family name is the last word, with the particles written before it
  ("van der", "de", "Le" in "Yann Le Cun"; never the first word) and without a suffix ("Jr.",
  "III"). A name whose words after the first are all initials ("LeCun Y.") is read family
  first.
- Words are folded: case ignored (casefold), accents taken off the letters of scripts with
  cases, Latin, Greek, Cyrillic ("José" is "jose", "Ørsted" is "orsted"; the marks of other
  scripts are part of their letters), apostrophes and other punctuation dropped. Dots and hyphens
  separate the given names ("Jean-Pierre" is "jean pierre", "J.R.R." is "j r r"); the family
  name is one word whatever its spaces and hyphens ("Le Cun", "LeCun" and "Le-Cun" are
  "lecun").
- An initial is a given name of one letter of a cased script (Latin, Greek, Cyrillic…), or of
  two letters written with a dot ("Ch."). A single Chinese or Arabic letter is a name, not an
  initial. A name is *abbreviated* when it has given names and all of them are initials.
- The key: the folded given names (for an abbreviated name, its initials, each with a dot),
  "|", the folded family name. "Yann LeCun", "YANN LECUN", "Yann Le Cun" and "Yánn Lecun" have
  the key ``yann|lecun``; "Y. LeCun" and "Y LeCun" have ``y.|lecun``. Spellings with one key
  are one author. A name with no letter or digit at all keeps its own characters, lower-cased.

When an abbreviated name joins a full one (``merge_targets``), all of these hold:
1. Nothing contradicts it (``candidates``). Within one family name, the names whose given names
   start with the same letter form a group. The group holds exactly one full name (one key:
   spellings of it count once), and the initials of every abbreviated name of the group begin
   that full name's initials ("Y." and "Y. A." fit "Yann André"; "Y. B." does not). Anything
   else in the group (a second full name, "Yves LeCun" or "Yann A. LeCun" beside "Yann LeCun";
   an abbreviation that fits no full name) is a contradiction: every name of the group keeps
   its own page.
2. No paper lists both names (they would be two people).
3. Something supports it: the two names share a co-author, and that co-author is
   unambiguous. Co-authors are compared by family name and first initial (``signature``), so
   that "A. Koursaris" on one paper and "Athanasios Koursaris" on another are one co-author
   (the two names' own signature does not count); a signature counts when at most
   ``UNAMBIGUOUS`` authors of the corpus carry it ("F. Kofler" and "Florian Kofler" do; the 27
   names that "S. Sharma" may stand for prove nothing).
   bench/author_matching.py measures each rule on the arXiv set by hand (docs/community.md):
   without rule 3, a quarter of the merges were wrong (a collaboration listing hundreds of
   abbreviated astronomers met computer scientists of the same family name and initial); with
   any shared co-author, 2 of 76; with unambiguous ones, none.
A claimed author keeps its own page.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass

from paperwire.papers.orgnames import LATIN_FOLDS, clean_name

NAME_LENGTH = 200
KEY_LENGTH = 255  # the column
FAMILY_LENGTH = 100  # a longer family name is cut: it only groups names (a cut can only add contradictions)
INITIALS_LENGTH = 20
SLUG_LENGTH = 80

# Written before a family name and part of it (matched without case; never the first word).
PARTICLES = frozenset(
    "van von der den de del della dei degli di da du des le la lo dos das do ter ten zu zum zur af av bin ibn "
    "al el st".split()
)
SUFFIXES = frozenset("jr sr ii iii iv".split())
BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}")
DOT_BEFORE_LETTER = re.compile(r"\.(?=[^\W\d_])")
APOSTROPHES = re.compile("['’ʼ`´]")
NOT_ALNUM = re.compile("[^a-z0-9]+")


@dataclass(frozen=True)
class Name:
    """A name as the rules read it (see the module's docstring)."""

    key: str
    family: str  # folded family name, "" when the name has none
    given: tuple[str, ...]  # folded given names
    initials: str  # the first letters of the given names
    abbreviated: bool  # has given names, all initials

    @property
    def signature(self) -> str:
        return signature(self.family, self.initials, self.key)


def _is_word_char(c: str) -> bool:
    return unicodedata.category(c)[0] in "LNM"


def _is_cased(c: str) -> bool:
    return c.lower() != c.upper()


def _fold(text: str) -> str:
    """Case, accents of Latin letters and anything but letters, digits and marks taken off."""
    if text.isascii():
        lower = text.lower()
        return lower if lower.isalnum() else "".join(c for c in lower if c.isalnum())
    kept: list[str] = []
    for c in unicodedata.normalize("NFKD", text.translate(LATIN_FOLDS).casefold()):
        if unicodedata.combining(c) and kept and _is_cased(kept[-1]):
            continue  # an accent on a Latin, Greek or Cyrillic letter; other scripts' marks are part of their words
        if _is_word_char(c):
            kept.append(c)
    return unicodedata.normalize("NFC", "".join(kept))


# A word: (folded, is an initial).
Word = tuple[str, bool]


def _is_initial(folded: str, written: str, dotted: bool) -> bool:
    if len(folded) == 1:
        return _is_cased(written[:1]) or _is_cased(folded)
    return dotted and len(folded) == 2 and folded.isalpha() and _is_cased(written[:1])


def _words(chunk: str) -> list[Word]:
    """The words of one chunk of a name: dots and hyphens separate them."""
    words = []
    pieces = chunk.replace("-", " ").split(".")
    for index, piece in enumerate(pieces):
        dotted = index < len(pieces) - 1
        for part in piece.split():
            folded = _fold(part)
            if folded:
                words.append((folded, _is_initial(folded, part, dotted)))
    return words


def _key(given: str, family: str) -> str:
    key = f"{given}|{family}"
    if len(key) <= KEY_LENGTH:
        return key
    return f"{key[: KEY_LENGTH - 33]}~{hashlib.blake2b(key.encode(), digest_size=16).hexdigest()}"


def _clean(name: str) -> str:
    if name.isascii() and name.isprintable():
        return " ".join(name.split())[:NAME_LENGTH].strip()
    return unicodedata.normalize("NFKC", clean_name(name))


def _symbols(text: str) -> Name:
    """A name with no letter or digit anywhere ("🤖", "???"): its characters, lower-cased."""
    return Name(_key("", text.casefold()), "", (), "", False) if text else Name("", "", (), "", False)


def parse(name: str) -> Name:
    """The key, family, given names and initials of ``name`` (see the module's docstring)."""
    text = original = _clean(name)
    if "." in text:
        text = DOT_BEFORE_LETTER.sub(". ", text)  # "J.R.R.Tolkien": a dot ends a word
    if "(" in text or "[" in text or "{" in text:
        bare = " ".join(BRACKETED.sub(" ", text).split())
        if any(_is_word_char(c) for c in bare):
            text = bare
    if "," in text:
        if text.count(",") == 1:
            family_part, given_part = (part.strip() for part in text.split(","))
            if family_part and given_part and _fold(given_part) not in SUFFIXES:
                text = f"{given_part} {family_part}"
        text = text.replace(",", " ")
    chunks = text.split()
    while len(chunks) > 2 and _fold(chunks[-1]) in SUFFIXES:
        chunks.pop()
    if not chunks:  # commas only
        return _symbols(original)
    words = [_words(chunk) for chunk in chunks]
    # Family first ("LeCun Y.", "Ng A. Y."): the first word is a name, every other one an initial.
    rest = [w for ws in words[1:] for w in ws]
    if rest and words[0] and all(i for _, i in rest) and not any(i for _, i in words[0]):
        family_words, given_words = words[:1], words[1:]
    else:
        start = len(chunks) - 1
        while start > 1 and _fold(chunks[start - 1]) in PARTICLES:
            start -= 1
        family_words, given_words = words[start:], words[:start]
    family = "".join(f for ws in family_words for f, _ in ws)[:FAMILY_LENGTH]
    given_list = [w for ws in given_words for w in ws]
    if not family and not given_list:
        return _symbols(original)
    if not family:  # "Ada ." : the last word that folds is the family name
        family, given_list = given_list[-1][0][:FAMILY_LENGTH], given_list[:-1]
    given = tuple(f for f, _ in given_list)
    abbreviated = bool(given_list) and all(i for _, i in given_list)
    initials = "".join(f[0] for f in given)[:INITIALS_LENGTH]
    given_key = "".join(f"{i}." for i in initials) if abbreviated else " ".join(given)
    return Name(_key(given_key, family), family, given, initials, abbreviated)


def name_key(name: str) -> str:
    return parse(name).key


@dataclass(frozen=True)
class Entry:
    """An author as ``merge_targets`` sees it."""

    id: Hashable
    family: str
    initials: str
    abbreviated: bool
    claimed: bool = False


UNAMBIGUOUS = 3  # authors carrying a co-author's signature, at most, for it to support a match


def signature(family: str, initials: str, key: str) -> str:
    """What co-authors are compared by: the family name and first initial ("y|lecun" for "Yann
    LeCun" and "Y. LeCun" alike), else the key (a name without family name or initials)."""
    return f"{initials[0]}|{family}" if family and initials else key


def candidates(entries: Iterable[Entry]) -> dict[Hashable, Hashable]:
    """The abbreviated authors nothing contradicts joining a full name (rule 1 of the module's
    docstring): id -> the full name's id. ``entries`` must hold every author of each family
    name it holds (the rule reads whole groups)."""
    groups: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for entry in entries:
        if entry.family and entry.initials:
            groups[(entry.family, entry.initials[0])].append(entry)
    pairs: dict[Hashable, Hashable] = {}
    for members in groups.values():
        full = [e for e in members if not e.abbreviated]
        short = [e for e in members if e.abbreviated]
        if len(full) != 1 or not short:
            continue
        (target,) = full
        if all(target.initials.startswith(e.initials) for e in short):
            pairs.update((e.id, target.id) for e in short if not e.claimed)
    return pairs


def merge_targets(
    entries: Iterable[Entry],
    papers: Mapping[Hashable, Collection[Hashable]],
    signatures: Mapping[Hashable, Collection[str]],
    carriers: Callable[[set[str]], Mapping[str, int]],
    unambiguous: int | None = UNAMBIGUOUS,
    supports: dict[Hashable, list[str]] | None = None,
) -> dict[Hashable, Hashable]:
    """The full-name author each abbreviated author's page is (the module's rules), by id; the
    authors that keep their own page are left out. ``papers``: the papers of each author of
    ``candidates`` (at least); ``signatures``: the signatures of the authors of those papers;
    ``carriers(signatures)``: how many authors of the corpus carry each of them. A shared
    co-author counts when at most ``unambiguous`` authors carry its signature (None: any
    shared co-author counts, as bench/author_matching.py compares). ``supports``, when given,
    receives the shared signatures of each match (sorted)."""
    entries = list(entries)
    by_id = {e.id: e for e in entries}
    shared: dict[tuple[Hashable, Hashable], set[str]] = {}
    for short, full in candidates(entries).items():
        mine, theirs = set(papers.get(short, ())), set(papers.get(full, ()))
        if mine & theirs:
            continue  # one paper lists both: two people
        own = signature(by_id[short].family, by_id[short].initials, "")
        around_mine = {s for p in mine for s in signatures.get(p, ())} - {own}
        around_theirs = {s for p in theirs for s in signatures.get(p, ())} - {own}
        if around_mine & around_theirs:
            shared[(short, full)] = around_mine & around_theirs
    counts = carriers({s for found in shared.values() for s in found}) if unambiguous is not None else {}
    targets = {}
    for (short, full), found in shared.items():
        if unambiguous is None or any(counts.get(s, 1) <= unambiguous for s in found):
            targets[short] = full
            if supports is not None:
                supports[short] = sorted(found)
    return targets


def spelling_rank(spelling: str) -> tuple:
    letters = [c for c in spelling if c.isalpha()]
    mixed = any(c.isupper() for c in letters) and any(c.islower() for c in letters)
    accents = sum(not c.isascii() for c in letters)
    # Capitals and small letters before one case only ("Yann LeCun" before "YANN LECUN"), then
    # the spelling that keeps accents, then the longest ("Y. LeCun" before "Y LeCun"), then the
    # first by code point.
    return (not mixed, -accents, -len(spelling), spelling)


def shown_name(spelling: str) -> str:
    """A spelling as an author's page shows it: cleaned (control characters dropped, whitespace
    collapsed) and cut to NAME_LENGTH, the column's size (a list of names pasted as one
    name runs longer)."""
    if spelling.isascii() and spelling.isprintable() and "  " not in spelling:
        return spelling.strip()[:NAME_LENGTH].strip()
    return clean_name(spelling)[:NAME_LENGTH].strip()


def best_spelling(spellings: Iterable[str]) -> str:
    """The spelling an author is shown by, among those of its key: the same whatever the order
    they were met in."""
    cleaned = [s for s in (clean_name(s) for s in spellings) if s]
    return min(cleaned, key=spelling_rank) if cleaned else ""


def slug_for(name: str) -> str:
    """The URL slug of a new author: lower-case ASCII words joined by dashes when the name is
    written in Latin letters ("jose-garcia-marquez"), the name's own letters in another script
    ("محمد-علي", "李伟"), ``author-`` and a short hash when it has no letter or digit. Computed
    once, when the author is created, then kept (a better spelling found later does not move
    the page)."""
    text = APOSTROPHES.sub("", _clean(name))  # "d-inca" reads badly
    if text.isascii():
        words = NOT_ALNUM.split(text.lower())
    else:
        latin = unicodedata.normalize("NFKD", text.translate(LATIN_FOLDS))
        latin = "".join(c for c in latin if not unicodedata.combining(c))
        letters = [c for c in latin if _is_word_char(c)]
        source = latin if letters and all(c.isascii() for c in letters) else text
        words, current = [], ""
        for c in unicodedata.normalize("NFC", source).lower():
            if _is_word_char(c):
                current += c
            elif current:
                words, current = [*words, current], ""
        words = [*words, current]
    slug = ""
    for word in filter(None, words):
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > SLUG_LENGTH:
            slug = slug or word[:SLUG_LENGTH]
            break
        slug = candidate
    if slug:
        return slug
    return "author-" + hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=5).hexdigest()


def numbered(base: str, n: int) -> str:
    """The ``n``-th slug for ``base`` (1: itself), within SLUG_LENGTH."""
    if n == 1:
        return base
    return f"{base}-{n}"
