"""The embedding model: its tokenizer (for chunk sizes) and two engines that give the same vectors.

`sentence-transformers` is the reference engine. Importing it costs ~8 s on this 2-core machine
(torch, transformers, sklearn), which would dominate every CLI call, so the default `onnx` engine
runs the same weights through onnxruntime (already a Chroma dependency; imports in ~0.2 s). The
ONNX file is exported once from the model folder with torch and cached; tests check that both
engines agree (cosine > 0.9999).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.embedding.model import ModelInfo
from assistant.errors import ConfigError, EmbeddingError

Progress = Callable[[int], None]


TokenStates = list[tuple[list[str], np.ndarray]]


class Embedder(Protocol):
    """Turns texts into unit-length vectors (one row each), and optionally per-token vectors."""

    info: ModelInfo

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Embed texts; ``progress(n)`` is called after each batch with the batch size."""
        ...

    def embed_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, TokenStates]:
        """Vectors as `embed`, plus each text's word pieces and their unit-length vectors.

        The token vectors come from the same forward pass; [CLS] and [SEP] are left out.
        """
        ...


class RecentQuestions:
    """An embedder that remembers the token states of recent questions.

    Answering embeds the question twice: retrieval ranks passages with it, then the extractive
    backend scores lines with it. The second forward pass (~10 ms here, a fifth of a warm answer)
    is a lookup instead. Only `embed_tokens` is cached, per text, for the last ``size`` texts;
    ingest uses the plain embedder, so note pieces never fill the cache.
    """

    def __init__(self, inner: Embedder, size: int = 128) -> None:
        """Wrap ``inner``, keeping up to ``size`` texts."""
        self.inner = inner
        self.info = inner.info
        self._size = size
        self._cache: OrderedDict[str, tuple[np.ndarray, tuple[list[str], np.ndarray]]] = OrderedDict()
        self._lock = threading.Lock()  # the UI answers from several threads

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Embed texts (not cached)."""
        return self.inner.embed(texts, progress)

    def embed_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, TokenStates]:
        """As the wrapped embedder's, computing only texts not seen recently."""
        if not texts:
            return self.inner.embed_tokens(texts)
        with self._lock:
            known = {t: self._cache[t] for t in texts if t in self._cache}
            for t in known:
                self._cache.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            vectors, states = self.inner.embed_tokens(missing)
            fresh = {t: (v, st) for t, v, st in zip(missing, vectors, states, strict=True)}
            known.update(fresh)
            with self._lock:
                self._cache.update(fresh)
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        return np.stack([known[t][0] for t in texts]), [known[t][1] for t in texts]


def content_vectors(states: TokenStates) -> list[np.ndarray]:
    """Each text's token vectors without stopwords and punctuation (what late interaction compares)."""
    from assistant.text.words import content_positions

    return [vectors[content_positions(pieces)] for pieces, vectors in states]


def _unit_rows(states: np.ndarray) -> np.ndarray:
    return (states / np.clip(np.linalg.norm(states, axis=1, keepdims=True), 1e-12, None)).astype(np.float32)


def _pool(hidden: np.ndarray, mask: np.ndarray, info: ModelInfo) -> np.ndarray:
    if info.pooling == "cls":
        vectors = hidden[:, 0]
    else:
        weights = mask[..., None].astype(np.float32)
        vectors = (hidden * weights).sum(1) / np.clip(weights.sum(1), 1e-9, None)
    if info.normalize:
        vectors = vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
    return vectors.astype(np.float32)


