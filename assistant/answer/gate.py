"""Do the notes cover a question? A calibrated gate on retrieval evidence, shared by every backend.

Four numbers, none of which depends on letter case (students type in lower case):

* ``similarity``: the best passage's cosine similarity to the question (dense evidence);
* ``coverage``: the share of the question's words (weighted by rarity in the notes) that occur in
  the retrieved passages; for a comparison, the worst-covered side's share, since "canvas vs data
  wrangler" is not answered by notes that only know Data Wrangler;
* ``unseen``: the share of the question's words (same weights) that occur nowhere in the notes;
* ``unknown_term``: the most specific question word the notes never contain, by its rarity in
  general English (`text.specificity`): "trainium" or "guardrails" is surely the thing asked about,
  "tanked" less surely, "use" not at all; a word the notes hold in another spelling
  ("hyperparams", "pretrained", "bpe") counts less.

A logistic model turns them into the probability that the notes answer the question. Its weights
and threshold are fitted on a gold file's answerable and unanswerable questions
(`evaluation.calibration`): the shipped ones by ``eval/calibrate_abstention.py`` on ``corpus/``,
kept in ``abstention.json`` next to this file with what they were fitted on; a student's own by
``assistant calibrate --gold FILE --write``, kept in their index folder (`USER_GATE`) and used
instead of the shipped one.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from assistant import tuning
from assistant.schema import RetrievedChunk
from assistant.text.question import comparison_sides
from assistant.text.specificity import specificity, zipf
from assistant.text.words import FILLER, STOPWORDS, salient, salient_word, tokens

if TYPE_CHECKING:
    from assistant.embedding.encoders import Embedder

FEATURES = ("similarity", "coverage", "unseen", "unknown_term")


class Vocabulary:
    """What the notes contain, for judging questions: passage counts per stem and the plain text.

    Built once per loaded index (a few milliseconds for the MLA notes; from the index's keyword
    counts, `from_keywords`, so that 100x the notes take 0.1 s instead of 3 s).
    """

    def __init__(self, texts: Sequence[str], doc_freq: dict[str, int] | None = None,
                 words: Iterable[str] | None = None) -> None:
        """Index the passages.

        Args:
            texts: Every passage, heading path included.
            doc_freq: Passages per stem, when already counted (else counted from ``texts``).
            words: Every `words.tokens` word of the passages, when already known (else read from ``texts``).
        """
        self.n_docs = len(texts)
        self._texts = texts
        self._words = set(words) if words is not None else None
        self._initials: dict[str, bool] = {}
        if doc_freq is None:
            doc_freq = {}
            for text in texts:
                for word in set(salient(text)):
                    doc_freq[word] = doc_freq.get(word, 0) + 1
        self.doc_freq = doc_freq

    @classmethod
    def from_keywords(cls, keywords, texts: Sequence[str]) -> Vocabulary:
        """The same vocabulary from a `keyword.KeywordIndex` over these texts' `words.tokens`.

        Args:
            keywords: Word counts of every passage (the index stores them for BM25).
            texts: The same passages (for the plain text).
        """
        import numpy as np

        from assistant.store.keyword import EMPTY

        ids: dict[str, int] = {}
        of_word = np.array([-1 if w == EMPTY or (s := salient_word(w)) is None else ids.setdefault(s, len(ids))
                            for w in keywords.words], dtype=np.int64)
        docs = np.repeat(np.arange(keywords.size), np.diff(keywords.indptr))
        stems = of_word[keywords.term_ids] if len(keywords.term_ids) else np.zeros(0, np.int64)
        kept = stems >= 0
        pairs = np.unique(docs[kept] * max(len(ids), 1) + stems[kept])  # each stem once per passage
        counts = np.bincount(pairs % max(len(ids), 1), minlength=len(ids))
        return cls(texts, {s: int(counts[i]) for s, i in ids.items() if counts[i]},
                   (w for w in keywords.words if w != EMPTY))

    @classmethod
    def of_index(cls, index) -> Vocabulary:
        """The vocabulary of a loaded index (`store.LoadedIndex`): from its stored keyword counts."""
        texts = [c.search_text() for c in index.chunks]
        return cls.from_keywords(index.keywords, texts) if index.chunks and index.keywords is not None else cls(texts)

    @cached_property
    def text(self) -> str:
        """Every passage lower-cased, punctuation as spaces, joined (for phrase lookups)."""
        return " " + " ".join(" ".join(re.sub(r"[^a-z0-9]+", " ", t.lower()).split()) for t in self._texts) + " "

    def idf(self, word: str) -> float:
        """Rarity of a stem in the notes (unseen stems are rarest)."""
        return math.log((self.n_docs + 1) / (self.doc_freq.get(word, 0) + 0.5))

    def has_phrase(self, phrase: str) -> bool:
        """Whether the notes contain the words of ``phrase`` in a row (case and punctuation ignored)."""
        words = re.sub(r"[^a-z0-9]+", " ", phrase.lower()).split()
        return bool(words) and f" {' '.join(words)} " in self.text

    @cached_property
    def words(self) -> frozenset[str]:
        """Every word of the notes (`words.tokens`, lower-cased) with its inflection bases ("drifted": "drift")."""
        surface = self._words if self._words is not None else {w for t in self._texts for w in tokens(t)}
        return frozenset(b for w in surface for b in inflection_bases(w))

    @cached_property
    def _sorted_words(self) -> list[str]:
        return sorted(self.words)

    def _has_initials(self, word: str) -> bool:
        """Whether the notes have a run of words with these initials ("bpe": "byte pair encoding")."""
        if word not in self._initials:
            pattern = " " + " ".join(f"{ch}[a-z0-9]*" for ch in word) + " "
            self._initials[word] = re.search(pattern, self.text) is not None
        return self._initials[word]

    def _has_prefix(self, prefix: str) -> bool:
        """Whether some word of the notes starts with ``prefix``."""
        import bisect

        i = bisect.bisect_left(self._sorted_words, prefix)
        return i < len(self._sorted_words) and self._sorted_words[i].startswith(prefix)

    def spelled_out(self, word: str) -> str | None:
        """The notes' word that a clipped question word stands for ("async": "asynchronous"), or None.

        Only for a word the notes never contain, of at least 4 letters, and at least
        ``tuning.CLIPPED_LETTERS`` letters shorter than the notes' word: a derivation one or two
        letters longer ("agent": "agentic") is another word, not a clipping. Of several notes'
        words with that start, the one in the most passages.
        """
        import bisect

        word = word.lower()
        if len(word) < 4 or not word.isalpha() or self.knows(word):
            return None
        best, rank = None, (0, 0)
        for clipped in sorted(inflection_bases(word), key=len, reverse=True):  # "evals": "eval"
            if len(clipped) < 4:
                continue
            i = bisect.bisect_left(self._sorted_words, clipped)
            while i < len(self._sorted_words) and self._sorted_words[i].startswith(clipped):
                full = self._sorted_words[i]
                stem = salient_word(full)
                # the most passages, then the longest spelling ("asynchronous" over its base "asynchronou")
                found = (self.doc_freq.get(stem, 0) if stem else 0, len(full))
                if len(full) - len(clipped) >= tuning.CLIPPED_LETTERS and found > rank:
                    best, rank = full, found
                i += 1
            if best:
                return best
        return None

    def spell_out(self, text: str) -> str:
        """The text with its clipped words written as the notes write them (`spelled_out`)."""
        return re.sub(r"[A-Za-z]+", lambda m: self.spelled_out(m.group(0)) or m.group(0), text)

    def knows(self, word: str) -> bool:
        """Whether the notes contain ``word`` in some inflection ("drifted" is known from "drift")."""
        return not inflection_bases(word.lower()).isdisjoint(self.words)

    def explains(self, word: str) -> bool:
        """Whether an unknown word is a known one in another spelling.

        A clipped word ("hyperparams", "async"), two known words run together ("pretrained",
        "timestamp"), or initials of notes' words ("bpe").
        """
        word = word.lower()
        if any(self._has_prefix(base) for base in inflection_bases(word) if len(base) >= 4):
            return True
        # a derivation sharing most of its letters ("denormalize": "denormalization"), never a short
        # stem ("formation" shares only "format")
        if len(word) >= 7 and self._has_prefix(word[: max(7, math.ceil(0.7 * len(word)))]):
            return True
        if any(word.startswith(p) and len(word) - len(p) >= 4 and self.knows(word[len(p):]) for p in _PREFIXES):
            return True  # "unlabeled", "retrain", "multiclass"
        if any(self.knows(word[:i]) and self.knows(word[i:]) for i in range(2, len(word) - 2)):
            return True
        # initials only for an unusual word: "bpe" is byte pair encoding, "cup" or "our" is just a word
        return 2 <= len(word) <= 4 and word.isalpha() and zipf(word) < tuning.ACRONYM_ZIPF and self._has_initials(word)

    def unknown_terms(self, question: str) -> list[str]:
        """The question's topic words that the notes never contain, lower-cased, in order.

        Stopwords, conversational filler and plain numbers ("50k", "2018", "70%") are skipped; a word
        with letters and digits ("trn1", "a2i") counts. How surely one of these is a thing the notes
        lack is its `specificity.specificity`. Letter case plays no part.
        """
        found = []
        # a word with a replacement character lost bytes on the way in ("caf\ufffd" from Latin-1): not a word
        for word in question_words(re.sub(r"\w*\ufffd\w*", " ", question)):
            if word in STOPWORDS or word in FILLER or len(word) < 2 or _NUMBER.fullmatch(word):
                continue
            if not self.knows(word):
                found.append(word)
        return list(dict.fromkeys(found))


_PREFIXES = ("un", "re", "pre", "non", "de", "dis", "mis", "over", "under", "multi", "sub", "co", "auto", "self")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?[kmb%]?|\d+(?:st|nd|rd|th|s|x)?")
_WORD = re.compile(r"[a-z0-9]+")
_INFLECTIONS = (("ies", "y"), ("es", ""), ("s", ""), ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"),
                ("ers", ""), ("er", ""))


def question_words(text: str) -> list[str]:
    """The words of a text, lower-cased; hyphenated and slashed words in their parts ("k-fold": k, fold)."""
    # apostrophes go first: "won't" is "wont" (filler), not "won"; "sagemaker's" is a plural-like "sagemakers"
    return _WORD.findall(re.sub(r"['’]", "", text.lower()))


def inflection_bases(word: str) -> set[str]:
    """A word and what it may be an inflection of: "drifted" -> drift, drifte; "batches" -> batch, batche.

    Inflections only, never derivations: "formation" is not "form" or "format", so "Lake Formation"
    stays unknown to notes about file formats (the gate's stemmer, `words.stem`, would merge them).
    """
    out = {word}
    for suffix, replacement in _INFLECTIONS:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)] + replacement
            out.add(base)
            if not replacement and len(base) > 3 and base[-1] == base[-2] and base[-1] not in "aeiouls":
                out.add(base[:-1])  # "stopped" -> "stop"
    return out


def term_weight(word: str, vocab: Vocabulary) -> float:
    """How surely an unknown question word is a thing the notes lack.

    Its `specificity`, discounted when the notes hold it in another spelling (`Vocabulary.explains`).
    """
    weight = specificity(word)
    return weight * tuning.EXPLAINED_TERM if weight and vocab.explains(word) else weight


def _share(words: Sequence[str], present: Callable[[str], bool], vocab: Vocabulary) -> float:
    unique = list(dict.fromkeys(words))
    if not unique:
        # no word the notes could hold (another script, only filler): nothing is covered
        return 0.0
    weights = [vocab.idf(w) for w in unique]
    total = sum(weights)
    return sum(w for word, w in zip(unique, weights, strict=True) if present(word)) / total if total else 1.0


def centrality(words: Sequence[str], question: str, embedder: Embedder) -> list[float]:
    """How central each word is to the question's meaning, in [0, 1], by the embedding model.

    The cosine between the word alone and the (lower-cased) question, mapped linearly from
    `tuning.PERIPHERAL_COSINE` (0) to `tuning.CENTRAL_COSINE` (1). The thing a question asks about
    is close to the question ("podman" in "podman vs docker": 0.75); a word about how it is asked
    is not ("hammered" in "...the endpoint will get hammered": 0.05). The words are embedded
    apart from the question (short inputs: ~3 ms); the question's vector comes from
    ``embed_tokens``, which the assistant's question embedder remembers from retrieval.
    """
    import numpy as np

    vectors = np.asarray(embedder.embed(list(words)), dtype=np.float64)
    asked = np.asarray(embedder.embed_tokens([question.lower()])[0][0], dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    cosines = vectors @ (asked / max(float(np.linalg.norm(asked)), 1e-12))
    span = tuning.CENTRAL_COSINE - tuning.PERIPHERAL_COSINE
    return [min(1.0, max(0.0, (float(c) - tuning.PERIPHERAL_COSINE) / span)) for c in cosines]


def unknown_term(question: str, vocab: Vocabulary, embedder: Embedder | None = None) -> float:
    """The strongest sign that the question asks about something the notes lack, in [0, 1].

    Over the question's words the notes never contain: the word's `term_weight` (how specific it
    is in general English) times its `centrality` to the question (1 for every word when no
    ``embedder`` is given); the two strongest add up, capped at 1. Lower-cased throughout:
    capitals change nothing.
    """
    weights = {w: term_weight(w, vocab) for w in vocab.unknown_terms(question)}
    weights = {w: x for w, x in weights.items() if x > 0}
    if not weights:
        return 0.0
    central = centrality(list(weights), question, embedder) if embedder is not None else [1.0] * len(weights)
    # the two strongest words add up: two things the notes lack ("opensearch serverless") are surer than one
    strongest = sorted((x * c for x, c in zip(weights.values(), central, strict=True)), reverse=True)
    return min(1.0, sum(strongest[: tuning.UNKNOWN_TERMS_ADDED]))


def evidence(question: str, hits: Sequence[RetrievedChunk], vocab: Vocabulary,
             embedder: Embedder | None = None) -> dict[str, float]:
    """The gate's features for one question and its retrieved passages.

    Args:
        question: The (standalone) question.
        hits: The retrieved passages.
        vocab: What the notes contain.
        embedder: The embedding model (for `centrality`); the answer chain always passes it.

    Returns:
        ``similarity``, ``coverage``, ``unseen`` and ``unknown_term`` (see `unknown_term`), each in
        [0, 1]. None depends on letter case.
    """
    asked = question
    question = vocab.spell_out(question)  # "async inference" is the notes' "asynchronous inference"
    words = salient(question)
    found: set[str] = set()
    for hit in hits:
        found.update(salient(" ".join(hit.heading_path) + "\n" + hit.text))
    # sides of the lower-cased question: `comparison_sides` reads capitals as names, the gate must not
    sides = [side for side in comparison_sides(question.lower()) or () if salient(side)] or [question]
    coverage = min(_share(salient(side), found.__contains__, vocab) for side in sides)
    unseen = 1.0 - _share(words, lambda w: vocab.doc_freq.get(w, 0) > 0, vocab)
    return {
        "similarity": max((h.similarity for h in hits), default=0.0),
        "coverage": coverage,
        "unseen": unseen,
        # as asked: a clipped word still counts, discounted (`term_weight`), as in the calibration
        "unknown_term": unknown_term(asked, vocab, embedder),
    }


@dataclass(frozen=True)
class Gate:
    """A fitted logistic model: answer when P(covered) >= threshold.

    Attributes:
        weights: One weight per feature in `FEATURES`.
        bias: The intercept.
        threshold: The probability above which the question is answered.
        fitted_on: What it was fitted on (model fingerprint, notes, gold file, date, counts).
        source: "shipped" (the package's gate) or the path of a student's own gate.
    """

    weights: tuple[float, ...]
    bias: float
    threshold: float
    fitted_on: Mapping = field(default_factory=dict, compare=False)
    source: str = "shipped"

    def probability(self, features: Mapping[str, float]) -> float:
        """P(the notes cover the question) for one feature dict."""
        z = self.bias + sum(w * features[name] for w, name in zip(self.weights, FEATURES, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def covered(self, features: Mapping[str, float]) -> bool:
        """True when the notes are judged to answer the question."""
        return self.probability(features) >= self.threshold

    def to_dict(self) -> dict:
        """The JSON form written by the calibration script."""
        return {"features": list(FEATURES), "weights": list(self.weights), "bias": self.bias,
                "threshold": self.threshold}


#: A student's own gate (`assistant calibrate --write`) lives in their index folder under this name.
USER_GATE = "abstention.json"


def load_gate(path: Path | None = None) -> Gate:
    """A calibrated gate: the one in ``path`` when given, else the one shipped with the package.

    Args:
        path: A gate written by `assistant calibrate --write` (the student's notes and questions).

    Raises:
        ValueError: The file was fitted on other features (refit it).
    """
    if path is None:
        text = resources.files("assistant.answer").joinpath("abstention.json").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text)
    if list(data["features"]) != list(FEATURES):
        fix = "run `assistant calibrate --gold FILE --write` again" if path else "run eval/calibrate_abstention.py"
        raise ValueError(f"{path or 'abstention.json'} was fitted on other features; {fix}")
    return Gate(tuple(float(w) for w in data["weights"]), float(data["bias"]), float(data["threshold"]),
                fitted_on=dict(data.get("fitted_on") or {}), source=str(path) if path else "shipped")


def fit_gate(rows: Sequence[Mapping[str, float]], labels: Sequence[bool], l2: float = 0.003,
             steps: int = 5000, rate: float = 0.5) -> tuple[tuple[float, ...], float]:
    """Fit the logistic weights by gradient descent (L2-penalized; features are all in [0, 1]).

    Args:
        rows: Feature dicts.
        labels: True where the notes answer the question.
        l2: Penalty on the weights (not the bias), which keeps 13 negatives from being memorized.
        steps: Gradient steps.
        rate: Step size.

    Returns:
        (weights, bias).
    """
    import numpy as np

    x = np.array([[r[name] for name in FEATURES] for r in rows], dtype=np.float64)
    y = np.array(labels, dtype=np.float64)
    # answerable questions outnumber the rest ~9:1; weight classes equally so the fit cares about both
    w_pos, w_neg = 0.5 / max(y.sum(), 1), 0.5 / max((1 - y).sum(), 1)
    sample = np.where(y == 1, w_pos, w_neg)
    weights, bias = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ weights + bias)))
        grad = sample * (p - y)
        weights -= rate * (x.T @ grad + l2 * weights)
        bias -= rate * grad.sum()
    return tuple(float(w) for w in weights), float(bias)
