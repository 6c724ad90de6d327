"""Comparison questions: what each side is called in the notes, and which lines are about which side."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from assistant.answer.extractive.selection import topic_words
from assistant.text.sentences import GENERIC_LABELS, Unit
from assistant.text.words import salient

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|[_]+|(?<=[A-Za-z])-(?=[A-Za-z])")


def _words(text: str) -> str:
    """Text with its identifiers split into words: "livenessProbe", "liveness_probe" -> "liveness Probe"."""
    return _CAMEL.sub(" ", text)


def _phrase(text: str) -> str:
    return " " + " ".join(salient(_words(text))) + " "


def _joined(side: str, text: str) -> bool:
    """Whether a run of the text's words spells the side written as one word ("livenessprobe")."""
    target = "".join(re.findall(r"[a-z0-9]+", side.lower()))
    words = re.findall(r"[a-z0-9]+", _words(text).lower())
    if len(target) < 6:
        return False
    for i in range(len(words)):
        spelled = ""
        for word in words[i:i + 4]:
            spelled += word
            if spelled == target:
                return True
            if not target.startswith(spelled):
                break
    return False


def says(name: str, text: str) -> bool:
    """Whether a text names something by all its words in a row, in any identifier spelling.

    "model monitors" says "Model Monitor"; "livenessProbe" says "liveness probe".
    """
    phrase = _phrase(name)
    return phrase.strip() != "" and (phrase in _phrase(text) or _joined(name, text))


def _names(side: str, texts: Sequence[str]) -> np.ndarray:
    """Which texts name a side: its words in a row, else (if none does) all its words anywhere.

    Spellings of one identifier match each other: "livenessProbe", "liveness_probe",
    "liveness-probe", "liveness probe" and "livenessprobe".
    """
    named = np.array([says(side, t) for t in texts])
    if named.any():
        return named
    words = topic_words(side)
    return np.array([bool(words) and words <= topic_words(t) for t in texts])


def side_lines(sides: Sequence[str], units: Sequence[Unit], topics: Sequence[str]) -> list[np.ndarray]:
    """For each comparison side, the lines about it.

    A line is about the sides its most specific topic names: its own bold label, else its
    enclosing lead-in, else its section heading, else its text. So "Trade-offs: more efficient
    than grid search" under "Random Search" is about random search though it names grid search,
    and "Model Parallelism: splits the model …" under a heading naming both kinds of parallelism
    is about model parallelism only. A line with a lead-in of its own is not about a side its
    text merely mentions ("Label Encoding: … used in gradient-boosting models").
    """
    # each level adds the next wider context, so a side named across them ("Parquet data
    # formats": label "Apache Parquet" under "Data Formats") is still found
    labels = [u.label for u in units]
    parents = [f"{u.label} . {u.parent}" for u in units]
    headings = [f"{p} . {t}" for p, t in zip(parents, topics, strict=True)]
    # a line's text names a side only when the line has no topic of its own: "Label Encoding:
    # ... often used in gradient-boosting models" is about label encoding, not boosting
    # (a code comment's text includes the commands it annotates)
    texts = [f"{h} . {u.text} {u.context}" for h, u in zip(headings, units, strict=True)]
    topical = [h if u.label and u.label.lower() not in GENERIC_LABELS else t
               for h, t, u in zip(headings, texts, units, strict=True)]
    about = _claim(sides, [labels, parents, headings, topical])
    if not all(side.any() for side in about):
        # a side no line is about by topic: lines that name it in their text speak for it
        # (its notes may file it under a lead-in that is neither a topic nor generic: "Summary:")
        loose = _claim(sides, [labels, parents, headings, texts])
        about = [side if side.any() else wide for side, wide in zip(about, loose, strict=True)]
    return about


def _claim(sides: Sequence[str], levels: Sequence[Sequence[str]]) -> list[np.ndarray]:
    """Each line goes to the sides named at the first (most specific) level that names any side."""
    count = len(levels[0]) if levels else 0
    claimed = np.zeros(count, bool)
    about = [np.zeros(count, bool) for _ in sides]
    for texts in levels:
        named = [_names(side, texts) for side in sides]
        fresh = np.any(named, axis=0) & ~claimed if named else claimed
        for side, hits in zip(about, named, strict=True):
            side |= hits & fresh
        claimed |= fresh
    return about


def _core(text: str) -> str:
    """A name without its parenthesised aside: "link state (LS)" -> "link state"."""
    return re.sub(r"\([^)]*\)", " ", text)


