import json

from django.core.management.base import BaseCommand

from paperwire.core import argtypes
from paperwire.search.engine import MODES, RANKED, OpenIndexes, search
from paperwire.search.integrity import NOT_BUILT


class Command(BaseCommand):
    help = "Search the papers from the command line."

    def add_arguments(self, parser):
        parser.add_argument("query")
        parser.add_argument("--limit", type=argtypes.integer(1, 1000), default=10)
        parser.add_argument("--mode", choices=MODES, default="hybrid")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print a JSON array, best first")

    def handle(self, *args, query, limit, mode, as_json, **options):
        # One run, not a page of many: it ranks as deep as it is asked (the pages stop at RANKED).
        results = search(query, mode=mode, limit=limit, depth=max(limit, RANKED), snippets=False)
        if results.notice:
            self.stderr.write(results.notice)
            if OpenIndexes.get().lexical.problem == NOT_BUILT:  # what the search just read, not a new check
                self.stderr.write("Build the search index with `paperwire index` (`paperwire serve` builds it too).")
        if as_json:
            rows = [
                {
                    "id": h.paper.id,
                    "title": h.paper.title,
                    "score": _finite(h.score),
                    "pinned": h.pinned,
                    "published": h.paper.published.isoformat() if h.paper.published else None,
                    "upvotes": h.paper.upvotes,
                    "url": h.paper.get_absolute_url(),
                }
                for h in results.hits
            ]
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        if not results.hits:
            self.stdout.write("no results")
        for rank, hit in enumerate(results.hits, start=1):
            self.stdout.write(f"{rank:>3}. {hit.paper.id:<16} {_finite(hit.score):6.3f}  {hit.paper.title}")


def _finite(score: float) -> float:
    """Pinned papers score infinity internally; JSON has no infinity."""
    return 1e9 if score == float("inf") else round(score, 6)
