"""Author names (paperwire/people/names.py, docs/community.md "Authors"): the documented
examples, and properties over arbitrary names: the key ignores case, accents and spacing;
initials are read; the matching rule merges only what nothing contradicts; every name gets a
slug its URL serves, whatever its script."""

from __future__ import annotations

import random
import re
from collections import Counter
from urllib.parse import unquote

import pytest
from django.urls import resolve, reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paperwire.people.names import (
    FAMILY_LENGTH,
    INITIALS_LENGTH,
    KEY_LENGTH,
    PARTICLES,
    SLUG_LENGTH,
    SUFFIXES,
    UNAMBIGUOUS,
    Entry,
    best_spelling,
    merge_targets,
    parse,
    shown_name,
    signature,
    slug_for,
)

SAME = [
    ("Yann LeCun", "YANN LECUN"),
    ("Yann LeCun", "yann lecun"),
    ("Yann LeCun", "Yann Le Cun"),
    ("Yann LeCun", "Yánn Lecun"),
    ("Yann LeCun", "LeCun, Yann"),
    ("Yann LeCun", "  Yann\tLeCun "),
    ("Yann LeCun", "Yann LeCun (NYU)"),
    ("Y. LeCun", "Y LeCun"),
    ("Y. LeCun", "Y.LeCun"),
    ("Y. LeCun", "LeCun Y."),
    ("José García", "Jose Garcia"),
    ("Zoë Ørsted", "Zoe Orsted"),
    ("Jean-Pierre Dupont", "Jean Pierre Dupont"),
    ("J.-P. Dupont", "J. P. Dupont"),
    ("J.R.R. Tolkien", "J. R. R. Tolkien"),
    ("Laurens van der Maaten", "Laurens Van Der Maaten"),
    ("Laurens van der Maaten", "Laurens vanderMaaten"),
    ("Mohammed Al-Hussein", "Mohammed Al Hussein"),
    ("Moreno D'Incà", "Moreno DIncà"),
    ("John Smith", "John Smith, Jr."),
    ("Ａｄａ　Ｌｏｖｅｌａｃｅ", "Ada Lovelace"),  # full-width letters and space
    ("Åsa Ödberg", "Asa Odberg"),
]
DIFFERENT = [
    ("Yann LeCun", "Y. LeCun"),  # one key each: the matching rule, not the key, may join them
    ("Yann LeCun", "Yann A. LeCun"),
    ("Yann LeCun", "Yves LeCun"),
    ("Wei Li", "Li Wei"),  # the order says which is the family name
    ("Xiaoming Wang", "Xiao Ming Wang"),
    ("李伟", "李 伟"),
    ("محمد علي", "علي محمد"),
    ("🤖", "🦾"),
    ("J. Smith", "J. A. Smith"),
]


@pytest.mark.parametrize("a, b", SAME)
def test_spellings_of_one_name_have_one_key(a, b):
    assert parse(a).key == parse(b).key


@pytest.mark.parametrize("a, b", DIFFERENT)
def test_other_names_have_other_keys(a, b):
    assert parse(a).key != parse(b).key


@pytest.mark.parametrize(
    "name, family, initials, abbreviated",
    [
        ("Yann LeCun", "lecun", "y", False),
        ("Y. LeCun", "lecun", "y", True),
        ("LeCun Y.", "lecun", "y", True),
        ("Yann A. LeCun", "lecun", "ya", False),
        ("J.-P. Dupont", "dupont", "jp", True),
        ("Jean-Pierre Dupont", "dupont", "jp", False),
        ("Ch. Smith", "smith", "c", True),
        ("Quoc V. Le", "le", "qv", False),
        ("Le Song", "song", "l", False),
        ("Laurens van der Maaten", "vandermaaten", "l", False),
        ("李 伟", "伟", "李", False),  # a Chinese character alone is a name, not an initial
        ("李伟", "李伟", "", False),
        ("Σ. Παπαδόπουλος", "παπαδοπουλοσ", "σ", True),  # Greek has cases: an initial; casefold: σ
        ("🤖", "", "", False),
    ],
)
def test_family_names_and_initials(name, family, initials, abbreviated):
    parsed = parse(name)
    assert (parsed.family, parsed.initials, parsed.abbreviated) == (family, initials, abbreviated)


