"""``/healthz``: whether the site can answer, for monitors and load balancers."""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse

from paperwire.operations.staticstorage import static_health
from paperwire.operations.updater import updater_health
from paperwire.search import DEGRADED, index_health, model_health, pending_work


def healthz(request: HttpRequest) -> JsonResponse:
    """200 ``ok`` while the database answers, the search index is whole and the collected static
    files are whole; 200 ``degraded``, with the reasons, while the index is missing, damaged or
    being rebuilt (search then answers from a fallback), the embedding model cannot run
    (semantic search is off), the static files are damaged (pages then link the package's
    files) or `serve`'s index updater has stopped (until it is started again); 503 when the
    database does not answer. ``pending``: the work still to be done in the background (`serve`
    answers before its index has caught up)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        index = index_health()
    except DatabaseError as error:
        return JsonResponse({"status": "error", "database": str(error)}, status=503)
    static = static_health()
    model = model_health()
    updater = updater_health()
    reasons = [f"search index: {index['reason']}"] if index["status"] in DEGRADED else []
    if model["status"] == "unavailable":
        reasons.append(f"semantic search: {model['reason']}")
    if static["status"] == "damaged":
        reasons.append(f"static files: {static['reason']}")
    if updater["status"] in ("restarting", "paused"):
        reasons.append(f"index updates: {updater['reason']}")
    health = {"status": "degraded", "reason": "; ".join(reasons)} if reasons else {"status": "ok"}
    pending = pending_work(index)
    return JsonResponse(
        {
            **health,
            "database": "ok",
            "index": index,
            "model": model,
            "static": static,
            "updater": updater,
            "pending": pending,
        }
    )
