"""Pure citation handling: parse an answer's ``[n]`` markers once into typed, checked citations.

A marker must name a passage the backend was shown; anything else is removed from the text and
logged (a model inventing ``[7]`` out of five passages must not send the student to a random
place). Each citation carries the passage's sentence(s) that the citing sentences rely on,
verbatim from the passage, so the UI can highlight them; a quotation the answer puts in quote
marks is checked to really occur in the cited passage.

The backend numbers passages by retrieval rank, so an answer citing the first, second and fourth
shows ``[1] [2] [4]``, or ``[3]`` before ``[1]`` when it follows the notes' reading order. A reader
sees the citations numbered 1..n in order of first use instead: `parse_citations` renumbers the
text and its citations, and `StreamRenumbering` gives the streamed text the same numbers as it is
written, so the CLI, which prints the stream, and the UI agree with the final answer.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from assistant import tuning
from assistant.schema import Citation, RetrievedChunk
from assistant.text.sentences import Unit, clean, passage_units
from assistant.text.words import salient, tokens

log = logging.getLogger(__name__)


# [1], [1, 2], [1,2,3], [1-3], [1–3]; also the common "[1][2]" (two markers)
MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*(?:,|-|–)\s*\d{1,3})*)\s*,?\s*\]")


CODE = re.compile(r"```.*?(?:```|$)|~~~.*?(?:~~~|$)|`[^`\n]*`", re.S)


# a fenced code block of an answer (its lines, fences included), at the start of a line
_FENCED = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n.*?^[ \t]*\1[ \t]*$", re.S | re.M)


_QUOTED = re.compile(r"[\"“]([^\"”]{12,400})[\"”]")


_SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?](?!\d)|\n|$)")


_TAIL_MARKERS = re.compile(r"(?:[ \t]*\[\s*\d{1,3}(?:\s*(?:,|-|–)\s*\d{1,3})*\s*,?\s*\])+")


# what may still become a marker once more text streams in ("[", "[1", "[1, 2-")
_OPEN_MARKER = re.compile(r"\[[\s\d,\-–]*")




@dataclass
class ParsedAnswer:
    """An answer text after its markers were checked.

    Attributes:
        text: The text with invalid markers removed and the others renumbered 1..n in order of first use.
        citations: One per distinct valid marker, in order of first use (numbered 1..n).
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


def renumbered_marker(numbers: list[int], passages: int, mapping: dict[int, int],
                      keep_unknown: bool = False) -> str | None:
    """A marker's text once renumbered: None when it stays as written.

    Numbers naming a passage (1..``passages``) are given the next free number on first use
    (``mapping`` is updated: backend number -> shown number); the others are dropped.

    Args:
        numbers: The marker's numbers as the backend wrote them (see `marker_numbers`).
        passages: How many passages the backend was shown.
        mapping: The numbers given so far, in order of first use; extended here.
        keep_unknown: Keep numbers naming no passage as written (while streaming: the final answer
            drops them and says so).

    Returns:
        ``"[1, 3]"``, ``""`` when nothing in it names a passage, or None when the marker reads the
        same after renumbering (``[1]`` while 1 stays 1; ``[2-3]`` while 2 and 3 stay).

    >>> mapping = {}
    >>> renumbered_marker([4], 5, mapping), renumbered_marker([2, 4], 5, mapping), renumbered_marker([9], 5, mapping)
    ('[1]', '[1, 2]', '')
    """
    valid = [n for n in numbers if 1 <= n <= passages]
    for n in valid:
        mapping.setdefault(n, len(mapping) + 1)
    kept = len(valid) == len(numbers) or keep_unknown
    if numbers and kept and all(mapping.get(n, n) == n for n in numbers):
        return None
    shown = sorted({mapping.get(n, n) for n in (numbers if keep_unknown else valid)})
    return "[" + ", ".join(str(n) for n in shown) + "]" if shown else ""


def _masked(text: str) -> str:
    """The text with the brackets inside code blanked out: ``arr[1]`` in code is not a citation."""
    return CODE.sub(lambda m: re.sub(r"[\[\]]", " ", m.group(0)), text)


