"""The model's files and the vectors named after it, attacked through the real commands.

- Every file of a model folder that its SHA256SUMS records is checked, not model.onnx alone:
  a tokenizer or a configuration written over embeds wrongly under the model's own name.
- Vectors recorded under the name earlier versions gave a converted model (``model-int8-`` and
  8 hex digits) are the shipped model's only when they are: a sentence-transformers folder named
  ``model`` was named the same way, and its vectors must be embedded again."""

import json
import shutil

import pytest

from paperwire.search.embedder import SHIPPED
from tests.conftest import ROOT, paperwire_env, run_paperwire

DEMO = ROOT / "paperwire" / "demo" / "attention_papers.jsonl"


def search(env: dict, query: str) -> tuple[list[str], str]:
    """The ids `paperwire search --json` answers, and what it says on stderr."""
    done = run_paperwire("search", query, "--mode", "semantic", "--limit", "3", "--json", env=env)
    assert done.returncode == 0, done.stderr
    return [hit["id"] for hit in json.loads(done.stdout)], done.stderr


def copied_model(tmp_path):
    folder = tmp_path / "minilm"
    shutil.copytree(SHIPPED, folder)
    return folder


@pytest.mark.parametrize(
    "name, damage",
    [
        ("tokenizer.json", lambda d: d["normalizer"].update(lowercase=False)),  # a setting flipped
        ("sentence_bert_config.json", lambda d: d.update(max_seq_length=16)),  # texts cut short
    ],
)
def test_a_model_file_that_is_not_what_SHA256SUMS_records_turns_semantic_search_off(tmp_path, name, damage):
    folder = copied_model(tmp_path)
    env = paperwire_env(tmp_path / "home", PAPERWIRE_EMBEDDING_MODEL=str(folder))
    assert run_paperwire("import", str(DEMO), env=env).returncode == 0
    assert search(env, "ATTENTION SINKS")[0][0] == "2406.15765"

    original = (folder / name).read_bytes()
    data = json.loads(original)
    damage(data)
    (folder / name).write_text(json.dumps(data))
    _, said = search(env, "ATTENTION SINKS")  # keyword matches, saying why
    assert f"Semantic search is unavailable ({folder / name} does not hold what SHA256SUMS records" in said
    indexed = run_paperwire("index", env=env)
    assert "computed 0 embeddings" in indexed.stdout and name in indexed.stdout  # nothing stored embedded wrongly

    (folder / name).write_bytes(original)  # repaired: the next process finds the model whole
    indexed = run_paperwire("index", env=env)  # as serve's indexer or the worker does
    assert "computed 0 embeddings" in indexed.stdout and "skipped" not in indexed.stdout  # the stored ones kept
    hits, said = search(env, "ATTENTION SINKS")
    assert hits[0] == "2406.15765" and "unavailable" not in said


def test_a_converted_folder_of_ones_own_without_SHA256SUMS_is_taken_as_it_is(tmp_path):
    folder = copied_model(tmp_path)
    (folder / "SHA256SUMS").unlink()
    env = paperwire_env(tmp_path / "home", PAPERWIRE_EMBEDDING_MODEL=str(folder))
    assert run_paperwire("import", str(DEMO), env=env).returncode == 0
    assert search(env, "attention sinks")[0][0] == "2406.15765"


LEGACY = "model-int8-0a1b2c3d"  # what 700f3ac named any converted folder called `model`

ANOTHER_MODEL = f"""
import numpy as np
from paperwire.search.models import PaperVector
rows = list(PaperVector.objects.order_by("paper_id"))
vectors = [np.frombuffer(bytes(row.vector), dtype="<f2") for row in rows]
for row, vector in zip(rows, vectors[1:] + vectors[:1]):  # another model: each paper elsewhere
    row.model, row.vector = "{LEGACY}", vector.tobytes()
    row.save(update_fields=["model", "vector"])
print(len(rows))
"""


def test_vectors_of_another_model_under_the_legacy_name_are_embedded_again(tmp_path):
    home = tmp_path / "home"
    env = paperwire_env(home)
    assert run_paperwire("import", str(DEMO), "--no-index", env=env).returncode == 0
    assert run_paperwire("index", env=env).returncode == 0
    # As an earlier version left them with PAPERWIRE_EMBEDDING_MODEL=/srv/model, a folder of
    # another sentence-transformers model: its vectors under `model-int8-…`, and its index.
    changed = run_paperwire("shell", "-c", ANOTHER_MODEL, env=env)
    assert changed.returncode == 0 and changed.stdout.split()[-1] == "41", changed.stderr
    # Upgraded to the shipped model: those vectors are not its own, whatever their name says,
    # so every one is embedded again and the index is built from the new ones.
    rebuilt = run_paperwire("index", "--rebuild", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "computed 41 embeddings" in rebuilt.stdout, rebuilt.stdout
    assert search(env, "attention sinks")[0][0] == "2406.15765"
    state = json.loads((home / "index" / "state.json").read_text())
    assert state["model"].startswith("all-MiniLM-L6-v2-int8-")
