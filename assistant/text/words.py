"""Words of a text, one place for every layer: keyword tokens, stems, stopwords, filler, overlap.

Two normalizations, kept apart on purpose: `tokens` folds plurals ("models" -> "model") for BM25,
whose index is built from them at ingest, and `stem` strips suffixes further ("drifting" ->
"drift") for judging what a question asks (the coverage gate, the extractive backend's topic
words). Folding BM25 tokens as far as `stem` does would change every stored index.
"""

from __future__ import annotations

import re

# Words that carry no topic; dropped from BM25 tokens and trimmed off comparison sides.
STOPWORDS = frozenset(
    """a an and are as at be between but by can could define describe did difference differences
    differ do does doing explain for from how i if in into is it its me my of on or please should
    so tell than that the their them then there these they this those to use used using vs versus
    was we what when where which who why will with would you your yours whats what's i'm im
    about also any compare compared comparison contrast give some which one better best between
    mean means meaning work works""".split()
)


_TOKEN = re.compile(r"[a-z0-9]+(?:[-/.][a-z0-9]+)*")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens without stopwords, with a light plural strip ("models" -> "model").

    Tokens such as ``a/b``, ``f1-score`` and ``s3`` stay whole and are also split into parts,
    so "A/B testing" matches notes that write "A/B" or "AB".
    """
    out: list[str] = []
    for raw in _TOKEN.findall(text.lower()):
        parts = [raw] + (re.split(r"[-/.]", raw) if re.search(r"[-/.]", raw) else [])
        for word in parts:
            if not word or word in STOPWORDS:
                continue
            if len(word) > 4 and word.endswith("ies"):
                word = word[:-3] + "y"
            elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
                word = word[:-1]
            out.append(word)
    return out


def content_positions(pieces: list[str]) -> list[int]:
    """Positions of word pieces that carry meaning: no stopwords, no bare punctuation.

    Used for late-interaction scoring, where every kept query piece looks for its best match.
    Continuation pieces ("##ing") are kept: their word was kept by its first piece.
    """
    return [
        i for i, piece in enumerate(pieces)
        if any(ch.isalnum() for ch in piece) and (piece.startswith("##") or piece.lower() not in STOPWORDS)
    ]

# Words students use that say nothing about the topic; an unknown one must not look like an
# unknown service name. (General conversational English, not taken from any question set.)
FILLER = frozenset(
    """actually basically really just thing things stuff something anything everything someone
    anyone way ways kind sort lot lots bunch get got getting gets go going goes want wanted need
    needs needed know knows tell told try tries trying make makes making made figure out like
    pretty quite very much many lot guess think thinks idea ideas good bad okay ok lol hi hey
    thanks thank help helps here now still even ever already maybe probably supposed able
    happen happens happened happening happy sure exactly point whole new old big small im ive
    dont doesnt cant wont isnt arent didnt whats hows wheres thats theres lets yeah yes no not
    one ones two first since because while though although also etc e.g i.e""".split()
)


_SUFFIXES = ("ational", "ization", "ations", "ation", "ingly", "ings", "ing", "edly", "ed", "ers", "er", "ism",
             "ies", "es", "ly", "s")


def stem(word: str) -> str:
    """A crude suffix strip so "drifted", "drifting" and "drifts" meet "drift" (matching only)."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def salient_word(word: str) -> str | None:
    """The stem of one `words.tokens` word, or None for filler and numbers."""
    return None if word in FILLER or word.isdigit() else stem(word)


def salient(text: str) -> list[str]:
    """The stems of a text's topic words: `words.tokens` without conversational filler."""
    return [s for w in tokens(text) if (s := salient_word(w)) is not None]


def jaccard(a: set | frozenset, b: set | frozenset) -> float:
    """Share of distinct words two texts have in common (1.0 for two empty texts)."""
    return len(a & b) / len(a | b) if a or b else 1.0


def reader_words(text: str) -> int:
    """Words as a reader counts them: whitespace-separated tokens holding a letter or digit.

    Markdown alone ("-", "|", "**", "—", "…") is not a word. Shared by the extractive answer's word
    budget and the evaluation's answer length (`evaluation.harness.answer_words`).
    """
    return sum(any(c.isalnum() for c in token) for token in text.split())