class StreamRenumbering:
    """An answer's markers renumbered as it streams, the way `parse_citations` numbers the whole answer.

    A marker is rewritten once it is complete and it is known whether it stands in code: text from a
    "[" that may still become a marker, or from an odd backtick on the line being written (a code
    span that may still close), is held back until the next piece settles it, or `flush`. A number
    naming no passage stays as written: the final answer drops it, and the CLI says so.
    """

    def __init__(self, passages: int) -> None:
        """Renumber the markers of an answer written from ``passages`` numbered passages."""
        self.passages = passages
        self.mapping: dict[int, int] = {}
        self._text = ""
        self._sent = 0
        self.shown = ""  # everything released so far

    def feed(self, piece: str) -> str:
        """Take the next piece; returns the text now settled (possibly "")."""
        self._text += piece
        end = len(self._text)
        line = self._text.rfind("\n") + 1
        if self._text.count("`", line) % 2:
            end = self._text.rindex("`")
        opening = self._text.rfind("[", self._sent, end)
        if opening >= 0 and _OPEN_MARKER.fullmatch(self._text, opening, end):
            end = opening
        return self._release(end)

    def flush(self) -> str:
        """The rest, once the answer is complete."""
        return self._release(len(self._text))

    def _release(self, end: int) -> str:
        if end <= self._sent:
            return ""
        masked = _masked(self._text[:end])
        out, at = [], self._sent
        for match in MARKER.finditer(masked, self._sent):
            replacement = renumbered_marker(marker_numbers(match.group(1)), self.passages, self.mapping,
                                            keep_unknown=True)
            if replacement is not None:
                out += [self._text[at:match.start()], replacement]
                at = match.end()
        out.append(self._text[at:end])
        self._sent = end
        released = "".join(out)
        self.shown += released
        return released


def _normalized(text: str) -> str:
    return " ".join(re.sub(r"[^\w%./-]+", " ", clean(text).lower()).split())


def quote_occurs(quote: str, passage: str) -> bool:
    """Whether a quotation occurs in a passage, ignoring case, markup, punctuation and spacing."""
    needle = _normalized(quote)
    return bool(needle) and needle in _normalized(passage)


def _claims(text: str) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """Sentences of the answer with the markers in each: (sentence, [(start, end, body)])."""
    return [(sentence, markers) for _, sentence, markers in _spans(text)]


def _spans(text: str) -> list[tuple[int, str, list[tuple[int, int, str]]]]:
    """`_claims` with each sentence's start offset."""
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
            out.append((at, sentence, markers))
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

    The markers that remain are renumbered 1..n in order of first use (`renumbered_marker`), in the
    text and in the citations: ``[1] [2] [4]`` reads ``[1] [2] [3]``.

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
    markers: list[tuple[int, int, list[int]]] = []
    tidy = False  # a marker lost numbers: tidy the spaces and brackets it leaves
    # code (`arr[1]`, fenced blocks) holds brackets that are not citations: blank it out for matching
    masked = _masked(text)
    blocks = [(m.start(), m.end()) for m in _FENCED.finditer(text)]
    for sentence, found in _claims(masked):
        claim = sentence
        if found and not tokens(MARKER.sub(" ", sentence)):
            # a marker alone under a fenced block cites the block ("```bash ... ```" then "[1]")
            at = found[0][0]
            before = [b for b in blocks if b[1] <= at and not masked[b[1]:at].strip()]
            if before:
                claim = masked[before[-1][0]:before[-1][1]]
        quoted = _QUOTED.findall(sentence)
        for start, end, body in found:
            numbers = marker_numbers(body)
            markers.append((start, end, numbers))
            valid = [n for n in numbers if 1 <= n <= len(contexts)]
            bad = [n for n in numbers if n not in valid]
            if bad or not numbers:
                tidy = True
                dropped.extend(bad)
                log.warning("dropped citation marker %r: only [1]..[%d] exist", text[start:end], len(contexts))
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
    mapping: dict[int, int] = {}
    rewrites = [(start, end, new) for start, end, numbers in markers
                if (new := renumbered_marker(numbers, len(contexts), mapping)) is not None]
    for start, end, replacement in sorted(rewrites, reverse=True):
        text = text[:start] + replacement + text[end:]
    if tidy:
        text = re.sub(r"\(\s*(?:see\s*)?\)", "", text)
        text = re.sub(r"[ \t]+([.,;:!?)])", r"\1", re.sub(r"[ \t]{2,}", " ", text))
    citations = []
    for n in order:
        chunk = contexts[n - 1]
        picked = sorted(quotes[n], key=lambda u: (u.line, chunk.text.find(u.raw)))
        citations.append(Citation(
            n=mapping[n], chunk=chunk, quote="\n".join(dict.fromkeys(u.raw for u in picked)),
            start_line=picked[0].line if picked else chunk.start_line,
            end_line=max(u.last_line for u in picked) if picked else chunk.end_line,
        ))
    return ParsedAnswer(text, citations, dropped, unverified)


