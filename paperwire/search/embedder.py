"""Sentence embeddings on the CPU with ONNX Runtime.

The default model is sentence-transformers/all-MiniLM-L6-v2, shipped inside this package,
ready to run: ``paperwire/search/model/`` holds it in int8 ONNX with its tokenizer, licence,
PROVENANCE.md and SHA256SUMS (made by tools/convert_model.py: ONNX export with torch, BERT
fusions, dynamic int8 per-channel quantization). Nothing is downloaded or converted at run
time, and serving it needs onnxruntime and tokenizers only.

A model folder (PAPERWIRE_EMBEDDING_MODEL, or the shipped one) is read when the model is
loaded: a ``model.onnx`` that does not hold what SHA256SUMS records (bytes written over the
weights still load, and embed wrongly) or a file that cannot be read turns semantic search
off, saying why, and each process tries again every RETRY_SECONDS.

PAPERWIRE_EMBEDDING_MODEL may also name a sentence-transformers folder (weights, no
``model.onnx``): it is converted once into PAPERWIRE_MODEL_DIR by the same code as the shipped
model (conversion.py), which needs the ``convert`` extra (torch). That file is derived, like
the index files, and checked like them: its size and CRC-32 are recorded beside it
(``<name>.onnx.json``). A file that no longer matches its record or cannot be loaded is moved
aside as ``<name>.damaged-<UTC time>`` and converted again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

import numpy as np
from django.conf import settings

from paperwire.core import jsondata
from paperwire.search import conversion
from paperwire.search.integrity import (
    FILE,
    Stamp,
    WrongKind,
    checksum,
    kind,
    misplaced,
    move_aside,
    open_regular,
    read_regular,
    stamp_of,
    write_atomically,
)

log = logging.getLogger(__name__)
BATCH_SIZE = 32  # texts per run of the model
DEFAULT_MODEL = "all-MiniLM-L6-v2"
SHIPPED = Path(__file__).resolve().parent / "model"  # the default model, ready to run
CONVERTED = "model.onnx"  # a model folder holding this file is ready to run
SUMS = "SHA256SUMS"
RETRY_SECONDS = 60.0  # a process that could not load the model tries again after this long
# Before the model shipped converted, each install converted the same weights at run time and
# named the result after its folder ("model") and path: vectors and indexes recorded under such
# a name are the shipped model's (PROVENANCE.md). But any sentence-transformers folder named
# "model" was (and is) named the same way, so the name alone proves nothing: a sample of the
# vectors stored under it is embedded again and compared (``legacy_is_shipped``).
LEGACY_SHIPPED = re.compile(r"model-int8-[0-9a-f]{8}")
LEGACY_SAMPLE = 16  # vectors embedded again to tell whose a legacy name is
# The mean cosine between a stored vector (float16) and the shipped model's for the same text.
# The runtime conversions of all-MiniLM-L6-v2 by earlier versions give 0.996 on average (0.990
# at worst: int8 quantization of another run); another model gives far less.
LEGACY_AGREEMENT = 0.98
_legacy_verdicts: dict[str, bool] = {}


def text_hash(title: str, abstract: str) -> str:
    """What a stored vector was computed from: a changed title or abstract is embedded again."""
    return hashlib.blake2b(f"{title}\n{abstract}".encode(), digest_size=16).hexdigest()


def embedding_text(title: str, abstract: str) -> str:
    """The text of a paper the model embeds."""
    return f"{title}. {abstract}"


class ModelUnavailable(Exception):
    """Semantic search cannot run; the message says why."""


def source_dir() -> Path:
    """The model folder named by PAPERWIRE_EMBEDDING_MODEL (by default the shipped one)."""
    name = settings.EMBEDDING_MODEL
    if name in ("", DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        return SHIPPED
    if name == "none":
        raise ModelUnavailable("semantic search is turned off (PAPERWIRE_EMBEDDING_MODEL=none)")
    path = Path(name).expanduser()
    if not (path / "tokenizer.json").exists() or not (path / "config.json").exists():
        raise ModelUnavailable(f"{path} is not a model folder with tokenizer.json and config.json")
    return path


def is_converted(source: Path) -> bool:
    """A folder holding a model ready to run (like the shipped one), not weights to convert."""
    return os.path.lexists(source / CONVERTED)


def recorded_sums(source: Path) -> dict[str, str]:
    """File name -> SHA-256 from the folder's SHA256SUMS (``sha256sum`` format); {} without one."""
    try:
        text = read_regular(source / SUMS, 1 << 16).decode()
    except FileNotFoundError:
        return {}
    sums = {}
    for line in text.splitlines():
        digest, _, name = line.strip().partition(" ")
        if name:
            sums[name.strip().lstrip("*")] = digest.lower()
    return sums


