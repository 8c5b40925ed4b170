"""The two derived index files under PAPERWIRE_HOME/index: a tantivy BM25 index and a usearch
HNSW vector index. Both are rebuilt from the database whenever missing or stale.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tantivy
from django.conf import settings

from paperwire.search.text import ParsedQuery

SCHEMA_VERSION = 2
ANALYZER = "paper_en"
# The title is indexed twice in the text field: a title match weighs more. Measured on
# SciFact train, nDCG@10 0.707 against 0.701 for once and 0.677 for separate fields.
TITLE_REPEAT = 2


def index_dir() -> Path:
    return Path(settings.PAPERWIRE_HOME) / "index"


def index_version(folder: Path | None = None) -> str:
    """Changes whenever this node's indexes do (each update rewrites state.json last)."""
    try:
        return str(((folder or index_dir()) / "state.json").stat().st_mtime_ns)
    except FileNotFoundError:
        return "none"


class Freshness:
    """When a reader should look at this node's index files again: at once after an update has
    rewritten state.json (so that no response cached under the new index version is computed
    from the old files), and every SEARCH_RELOAD_SECONDS in any case."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._version = ""
        self._checked = 0.0

    def due(self) -> bool:
        now, version = time.monotonic(), index_version(self.folder)
        if version == self._version and now - self._checked <= settings.SEARCH_RELOAD_SECONDS:
            return False
        self._version, self._checked = version, now
        return True


def title_key(title: str) -> str:
    """Titles compared for an exact-title pin: case, spacing and punctuation ignored."""
    return " ".join("".join(ch if ch.isalnum() else " " for ch in title.lower()).split())


def analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stopword("english"))
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def day_number(day: dt.date | None) -> int:
    return day.year * 10000 + day.month * 100 + day.day if day else 0


@dataclass
class LexicalHit:
    paper_id: str
    key: int
    score: float


class LexicalIndex:
    """BM25 over one text field (title twice, abstract, authors), with stemming and stop words."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw")
        builder.add_unsigned_field("key", stored=True, indexed=False)
        builder.add_text_field("title_key", tokenizer_name="raw", index_option="basic")
        builder.add_text_field("text", tokenizer_name=ANALYZER, index_option="position")
        builder.add_text_field("category", tokenizer_name="raw", index_option="basic")
        builder.add_integer_field("day", indexed=True, fast=True)
        self.schema = builder.build()
        self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
        self.index.register_tokenizer(ANALYZER, analyzer())
        self._analyzer = analyzer()
        self._freshness = Freshness(path.parent)

    # -- writing -----------------------------------------------------------------------------
    def writer(self):
        return self.index.writer(heap_size=64_000_000, num_threads=1)

    @staticmethod
    def document(paper, key: int) -> tantivy.Document:
        text = " ".join([paper.title] * TITLE_REPEAT + [paper.abstract, " ".join(paper.authors)])
        doc = tantivy.Document(
            id=paper.id, key=key, title_key=title_key(paper.title), text=text, day=day_number(paper.published)
        )
        for category in paper.categories or []:
            doc.add_text("category", category)
        return doc

    # -- reading -----------------------------------------------------------------------------
    def searcher(self) -> tantivy.Searcher:
        if self._freshness.due():
            self.index.reload()
        return self.index.searcher()

    def analyze(self, text: str) -> list[str]:
        return self._analyzer.analyze(text)

    def search(
        self, parsed: ParsedQuery, limit: int, *, date_from=None, date_to=None, category=None, ids=None
    ) -> list[LexicalHit]:
        """BM25 hits, best first; ``ids`` keeps only those papers."""
        if parsed.empty:
            return []
        query, _errors = self.index.parse_query_lenient(parsed.tantivy_syntax(), ["text"])
        clauses = [(tantivy.Occur.Must, query)]
        if date_from or date_to:
            clauses.append(
                (
                    tantivy.Occur.Must,
                    tantivy.Query.range_query(
                        self.schema,
                        "day",
                        tantivy.FieldType.Integer,
                        day_number(date_from) if date_from else 0,
                        day_number(date_to) if date_to else 99991231,
                    ),
                )
            )
        if category:
            clauses.append((tantivy.Occur.Must, tantivy.Query.term_query(self.schema, "category", category)))
        if ids is not None:
            clauses.append((tantivy.Occur.Must, tantivy.Query.term_set_query(self.schema, "id", list(ids))))
        if len(clauses) > 1:
            query = tantivy.Query.boolean_query(clauses)
        searcher = self.searcher()
        hits = []
        for score, address in searcher.search(query, limit, count=False).hits:
            doc = searcher.doc(address)
            hits.append(LexicalHit(doc["id"][0], doc["key"][0], score))
        return hits

    def exact_title(self, title: str) -> list[str]:
        key = title_key(title)
        if not key:
            return []
        searcher = self.searcher()
        query = tantivy.Query.term_query(self.schema, "title_key", key)
        return [searcher.doc(address)["id"][0] for _, address in searcher.search(query, 5, count=False).hits]


