"""Pure text units of a passage: its lines (bullets, sentences), with bold lead-ins and line numbers.

The extractive backend picks from these, and citation checking matches answer sentences back to
them, so both agree on what "a sentence of the notes" is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.schema import Chunk, RetrievedChunk

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}")
_BULLET = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])\s+")
# a numbered item inside a bullet before its lead-in ("- 2. **IAM:**", "- 5. Summarization:**"): the
# number is list markup; before plain text ("- 2023. A big year") it is content and stays
_ENUMERATOR = re.compile(r"^\d+[.)]\s+(?=\*\*|[^*:]{1,60}:\*\*\s*$)")
# a title standing alone with its bold markup broken ("- 5. Summarization and Translation:**")
_BARE_TITLE = re.compile(r"^(?P<label>[^*:]{1,60}?)\s*:\s*\*\*\s*$")
_LABEL = re.compile(r"^\*\*(?P<label>[^*]{1,80}?)\*\*\s*:?\s*(?::\s*)?")
_LABEL_COLON_INSIDE = re.compile(r"^\*\*(?P<label>[^*]{1,80}?):\*\*\s*")
# a sentence ends at . ! ? followed by a space and an upper-case letter, digit or markup; "e.g." stays
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)(?<!\betc)[.!?](?=\s+[\"'(*`]*[A-Z0-9])")
_MARKUP = re.compile(r"\*\*|__|`")
_INLINE_CODE = re.compile(r"`[^`\n]*`")

# Lead-ins that name a kind of line, not a topic ("Example:", "Use Cases:", "Trade-offs:")
GENERIC_LABELS = frozenset({
    "description", "overview", "use case", "use cases", "trade-offs", "tradeoffs", "trade offs", "example",
    "examples", "key features", "features", "benefits", "benefit", "pros", "cons", "advantages",
    "disadvantages", "limitations", "limitation", "purpose", "when to use", "best for", "how it works",
    "note", "notes", "tip", "important", "definition", "definitions", "summary", "key points", "key point",
    "key idea", "key ideas", "details", "explanation", "why", "how",
})


@dataclass(frozen=True)
class Unit:
    """One line of a passage, as the extractive backend quotes it and citations highlight it.

    Attributes:
        chunk: Position of the passage in the retrieved list (0-based).
        line: 1-based line number in the note file.
        raw: The line exactly as it appears in the passage text (markup included, indent removed).
        text: The line without markup, bullet marker or lead-in (what the answer shows).
        label: The bold lead-in of its bullet ("Data Drift"), or "".
        parent: The lead-in of the enclosing bullet ("Drift in ML Models"), or "".
        parent_line: File line of the enclosing lead-in (0 when there is none).
    """

    chunk: int
    line: int
    raw: str
    text: str
    label: str
    parent: str
    parent_line: int = 0

    def embed_text(self, heading: str) -> str:
        """What gets embedded: the sentence with the context that says what it is about."""
        topic = " ".join(x for x in (self.parent or heading, self.label) if x)
        return f"{topic}: {self.text}" if topic else self.text


def clean(text: str) -> str:
    """Markdown emphasis and code markers removed, whitespace collapsed."""
    return " ".join(_MARKUP.sub("", text).split())


def outside_code(text: str) -> str:
    """The text without its fenced code blocks and inline code spans (where ``**`` is not bold)."""
    kept: list[str] = []
    fenced = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            kept.append(_INLINE_CODE.sub("", line))
    return "\n".join(kept)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of one line of text (at least one span for non-blank text)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if text[start:end].strip():
            spans.append((start, end))
        start = end
    if text[start:].strip():
        spans.append((start, len(text)))
    # drop leading whitespace from each span so the raw text starts at a word
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        out.append((a, b))
    return out


def passage_units(chunk: Chunk | RetrievedChunk, position: int) -> list[Unit]:
    """Every line of a passage outside code fences, headings and table rules, in reading order.

    Args:
        chunk: A passage (retrieved, or a chunk of the index).
        position: Its 0-based position in the retrieved list.

    Returns:
        Units with their line numbers, lead-ins and enclosing lead-ins.
    """
    units: list[Unit] = []
    labels: list[tuple[int, str, int]] = []  # (indent, label, line) of open bullets, for nested bullets' parent
    # A title alone on its line with no nested lines under it leads the lines after it at its
    # own indent ("- 1. Data Privacy:**" then "- Bedrock ensures ..."), until the next title, a
    # blank line or a heading, or a line less indented than the title. (indent, label, line)
    title: tuple[int, str, int] | None = None
    title_is_last = False
    fenced = False
    for offset, line in enumerate(chunk.text.split("\n")):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced or not line.strip().strip("-*+ ") or _HEADING.match(line) or _TABLE_RULE.match(line):
            title = None
            continue
        bullet = _BULLET.match(line)
        indent = len(bullet.group(1)) if bullet else len(line) - len(line.lstrip())
        body = line[bullet.end() if bullet else indent:]
        if bullet:
            body = _ENUMERATOR.sub("", body)
        label = ""
        match = _LABEL_COLON_INSIDE.match(body) or _LABEL.match(body) or _BARE_TITLE.match(body)
        if match:
            label = match.group("label").strip().rstrip(":").strip()
        rest = body[match.end():] if match else body
        if label and not rest.strip() and not body.rstrip().endswith(":") and ":**" not in body \
                and len(label.split()) > 6:
            label, rest = "", body  # a whole bold sentence is a statement, not a lead-in
        alone = bool(label) and not clean(rest).strip(" :")
        if title and (indent < title[0] or (title_is_last and indent > title[0])):
            # a shallower line leaves the title's list; nested lines under the title are its own
            # (they, not its siblings, are under it)
            title = None
        title_is_last = False
        while labels and labels[-1][0] >= indent:
            labels.pop()
        if title and not alone and title[0] <= indent and not (labels and labels[-1][0] >= title[0]):
            labels.append(title)
        parent = labels[-1][1] if labels else ""
        parent_line = labels[-1][2] if labels else 0
        if label:
            labels.append((indent, label, chunk.start_line + offset))
        if alone:
            # a lead-in alone ("**Drift in ML Models:**") introduces its sub-bullets
            title, title_is_last = (indent, label, chunk.start_line + offset), True
            continue
        text = clean(rest).strip()
        if len(text) < 3:
            continue
        units.append(Unit(position, chunk.start_line + offset, line.strip(), text, label, parent, parent_line))
    return units
