"""Evidence coverage's own words: how the harness decides an answer states a gold evidence string.

The extractive backend picks lines by `text.words.salient` stems; measuring coverage with the same
word bag would favour whatever that backend quotes over an LLM's paraphrase when backends are
compared. So the evaluation has its own tokens, stop words and suffix rules here, shared with no
backend: numbers count (a table row's "8 bytes"), function words don't, and common inflections
meet ("detects", "detected", "detecting" -> "detect"; "policies" -> "policy").
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[a-z0-9]+")

# English function words (closed-class: articles, pronouns, auxiliaries, prepositions, conjunctions),
# and the light verbs and quantifiers that say nothing of the notes ("using", "one go", "many")
STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself let me more most my myself no nor not
of off on once only or other ought our ours ourselves out over own same she should so some such than that
the their theirs them themselves then there these they this those through to too under until up very was
we were what when where which while who whom why will with would you your yours yourself yourselves also
via per e g ie eg etc use uses used using one go goes get gets make makes like just well may might must
shall often many much every
""".split())


def _base(word: str) -> str:
    """A word without its regular inflection (plural, -ed, -ing, -ly), for matching only."""
    if word.isdigit() or len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("ed") and len(word) == 4:  # "used" -> "use"
        return word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "lsz":  # "mapped" -> "map"
                stem = stem[:-1]
            return stem
    if word.endswith("ly") and len(word) > 5:
        return word[:-2]
    if word.endswith("es") and word[-3] in "sxz" or word.endswith(("ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def content_words(text: str) -> set[str]:
    """The distinct content words of a text, lower-cased and without inflection."""
    bases = set()
    for word in _TOKEN.findall(text.lower()):
        if word not in STOP_WORDS:
            base = _base(word)
            # "detect" and "detected" meet at "detect"; "use"/"used" at "us": both sides are reduced alike
            bases.add(base[:-1] if base.endswith("e") and len(base) > 4 else base)
    return bases


def stated_share(evidence: str, answer: str) -> float:
    """Share of the evidence's content words that the answer holds (1.0 for evidence with none)."""
    wanted = content_words(evidence)
    return len(wanted & content_words(answer)) / len(wanted) if wanted else 1.0