def _distinct(sides: Sequence[str]) -> list[str]:
    """Each side without the words every side shares: "mac address" / "ip address" -> "mac" / "ip"."""
    shared = set.intersection(*(set(salient(_words(s))) for s in sides)) if sides else set()
    out = []
    for side in sides:
        kept = [w for w in re.findall(r"[A-Za-z0-9][\w-]*", _words(side)) if not set(salient(w)) <= shared]
        out.append(" ".join(kept) if kept and len(kept) < len(side.split()) else "")
    return out


def sides_named(sides: Sequence[str], units: Sequence[Unit]) -> np.ndarray:
    """How many sides each line names in its own words.

    Its own words: its lead-in, else its text and, for a code comment, the commands it annotates.
    A side is named in full ("mac address") or, when the sides share words, by what sets it apart
    ("MAC = 48 bit ... vs IP = hierarchical" names both "mac address" and "ip address"; "# stop
    (...) vs kill (...)" names "docker stop" and "docker kill").
    """
    # a line with a lead-in of its own is about that ("Integration with S3: moves data between S3 and
    # FSx ..." is about the integration), as in `side_lines`
    texts = [u.label if u.label and u.label.lower() not in GENERIC_LABELS else f"{u.label} . {u.text} . {u.context}"
             for u in units]
    count = np.zeros(len(units), int)
    for side, short in zip(sides, _distinct(sides), strict=True):
        full = _names(side, texts) if _phrase(side).strip() else np.zeros(len(units), bool)
        if short:
            phrase = _phrase(short)
            full = full | np.array([phrase.strip() != "" and phrase in _phrase(t) for t in texts])
        count += full
    return count


def header_sides(sides: Sequence[str], header: Sequence[str]) -> int:
    """How many sides a table's header names, one per column ("| | hub | switch | router |": 3).

    A column names a side when it says the side ("TCP") or the side says the column's name
    without its aside ("distance vector routing" says "distance vector (DV)").
    """
    found = set()
    for cell in header:
        core = _phrase(_core(cell))
        for n, side in enumerate(sides):
            if n in found or not core.strip():
                continue
            said = _phrase(side)
            if (said.strip() and said in _phrase(cell)) or core in said or _joined(side, cell):
                found.add(n)
                break
    return len(found)


def asked_about(question: str, sides: Sequence[str]) -> str:
    """What the question asks about every side, or "".

    The topic words of the clause that leads into the first side: "metrics evaluate" in "which
    metrics do I use to evaluate X vs Y".
    """
    at = question.lower().find(sides[0].lower()) if sides else -1
    if at <= 0:
        return ""
    clause = re.split(r"[,;:?!.]|\s[-–—]\s|[–—]", question[:at])[-1]
    clause = re.sub(r"['’]s\b", "", clause)  # "what's" is not a topic word "s"
    named = set().union(*(topic_words(side) for side in sides))
    words = [w for w in re.findall(r"[A-Za-z0-9][\w-]*", clause)
             if len(w) > 1 and topic_words(w) and not topic_words(w) & named]
    return " ".join(dict.fromkeys(w.lower() for w in words))


def side_title(side: str) -> str:
    """A comparison side as a lead-in: "I detect concept drift" -> "Concept drift"."""
    text = re.sub(r"^(?:(?:how|when|why)\s+)?(?:(?:do|can|should|would)\s+)?(?:i|we|you)\s+\w+\s+(?:the\s+)?", "",
                  side.strip(), flags=re.I) or side.strip()
    return text[:1].upper() + text[1:]


def notes_name(title: str, question: str, units: Sequence[Unit], topics: Sequence[str]) -> str:
    """The side as the notes name it.

    A word borrowed from another side ("xgboost vs random forest" read as "xgboost forest") is
    dropped again when the notes never say it that way.
    """
    words = title.split()
    if len(words) == 1 and (title.islower() or title[:1].isupper() and title[1:].islower()):
        # one word as typed ("livenessprobe"): the notes' own spelling of it ("livenessProbe")
        for unit in units:
            for token in re.findall(r"[A-Za-z][A-Za-z0-9_-]*[A-Za-z0-9]", unit.text):
                if token.lower() == title.lower() and token != token.lower():
                    return token
    if len(words) < 2:
        return title
    texts = [f"{t} . {u.parent} . {u.label} {u.text}" for u, t in zip(units, topics, strict=True)]
    if title[1:].islower():
        # typed in lower case ("aws step functions"): the notes' own spelling ("AWS Step Functions")
        said = re.compile(r"(?<![\w-])" + r"\s+".join(map(re.escape, words)) + r"(?![\w-])", re.I)
        for text in texts:
            found = said.search(text)
            if found and not found.group(0)[1:].islower():
                return " ".join(found.group(0).split())
    if _phrase(title) in _phrase(question) or any(_phrase(title) in _phrase(t) for t in texts):
        return title
    return " ".join(words[:-1])
