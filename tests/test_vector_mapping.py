"""The web workers' vector index: memory-mapped from a private, checked copy (one per node).

A worker maps ``.mapped/vectors-<crc>-<size>-<count>.usearch``, never ``vectors.usearch``
itself: that file cut short or written over in place would kill a process mapping it (SIGBUS)
or feed it garbage. Scenes that could kill the process run in a forked child
(tests/test_index_reload.py's ``in_a_child``), so that a SIGBUS fails the test, not the run.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from paperwire.search.index_files import (
    EXPANSION_ADD,
    EXPANSION_SEARCH,
    VectorIndex,
    load_vectors,
    mapped_name,
    new_vector_index,
)
from paperwire.search.integrity import MAPPED, VECTORS, IndexState, put_in_place, save_vectors
from tests.test_index_damage import small_filesystem
from tests.test_index_reload import in_a_child

DIMENSIONS = 16


def unit_vectors(count: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, DIMENSIONS)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def publish(folder: Path, count: int, seed: int) -> tuple[dict, np.ndarray]:
    """Write an index of ``count`` vectors (keys 1..count) as the indexer does; (its record, the vectors)."""
    vectors = unit_vectors(count, seed)
    index = new_vector_index(DIMENSIONS)
    index.add(np.arange(1, count + 1, dtype=np.uint64), vectors)
    written, record = save_vectors(index, folder)
    put_in_place(written, folder / VECTORS)
    IndexState(vectors=record).save(folder)
    return record, vectors


def maps_of_this_process() -> str:
    return Path("/proc/self/maps").read_text()


def finds(reader: VectorIndex, vector: np.ndarray, key: int) -> bool:
    """Whether the reader finds ``key`` among the 10 nearest of its own vector (HNSW is
    approximate: the first is almost always, not always, the vector itself)."""
    return key in [found for found, _ in reader.search(vector, 10)]


def test_two_workers_map_one_checked_copy_and_never_the_written_file(tmp_path):
    record, vectors = publish(tmp_path, 3000, seed=1)
    first, second = VectorIndex(tmp_path, DIMENSIONS), VectorIndex(tmp_path, DIMENSIONS)
    assert finds(first, vectors[41], 42) and finds(second, vectors[7], 8)
    copy = tmp_path / MAPPED / mapped_name(record)
    assert sorted(p.name for p in (tmp_path / MAPPED).iterdir()) == [copy.name]  # one copy for both
    assert copy.read_bytes() == (tmp_path / VECTORS).read_bytes()
    maps = maps_of_this_process()
    assert str(copy) in maps
    assert str(tmp_path / VECTORS) not in maps
    assert (tmp_path / MAPPED).stat().st_mode & 0o777 == 0o700


def test_every_index_read_from_a_file_searches_with_the_configured_effort(tmp_path):
    """A usearch file keeps no search effort: opened as it is, an index searches with usearch's
    default (64), below the recall the build was measured for. Mapped, read into memory or
    loaded by the indexer, it searches with EXPANSION_SEARCH."""
    record, vectors = publish(tmp_path, 500, seed=3)
    assert EXPANSION_SEARCH > 64
    with small_filesystem(tmp_path / MAPPED, size="8k") as folder:
        in_memory = VectorIndex(tmp_path, DIMENSIONS)
        assert finds(in_memory, vectors[20], 21) and not list(folder.iterdir())
    mapped = VectorIndex(tmp_path, DIMENSIONS)
    assert finds(mapped, vectors[10], 11) and str(tmp_path / MAPPED) in maps_of_this_process()
    loaded = load_vectors(tmp_path / VECTORS, DIMENSIONS, record)
    for index in (in_memory.reader(), mapped.reader(), loaded):
        assert (index.expansion_search, index.expansion_add) == (EXPANSION_SEARCH, EXPANSION_ADD)


@pytest.mark.parametrize("damage", ["truncated", "written over"])
def test_the_written_file_damaged_in_place_under_a_reader_kills_nothing(tmp_path, damage):
    _, vectors = publish(tmp_path, 3000, seed=2)

    def scene():
        reader = VectorIndex(tmp_path, DIMENSIONS)
        assert finds(reader, vectors[99], 100)
        # What the graph answers before (HNSW is approximate: a vector's nearest is almost always itself)
        before = [reader.search(vectors[n], 3) for n in range(0, 3000, 97)]
        path = tmp_path / VECTORS
        if damage == "truncated":
            os.truncate(path, path.stat().st_size // 3)
        else:
            with open(path, "r+b") as file:
                file.write(os.urandom(path.stat().st_size))
        # Reads every part of the graph and the vectors, and answers as before.
        assert [reader.search(vectors[n], 3) for n in range(0, 3000, 97)] == before
        if damage == "truncated":  # told; written over, same size: the copy of that record is still whole
            assert "vectors.usearch has" in reader.problem, reader.problem

    assert in_a_child(scene) == 0, "the child died (SIGBUS is -7) or failed (1): see its output above"


def test_a_new_index_replaces_the_copy_and_an_old_mapping_stays_valid(tmp_path):
    old_record, old_vectors = publish(tmp_path, 500, seed=3)
    early, late = VectorIndex(tmp_path, DIMENSIONS), VectorIndex(tmp_path, DIMENSIONS)
    assert finds(early, old_vectors[10], 11)
    new_record, new_vectors = publish(tmp_path, 800, seed=4)
    early_index = early._index  # a worker that has not looked again yet
    assert finds(late, new_vectors[700], 701)
    assert sorted(p.name for p in (tmp_path / MAPPED).iterdir()) == [mapped_name(new_record)]  # old one removed
    assert 11 in early_index.search(old_vectors[10], 10).keys  # unlinked, still mapped, still whole
    assert finds(early, new_vectors[5], 6) and len(early._index) == 800


def test_a_copy_that_does_not_match_its_name_is_not_mapped(tmp_path):
    record, vectors = publish(tmp_path, 300, seed=5)
    folder = tmp_path / MAPPED
    folder.mkdir(mode=0o700)
    (folder / mapped_name(record)).write_bytes(b"\0" * 10)  # cut short: the reader copies again
    reader = VectorIndex(tmp_path, DIMENSIONS)
    assert finds(reader, vectors[3], 4)
    assert (folder / mapped_name(record)).stat().st_size == record["size"]


def test_a_damaged_file_before_any_copy_gives_no_semantic_side_and_no_copy(tmp_path):
    record, _ = publish(tmp_path, 300, seed=6)
    path = tmp_path / VECTORS
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    reader = VectorIndex(tmp_path, DIMENSIONS)
    assert reader.search(unit_vectors(1, 0)[0], 3) == []
    assert "damaged or truncated" in reader.problem
    assert not [p for p in (tmp_path / MAPPED).iterdir()]  # the bad copy was not kept


def test_with_no_room_for_a_copy_the_reader_reads_the_file_into_memory(tmp_path):
    record, vectors = publish(tmp_path, 400, seed=7)
    assert record["size"] > 4 * 8192
    with small_filesystem(tmp_path / MAPPED, size="8k") as folder:
        reader = VectorIndex(tmp_path, DIMENSIONS)
        # The whole file read: the exact vector of a key, and a search that answers (whether a
        # vector is among its own 10 nearest varies with the graph the threads of usearch built:
        # 251 was not in one run of the suite under load).
        assert np.allclose(reader.vectors([251])[251], vectors[250], atol=1e-3)
        assert len(reader.search(vectors[250], 10)) == 10
        assert reader.problem is None
        assert str(folder) not in maps_of_this_process()
        assert not list(folder.iterdir())  # the half-written copy is gone


def test_saving_reads_the_record_back_from_the_disk(tmp_path):
    index = new_vector_index(DIMENSIONS)
    index.add(np.arange(1, 51, dtype=np.uint64), unit_vectors(50, 8))
    written, record = save_vectors(index, tmp_path)
    assert written.parent == tmp_path and written.name.endswith(".tmp")
    assert record == {"count": 50, "size": written.stat().st_size, "crc": record["crc"]}
    import zlib

    assert record["crc"] == zlib.crc32(written.read_bytes()) == zlib.crc32(bytes(index.save()))


def test_vectors_added_beside_the_indexing_thread_go_in_in_order_and_their_errors_are_raised():
    from paperwire.search.updating import Adding

    vectors = unit_vectors(300, seed=7)
    index = new_vector_index(DIMENSIONS)
    with Adding(index) as adding:
        assert adding.wait() is False  # nothing given yet
        for start in range(0, 300, 50):
            adding.add([(key + 1, vectors[key]) for key in range(start, start + 50)])
        # The same keys again with other vectors: the later batch wins, as added in order.
        adding.add([(key + 1, -vectors[key]) for key in range(10)])
        assert adding.wait() is True
        assert adding.wait() is False  # nothing since
        assert len(index) == 300
        assert np.allclose(np.asarray(index.get(1), dtype=np.float32), -vectors[0], atol=1e-2)
        assert np.allclose(np.asarray(index.get(11), dtype=np.float32), vectors[10], atol=1e-2)
        adding.add([(1000, np.zeros(DIMENSIONS + 3, dtype=np.float32))])  # the wrong width
        with pytest.raises(ValueError, match="dimensions"):  # usearch's error, raised in this thread
            adding.wait()
    assert adding.pool._shutdown
