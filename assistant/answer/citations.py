"""Pure citation handling: parse an answer's ``[n]`` markers once into typed, checked citations.

A marker must name a passage the backend was shown; anything else is removed from the text and
logged (a model inventing ``[7]`` out of five passages must not send the student to a random
place). Each citation carries the passage's sentence(s) that the citing sentences rely on,
verbatim from the passage, so the UI can highlight them; a quotation the answer puts in quote
marks is checked to really occur in the cited passage.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from assistant import tuning
from assistant.schema import Citation, RetrievedChunk
from assistant.text.sentences import Unit, clean, passage_units
from assistant.text.words import tokens

log = logging.getLogger(__name__)


# [1], [1, 2], [1,2,3], [1-3], [1–3]; also the common "[1][2]" (two markers)
MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*(?:,|-|–)\s*\d{1,3})*)\s*,?\s*\]")


CODE = re.compile(r"```.*?(?:```|$)|~~~.*?(?:~~~|$)|`[^`\n]*`", re.S)


# a fenced code block of an answer (its lines, fences included), at the start of a line
_FENCED = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n.*?^[ \t]*\1[ \t]*$", re.S | re.M)


_QUOTED = re.compile(r"[\"“]([^\"”]{12,400})[\"”]")


_SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?](?!\d)|\n|$)")


_TAIL_MARKERS = re.compile(r"(?:[ \t]*\[\s*\d{1,3}(?:\s*(?:,|-|–)\s*\d{1,3})*\s*,?\s*\])+")




@dataclass
class ParsedAnswer:
    """An answer text after its markers were checked.

    Attributes:
        text: The text with invalid markers removed.
        citations: One per distinct valid marker, in order of first use.
        dropped: Marker numbers that named no passage.
        unverified_quotes: Quoted passages ("...") not found in the passage they cite.
    """

    text: str
    citations: list[Citation] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    unverified_quotes: list[str] = field(default_factory=list)


def marker_numbers(body: str) -> list[int]:
    """The numbers inside one marker's brackets: ``"1, 3-4"`` -> ``[1, 3, 4]``."""
    numbers: list[int] = []
    for part in re.split(r"\s*,\s*", body.strip()):
        if re.fullmatch(r"\d+\s*[-–]\s*\d+", part):
            a, b = (int(x) for x in re.split(r"\s*[-–]\s*", part))
            if a <= b and b - a < 20:  # "[3-1]" or "[1-40]" are not ranges a model means
                numbers.extend(range(a, b + 1))
                continue
        if part.isdigit():
            numbers.append(int(part))
    return numbers


def _normalized(text: str) -> str:
    return " ".join(re.sub(r"[^\w%./-]+", " ", clean(text).lower()).split())


def quote_occurs(quote: str, passage: str) -> bool:
    """Whether a quotation occurs in a passage, ignoring case, markup, punctuation and spacing."""
    needle = _normalized(quote)
    return bool(needle) and needle in _normalized(passage)


def _claims(text: str) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """Sentences of the answer with the markers in each: (sentence, [(start, end, body)])."""
    out = []
    at = 0
    while at < len(text):
        match = _SENTENCE.match(text, at)
        end = match.end() if match and match.end() > at else at + 1
        # markers right after the full stop ("... drift. [1]") belong to this sentence
        tail = _TAIL_MARKERS.match(text, end)
        if tail:
            end = tail.end()
        sentence = text[at:end]
        if sentence.strip():
            markers = [(at + m.start(), at + m.end(), m.group(1)) for m in MARKER.finditer(sentence)]
            out.append((sentence, markers))
        at = end
    return out


def _best_units(claim: str, units: list[Unit]) -> list[Unit]:
    """The passage sentence(s) a claim relies on: most shared content words, at least tuning.MIN_SUPPORT."""
    words = set(tokens(MARKER.sub(" ", claim)))
    if not words or not units:
        return []
    scored = []
    for unit in units:
        unit_words = set(tokens(f"{unit.label} {unit.text}"))
        scored.append((len(words & unit_words) / len(words), unit))
    best = max(s for s, _ in scored)
    if best < tuning.MIN_SUPPORT:
        return []
    return [u for s, u in scored if s == best][:1]


def parse_citations(text: str, contexts: list[RetrievedChunk]) -> ParsedAnswer:
    """Resolve every ``[n]`` marker of an answer against the passages ``[1]..[len(contexts)]``.

    Args:
        text: The backend's answer.
        contexts: The passages in the order they were numbered for the backend.

    Returns:
        The cleaned text and its citations (each with the verbatim sentence(s) it relies on).
    """
    units = {i: passage_units(chunk, i) for i, chunk in enumerate(contexts)}
    quotes: dict[int, list[Unit]] = {}
    order: list[int] = []
    dropped: list[int] = []
    unverified: list[str] = []
    removals: list[tuple[int, int, str]] = []
    # code (`arr[1]`, fenced blocks) holds brackets that are not citations: blank it out for matching
    masked = CODE.sub(lambda m: re.sub(r"[\[\]]", " ", m.group(0)), text)
    blocks = [(m.start(), m.end()) for m in _FENCED.finditer(text)]
    for sentence, markers in _claims(masked):
        claim = sentence
        if markers and not tokens(MARKER.sub(" ", sentence)):
            # a marker alone under a fenced block cites the block ("```bash ... ```" then "[1]")
            at = markers[0][0]
            before = [b for b in blocks if b[1] <= at and not masked[b[1]:at].strip()]
            if before:
                claim = masked[before[-1][0]:before[-1][1]]
        quoted = _QUOTED.findall(sentence)
        for start, end, body in markers:
            numbers = marker_numbers(body)
            valid = [n for n in numbers if 1 <= n <= len(contexts)]
            bad = [n for n in numbers if n not in valid]
            if bad or not numbers:
                dropped.extend(bad)
                log.warning("dropped citation marker %r: only [1]..[%d] exist", text[start:end], len(contexts))
                replacement = "[" + ", ".join(str(n) for n in valid) + "]" if valid else ""
                removals.append((start, end, replacement))
            for q in quoted:
                if valid and not any(quote_occurs(q, contexts[n - 1].text) for n in valid) and q not in unverified:
                    unverified.append(q)
                    log.warning("quotation not found in passages %s: %r", valid, q[:80])
            for n in valid:
                if n not in order:
                    order.append(n)
                    quotes[n] = []
                for unit in _best_units(claim, units[n - 1]):
                    if unit not in quotes[n]:
                        quotes[n].append(unit)
    for start, end, replacement in sorted(removals, reverse=True):
        text = text[:start] + replacement + text[end:]
    if removals:
        text = re.sub(r"\(\s*(?:see\s*)?\)", "", text)
        text = re.sub(r"[ \t]+([.,;:!?)])", r"\1", re.sub(r"[ \t]{2,}", " ", text))
    citations = []
    for n in order:
        chunk = contexts[n - 1]
        picked = sorted(quotes[n], key=lambda u: (u.line, chunk.text.find(u.raw)))
        citations.append(Citation(
            n=n, chunk=chunk, quote="\n".join(dict.fromkeys(u.raw for u in picked)),
            start_line=picked[0].line if picked else chunk.start_line,
            end_line=max(u.last_line for u in picked) if picked else chunk.end_line,
        ))
    return ParsedAnswer(text, citations, dropped, unverified)
