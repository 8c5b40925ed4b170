"""Search: the index files and what queries them. Its public interface is this package's names
below; the floors above (digests, operations, api, web) import only these, never its modules
(tests/test_architecture.py checks it).
"""

from __future__ import annotations

from paperwire.core.interface import public_names

PUBLIC = {
    # Queries: the search of pages, API, feeds; related papers; topics among a set of papers.
    "search": "engine",
    "related": "engine",
    "categories": "engine",
    "Among": "engine",
    "Results": "engine",
    "MODES": "engine",
    "SORTS": "engine",
    "CANDIDATES": "engine",
    "RANKED": "engine",
    "MAX_QUERY_CHARS": "query",
    "clean": "query",
    # Keeping the index files up to date with the database, and their state.
    "update_indexes": "updating",
    "index_version": "index_files",
    "index_health": "health",
    "pending_work": "health",
    "model_health": "health",
    "DEGRADED": "health",
    "ModelUnavailable": "embedder",
}
__all__ = sorted(PUBLIC)

__getattr__ = public_names(__name__, PUBLIC)