def merged(*papers: list[str], claimed: tuple[str, ...] = (), unambiguous=UNAMBIGUOUS) -> dict[str, str]:
    """The merges the rules make in a corpus of these papers (each a list of names), as
    short name -> full name (each key named by its first spelling, as the authors table holds
    one entry a key)."""
    first: dict[str, str] = {}
    papers_of: dict[str, set[int]] = {}
    signatures: dict[int, set[str]] = {}
    for index, names in enumerate(papers):
        for name in names:
            parsed = parse(name)
            first.setdefault(parsed.key, name)
            papers_of.setdefault(parsed.key, set()).add(index)
            signatures.setdefault(index, set()).add(signature(parsed.family, parsed.initials, parsed.key))
    found = []
    for key, name in first.items():
        parsed = parse(name)
        found.append(Entry(key, parsed.family, parsed.initials, parsed.abbreviated, claimed=name in claimed))
    everyone = Counter(signature(e.family, e.initials, e.id) for e in found)
    targets = merge_targets(found, papers_of, signatures, lambda sigs: {s: everyone[s] for s in sigs}, unambiguous)
    return {first[short]: first[full] for short, full in targets.items()}


BOTTOU = "Léon Bottou"
SHARMAS = [["Sanjay Sharma"], ["Swati Sharma"], ["Sunil Sharma"]]


@pytest.mark.parametrize(
    "papers, expected",
    [
        # Nothing contradicts, a co-author supports: the abbreviation goes to the full name.
        ([["Yann LeCun", BOTTOU], ["Y. LeCun", BOTTOU]], {"Y. LeCun": "Yann LeCun"}),
        ([["Yann LeCun", BOTTOU], ["YANN LECUN"], ["Y. LeCun", BOTTOU]], {"Y. LeCun": "Yann LeCun"}),
        # Co-authors are compared by family name and initial: each abbreviation supports the other.
        ([["Yann LeCun", BOTTOU], ["Y. LeCun", "L. Bottou"]], {"Y. LeCun": "Yann LeCun", "L. Bottou": BOTTOU}),
        ([["Yann André LeCun", BOTTOU], ["Y. LeCun", BOTTOU], ["Y. A. LeCun", BOTTOU]],
         {"Y. LeCun": "Yann André LeCun", "Y. A. LeCun": "Yann André LeCun"}),
        ([["Jean-Pierre Dupont", BOTTOU], ["J.-P. Dupont", BOTTOU], ["J. Dupont", "L. Bottou"]],
         {"J.-P. Dupont": "Jean-Pierre Dupont", "J. Dupont": "Jean-Pierre Dupont", "L. Bottou": BOTTOU}),
        # Rule 1: another given name with that initial and family; nobody is merged.
        ([["Yann LeCun", BOTTOU], ["Y. LeCun", BOTTOU], ["Yves LeCun"]], {}),
        ([["Yann LeCun", BOTTOU], ["Y. LeCun", BOTTOU], ["Yann A. LeCun"]], {}),
        # An abbreviation that fits no full name (Y. B.) says there is another Y. LeCun.
        ([["Yann LeCun", BOTTOU], ["Y. LeCun", BOTTOU], ["Y. B. LeCun"]], {}),
        # More initials than the full name has: not merged, and a contradiction.
        ([["Yann LeCun", BOTTOU], ["Y. A. LeCun", BOTTOU]], {}),
        # Rule 2: one paper lists both, two people.
        ([["Yann LeCun", "Y. LeCun", BOTTOU], ["Y. LeCun", BOTTOU]], {}),
        # Rule 3: nothing shared, or only a co-author many names may be.
        ([["Yann LeCun", BOTTOU], ["Y. LeCun", "Ada Lovelace"]], {}),
        ([["Yann LeCun", "S. Sharma"], ["Y. LeCun", "S. Sharma"], *SHARMAS], {}),
        # Other initials or other families do not matter.
        ([["Yann LeCun", "Anne LeCun", BOTTOU], ["Y. LeCun", BOTTOU], ["A. LeCun", BOTTOU]],
         {"Y. LeCun": "Yann LeCun", "A. LeCun": "Anne LeCun"}),
        # No full name: nothing to merge into.
        ([["Y. LeCun", BOTTOU], ["Y LeCun", BOTTOU]], {}),
    ],
)  # fmt: skip
def test_the_matching_rules(papers, expected):
    assert merged(*papers) == expected