def export_onnx(info: ModelInfo, target: Path) -> None:
    """Export the model's transformer to ONNX with torch (once; slow imports happen only here)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(f"Preparing the embedding model for fast start-up (once per model; ~10 s): {target}", file=sys.stderr)
    try:
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise EmbeddingError(f"Cannot convert the embedding model to ONNX: {exc}. "
                             "Set ASSISTANT_EMBED_ENGINE=sentence-transformers instead.") from exc

    class _Encoder(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: D102
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(info.path), local_files_only=True).eval()
    dummy = torch.ones(1, 8, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]}
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer chatter about constant shapes; verified by tests
            torch.onnx.export(
                _Encoder(model), (dummy, dummy, torch.zeros_like(dummy)), tmp,
                input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
                opset_version=17, dynamo=False,
            )
        os.replace(tmp, target)  # atomic: a killed export never leaves a half file in place
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        raise EmbeddingError(f"Converting the embedding model to ONNX failed: {exc}. "
                             "Set ASSISTANT_EMBED_ENGINE=sentence-transformers instead.") from exc


class OnnxEmbedder:
    """The model run by onnxruntime: same vectors as sentence-transformers, fast to start."""

    def __init__(self, info: ModelInfo, cache_dir: Path, batch_size: int = 8) -> None:
        """Load (exporting first if needed) ``<cache_dir>/onnx/<fingerprint>/model.onnx``."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.info = info
        self.batch_size = batch_size
        onnx_path = cache_dir / "onnx" / info.fingerprint / "model.onnx"
        if not onnx_path.is_file():
            export_onnx(info, onnx_path)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a damaged cache file: say where it is
            raise EmbeddingError(f"The converted model at {onnx_path} cannot be loaded ({exc}); "
                                 "delete that file and it will be converted again.") from exc
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tok = Tokenizer.from_file(str(info.path / "tokenizer.json"))
        self._tok.enable_truncation(info.max_seq_length)
        self._tok.enable_padding()

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Embed texts in length-sorted batches (less padding); rows keep the input order."""
        return self._run(texts, progress, with_tokens=False)[0]

    def embed_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, TokenStates]:
        """Vectors plus each text's word pieces and their unit-length vectors (one forward pass)."""
        return self._run(texts, None, with_tokens=True)

    def _run(
        self, texts: Sequence[str], progress: Progress | None, with_tokens: bool,
    ) -> tuple[np.ndarray, TokenStates]:
        out = np.zeros((len(texts), 0), dtype=np.float32)
        states: list = [None] * len(texts)
        order = np.argsort([len(t) for t in texts], kind="stable")
        for i in range(0, len(texts), self.batch_size):
            idx = order[i : i + self.batch_size]
            encoded = self._tok.encode_batch([texts[j] for j in idx])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
            vectors = _pool(hidden, mask, self.info)
            if out.shape[1] == 0:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[idx] = vectors
            if with_tokens:
                for row, (j, enc) in enumerate(zip(idx, encoded, strict=True)):
                    keep = [t for t, (tok, m) in enumerate(zip(enc.tokens, enc.attention_mask, strict=True))
                            if m and tok not in ("[CLS]", "[SEP]")]
                    states[j] = ([enc.tokens[t] for t in keep], _unit_rows(hidden[row, keep]))
            if progress:
                progress(len(idx))
        return out, states


class SentenceTransformerEmbedder:
    """The reference engine: sentence-transformers on torch (slow to import, ~8 s here)."""

    def __init__(self, info: ModelInfo, batch_size: int = 16) -> None:
        """Load the model folder offline."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.info = info
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(info.path), device="cpu", local_files_only=True)

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Embed texts, batch by batch so progress can be reported."""
        rows = []
        for i in range(0, len(texts), self.batch_size * 4):
            batch = list(texts[i : i + self.batch_size * 4])
            rows.append(self._model.encode(batch, batch_size=self.batch_size, normalize_embeddings=self.info.normalize,
                                           convert_to_numpy=True, show_progress_bar=False))
            if progress:
                progress(len(batch))
        return np.vstack(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)

    def embed_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, TokenStates]:
        """Vectors plus each text's word pieces and their unit-length vectors (one forward pass)."""
        from tokenizers import Tokenizer

        if not hasattr(self, "_tok"):
            self._tok = Tokenizer.from_file(str(self.info.path / "tokenizer.json"))
            self._tok.enable_truncation(self.info.max_seq_length)
            self._tok.no_padding()
        outputs = self._model.encode(list(texts), batch_size=self.batch_size, output_value=None,
                                     normalize_embeddings=self.info.normalize, show_progress_bar=False)
        vectors = np.stack([o["sentence_embedding"].cpu().numpy() for o in outputs]).astype(np.float32)
        states: TokenStates = []
        for text, o in zip(texts, outputs, strict=True):
            tokens = self._tok.encode(text).tokens
            hidden = o["token_embeddings"].cpu().numpy()[: len(tokens)]
            keep = [t for t, tok in enumerate(tokens) if tok not in ("[CLS]", "[SEP]")]
            states.append(([tokens[t] for t in keep], _unit_rows(hidden[keep])))
        return vectors, states


def load_embedder(info: ModelInfo, engine: str, cache_dir: Path) -> Embedder:
    """The embedder for ``engine`` ("onnx" or "sentence-transformers")."""
    if engine == "onnx":
        return OnnxEmbedder(info, cache_dir)
    if engine == "sentence-transformers":
        return SentenceTransformerEmbedder(info)
    raise ConfigError(f"Unknown embedding engine {engine!r}; available: onnx, sentence-transformers.")
