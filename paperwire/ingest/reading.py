"""The reading half of ``paperwire import``: files to records, in this process or in a second one.

Reading (gzip, JSON, the checks of every field) and parsing the authors' names take about a
third of an import's time, and the import writes in one process while the machine's other core
waits. A large import (``PIPELINE_BYTES`` of files or more) therefore reads in a child process
forked for the purpose, which sends what it read through a pipe, a chunk of records at a time,
with the names of their authors already parsed; the importer writes meanwhile. Both ways yield
the same events in the same order, so the importer has one loop and its report does not depend
on the way (``tests/test_import_reading.py`` compares them). The pipe's buffer bounds what is
read ahead: the child waits while the writer is behind.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from queue import Queue

from paperwire.ingest.formats import Item, SourceFile, UnreadableFile
from paperwire.people.linking import names_of, parsed, remember_parsed
from paperwire.people.names import Name

PIPELINE_BYTES = 8 << 20  # files at least this large (in all) are read in a second process
CHUNK = 256  # records sent at a time at most
CHUNK_CHARACTERS = 1 << 20  # and their titles, abstracts and names (64 more a name) at most
AHEAD = 16  # chunks read ahead of the importer at most (some megabytes)
STOP = object()


@dataclass
class Opened:
    """The ``number``-th file (from 1) is being read."""

    number: int


@dataclass
class Chunk:
    """Items read, and where the file stands after them (a byte offset for the progress bar)."""

    items: list[Item]
    position: int
    names: dict[str, Name] = field(default_factory=dict)  # parsed by the reading process


@dataclass
class Unreadable:
    """The file cannot be read (at all, or past some point: what came before was sent)."""

    path: str
    error: str


Event = Opened | Chunk | Unreadable


class ReadingFailed(RuntimeError):
    """The reading process failed or died; nothing after the records already given is lost
    (the import can be run again)."""


def read_here(paths: list[Path], fmt: str) -> Iterator[Event]:
    """The events of reading ``paths`` in order, in this process."""
    for number, path in enumerate(paths, 1):
        yield Opened(number)
        try:
            source = SourceFile(path, fmt)
        except UnreadableFile as error:
            yield Unreadable(str(path), str(error))
            continue
        try:
            batch: list[Item] = []
            size = 0
            try:
                for item in source.items():
                    batch.append(item)
                    size += _size(item)
                    if len(batch) >= CHUNK or size >= CHUNK_CHARACTERS:
                        yield Chunk(batch, source.position())
                        batch, size = [], 0
            except UnreadableFile as error:
                yield Chunk(batch, source.position())
                yield Unreadable(str(path), str(error))
            else:
                yield Chunk(batch, source.position())
        finally:
            source.close()


def _size(item: Item) -> int:
    """About what ``item`` holds in memory, in characters: a chunk of long records or of many
    names is closed early, so that the reading process runs some megabytes ahead, not 4,096
    records of a megabyte."""
    record = item.record
    if record is None:
        return len(item.error)
    return len(record.title) + len(record.abstract) + sum(len(a) + 64 for a in names_of(record.authors))


def _with_names(chunk: Chunk, sent: set[str]) -> Chunk:
    """The chunk with the parsed names of its authors that were not sent lately."""
    for item in chunk.items:
        if item.record is not None:
            for name in names_of(item.record.authors):
                if name not in sent:
                    chunk.names[name] = parsed(name)
                    sent.add(name)
    if len(sent) > 16_384:  # the importer's cache of parsed names is bounded too
        sent.clear()
    return chunk


def end_with_parent(parent: int) -> None:
    """This process ends (SIGTERM) when the process ``parent`` does, however it ends (SIGKILL
    included): a reader left behind would read on for as long as its input yields no record
    before it finds the broken pipe. Linux only (prctl PR_SET_PDEATHSIG); elsewhere a no-op."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent ended before the request was made
        os._exit(1)


def _child(connection, other_end, paths: list[Path], fmt: str, parent: int) -> None:
    """Read, and send from a thread of its own: the reading goes on while a send waits for the
    importer, up to ``AHEAD`` chunks ahead (the importer takes a thousand records at a time, then
    writes them, and would otherwise wait for the next thousand to be read)."""
    # The importer's end of the pipe, inherited: closed, so that a send fails (a broken pipe)
    # once the importer has closed it, instead of waiting for a reader that is this process.
    other_end.close()
    # The importer's signal handlers are not this process's: SIGTERM (the importer stopping
    # it) and Ctrl-C end it at once, whatever the importer's process had installed.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    end_with_parent(parent)
    queue: Queue = Queue(maxsize=AHEAD)

    def send() -> None:
        try:
            while (event := queue.get()) is not STOP:
                connection.send(event)
        except OSError:  # the importer stopped (a broken pipe): nothing more to send it
            broken.set()
            while queue.get() is not STOP:  # until the reader sees it and stops
                pass

    broken = threading.Event()
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    sent: set[str] = set()
    try:
        for event in read_here(paths, fmt):
            queue.put(_with_names(event, sent) if isinstance(event, Chunk) else event)
            if broken.is_set():
                return
        queue.put(None)
    except BaseException:  # noqa: BLE001 - told to the importer, which raises it
        queue.put(("failed", traceback.format_exc()))
    finally:
        queue.put(STOP)
        sender.join()
        connection.close()


def read_elsewhere(paths: list[Path], fmt: str) -> Iterator[Event]:
    """The events of ``read_here``, read by a forked child process."""
    receiver, sender = multiprocessing.Pipe(duplex=False)
    # Forked, so that the child reads with this process's settings and code; it never touches
    # the database (and leaves through os._exit, closing none of the parent's connections).
    child = multiprocessing.get_context("fork").Process(
        target=_child, args=(sender, receiver, paths, fmt, os.getpid()), daemon=True
    )
    child.start()
    sender.close()
    try:
        while True:
            try:
                event = receiver.recv()
            except (EOFError, OSError):  # at a message's start, or inside one ("got end of file during message")
                child.join(5)
                raise ReadingFailed(f"the reading process ended without a word (exit code {child.exitcode})") from None
            if event is None:
                break
            if isinstance(event, tuple):
                raise ReadingFailed(f"the reading process failed:\n{event[1]}")
            if isinstance(event, Chunk):
                remember_parsed(event.names)
            yield event
    finally:
        receiver.close()
        if child.is_alive():
            child.terminate()
            child.join(10)
        if child.is_alive():  # cannot happen (SIGTERM's default action), unless the kernel is stuck
            child.kill()
        child.join()


def read_files(paths: list[Path], fmt: str, size: int) -> Iterator[Event]:
    """What reading ``paths`` (``size`` bytes in all) yields, from a second process when they
    are large."""
    if size >= PIPELINE_BYTES and "fork" in multiprocessing.get_all_start_methods():
        return read_elsewhere(paths, fmt)
    return read_here(paths, fmt)