def test_any_shared_co_author_is_what_the_bench_compares_with():
    assert merged(["Yann LeCun", "S. Sharma"], ["Y. LeCun", "S. Sharma"], *SHARMAS, unambiguous=None) == {
        "Y. LeCun": "Yann LeCun"
    }


def test_a_claimed_abbreviation_keeps_its_page():
    assert merged(["Yann LeCun", BOTTOU], ["Y. LeCun", BOTTOU], claimed=("Y. LeCun",)) == {}


def test_the_spelling_shown_does_not_depend_on_the_order():
    spellings = ["YANN LECUN", "yann lecun", "Yann Lecun", "Yánn LeCun", "Yann LeCun"]
    for _ in range(10):
        random.shuffle(spellings)
        assert best_spelling(spellings) == "Yánn LeCun"
    assert best_spelling(["Y LeCun", "Y. LeCun"]) == "Y. LeCun"


@pytest.mark.parametrize(
    "name, slug",
    [
        ("Yann LeCun", "yann-lecun"),
        ("José García-Márquez", "jose-garcia-marquez"),
        ("Zoë Ørsted", "zoe-orsted"),
        ("Moreno D'Incà", "moreno-dinca"),
        ("محمد علي", "محمد-علي"),
        ("李伟", "李伟"),
        ("Ada Lovelace [Analytical Engines]", "ada-lovelace-analytical-engines"),
        ("Ελένη Παπαδοπούλου", "ελένη-παπαδοπούλου"),
    ],
)
def test_slugs_read_like_the_name(name, slug):
    assert slug_for(name) == slug


def test_a_name_without_letters_gets_a_slug_too():
    assert re.fullmatch(r"author-[0-9a-f]{10}", slug_for("🤖"))
    assert slug_for("🤖") != slug_for("🦾") and slug_for("🤖") == slug_for("🤖")


# --- properties -------------------------------------------------------------------------------

ACCENTED = {"a": "áàâäå", "e": "éèêë", "i": "íïî", "o": "óöôø", "u": "úüû", "n": "ñ", "c": "ç", "s": "š", "z": "ž"}
# Words that are names (a particle, "van", "de", belongs to the family name that follows it).
latin_word = st.from_regex(r"[A-Z][a-z]{1,9}", fullmatch=True).filter(lambda w: w.lower() not in PARTICLES | SUFFIXES)
# Any text: names from any script, emoji, brackets, punctuation, control characters.
any_name = st.text(
    st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Z", "Cc"]) | st.sampled_from("()[]{}.,-'"),
    max_size=80,
)


@st.composite
def respelled(draw, word: str) -> str:
    """``word`` with accents on some Latin letters and each letter's case drawn."""
    out = []
    for c in word:
        if c.lower() in ACCENTED and draw(st.booleans()):
            c = draw(st.sampled_from(ACCENTED[c.lower()]))
        out.append(c.upper() if draw(st.booleans()) else c.lower())
    return "".join(out)


