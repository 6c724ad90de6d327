"""Do the notes cover a question? A calibrated gate on retrieval evidence, shared by every backend.

Three numbers describe how well the retrieved passages match a question:

* ``similarity``: the best passage's cosine similarity to the question (dense evidence);
* ``coverage``: the share of the question's words (weighted by rarity in the notes) that occur in
  the retrieved passages; for a comparison, the worst-covered side's share, since "Canvas vs Data
  Wrangler" is not answered by notes that only know Data Wrangler;
* ``unseen``: the share of the question's words (same weights) that occur nowhere in the notes.

A logistic model turns them into the probability that the notes answer the question. Its weights
and threshold are fitted by ``eval/calibrate_abstention.py`` on the gold set's answerable and
unanswerable questions and shipped in ``gate.json`` next to this file; the script prints the
calibration table. Near misses are the hard case: a service the notes never name, asked in words
that match notes about a neighbouring one. The rare unknown word ("Trainium", "Canvas") carries
the most weight there, which similarity alone cannot see.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources

from assistant.schema import RetrievedChunk
from assistant.text.question import comparison_sides
from assistant.text.words import FILLER, STOPWORDS, salient, salient_word

FEATURES = ("similarity", "coverage", "unseen", "unknown_name")


class Vocabulary:
    """What the notes contain, for judging questions: passage counts per stem and the plain text.

    Built once per loaded index (a few milliseconds for the MLA notes; from the index's keyword
    counts, `from_keywords`, so that 100x the notes take 0.1 s instead of 3 s).
    """

    def __init__(self, texts: Sequence[str], doc_freq: dict[str, int] | None = None) -> None:
        """Index the passages.

        Args:
            texts: Every passage, heading path included.
            doc_freq: Passages per stem, when already counted (else counted from ``texts``).
        """
        self.n_docs = len(texts)
        self._texts = texts
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
        return cls(texts, {s: int(counts[i]) for s, i in ids.items() if counts[i]})

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

    def unknown_names(self, question: str) -> list[str]:
        """Names in the question that the notes never mention.

        A name is a word written with capitals inside the question ("Canvas", "A2I", "FIFA") or
        with digits ("trn1"), or a pair of capitalized words ("Lake Formation") whose words the
        notes know but never together. Asked about by name and absent from the notes, it is the
        strongest sign of a near miss: the rest of the question may match a neighbouring service.
        Lower-case words are left to the other features: students write "prod", "hyperparams" and
        "tanked" about things the notes do cover.
        """
        words: list[str] = []
        starts: set[int] = set()  # a capital after a full stop is just grammar
        for sentence in re.split(r"(?<=[.?!:;])\s+|\s+[-–—]\s+|\n", question):
            starts.add(len(words))
            words.extend(re.findall(r"[A-Za-z0-9][A-Za-z0-9+-]*", sentence))
        found: list[str] = []

        def titled(w: str) -> bool:
            return w[:1].isupper() and w[1:].islower() and w.lower() not in STOPWORDS

        for i, word in enumerate(words):
            lower = word.lower().strip("-+")
            if i in starts or lower in STOPWORDS or lower in FILLER or len(lower) < 2:
                continue
            if re.fullmatch(r"\d+(?:[.,]\d+)?[kmb%]?|\d+(?:st|nd|rd|th|s)?", lower):
                continue  # a number or a year ("50k", "2018") is not a name
            name_like = any(ch.isupper() for ch in word) or any(ch.isdigit() for ch in word)
            known = any(self.doc_freq.get(w, 0) for w in salient(lower)) or self.has_phrase(lower)
            if name_like and not known:
                found.append(word)
        for i in range(1, len(words) - 1):
            pair = words[i : i + 2]
            alone = (i in starts or not titled(words[i - 1])) and (i + 2 >= len(words) or not titled(words[i + 2]))
            if alone and all(titled(w) for w in pair) and not self.has_phrase(" ".join(pair)):
                found.append(" ".join(pair))
        return list(dict.fromkeys(found))


def name_weight(name: str) -> float:
    """How surely an unknown name is a thing the notes lack.

    1 for "Canvas", "A2I", "trn1", "Lake Formation"; 0.5 for an all-capitals abbreviation ("BPE",
    "SSNs", "EU"), which is as often a student's shorthand for something the notes spell out.
    """
    letters = [ch for ch in name if ch.isalpha()]
    if len(name) <= 5 and letters and sum(ch.isupper() for ch in letters) >= len(letters) - 1 and not any(
            ch.isdigit() for ch in name):
        return 0.5
    return 1.0


def _share(words: Sequence[str], present: Callable[[str], bool], vocab: Vocabulary) -> float:
    unique = list(dict.fromkeys(words))
    if not unique:
        # no word the notes could hold (another script, only filler): nothing is covered
        return 0.0
    weights = [vocab.idf(w) for w in unique]
    total = sum(weights)
    return sum(w for word, w in zip(unique, weights, strict=True) if present(word)) / total if total else 1.0


def evidence(question: str, hits: Sequence[RetrievedChunk], vocab: Vocabulary) -> dict[str, float]:
    """The gate's features for one question and its retrieved passages.

    Args:
        question: The (standalone) question.
        hits: The retrieved passages.
        vocab: What the notes contain.

    Returns:
        ``similarity``, ``coverage``, ``unseen`` and ``unknown_name`` (see `name_weight`), each in [0, 1].
    """
    words = salient(question)
    found: set[str] = set()
    for hit in hits:
        found.update(salient(" ".join(hit.heading_path) + "\n" + hit.text))
    sides = [side for side in comparison_sides(question) or () if salient(side)] or [question]
    coverage = min(_share(salient(side), found.__contains__, vocab) for side in sides)
    unseen = 1.0 - _share(words, lambda w: vocab.doc_freq.get(w, 0) > 0, vocab)
    return {
        "similarity": max((h.similarity for h in hits), default=0.0),
        "coverage": coverage,
        "unseen": unseen,
        "unknown_name": max((name_weight(n) for n in vocab.unknown_names(question)), default=0.0),
    }


@dataclass(frozen=True)
class Gate:
    """A fitted logistic model: answer when P(covered) >= threshold.

    Attributes:
        weights: One weight per feature in `FEATURES`.
        bias: The intercept.
        threshold: The probability above which the question is answered.
    """

    weights: tuple[float, ...]
    bias: float
    threshold: float

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


def load_gate() -> Gate:
    """The calibrated gate shipped with the package (``assistant/answer/abstention.json``)."""
    data = json.loads(resources.files("assistant.answer").joinpath("abstention.json").read_text(encoding="utf-8"))
    if list(data["features"]) != list(FEATURES):
        raise ValueError("abstention.json was fitted on other features; run eval/calibrate_abstention.py")
    return Gate(tuple(float(w) for w in data["weights"]), float(data["bias"]), float(data["threshold"]))


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
