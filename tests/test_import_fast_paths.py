"""The import's fast paths answer exactly what the plain code they stand for would.

``one_line`` folds whitespace like ``" ".join(text.split())`` without splitting most text into
words; the validator tells valid text from text with a NUL or a lone surrogate by encoding it.
Both rest on facts of Unicode that are checked here over every code point.
"""

import sys

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paperwire.ingest.records import (
    OTHER_ASCII_SPACES,
    SURROGATE,
    BadRecord,
    PaperRecord,
    _is_valid_text,
    check_record,
    one_line,
)

EVERY_CHARACTER = [chr(c) for c in range(sys.maxunicode + 1)]
WHITESPACE = [c for c in EVERY_CHARACTER if c.isspace()]

# Text made of what decides the folding: words, every kind of whitespace, lone surrogates, NUL.
texts = st.lists(
    st.one_of(
        st.sampled_from(["a", "Ünïcödé", "word", "日本", "\x00", "\ud800", "x\udfffy"]),
        st.sampled_from(WHITESPACE),
        st.text(max_size=5),
    ),
    max_size=30,
).map("".join)


def test_every_whitespace_character_but_the_space_is_seen_by_the_fast_path():
    assert {c for c in WHITESPACE if c.isascii()} == {" ", "\n", *OTHER_ASCII_SPACES}
    assert [c for c in WHITESPACE if c != " " and c.isprintable()] == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\n",
        "one",
        "two words",
        "Line broken\nat eighty columns\nby arXiv",
        " leading",
        "trailing ",
        "\nleading newline",
        "trailing newline\n",
        "double  space",
        "space \nnewline",
        "tab\there",
        "carriage\rreturn",
        "no\u00a0break space",
        "ideographic\u3000space",
        "line\u2028separator",
        "next\x85line",
        "unit\x1fseparator",
        "zero\u200bwidth space (not whitespace)",
        "soft\xadhyphen",
        "Ünïcödé\nwörds",
    ],
)
def test_one_line_folds_like_split_and_join(text):
    assert one_line(text) == " ".join(text.split())


@hypothesis_settings(max_examples=500, derandomize=True, database=None)
@given(texts)
def test_one_line_folds_like_split_and_join_for_any_text(text):
    assert one_line(text) == " ".join(text.split())


@hypothesis_settings(max_examples=500, derandomize=True, database=None)
@given(texts)
def test_valid_text_is_text_without_nul_or_lone_surrogate(text):
    assert _is_valid_text(text) == ("\x00" not in text and not SURROGATE.search(text))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"title": "Ünïcödé \ud800"}, "title is not valid Unicode (a lone surrogate)"),
        ({"abstract": "日本\x00"}, "abstract contains a NUL character"),
        ({"authors": ["Ada", "Grace \udbff"]}, "authors[1] is not valid Unicode (a lone surrogate)"),
        ({"categories": ["cs.CL\x00"]}, "categories[0] contains a NUL character"),
        ({"authors": []}, None),
        ({"authors": ["Ünïcödé", "日本"], "comment": "naïve"}, None),
    ],
)
def test_check_record_names_the_field_whatever_the_path(fields, reason):
    record = PaperRecord(**{"id": "2401.00001", "title": "T", "abstract": "A", **fields})
    if reason is None:
        assert check_record(record) is record
    else:
        with pytest.raises(BadRecord) as error:
            check_record(record)
        assert str(error.value) == reason
