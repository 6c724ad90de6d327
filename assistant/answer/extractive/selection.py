"""Which lines of the passages make the answer: scored, greedy, without repeats, within a word budget."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from assistant import tuning
from assistant.text.sentences import GENERIC_LABELS, Unit, split_sentences
from assistant.text.words import jaccard, reader_words, salient


@lru_cache(maxsize=50_000)
def topic_words(text: str) -> frozenset[str]:
    """A text's topic-word stems (`words.salient`), cached: the same lead-ins and headings recur."""
    return frozenset(salient(text))


def keyword_share(query: str, unit: Unit, heading: str) -> float:
    """Share of the query's topic words found in the sentence, its lead-ins or its heading."""
    wanted = topic_words(query)
    if not wanted:
        return 0.0
    have = topic_words(heading) | topic_words(unit.parent) | topic_words(unit.label) | topic_words(unit.text)
    return len(wanted & have) / len(wanted)


#: lead-ins that say "what this section's subject is": under a heading naming the thing asked, the entry
DEFINING_LABELS = frozenset({"description", "definition", "overview", "purpose", "explanation", "what it is"})


def names_asked(question: str, unit: Unit, section: str = "") -> float:
    """Share of a line's lead-in that the question says: 1.0 for the notes' entry on what is asked.

    "**SageMaker Canvas:** A no-code interface ..." is the entry for "what is sagemaker canvas?";
    "**Sharing:** analysts share Canvas models ..." names something else, and a lead-in that
    names a kind of line ("Example:", "Use Cases:") names nothing. A defining lead-in
    ("**Description:** A service for detecting bias ...") under a section titled with the thing
    asked ("9. SageMaker Clarify") is that thing's entry too: the section title names it.

    Args:
        question: The question.
        unit: The line.
        section: The title of the line's own section (its last heading), when known.
    """
    label = unit.label.lower()
    if label in DEFINING_LABELS and section:
        named = topic_words(section)
        return len(named & topic_words(question)) / len(named) if named else 0.0
    named = topic_words(unit.label)
    if not named or label in GENERIC_LABELS:
        return 0.0
    return len(named & topic_words(question)) / len(named)


def shown_words(unit: Unit) -> int:
    """Words a unit costs in the answer (a line as shown, cut by `shorten`; code and rows whole)."""
    if unit.kind != "text":
        return reader_words(unit.text)
    return reader_words(shorten(unit.text))


def _contained(words: frozenset[str], kept: frozenset[str]) -> bool:
    # a short restatement of a longer kept line: Jaccard is low (the long line has many more words)
    return bool(words) and len(words & kept) / len(words) >= tuning.CONTAINED


def _said_share(words: frozenset[str], said: set[str]) -> float:
    return len(words & said) / len(words) if words else 1.0


def _continues(units: Sequence[Unit], i: int, picked: list[int]) -> bool:
    """Whether unit ``i`` is a sentence of a line one of ``picked`` is another sentence of."""
    unit = units[i]
    return unit.part and any(units[j].part and units[j].chunk == unit.chunk and units[j].span == unit.span
                             for j in picked)


def select(scores: np.ndarray, units: Sequence[Unit], budget: int, floor: float,
           taken: list[int] | None = None, leads: Sequence[str] | None = None,
           core: int | None = None, extend: float = 0.0) -> list[int]:
    """Greedy pick of the best sentences: above ``floor``, not redundant, within ``budget`` words.

    Maximal marginal relevance (Carbonell & Goldstein, 1998) on words: each step takes the line
    whose score, less ``tuning.NOVELTY`` times the share of its words already said, is highest. The
    notes restate things ("Model Monitor detects drift" four ways); a line that adds new words
    (baselines, alerts) beats a fifth restatement. A line sharing ``tuning.REDUNDANT`` of its words
    with a picked one (Jaccard), or holding ``tuning.CONTAINED`` of its own words inside one, is left
    out. A line filed under the lead-in of a line
    already picked gains ``tuning.COHERENCE``: once the answer is about "Overfitting", the notes' other
    "Overfitting:" line (how to fix it) belongs in it.

    Args:
        scores: One score per unit.
        units: The candidate sentences.
        budget: Words allowed for the picked sentences together.
        floor: Lowest score worth keeping.
        taken: Units already picked elsewhere (not repeated, and redundant with).
        leads: Each unit's lead-in as the answer shows it: its words count against the budget
            once, with the first picked line under it (None: only the lines' own words count).
        core: Words after which a line joins only if it scores ``extend`` times the best
            candidate's score or more, or is the rest of a line already picked ("On the default
            bridge they can only use IP addresses." after the line's first sentence); None: every
            line up to ``budget``.
        extend: See ``core``.

    Returns:
        Positions of the picked units, in the order they were picked.
    """
    taken = list(taken or [])
    words = {i: topic_words(f"{units[i].label} {units[i].text}") for i in range(len(units))}
    said: set[str] = set().union(*(words[j] for j in taken)) if taken else set()
    candidates = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= floor and int(i) not in taken]
    picked: list[int] = []
    topics: set[str] = set()  # lead-ins of this call's picks (another comparison side's are not this part's)
    shown: set[str] = set()  # lead-ins already paid for
    used = 0
    top = float(scores[candidates[0]]) if candidates else 0.0
    while candidates and used < budget:
        gains = [float(scores[i]) - tuning.NOVELTY * _said_share(words[i], said)
                 + tuning.COHERENCE * (units[i].label.lower() in topics) for i in candidates]
        best = candidates[int(np.argmax(gains))]  # first of equals: the higher-scored line
        candidates.remove(best)
        if any(jaccard(words[best], words[j]) >= tuning.REDUNDANT or _contained(words[best], words[j])
               for j in taken + picked):
            continue
        if (core is not None and used >= core and float(scores[best]) < extend * top
                and not _continues(units, best, picked)):
            continue
        size = shown_words(units[best])
        if leads is not None and leads[best] not in shown:
            size += reader_words(leads[best])
        if used + size > budget and picked:
            continue
        picked.append(best)
        used += size
        if leads is not None:
            shown.add(leads[best])
        said |= words[best]
        if units[best].label and units[best].label.lower() not in GENERIC_LABELS:
            topics.add(units[best].label.lower())
    return picked


def shorten(text: str, words: int = tuning.LINE_WORDS) -> str:
    """A long line cut after its last whole sentence within ``words`` words (or at ``words``), marked " …"."""
    if len(text.split()) <= words:
        return text
    kept = ""
    for a, b in split_sentences(text):
        if len((kept + text[a:b]).split()) > words:
            break
        kept = text[: b]
    return (kept or " ".join(text.split()[:words])).rstrip() + " …"
