"""Papers' names to authors: the one place that writes ``Author``, ``PaperAuthor`` and
``Author.same_as``, used by the import (``paperwire.ingest.upsert``), by an admin edit of a
paper's names, and by the data migration that links the papers of an existing database
(``link_all``, which takes the migration's historical models).

Every step is idempotent: running it again over the same papers changes nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping

from django.db import IntegrityError, OperationalError, connection, models, transaction
from django.db.models import Count
from django.db.models.sql import Query

from paperwire.core.bulk import insert_rows, quoted_columns
from paperwire.people.names import (
    Entry,
    Name,
    candidates,
    merge_targets,
    numbered,
    parse,
    shown_name,
    slug_for,
    spelling_rank,
)

CHUNK = 2000  # keys or ids in one query (below every database's limit on parameters)


PARSED_KEPT = 32_768  # a batch's names, read once by ensure_authors, again by link_papers
_parsed: dict[str, Name] = {}


def parsed(name: str) -> Name:
    """``names.parse(name)``, remembered for the next ``PARSED_KEPT`` names."""
    found = _parsed.get(name)
    if found is None:
        if len(_parsed) >= PARSED_KEPT:
            _parsed.clear()
        found = _parsed[name] = parse(name)
    return found


def remember_parsed(names: Mapping[str, Name]) -> None:
    """Take names parsed elsewhere (the import's reading process: ``ingest.reading``)."""
    if len(_parsed) + len(names) > PARSED_KEPT:
        _parsed.clear()
    _parsed.update(names)


def names_of(authors: object) -> list[str]:
    """A paper's names, numbered as the API numbers them (the strings of ``Paper.authors``)."""
    return [a for a in authors if isinstance(a, str)] if isinstance(authors, list) else []


def chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _models():
    from paperwire.people.models import Author, PaperAuthor

    return Author, PaperAuthor


def _better(current: str, spelling: str) -> bool:
    """Whether ``spelling`` shows an author better than ``current`` (``names.best_spelling``)."""
    return bool(spelling) and spelling != current and spelling_rank(spelling) < spelling_rank(current)


def ensure_authors(spellings: Iterable[str], Author: type[models.Model] | None = None) -> dict[str, int]:
    """The author id of every key of these names, creating the authors that are new (and
    showing an author by a better spelling met here). Short transactions of their own, keys in
    sorted order, so that two imports never wait on each other in a cycle; a key or slug
    another process created meanwhile is looked up again."""
    Author = Author or _models()[0]
    best: dict[str, str] = {}
    for spelling in set(spellings):
        key, shown = parsed(spelling).key, shown_name(spelling)
        if key and (key not in best or _better(best[key], shown)):
            best[key] = shown
    for attempt in range(4):
        try:
            with transaction.atomic():
                return _ensure(Author, best)
        except (IntegrityError, OperationalError):  # a key or slug taken meanwhile, a deadlock
            if attempt == 3:
                raise
    raise AssertionError("unreachable")


def _ensure(Author, best: dict[str, str]) -> dict[str, int]:
    keys = sorted(best)
    found: dict[str, tuple[int, str]] = {}
    for chunk in chunks(keys):
        found.update((k, (pk, name)) for pk, k, name in select_in(Author, ["pk", "key", "name"], "key", chunk))
    respelled = [Author(pk=pk, name=best[k]) for k, (pk, name) in found.items() if _better(name, best[k])]
    if respelled:
        Author.objects.bulk_update(sorted(respelled, key=lambda a: a.pk), ["name"])
    new = [k for k in keys if k not in found]
    if new:
        slugs = free_slugs(Author, {k: slug_for(best[k]) for k in new})
        insert_rows(Author, AUTHOR_FIELDS, [author_row(best[k], slugs[k]) for k in new], ignore_conflicts=True)
        for chunk in chunks(new):
            found.update((k, (pk, "")) for pk, k in select_in(Author, ["pk", "key"], "key", chunk))
        if missing := [k for k in new if k not in found]:
            raise IntegrityError(f"{len(missing)} authors not created (their slug was taken meanwhile)")
    return {k: pk for k, (pk, _) in found.items()}


AUTHOR_FIELDS = ["key", "slug", "name", "family", "initials", "abbreviated", "signature", "support"]


def author_row(spelling: str, slug: str, name: Name | None = None) -> tuple:
    """The AUTHOR_FIELDS of a new author shown by this spelling (``shown_name``; ``name``: it
    read, when at hand)."""
    name = name or parsed(spelling)
    return (name.key, slug, spelling, name.family, name.initials, name.abbreviated, name.signature, "")


def free_slugs(Author, bases: Mapping[str, str], taken: set[str] | None = None) -> dict[str, str]:
    """A slug for each key of ``bases`` (key -> base slug): the base, else the base numbered
    -2, -3… that no author has, nor another key of ``bases``. ``taken``: every slug in use,
    when the caller holds them all (the migration); else the database is asked."""
    complete = taken is not None
    taken = set(taken or ())
    if not complete:
        for chunk in chunks(sorted(set(bases.values()))):
            taken.update(slug for (slug,) in select_in(Author, ["slug"], "slug", chunk))
    chosen: dict[str, str] = {}
    for key in sorted(bases):
        base, n = bases[key], 1
        while numbered(base, n) in taken:
            n += 1
            if not complete and n % 10 == 2:  # ask for the next ten at once
                candidates = [numbered(base, m) for m in range(n, n + 10)]
                taken.update(Author.objects.filter(slug__in=candidates).values_list("slug", flat=True))
        chosen[key] = numbered(base, n)
        taken.add(chosen[key])
    return chosen


def _rewrite(
    PaperAuthor, before: dict[tuple[str, int], int], wanted: dict[tuple[str, int], int], new: Collection[str] = ()
) -> set[int]:
    """Replace the rows of the papers whose places differ (``new``: papers that have none); the
    ids of the authors that gained or lost a place."""
    changed = {place[0] for place, aid in before.items() if wanted.get(place) != aid}
    changed |= {place[0] for place, aid in wanted.items() if before.get(place) != aid}
    for chunk in chunks(sorted(changed - set(new))):
        delete_in(PaperAuthor, "paper", chunk)
    rows = [(pid, pos, aid) for (pid, pos), aid in wanted.items() if pid in changed]
    insert_rows(PaperAuthor, ["paper", "position", "author"], rows)
    old = {(pid, aid) for (pid, _), aid in before.items() if pid in changed}
    new = {(pid, aid) for (pid, _), aid in wanted.items() if pid in changed}
    return {aid for _, aid in old ^ new}


def link_papers(
    papers: Mapping[str, list[str]], author_ids: Mapping[str, int], new: Collection[str] = (), PaperAuthor=None
) -> set[int]:
    """Point each paper's positions at the authors of its names (``papers``: paper id -> names,
    ``author_ids``: key -> author id, from ``ensure_authors``; ``new``: papers just created,
    which have no places yet). Returns the ids of the authors that gained or lost a paper."""
    PaperAuthor = PaperAuthor or _models()[1]
    ids = sorted(papers)
    before: dict[tuple[str, int], int] = {}
    for chunk in chunks(sorted(set(ids) - set(new))):
        rows = select_in(PaperAuthor, ["paper", "position", "author"], "paper", chunk)
        before.update(((pid, pos), aid) for pid, pos, aid in rows)
    wanted: dict[tuple[str, int], int] = {}
    for pid in ids:
        for position, spelling in enumerate(papers[pid]):
            key = parsed(spelling).key
            if key:
                wanted[(pid, position)] = author_ids[key]
    return _rewrite(PaperAuthor, before, wanted, new)


MEMBER_FIELDS = ("pk", "family", "initials", "abbreviated", "user_id", "same_as_id", "support")


def resolve(author_ids: Iterable[int], Author=None, PaperAuthor=None) -> int:
    """Apply the matching rules (``names.merge_targets``) where these authors may change what
    they decide: the groups (family name, first initial) of these authors that hold an
    abbreviated name, and the groups of the matches whose support their names may have made
    ambiguous (a co-author's signature carried by one author more). Every author of those
    groups gets the ``same_as`` the corpus gives it now. The authors are locked first (in id
    order), so that two imports resolving one group one after the other leave what the later
    one saw. Returns how many authors changed page."""
    Author_, PaperAuthor_ = _models() if Author is None else (Author, PaperAuthor)
    groups: set[str] = set()
    carried: set[str] = set()
    for chunk in chunks(sorted(set(author_ids))):
        for sig, family, initials in select_in(Author_, ["signature", "family", "initials"], "pk", chunk):
            carried.add(sig)
            if family and initials:
                groups.add(sig)
    # Matches are few (a match needs a rare name, bench/author_matching.py): all of them are read
    # (through the index of the matched names).
    for sig, support, same_as in select_indexed(Author_, "author_matched", ["signature", "support", "same_as"]):
        if same_as is not None and carried & set(support.split()):
            groups.add(sig)
    # Only a group with an abbreviated name can match anything (a small index: they are 1 in 100).
    abbreviated = {sig for (sig,) in select_indexed(Author_, "author_abbreviated", ["signature"], "signature", groups)}
    groups &= abbreviated
    if not groups:
        return 0
    with transaction.atomic():
        # A group with two full names that have papers matches nothing (rule 1); the common ones
        # ("y|wang") hold thousands of names: the database looks for a second one and stops there.
        crowded = crowded_groups(Author_, PaperAuthor_, groups)
        # Their matches are undone, found through the index of the matched names (a crowded group
        # has thousands of names and none or a few matches).
        left = select_indexed(Author_, "author_matched", ["pk", "same_as"], "signature", crowded)
        undone = sum(same_as is not None for _, same_as in left)
        for chunk in chunks(sorted(pk for pk, _ in left)):
            Author_.objects.filter(pk__in=chunk).update(same_as=None, support="")
        groups -= crowded
        members = []
        for chunk in chunks(sorted(groups)):
            locked = Author_.objects.select_for_update().filter(signature__in=chunk).order_by("pk")
            members += list(locked.values_list(*MEMBER_FIELDS))
        members.sort()
        linked: set[int] = set()
        for chunk in chunks([m[0] for m in members]):
            rows = PaperAuthor_.objects.filter(author_id__in=chunk).values_list("author_id", flat=True).distinct()
            linked.update(rows)
        entries = entries_of(members, linked)
        pairs = candidates(entries)
        papers: dict[int, set[str]] = defaultdict(set)
        signatures: dict[str, set[str]] = defaultdict(set)
        for chunk in chunks(sorted(set(pairs) | set(pairs.values()))):
            for aid, pid in PaperAuthor_.objects.filter(author_id__in=chunk).values_list("author_id", "paper_id"):
                papers[aid].add(pid)
        for chunk in chunks(sorted({p for ps in papers.values() for p in ps})):
            for pid, sig in PaperAuthor_.objects.filter(paper_id__in=chunk).values_list(
                "paper_id", "author__signature"
            ):
                signatures[pid].add(sig)
        supports: dict[int, list[str]] = {}
        targets = merge_targets(entries, papers, signatures, carriers(Author_), supports=supports)
        return undone + apply_targets(Author_, members, targets, supports)


def carriers(Author):
    """``merge_targets``' count of the authors carrying signatures, asked of the database."""

    def count(found: set[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for chunk in chunks(sorted(found)):
            rows = Author.objects.filter(signature__in=chunk).values_list("signature").annotate(n=Count("pk"))
            counts.update(rows.order_by())
        return counts

    return count


def entries_of(members: list[tuple], linked: set[int]) -> list[Entry]:
    """The authors the rules read: those of ``members`` (MEMBER_FIELDS of whole families) that
    have papers (``linked``)."""
    return [
        Entry(pk, family, initials, abbreviated, claimed=user_id is not None)
        for pk, family, initials, abbreviated, user_id, *_ in members
        if pk in linked
    ]


def apply_targets(Author, members: list[tuple], targets: dict[int, int], supports: dict[int, list[str]]) -> int:
    """Set ``same_as`` and ``support`` of ``members`` as ``targets`` (pk -> pk) and ``supports``
    say; returns how many authors changed page."""
    changed, moved = [], 0
    for pk, *_, same_as, support in members:
        wanted = support_text(supports.get(pk, []))
        if targets.get(pk) != same_as or wanted != support:
            changed.append(Author(pk=pk, same_as_id=targets.get(pk), support=wanted))
            moved += targets.get(pk) != same_as
    Author.objects.bulk_update(changed, ["same_as", "support"], batch_size=1000)
    return moved


def support_text(signatures: list[str]) -> str:
    """Signatures, space-separated, as many whole ones as the column holds."""
    text = ""
    for sig in signatures:
        if len(text) + len(sig) + 1 > 255:
            break
        text = f"{text} {sig}" if text else sig
    return text


def relink(papers: Mapping[str, object]) -> int:
    """Link these papers (paper id -> ``Paper.authors``) to their authors, from scratch or
    again, and resolve the families they touch: what an import or an admin edit calls.
    Returns how many authors changed pages (new links, lost links, matches)."""
    names = {pid: names_of(authors) for pid, authors in papers.items()}
    author_ids = ensure_authors(n for ns in names.values() for n in ns)
    with transaction.atomic():
        touched = link_papers(names, author_ids)
    return len(touched) + (resolve(touched) if touched else 0)


def _table_and_columns(model, fields: list[str]) -> tuple[str, str]:
    table, *columns = quoted_columns(model, fields)
    return table, ", ".join(columns)


def select_in(model, fields: list[str], field: str, values) -> list[tuple]:
    """``fields`` of the rows whose ``field`` is one of ``values``, in plain SQL: the ORM
    prepares each value of a long IN list one by one, which an import of thousands of names a
    batch pays for many times over."""
    table, columns = _table_and_columns(model, fields)
    _, column = _table_and_columns(model, [field])
    found: list[tuple] = []
    with connection.cursor() as cursor:
        for chunk in chunks(sorted(set(values))):
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"SELECT {columns} FROM {table} WHERE {column} IN ({marks})", chunk)
            found += cursor.fetchall()
    return found


def select_indexed(model, index: str, fields: list[str], field: str | None = None, values=None) -> list[tuple]:
    """``fields`` of the rows of the partial index ``index`` of ``model`` (those its condition
    holds for) whose ``field`` is one of ``values`` (without ``field``: all of them), read
    through that index. The condition is written as the index's own (SQLite uses a partial
    index only for a query that repeats its condition word for word), and SQLite is told the
    index by name: with no statistics its planner prefers the whole column's index, which reads
    every name of a group where the partial one reads a few."""
    table, columns = _table_and_columns(model, fields)
    condition = index_condition(model, index)
    if connection.vendor == "sqlite":
        table = f"{table} INDEXED BY {connection.ops.quote_name(index)}"
    sql = f"SELECT {columns} FROM {table} WHERE {condition}"
    if field is None:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()
    _, column = _table_and_columns(model, [field])
    found: list[tuple] = []
    with connection.cursor() as cursor:
        for chunk in chunks(sorted(set(values))):
            cursor.execute(f"{sql} AND {column} IN ({', '.join(['%s'] * len(chunk))})", chunk)
            found += cursor.fetchall()
    return found


def index_condition(model, name: str) -> str:
    """The condition of the partial index ``name`` of ``model`` in SQL, as its CREATE INDEX
    wrote it (``models.Index._get_condition_sql``)."""
    (index,) = (i for i in model._meta.indexes if i.name == name)
    query = Query(model, alias_cols=False)
    sql, params = query.build_where(index.condition).as_sql(query.get_compiler(connection=connection), connection)
    editor = connection.SchemaEditorClass(connection)
    return sql % tuple(editor.quote_value(p) for p in params)


def crowded_groups(Author, PaperAuthor, groups: Iterable[str]) -> set[str]:
    """The groups (signatures) of ``groups`` that hold two full names with papers or more
    (rule 1 of ``names``: they match nothing). The database looks for each group's second such
    name and stops there: the common groups ("y|wang") hold thousands."""
    author, pk, signature, abbreviated = quoted_columns(Author, ["pk", "signature", "abbreviated"])
    links, linked = quoted_columns(PaperAuthor, ["author"])
    crowded: set[str] = set()
    with connection.cursor() as cursor:
        for chunk in chunks(sorted(set(groups))):
            wanted = ", ".join(["(%s)"] * len(chunk))
            cursor.execute(
                f"WITH wanted (sig) AS (VALUES {wanted}) SELECT sig FROM wanted WHERE ("
                f"SELECT a.{pk} FROM {author} a WHERE a.{signature} = wanted.sig AND NOT a.{abbreviated} "
                f"AND EXISTS (SELECT 1 FROM {links} l WHERE l.{linked} = a.{pk}) LIMIT 1 OFFSET 1"
                ") IS NOT NULL",
                chunk,
            )
            crowded.update(sig for (sig,) in cursor.fetchall())
    return crowded


def delete_in(model, field: str, values) -> None:
    """Delete the rows whose ``field`` is one of ``values`` (plain SQL, as ``select_in``; for
    models no signal or cascade listens to)."""
    table, column = _table_and_columns(model, [field])
    with connection.cursor() as cursor:
        for chunk in chunks(sorted(set(values))):
            cursor.execute(f"DELETE FROM {table} WHERE {column} IN ({', '.join(['%s'] * len(chunk))})", chunk)


def link_all(Paper, Author, PaperAuthor, report=None) -> dict[str, int]:
    """Link every paper of the database (the data migration; ``report(text)`` hears progress).
    In memory: each distinct name is read once; authors are created, links written and
    families resolved in a few bulk statements. Running it again changes nothing."""
    keys: dict[str, str] = {}  # spelling -> key
    found: dict[str, Name] = {}  # key -> the name read
    spellings: dict[str, str] = {}  # key -> best spelling
    papers: dict[str, list[str]] = {}
    for pid, authors in Paper.objects.order_by().values_list("pk", "authors").iterator(chunk_size=CHUNK):
        papers[pid] = names_of(authors)
        for spelling in papers[pid]:
            if spelling not in keys:
                name = parse(spelling)
                keys[spelling] = name.key
                shown = shown_name(spelling)
                if name.key and (name.key not in spellings or _better(spellings[name.key], shown)):
                    spellings[name.key], found[name.key] = shown, name
    existing = dict(Author.objects.values_list("key", "pk").iterator(chunk_size=CHUNK))
    respelled = [
        Author(pk=pk, name=spellings[key])
        for key, pk, name in Author.objects.values_list("key", "pk", "name").iterator(chunk_size=CHUNK)
        if key in spellings and _better(name, spellings[key])
    ]
    Author.objects.bulk_update(respelled, ["name"], batch_size=1000)
    taken = set(Author.objects.values_list("slug", flat=True).iterator(chunk_size=CHUNK))
    new = {key: slug_for(spelling) for key, spelling in spellings.items() if key not in existing}
    slugs = free_slugs(Author, new, taken=taken)
    insert_rows(Author, AUTHOR_FIELDS, [author_row(spellings[k], slugs[k], found[k]) for k in sorted(new)])
    if report:
        report(f"{len(new)} authors created for {len(papers)} papers")
    author_ids = dict(Author.objects.values_list("key", "pk").iterator(chunk_size=CHUNK))
    rows = PaperAuthor.objects.values_list("paper_id", "position", "author_id").iterator(chunk_size=CHUNK)
    before = {(pid, pos): aid for pid, pos, aid in rows}
    wanted = {
        (pid, pos): author_ids[keys[s]] for pid, names in papers.items() for pos, s in enumerate(names) if keys[s]
    }
    touched = _rewrite(PaperAuthor, before, wanted)
    if report:
        report(f"{len(wanted)} places of names linked")
    members = list(Author.objects.order_by("pk").values_list(*MEMBER_FIELDS).iterator(chunk_size=CHUNK))
    entries = entries_of(members, set(wanted.values()))
    pairs = candidates(entries)
    involved = set(pairs) | set(pairs.values())
    papers_of: dict[int, set[str]] = defaultdict(set)
    signatures: dict[str, set[str]] = defaultdict(set)
    signature_of = dict(Author.objects.values_list("pk", "signature").iterator(chunk_size=CHUNK))
    for (pid, _), aid in wanted.items():
        if aid in involved:
            papers_of[aid].add(pid)
    around = {pid for ps in papers_of.values() for pid in ps}
    for (pid, _), aid in wanted.items():
        if pid in around:
            signatures[pid].add(signature_of[aid])
    everyone = Counter(signature_of.values())
    supports: dict[int, list[str]] = {}
    count = lambda found: {s: everyone[s] for s in found}  # noqa: E731
    targets = merge_targets(entries, papers_of, signatures, count, supports=supports)
    merged = apply_targets(Author, members, targets, supports)
    return {
        "papers": len(papers),
        "authors": len(new),
        "places": len(wanted),
        "touched": len(touched),
        "merged": merged,
    }