def marker_support(text: str, contexts: list[RetrievedChunk]) -> list[bool]:
    """For each marker number that names a passage: does that passage support what it cites?

    A marker cites its sentence and the unmarked sentences right before it (a paragraph cited once
    at its end); a marker alone on its line cites the sentence before it. A sentence is supported
    when a line of the passage, read with the passage's headings, has at least
    ``tuning.MIN_SUPPORT`` of its topic words (`words.salient` stems: "detects" and "detecting"
    alike); the marker is supported when at least half of what it cites is.

    Args:
        text: An answer with ``[n]`` markers as the backend numbered them.
        contexts: The passages ``[1]..[n]``.
    """
    lines = {i: [set(salient(f"{u.label} {u.parent} {u.text}")) for u in passage_units(chunk, i)]
             for i, chunk in enumerate(contexts)}
    headings = {i: set(salient(" ".join(chunk.heading_path))) for i, chunk in enumerate(contexts)}

    def supports(n: int, words: set[str]) -> bool:
        return any(len(words & (line | headings[n])) / len(words) >= tuning.MIN_SUPPORT for line in lines[n])

    out: list[bool] = []
    pending: list[set[str]] = []  # sentences since the last marker
    previous: list[set[str]] = []
    for sentence, found in _claims(_masked(text)):
        words = set(salient(MARKER.sub(" ", sentence)))
        if words:
            pending.append(words)
        if not found:
            continue
        cited = pending or previous
        for _, _, body in found:
            for n in marker_numbers(body):
                if 1 <= n <= len(contexts):
                    out.append(bool(cited) and 2 * sum(supports(n - 1, w) for w in cited) >= len(cited))
        previous, pending = cited, []
    return out


def attach_markers(text: str, contexts: list[RetrievedChunk]) -> tuple[str, int]:
    """Cite the sentences a model left without a marker, where one passage plainly says them.

    A small model often writes a right answer with one marker at the end, or none, or cites
    passages it was not shown ("[7]" of five). Each such sentence of four words or more gets the
    marker of the passage with the line that holds most of its topic words, when that is at least
    ``tuning.ATTACH_SUPPORT`` of them (stricter than the support a model's own marker needs); the
    rest stay unmarked. Code is left alone.

    Args:
        text: An answer with ``[n]`` markers as the backend numbered them.
        contexts: The passages ``[1]..[n]``.

    Returns:
        The text with the markers added, and how many were added.
    """
    lines = [[set(salient(f"{u.label} {u.parent} {u.text}")) | set(salient(" ".join(chunk.heading_path)))
              for u in passage_units(chunk, i)] for i, chunk in enumerate(contexts)]
    code = [(m.start(), m.end()) for m in CODE.finditer(text)]
    inserts: list[tuple[int, str]] = []
    for start, sentence, found in _spans(_masked(text)):
        end = start + len(sentence)
        piece = text[start:end]
        words = set(salient(MARKER.sub(" ", piece)))
        valid = [n for _, _, body in found for n in marker_numbers(body) if 1 <= n <= len(contexts)]
        if valid or len(tokens(MARKER.sub(" ", piece))) < 4 or not words or any(a < end and start < b for a, b in code):
            continue
        best, share = 0, 0.0
        for n, passage in enumerate(lines, 1):
            for line in passage:
                if (got := len(words & line) / len(words)) > share:
                    best, share = n, got
        if share >= tuning.ATTACH_SUPPORT:
            inserts.append((start + len(piece.rstrip()), f" [{best}]"))
    for at, marker in reversed(inserts):
        text = text[:at] + marker + text[at:]
    return text, len(inserts)


# where a finished sentence ends: its stop, any markers after it, the space before the next sentence
_FINISHED = re.compile(r"(?:[.!?](?:[ \t]*\[[\d,\s–-]*\])*[ \t]+|\n+)(?=[^\s\[])")


class MarkerAttacher:
    """`attach_markers` while an answer streams: each sentence is cited as soon as the next one starts.

    A sentence is final once text that cannot belong to it follows (a new sentence after its stop
    and any markers); text inside an open code fence waits for the fence to close. The reader then
    sees the citations as the answer is written, instead of the answer a second time with them.
    ``added`` counts the markers attached so far.
    """

    def __init__(self, contexts: list[RetrievedChunk]) -> None:
        self.contexts = contexts
        self.pending = ""
        self.added = 0

    def feed(self, piece: str) -> str:
        """Take a piece of the answer; return the text whose sentences are final, cited."""
        self.pending += piece
        cut = 0
        for found in _FINISHED.finditer(self.pending):
            if self.pending[: found.end()].count("```") % 2 == 0:  # not inside a code fence
                cut = found.end()
        if not cut:
            return ""
        head, self.pending = self.pending[:cut], self.pending[cut:]
        return self._cite(head)

    def flush(self) -> str:
        """The rest of the answer, cited."""
        head, self.pending = self.pending, ""
        return self._cite(head) if head else ""

    def _cite(self, text: str) -> str:
        cited, added = attach_markers(text, self.contexts)
        self.added += added
        return cited


def cited_sentences(text: str) -> list[tuple[str, list[int]]]:
    """Each sentence of an answer with the passage numbers its markers name (code brackets ignored)."""
    return [(sentence, [n for _, _, body in found for n in marker_numbers(body)])
            for sentence, found in _claims(_masked(text))]
