"""How specific a word is in general English: "guardrails" and "trainium" name things, "use" does not.

The coverage gate weighs a question word the notes never contain by this: an unknown rare word is
most likely the thing being asked about (a service, a tool, a term the notes lack), an unknown
common word is most likely just how the student phrased it. Frequencies come from ``wordfreq``
(Zipf scale: log10 of occurrences per billion words; "the" 7.7, "use" 5.8, "canvas" 4.0,
"guardrails" 2.1, unseen words 0). Its English table loads on first use (~0.25 s with the import)
and every answer after that reads a cached value; nothing is downloaded, the data ships in the wheel.
Letter case plays no part: words are looked up lower-cased.
"""

from __future__ import annotations

from functools import lru_cache

from assistant import tuning


@lru_cache(maxsize=1)
def _lookup():
    # imported on first use: the wordfreq import and its English table cost ~0.25 s, paid by the
    # first answer, not by `assistant --help`, ingest or search
    from wordfreq import zipf_frequency

    return zipf_frequency


@lru_cache(maxsize=65536)
def zipf(word: str) -> float:
    """General-English frequency of a word on the Zipf scale (0 for a word wordfreq never saw).

    Args:
        word: One word; looked up lower-cased.
    """
    return float(_lookup()(word.lower(), "en"))


def specificity(word: str) -> float:
    """How surely a word names a specific thing, in [0, 1]: 1 for rare words, 0 for everyday ones.

    Linear in the Zipf frequency between `tuning.SPECIFIC_ZIPF` (and rarer: 1) and
    `tuning.COMMON_ZIPF` (and commoner: 0).

    Args:
        word: One word, any case.
    """
    z = zipf(word)
    span = tuning.COMMON_ZIPF - tuning.SPECIFIC_ZIPF
    return min(1.0, max(0.0, (tuning.COMMON_ZIPF - z) / span))
