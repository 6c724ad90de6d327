"""The embedding model's WordPiece tokenizer: counts and spans in model tokens (chunk sizes)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class WordPieceTokenizer:
    """The model's own tokenizer (HF `tokenizers`, fast to load), used to size chunks."""

    def __init__(self, model_dir: Path) -> None:
        """Load ``tokenizer.json`` from the model folder."""
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tok.no_truncation()
        self._tok.no_padding()

    def count(self, texts: Sequence[str]) -> list[int]:
        """Word pieces in each text, without [CLS]/[SEP]."""
        if not texts:
            return []
        encodings = self._tok.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def pieces(self, text: str) -> tuple[list[str], list[tuple[int, int]]]:
        """Word pieces of ``text`` (no [CLS]/[SEP]) and their character offsets."""
        encoding = self._tok.encode(text, add_special_tokens=False)
        return list(encoding.tokens), list(encoding.offsets)

    def spans(self, text: str, max_tokens: int) -> list[tuple[int, int]]:
        """Cut ``text`` into consecutive character spans of at most ``max_tokens`` pieces.

        Cuts fall on token boundaries, preferring the last whitespace in each window, so the
        spans concatenate back to ``text`` exactly. One tokenizer pass: linear in the text.
        """
        offsets = self._tok.encode(text, add_special_tokens=False).offsets
        spans: list[tuple[int, int]] = []
        start_char, i = 0, 0
        while i < len(offsets):
            j = min(i + max_tokens, len(offsets))
            if j < len(offsets):
                # back off to a token that starts after whitespace, if there is one in the window
                k = j
                while k > i + max_tokens // 2 and not text[offsets[k][0] - 1 : offsets[k][0]].isspace():
                    k -= 1
                j = k if k > i + max_tokens // 2 else j
                end_char = offsets[j][0]
            else:
                end_char = len(text)
            # a span cut inside a word re-tokenizes differently ("##ab" -> "a", "##b"): shrink
            # until the text itself fits, so no chunk ever exceeds what the model reads
            while j > i + 1 and self.count([text[start_char:end_char]])[0] > max_tokens:
                j -= 1
                end_char = offsets[j][0]
            spans.append((start_char, end_char))
            start_char, i = end_char, j
        if not spans:
            spans.append((0, len(text)))
        return spans
