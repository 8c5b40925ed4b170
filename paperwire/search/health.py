"""How this node's search index is doing, for /healthz."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from paperwire.papers.models import Paper
from paperwire.search.embedder import ModelUnavailable, get_embedder
from paperwire.search.integrity import NOT_BUILT, IndexState, check, index_dir, rebuilding

# Index states in which search answers from a fallback or a stale copy: the node is degraded.
DEGRADED = ("missing", "damaged", "rebuilding")


def index_health() -> dict:
    """``status``: ``ok``, ``behind`` (papers changed since the last update, or papers whose
    embedding is still to come: ``papers_not_indexed``, ``papers_not_embedded``), ``missing`` (never
    built), ``damaged`` (fails the integrity check) or ``rebuilding``; ``reason`` unless ok."""
    folder = index_dir()
    state = IndexState.load(folder)
    problems = check(folder, state)
    rebuild = rebuilding(folder)
    report: dict = {
        "papers": state.lexical["papers"] if state.lexical else 0,
        "vectors": state.vectors["count"] if state.vectors else 0,
        "semantic": bool(state.model),
        "updated_at": state.watermark,
    }
    if problems.get("lexical") == NOT_BUILT:
        status, reason = "missing", "not built yet"
    elif problems:
        status, reason = "damaged", "; ".join(dict.fromkeys(problems.values()))
    elif rebuild:
        status, reason = "rebuilding", rebuild
    else:
        watermark = dt.datetime.fromisoformat(state.watermark) if state.watermark else None
        behind = Paper.objects.filter(updated_at__gt=watermark).count() if watermark else Paper.objects.count()
        # The embedding backlog (a large import, spread over passes): the papers of the keyword
        # index not in the vector index yet, from the record of both (no query).
        unembedded = max(0, report["papers"] - report["vectors"]) if report["semantic"] else 0
        status = "ok" if behind == 0 and unembedded == 0 else "behind"
        report.update(status=status, papers_not_indexed=behind, papers_not_embedded=unembedded)
        return report
    if status != "rebuilding":
        verb = "built" if status == "missing" else "rebuilt"
        reason += f"; being {verb} from the database" if rebuild else f"; to be {verb} from the database"
    report.update(status=status, reason=reason)
    return report


def model_health() -> dict:
    """The embedding model of this process: ``ok`` (with its ``name``), ``off`` when
    PAPERWIRE_EMBEDDING_MODEL=none, or ``unavailable`` with the ``reason`` (a damaged or missing
    file: semantic search is off until it is repaired)."""
    if settings.EMBEDDING_MODEL == "none":
        return {"status": "off"}
    try:
        return {"status": "ok", "name": get_embedder().name}
    except ModelUnavailable as error:
        return {"status": "unavailable", "reason": str(error)}


def pending_work(report: dict) -> list[str]:
    """What the node is still to do in the background for its search index, in words, from
    ``index_health()``'s report: empty once the index holds every paper."""
    if report["status"] in DEGRADED:
        return [f"search index: {report['reason']}"]
    pending = []
    if behind := report.get("papers_not_indexed") or 0:
        pending.append(f"search index: {behind:,} paper{'s' if behind != 1 else ''} not indexed yet")
    if unembedded := report.get("papers_not_embedded") or 0:
        papers = f"{unembedded:,} of {report['papers']:,} paper{'s' if report['papers'] != 1 else ''}"
        pending.append(f"semantic search: {papers} not embedded yet (found by keyword meanwhile)")
    return pending
