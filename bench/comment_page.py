"""A paper's page with 200 comments against the same page without any (the baseline, measured
in the same run, in turns): time to answer, database queries and size, for a signed-in reader
(every comment with its forms: never cached) and an anonymous one with the page cache off and on.

The papers are the demo corpus, indexed (related papers come from the index). The page with
comments is a copy of a demo paper (the same title and abstract, another id); its discussion
holds 200 comments: 120 threads, 80 replies among them, in Markdown with maths, links, code and
quotes, some upvoted, one deleted above its replies. The target is a ratio within 2.

    python bench/comment_page.py [--comments 200] [--rounds 60] [--render]

``--render`` also times the comment renderer on the slowest bodies known (10,000 characters,
the longest comment) against a plain paragraph of the same length.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from common import ROOT, setup_django

BODIES = [
    "A nice result. Does it hold for $n > 10^6$ tokens? The bound $O(n \\log n)$ looks tight.",
    "I tried this with **8 heads** and got:\n\n```\nloss 1.93 -> 1.71\n```\n\nSee [my notes](https://example.org/notes).",
    "> The attention sink is the first token.\n\nWhy the first one and not a learned one?",
    "- works on long context\n- needs no retraining\n- $$\\sum_i \\alpha_i = 1$$ still holds",
    "Thanks for sharing the code! Is there a checkpoint?",
]


def make_discussion(paper, count: int, users) -> None:
    from paperwire.discussions.threads import delete_comment, post_comment, set_comment_vote

    tops = []
    for n in range(count):
        author = users[n % len(users)]
        body = f"{BODIES[n % len(BODIES)]} (comment {n})"
        if n % 5 in (1, 3) and tops:  # 2 in 5 are replies: 80 of 200
            comment = post_comment(author, paper, body, reply_to=tops[(n * 7) % len(tops)].pk)
        else:
            comment = post_comment(author, paper, body)
            tops.append(comment)
        if n % 4 == 0:
            set_comment_vote(users[(n + 1) % len(users)], comment.pk, True)
    with_reply = next(t for t in tops if t.replies.exists())
    delete_comment(with_reply.author, with_reply.pk)


def timed(client, path: str) -> tuple[float, int, int]:
    """Seconds to answer, queries made, bytes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        response = client.get(path)
        seconds = time.perf_counter() - start
    assert response.status_code == 200, response.status_code
    return seconds, len(queries), len(response.content)


def compare(name: str, client, baseline: str, measured: str, rounds: int) -> float:
    times: dict[str, list[float]] = {baseline: [], measured: []}
    for path in (baseline, measured):  # warm: templates, the index, the caches of the database
        timed(client, path)
    for round_ in range(rounds):
        for path in (baseline, measured) if round_ % 2 == 0 else (measured, baseline):
            times[path].append(timed(client, path)[0])
    _, base_queries, base_bytes = timed(client, baseline)
    _, queries, size = timed(client, measured)
    base, with_comments = statistics.median(times[baseline]), statistics.median(times[measured])
    ratio = with_comments / base
    print(
        f"{name}: without comments p50 {base * 1000:.1f} ms, {base_queries} queries, {base_bytes / 1024:.0f} kB; "
        f"with them p50 {with_comments * 1000:.1f} ms, {queries} queries, {size / 1024:.0f} kB; ratio {ratio:.2f}"
    )
    return ratio


def render_times() -> None:
    from paperwire.discussions.rendering import MAX_BODY_CHARS, render

    n = MAX_BODY_CHARS
    bodies = {
        "plain paragraph (baseline)": ("word " * n)[:n],
        "'![' repeated": "![" * (n // 2),
        "'[' repeated": "[" * n,
        "'*_' repeated": "*_" * (n // 2),
        "'$a$ ' repeated": "$a$ " * (n // 4),
        "'\\(' repeated, never closed": "\\(" * (n // 2),
        "lists nested 100 deep": "".join("  " * i + "- x\n" for i in range(100))[:n],
        "100 kB of '*' (read up to the limit)": "*" * 100_000,
    }
    base = None
    for name, body in bodies.items():
        best = min(_once(render, body) for _ in range(3))
        base = base or best
        print(f"render {name}: {best * 1000:.1f} ms ({best / base:.0f}x)")


def _once(render, body: str) -> float:
    start = time.perf_counter()
    render(body)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comments", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--render", action="store_true", help="also time the renderer on hostile bodies")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="paperwire-comments-"))
    setup_django(home, PAPERWIRE_PAGE_CACHE_SECONDS="60")
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.cache import caches
    from django.test import Client
    from django.test.utils import override_settings

    from paperwire.ingest.importer import import_files
    from paperwire.papers.models import Paper
    from paperwire.search.updating import update_indexes

    settings.ALLOWED_HOSTS = ["testserver"]
    import_files([ROOT / "paperwire" / "demo" / "attention_papers.jsonl"], progress=False)
    original = Paper.objects.order_by("-upvotes", "pk").first()
    copy = Paper.objects.get(pk=original.pk)
    copy.pk = "9999.00001"
    copy.save()
    update_indexes()
    users = [User.objects.create_user(f"reader{n}", password="a long pass phrase") for n in range(20)]
    make_discussion(copy, args.comments, users)
    copy.refresh_from_db()
    print(
        f"{original.pk} against its copy {copy.pk} with {args.comments} comments "
        f"({copy.local_comments} visible, one deleted above its replies)"
    )
    pages = (f"/papers/{original.pk}", f"/papers/{copy.pk}")
    reader = Client()
    reader.force_login(users[0])
    ratios = [compare("signed in", reader, *pages, args.rounds)]
    with override_settings(PAGE_CACHE_SECONDS=0):
        ratios.append(compare("anonymous, no page cache", Client(), *pages, args.rounds))
    caches["pages"].clear()
    ratios.append(compare("anonymous, page cache", Client(), *pages, args.rounds))
    print(f"worst ratio {max(ratios):.2f} (target: within 2)")
    if args.render:
        render_times()


if __name__ == "__main__":
    main()
