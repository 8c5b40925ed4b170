"""insert_instances (the import's write of new papers) writes the rows bulk_create writes."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paperwire.core.bulk import insert_instances
from paperwire.papers.models import Organization, Paper
from paperwire.people.models import Author

PINNED = dt.datetime(2026, 5, 27, 9, 30, tzinfo=dt.UTC)

# Text the database must keep as it is: accents, RTL, emoji, brackets, quotes, long strings.
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=300)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
moment = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2099, 12, 31), timezones=st.just(dt.UTC))
optional = lambda strategy: st.none() | strategy  # noqa: E731


def paper_values():
    return st.fixed_dictionaries(
        {
            "title": text,
            "abstract": text,
            "authors": st.lists(text, max_size=6),
            "categories": st.lists(text, max_size=3),
            "published": optional(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2099, 12, 31))),
            "published_at": optional(moment),
            "submitted_on_daily_at": optional(moment),
            "daily_date": optional(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2099, 12, 31))),
            "submitter_name": st.text(max_size=40).filter(lambda s: "\x00" not in s),
            "hf_submitter": optional(json_value),
            "organization_name": st.text(max_size=40).filter(lambda s: "\x00" not in s),
            "code_urls": st.lists(st.just("https://github.com/a/b") | text, max_size=3),
            "github_stars": optional(st.integers(0, 2**31 - 1)),
            "project_page": st.just("") | st.just("https://example.org/é?q=[1]"),
            "comment": text,
            "doi": st.text(max_size=40).filter(lambda s: "\x00" not in s),
            "ai_summary": text,
            "ai_keywords": st.lists(text, max_size=3),
            "num_comments": st.integers(0, 2**31 - 1),
            "base_upvotes": st.integers(0, 2**31 - 1),
            "upvotes": st.integers(0, 2**31 - 1),
            "hidden": st.booleans(),
        }
    )


def stored_row(paper_id: str) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM papers_paper WHERE id = %s", [paper_id])
        names = [column[0] for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


@pytest.mark.django_db
@hypothesis_settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=paper_values(), with_organization=st.booleans())
def test_the_rows_are_those_bulk_create_writes(values, with_organization):
    Paper.objects.filter(id__in=["2601.00001", "2601.00002"]).delete()
    organization = Organization.objects.get_or_create(name="Université « RTL » مرحبا 🤖")[0]
    chosen = organization if with_organization else None
    with time_machine.travel(PINNED, tick=False):
        Paper.objects.bulk_create([Paper(id="2601.00001", organization=chosen, **values)])
        made = Paper(id="2601.00002", organization=chosen, **values)
        insert_instances(Paper, [made])
    expected, written = stored_row("2601.00001"), stored_row("2601.00002")
    assert written.pop("id") == "2601.00002" and expected.pop("id") == "2601.00001"
    assert written == expected
    # Read back through the ORM, the values are those given; the instance is a saved one.
    read = Paper.objects.get(id="2601.00002")
    assert {name: getattr(read, name) for name in values} == values
    assert read.created_at == read.updated_at == PINNED and read.organization_id == (chosen and chosen.pk)
    assert not made._state.adding and made.created_at == PINNED


@pytest.mark.django_db
def test_a_model_that_numbers_its_rows_is_refused_and_nothing_is_written():
    with pytest.raises(ValueError, match="numbers its rows"):
        insert_instances(Author, [Author(key="a|b", slug="b", name="A B")])
    assert not Author.objects.exists()


@pytest.mark.django_db
def test_an_unsaved_organization_is_refused_before_anything_is_written():
    with pytest.raises(ValueError, match="unsaved related object"):
        insert_instances(Paper, [Paper(id="2601.00003", title="t", organization=Organization(name="new"))])
    assert not Paper.objects.exists()
