"""Papers' names to authors: the one place that writes ``Author``, ``PaperAuthor`` and
``Author.same_as``, used by the import (``paperwire.ingest.upsert``), by an admin edit of a
paper's names, and by the data migration that links the papers of an existing database
(``link_all``, which takes the migration's historical models).

Every step is idempotent: running it again over the same papers changes nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from functools import lru_cache

from django.db import IntegrityError, OperationalError, connection, models, transaction

from paperwire.people.names import (
    Entry,
    Name,
    candidates,
    merge_targets,
    numbered,
    parse,
    signature,
    slug_for,
    spelling_rank,
)

CHUNK = 2000  # keys or ids in one query (below every database's limit on parameters)


@lru_cache(maxsize=100_000)
def parsed(name: str) -> Name:
    return parse(name)


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
        key = parsed(spelling).key
        if key and (key not in best or _better(best[key], spelling)):
            best[key] = spelling
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
        found.update(
            (k, (pk, name)) for pk, k, name in Author.objects.filter(key__in=chunk).values_list("pk", "key", "name")
        )
    respelled = [Author(pk=pk, name=best[k]) for k, (pk, name) in found.items() if _better(name, best[k])]
    if respelled:
        Author.objects.bulk_update(sorted(respelled, key=lambda a: a.pk), ["name"])
    new = [k for k in keys if k not in found]
    if new:
        slugs = free_slugs(Author, {k: slug_for(best[k]) for k in new})
        Author.objects.bulk_create(
            [new_author(Author, best[k], slugs[k]) for k in new], ignore_conflicts=True, batch_size=500
        )
        for chunk in chunks(new):
            found.update((k, (pk, "")) for pk, k in Author.objects.filter(key__in=chunk).values_list("pk", "key"))
        if missing := [k for k in new if k not in found]:
            raise IntegrityError(f"{len(missing)} authors not created (their slug was taken meanwhile)")
    return {k: pk for k, (pk, _) in found.items()}


def new_author(Author, spelling: str, slug: str):
    name = parsed(spelling)
    return Author(
        key=name.key,
        slug=slug,
        name=spelling,
        family=name.family,
        initials=name.initials,
        abbreviated=name.abbreviated,
    )


def free_slugs(Author, bases: Mapping[str, str], taken: set[str] | None = None) -> dict[str, str]:
    """A slug for each key of ``bases`` (key -> base slug): the base, else the base numbered
    -2, -3… that no author has, nor another key of ``bases``. ``taken``: every slug in use,
    when the caller holds them all (the migration); else the database is asked."""
    complete = taken is not None
    taken = set(taken or ())
    if not complete:
        for chunk in chunks(sorted(set(bases.values()))):
            taken.update(Author.objects.filter(slug__in=chunk).values_list("slug", flat=True))
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


def _rewrite(PaperAuthor, before: dict[tuple[str, int], int], wanted: dict[tuple[str, int], int]) -> set[int]:
    """Replace the rows of the papers whose places differ; the ids of the authors that gained or
    lost a place."""
    changed = {place[0] for place, aid in before.items() if wanted.get(place) != aid}
    changed |= {place[0] for place, aid in wanted.items() if before.get(place) != aid}
    for chunk in chunks(sorted(changed)):
        PaperAuthor.objects.filter(paper_id__in=chunk).delete()
    rows = [(pid, pos, aid) for (pid, pos), aid in wanted.items() if pid in changed]
    insert_rows(PaperAuthor, ["paper", "position", "author"], rows)
    old = {(pid, aid) for (pid, _), aid in before.items() if pid in changed}
    new = {(pid, aid) for (pid, _), aid in wanted.items() if pid in changed}
    return {aid for _, aid in old ^ new}


def link_papers(papers: Mapping[str, list[str]], author_ids: Mapping[str, int], PaperAuthor=None) -> set[int]:
    """Point each paper's positions at the authors of its names (``papers``: paper id -> names,
    ``author_ids``: key -> author id, from ``ensure_authors``). Returns the ids of the authors
    that gained or lost a paper."""
    PaperAuthor = PaperAuthor or _models()[1]
    ids = sorted(papers)
    before: dict[tuple[str, int], int] = {}
    for chunk in chunks(ids):
        rows = PaperAuthor.objects.filter(paper_id__in=chunk).values_list("paper_id", "position", "author_id")
        before.update(((pid, pos), aid) for pid, pos, aid in rows)
    wanted: dict[tuple[str, int], int] = {}
    for pid in ids:
        for position, spelling in enumerate(papers[pid]):
            key = parsed(spelling).key
            if key:
                wanted[(pid, position)] = author_ids[key]
    return _rewrite(PaperAuthor, before, wanted)


MEMBER_FIELDS = ("pk", "family", "initials", "abbreviated", "user_id", "same_as_id", "support")


def resolve(author_ids: Iterable[int], Author=None, PaperAuthor=None) -> int:
    """Apply the matching rules (``names.merge_targets``) to the family names of these authors,
    and to those of the matches their names may have made ambiguous (a co-author's signature
    that supported a match is carried by one author more): every author of those families gets
    the ``same_as`` the corpus gives it now. The authors are locked first (in id order), so
    that two imports resolving one family one after the other leave what the later one saw.
    Returns how many authors changed."""
    Author_, PaperAuthor_ = _models() if Author is None else (Author, PaperAuthor)
    ids = sorted(set(author_ids))
    families: set[str] = set()
    carried: set[str] = set()
    for chunk in chunks(ids):
        for family, initials, key in Author_.objects.filter(pk__in=chunk).values_list("family", "initials", "key"):
            families.add(family)
            carried.add(signature(family, initials, key))
    # Matches are few (a match needs a rare name, bench/author_matching.py): all of them are read.
    for family, support in Author_.objects.filter(same_as__isnull=False).values_list("family", "support"):
        if carried & set(support.split()):
            families.add(family)
    families.discard("")
    if not families:
        return 0
    with transaction.atomic():
        members = []
        for chunk in chunks(sorted(families)):
            locked = Author_.objects.select_for_update().filter(family__in=chunk).order_by("pk")
            members += list(locked.values_list(*MEMBER_FIELDS))
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
            rows = PaperAuthor_.objects.filter(paper_id__in=chunk).values_list(
                "paper_id", "author__family", "author__initials", "author__key"
            )
            for pid, family, initials, key in rows:
                signatures[pid].add(signature(family, initials, key))
        supports: dict[int, list[str]] = {}
        targets = merge_targets(entries, papers, signatures, carriers(Author_), supports=supports)
        return apply_targets(Author_, members, targets, supports)


def carriers(Author):
    """``merge_targets``' count of the authors carrying signatures, asked of the database."""

    def count(found: set[str]) -> dict[str, int]:
        counts = {}
        for sig in found:
            initial, bar, family = sig.partition("|")
            if bar and len(initial) == 1 and family:
                counts[sig] = Author.objects.filter(family=family, initials__startswith=initial).count()
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


def insert_rows(model, fields: list[str], rows: list[tuple]) -> None:
    """Many rows in a few statements, without building a model instance for each (the
    migration writes hundreds of thousands)."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(model._meta.get_field(f).column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        for chunk in chunks(rows, 5000):
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", chunk)


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
                if name.key and (name.key not in spellings or _better(spellings[name.key], spelling)):
                    spellings[name.key], found[name.key] = spelling, name
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
    fields = ["key", "slug", "name", "family", "initials", "abbreviated", "support"]
    rows = [
        (k, slugs[k], spellings[k], found[k].family, found[k].initials, found[k].abbreviated, "") for k in sorted(new)
    ]
    insert_rows(Author, fields, rows)
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
    found_by_id = {author_ids[key]: name for key, name in found.items()}
    for (pid, _), aid in wanted.items():
        if aid in involved:
            papers_of[aid].add(pid)
    around = {pid for ps in papers_of.values() for pid in ps}
    for (pid, _), aid in wanted.items():
        if pid in around:
            name = found_by_id.get(aid)
            signatures[pid].add(signature(name.family, name.initials, name.key) if name else str(aid))
    everyone = Counter(signature(family, initials, "") for _, family, initials, *_ in members if family and initials)
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