def sha256(path: Path) -> str:
    with open_regular(path) as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def model_id(source: Path) -> str:
    """The model's name in the index and beside each stored vector: a model that changes is
    embedded again. A converted model is named after its content (the same bytes, the same
    name, wherever they are installed); weights after their folder and size."""
    if is_converted(source):
        digest = recorded_sums(source).get(CONVERTED) or sha256(source / CONVERTED)
        return f"{DEFAULT_MODEL}-int8-{digest[:8]}" if source == SHIPPED else f"{source.name}-{digest[:8]}"
    weights = source / "model.safetensors"
    stamp = f"{source.resolve()}:{weights.stat().st_size if weights.exists() else 0}"
    return f"{source.name}-int8-{hashlib.blake2b(stamp.encode(), digest_size=4).hexdigest()}"


def shipped_id() -> str:
    return model_id(SHIPPED)


def same_model(recorded: str | None, current: str | None) -> bool:
    """Whether vectors recorded under the name ``recorded`` are those the model named
    ``current`` computes: the same name, or the shipped model's name before it shipped converted
    when the vectors stored under it are indeed the shipped model's."""
    if recorded == current:
        return True
    if not (recorded and current and LEGACY_SHIPPED.fullmatch(recorded)):
        return False
    if current != shipped_id():
        return False
    if recorded not in _legacy_verdicts:
        try:
            embedder = get_embedder()
        except ModelUnavailable:
            return False  # asked again once the model can run
        _legacy_verdicts[recorded] = legacy_is_shipped(recorded, embedder)
    return _legacy_verdicts[recorded]


def legacy_is_shipped(recorded: str, embedder: Embedder) -> bool:
    """Whether the vectors stored under the legacy name ``recorded`` are the shipped model's:
    up to LEGACY_SAMPLE of them (of papers whose text has not changed since) are embedded again
    with it and compared. None left to compare: no (whatever was built from them is rebuilt)."""
    from paperwire.search.models import PaperVector  # the database, only when a legacy name is met

    sample = PaperVector.objects.filter(model=recorded).select_related("paper").order_by("paper_id")
    rows = [row for row in sample[:LEGACY_SAMPLE] if row.text_hash == text_hash(row.paper.title, row.paper.abstract)]
    if not rows:
        return False
    stored = np.stack([np.frombuffer(bytes(row.vector), dtype="<f2").astype(np.float32) for row in rows])
    if stored.shape[1] != embedder.dimensions:
        return False
    computed = embedder.embed([embedding_text(row.paper.title, row.paper.abstract) for row in rows])
    norms = np.maximum(np.linalg.norm(stored, axis=1), 1e-12)
    agreement = float(np.mean(np.sum(stored * computed, axis=1) / norms))
    if agreement < LEGACY_AGREEMENT:
        log.warning(
            "the vectors stored as %s are not the shipped model's (cosine %.3f): they are embedded again",
            recorded,
            agreement,
        )
    return agreement >= LEGACY_AGREEMENT


def not_recorded(source: Path, name: str) -> ModelUnavailable:
    where = "reinstall Paperwire" if source == SHIPPED else f"convert it again into {source}"
    return ModelUnavailable(f"{source / name} does not hold what {SUMS} records: damaged? ({where})")


def checked_model(source: Path) -> Path:
    """The converted model of a folder ready to run, when it holds what SHA256SUMS records."""
    path = source / CONVERTED
    expected = recorded_sums(source).get(CONVERTED)
    if expected is not None and sha256(path) != expected:
        raise not_recorded(source, CONVERTED)
    return path


def read_checked(source: Path, name: str, limit: int) -> bytes:
    """A file of the model folder (tokenizer, configuration), when it holds what SHA256SUMS
    records for it: each of them changes the vectors as much as the weights do."""
    data = read_regular(source / name, limit)
    expected = recorded_sums(source).get(name)
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise not_recorded(source, name)
    return data


def convert(source: Path, target: Path) -> None:
    """Converts weights into ``target`` (conversion.py); ModelUnavailable when it cannot run here."""
    try:
        conversion.convert(source, target)
    except conversion.ConversionUnavailable as error:
        raise ModelUnavailable(f"{source} holds weights, not model.onnx, and {error}") from None


def model_record(target: Path) -> Path:
    return target.with_name(target.name + ".json")


def recorded(target: Path) -> Stamp | None:
    """The stamp of ``target`` when it is a file holding what its record says (recording a file
    that has no record yet); None when it is missing, of another kind or damaged."""
    try:
        with open_regular(target) as file:
            stamp = stamp_of(os.fstat(file.fileno()))
        crc = checksum(target)
    except OSError:
        return None
    try:
        record = jsondata.parse(read_regular(model_record(target), 4096))
        return stamp if record == {"size": stamp[1], "crc": crc} else None
    except FileNotFoundError:  # converted by an earlier version: recorded as it is now
        try:
            write_atomically(model_record(target), json.dumps({"size": stamp[1], "crc": crc}).encode())
        except OSError as error:  # a read-only model folder: checked again next time
            log.warning("cannot record the converted model %s: %s", target, error)
        return stamp
    except (OSError, ValueError):
        return None


