"""No index of ours reloads on its own.

tantivy-py gives every index it opens or creates a reader that reloads from a thread of
tantivy's, half a second after a commit changed meta.json. That reload opened the segments again
through the mappings the process already had: a segment file cut short under them killed the
whole process with SIGBUS (twice in whole test runs, in test_index_integrity's truncated cases,
caught under gdb in the thread "watch-callbacks"). The scene is played in a forked child, so
that a SIGBUS fails this test, not the run.
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path

import pytest

from paperwire.search.index_files import create_lexical, lexical_writer, open_lexical

WATCHER_POLLS_EVERY = 0.5  # seconds: tantivy's meta.json watcher (directory/mmap_directory/file_watcher.rs)


def in_a_child(body) -> int:
    """``body`` run in a forked copy of this process: 0 when it returned, 1 when it raised,
    -N when signal N killed it."""
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            body()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def write(index, *texts: str) -> None:
    from tantivy import Document

    writer = lexical_writer(index)
    for n, text in enumerate(texts):
        document = Document(id=f"2501.{n:05d}", title_key=text, text=text, day=1, by_date=0, by_upvotes=0)
        document.add_unsigned("key", n)
        writer.add_document(document)
    writer.commit()
    writer.wait_merging_threads()


def segment_files(path: Path) -> list[Path]:
    return [p for p in path.iterdir() if p.suffix in (".idx", ".term", ".store", ".pos", ".fast")]


@pytest.mark.parametrize("opened", [create_lexical, open_lexical], ids=["created", "opened"])
def test_a_commit_then_a_file_cut_short_under_a_searcher_kills_nothing(tmp_path, opened):
    path = tmp_path / "lexical"

    def scene():
        index = create_lexical(path)
        write(index, *(f"paper {n} on attention, sparse {n * 7919} and dense {n * 104729}" for n in range(3000)))
        if opened is open_lexical:
            del index
            index = open_lexical(path)
        index.reload()
        searcher = index.searcher()  # maps the first segment's files
        assert searcher.num_docs == 3000
        first = segment_files(path)
        assert max(file.stat().st_size for file in first) > 4 * 4096  # cut short by whole pages
        write(index, "mixture of experts")  # meta.json changes: the watcher will notice
        for file in first:
            os.truncate(file, file.stat().st_size // 2)
        time.sleep(3 * WATCHER_POLLS_EVERY)  # an index that reloads on its own has done so by now
        assert searcher.num_docs == 3000  # this reader still answers from what it had

    assert in_a_child(scene) == 0, "the child died (SIGBUS is -7) or failed (1): see its output above"
