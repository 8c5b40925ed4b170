"""A sentence-transformers model to int8 ONNX: what tools/convert_model.py did to the model that
ships in paperwire/search/model/, and what the embedder does, once, to a model folder named by
PAPERWIRE_EMBEDDING_MODEL that holds weights rather than a converted model.

Needs torch, transformers and onnx: `pip install 'paperwire[convert]'`. Nothing else in
Paperwire imports them; serving the shipped model needs onnxruntime and tokenizers alone.

1. exported to ONNX from the weights with torch (eager attention, so that
2. ``onnxruntime.transformers.optimizer`` can fuse the BERT attention and layer norms),
3. quantized to int8 per channel (dynamic quantization of the weights; per tensor the
   cosine to the original model's vectors only reaches 0.92).
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

# The packages the conversion needs, beside onnxruntime (a run-time dependency): their
# versions are written into the shipped model's PROVENANCE.md.
TOOLS = ("torch", "transformers", "onnx", "onnxruntime", "numpy")


class ConversionUnavailable(Exception):
    """The packages the conversion needs are not installed; the message says which."""


def convert(source: Path, target: Path) -> None:
    """ONNX export, BERT fusions and int8 per-channel quantization of ``source`` into ``target``."""
    try:
        import onnx
        import torch
        import transformers
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.transformers.optimizer import optimize_model
        from transformers import AutoConfig, AutoModel
    except ImportError as error:
        raise ConversionUnavailable(
            f"converting a model needs {error.name}: pip install 'paperwire[convert]'"
        ) from None

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