def prepared_model(source: Path, rejected: Stamp | None = None) -> Path:
    """The converted model file, converting it first if needed (once, under a file lock).
    ``rejected``: the stamp of a file that could not be loaded, to be converted again."""
    folder = Path(settings.MODEL_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{model_id(source)}.onnx"
    stamp = recorded(target)
    if stamp is not None and stamp != rejected:
        return target
    if misplaced(kind(folder / ".convert.lock"), FILE):
        move_aside(folder / ".convert.lock")
    with open(folder / ".convert.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = recorded(target)  # another process may have converted it meanwhile
        if stamp is not None and stamp != rejected:
            return target
        if os.path.lexists(target):
            move_aside(target)
            model_record(target).unlink(missing_ok=True)
        log.warning("converting %s to int8 ONNX in %s (once)", source, folder)
        convert(source, target)
        if recorded(target) is None:
            raise ModelUnavailable(f"the converted model {target.name} cannot be read back")
    return target


class Embedder:
    """Mean-pooled, unit-length sentence embeddings (float32)."""

    def __init__(self, source: Path | None = None) -> None:
        self.source = source or source_dir()
        self._lock = threading.Lock()

    @cached_property
    def name(self) -> str:
        return model_id(self.source)

    @cached_property
    def max_length(self) -> int:
        config = self.source / "sentence_bert_config.json"
        if config.exists():
            return int(jsondata.parse(read_checked(self.source, config.name, 1 << 20)).get("max_seq_length", 256))
        return 256

    @cached_property
    def tokenizer(self):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(read_checked(self.source, "tokenizer.json", 64 << 20).decode())
        tokenizer.enable_truncation(self.max_length)
        tokenizer.no_padding()  # each batch is padded to its own longest text (embed)
        return tokenizer

    @cached_property
    def pad_id(self) -> int:
        return int(self.tokenizer.token_to_id("[PAD]") or 0)

    @cached_property
    def session(self):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = settings.EMBEDDING_THREADS
        options.inter_op_num_threads = 1
        if is_converted(self.source):
            path = checked_model(self.source)
            try:
                return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            except Exception as error:
                raise ModelUnavailable(f"the model {path} cannot be loaded: {error}") from error
        rejected = None
        for _attempt in range(2):  # a file that cannot be loaded is converted again, once
            try:
                path = prepared_model(self.source, rejected)
            except ModelUnavailable:
                raise
            except Exception as error:  # a failed conversion must not take the site down
                raise ModelUnavailable(f"the model could not be prepared: {error}") from error
            try:
                return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            except Exception as error:
                log.error("the converted model %s cannot be loaded (%s)", path, error)
                try:
                    rejected = stamp_of(path.stat())
                except OSError:
                    rejected = None
        raise ModelUnavailable(f"the converted model {path.name} cannot be loaded")

    @cached_property
    def dimensions(self) -> int:
        return int(jsondata.parse(read_checked(self.source, "config.json", 1 << 20))["hidden_size"])

    def load(self) -> None:
        """Read everything the model needs now, not in the middle of a request: ModelUnavailable
        saying why when something cannot be read."""
        try:
            self.name, self.dimensions, self.max_length, self.tokenizer, self.session  # noqa: B018
        except ModelUnavailable:
            raise
        except WrongKind as error:
            name = Path(error.filename).name
            raise ModelUnavailable(
                f"the model folder {self.source} cannot be read: {name} is {error.found}, not a file"
            ) from error
        except Exception as error:
            raise ModelUnavailable(f"the model folder {self.source} cannot be read: {error}") from error

    def embed(self, texts: list[str], between: Callable[[], None] | None = None) -> np.ndarray:
        """Unit vectors of ``texts``, in the order given. The texts are tokenized once, then run in
        batches of similar token length, so that a batch is padded to little more than its
        texts. ``between``: called after each batch (a worker renews its claim there)."""
        result = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return result
        with self._lock:
            encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), BATCH_SIZE):
            chosen = order[start : start + BATCH_SIZE]
            result[chosen] = self._embed_batch([encodings[i] for i in chosen])
            if between is not None:
                between()
        return result

    def _embed_batch(self, encodings) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        hidden = self.session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


_embedder: Embedder | None = None
_embedder_error: tuple[str, float] | None = None  # why there is none, and since when


def get_embedder() -> Embedder:
    """The process's embedder; ModelUnavailable when there is none (remembered RETRY_SECONDS)."""
    global _embedder, _embedder_error
    if _embedder is None and (_embedder_error is None or time.monotonic() - _embedder_error[1] >= RETRY_SECONDS):
        try:
            embedder = Embedder()
            embedder.load()  # load now, not in the middle of a request
            _embedder, _embedder_error = embedder, None
        except ModelUnavailable as error:
            _embedder_error = (str(error), time.monotonic())
    if _embedder is None:
        raise ModelUnavailable(_embedder_error[0])
    return _embedder


def reset_embedder() -> None:
    global _embedder, _embedder_error
    _embedder, _embedder_error = None, None
    _legacy_verdicts.clear()