class VectorIndex:
    """usearch HNSW over unit vectors (cosine), keyed by PaperVector.id.

    Readers map the file (``view``) and pick up a new one when it is replaced; the writer
    loads it, adds, and replaces the file atomically.
    """

    def __init__(self, path: Path, dimensions: int) -> None:
        self.path = path
        self.dimensions = dimensions
        self._index = None
        self._stamp = None
        self._freshness = Freshness(path.parent)

    def _new(self):
        from paperwire.search.ann import Index

        return Index(
            ndim=self.dimensions, metric="cos", dtype="f16", connectivity=16, expansion_add=128, expansion_search=128
        )

    # -- writing -----------------------------------------------------------------------------
    def load_for_writing(self):
        index = self._new()
        if self.path.exists():
            index.load(str(self.path))
        return index

    def save(self, index) -> None:
        temporary = self.path.with_suffix(".tmp")
        index.save(str(temporary))
        os.replace(temporary, self.path)

    # -- reading -----------------------------------------------------------------------------
    def reader(self):
        if self._index is None or self._freshness.due():
            try:
                stat = self.path.stat()
                stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            except FileNotFoundError:
                self._index, self._stamp = None, None
                return None
            if stamp != self._stamp:
                index = self._new()
                index.view(str(self.path))
                self._index, self._stamp = index, stamp
        return self._index

    def search(self, vector: np.ndarray, limit: int) -> list[tuple[int, float]]:
        """(key, cosine similarity), most similar first."""
        index = self.reader()
        if index is None or len(index) == 0:
            return []
        matches = index.search(vector.astype(np.float32), min(limit, len(index)))
        return [(int(k), 1.0 - float(d)) for k, d in zip(matches.keys, matches.distances, strict=True)]

    def vectors(self, keys: list[int]) -> dict[int, np.ndarray]:
        index = self.reader()
        if index is None or not keys:
            return {}
        found = index.get(np.array(keys, dtype=np.uint64))
        return {k: np.asarray(v, dtype=np.float32) for k, v in zip(keys, found, strict=True) if v is not None}


@dataclass
class IndexState:
    """What the index files hold: written last, after the files themselves."""

    version: int = SCHEMA_VERSION
    model: str | None = None
    watermark: str | None = None  # ISO time: papers updated before it are indexed

    @classmethod
    def load(cls, folder: Path) -> IndexState:
        try:
            data = json.loads((folder / "state.json").read_text())
            return cls(**{k: data.get(k) for k in ("version", "model", "watermark")})
        except (FileNotFoundError, ValueError, TypeError):
            return cls(version=0)

    def save(self, folder: Path) -> None:
        temporary = folder / "state.json.tmp"
        temporary.write_text(json.dumps(self.__dict__))
        os.replace(temporary, folder / "state.json")