@hypothesis_settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(given_names=st.lists(latin_word, min_size=1, max_size=3), family=latin_word, data=st.data())
def test_the_key_ignores_case_accents_and_spacing(given_names, family, data):
    name = " ".join([*given_names, family])
    other = [data.draw(respelled(w)) for w in [*given_names, family]]
    spaces = data.draw(
        st.lists(st.sampled_from([" ", "  ", "\t", " \u00a0"]), min_size=len(other), max_size=len(other))
    )
    variant = "".join(s + w for s, w in zip(spaces, other, strict=True))
    assert parse(variant).key == parse(name).key
    # "Family, Given" is the same name.
    assert parse(f"{' '.join(other[-1:])}, {' '.join(other[:-1])}").key == parse(name).key


@hypothesis_settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(given_names=st.lists(latin_word, min_size=1, max_size=3), family=latin_word, dots=st.booleans())
def test_initials_are_read_and_join_the_one_full_name(given_names, family, dots):
    short = " ".join([*(g[0] + ("." if dots else "") for g in given_names), family])
    full = " ".join([*given_names, family])
    parsed = parse(short)
    assert parsed.abbreviated and parsed.initials == "".join(g[0].lower() for g in given_names)
    assert parsed.family == parse(full).family
    coauthor = "Ada9 Lovelace9"  # no generated name has a digit
    assert merged([full, coauthor], [short, coauthor]) == {short: full}


@hypothesis_settings(max_examples=500, deadline=None, database=None, derandomize=True)
@given(name=any_name)
def test_any_name_is_read_and_gets_a_slug_its_url_serves(name):
    parsed = parse(name)
    assert len(parsed.key) <= KEY_LENGTH and len(parsed.family) <= FAMILY_LENGTH
    assert len(parsed.initials) <= INITIALS_LENGTH
    assert parse(name) == parsed
    if any(not c.isspace() and c.isprintable() for c in name):
        assert parsed.key
    assert len(shown_name(name)) <= 200
    slug = slug_for(name)
    assert slug and len(slug) <= SLUG_LENGTH
    assert "/" not in slug and not slug.startswith("-") and not slug.endswith("-") and "--" not in slug
    assert not any(c.isspace() or not c.isprintable() for c in slug)
    path = reverse("author", args=[slug])  # percent-encoded, as links hold it; a request reads it decoded
    assert path.isascii() and resolve(unquote(path)).kwargs == {"slug": slug}


names_of_a_corpus = st.lists(
    st.lists(
        st.sampled_from(["Yann LeCun", "Y. LeCun", "Y LeCun", "Yves LeCun", "Y. A. LeCun", "Yann A. LeCun", BOTTOU,
                         "L. Bottou", "S. Sharma", "Swati Sharma", "李伟", "Ada Lovelace", "A. Lovelace"])
        | any_name | st.builds(" ".join, st.lists(latin_word, min_size=1, max_size=3)),
        min_size=1, max_size=5,
    ),
    max_size=8,
)  # fmt: skip


@hypothesis_settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(papers=names_of_a_corpus)
def test_the_rules_merge_only_what_they_say_and_ignore_order(papers):
    targets = merged(*papers)
    for short, full in targets.items():
        a, b = parse(short), parse(full)
        assert a.abbreviated and not b.abbreviated and a.family == b.family and b.initials.startswith(a.initials)
        rivals = {parse(n).key for ns in papers for n in ns if parse(n).family == a.family}
        rivals = {k for k in rivals if not k.split("|")[0].endswith(".") and k.split("|")[0][:1] == a.initials[:1]}
        assert rivals == {b.key}, "the one full name of the group"
        assert not any(a.key in {parse(n).key for n in ns} and b.key in {parse(n).key for n in ns} for ns in papers)

    def keyed(found: dict[str, str]) -> set[tuple[str, str]]:
        return {(parse(short).key, parse(full).key) for short, full in found.items()}

    assert keyed(merged(*reversed(papers))) == keyed(targets)
