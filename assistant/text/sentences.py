"""Pure answer units of a passage, read from its document model (`text.document`).

A unit is a prose line (a bullet, or a sentence of a long paragraph) with its lead-in, the lead-in
of the bullet it sits under and its own heading path, a code block, or a table row with its header.
The extractive backend picks from these, citation checking matches answer sentences back to them,
and key-term feedback reads their bold terms, so all agree on what "a sentence of the notes" is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from assistant import tuning
from assistant.schema import Chunk, RetrievedChunk
from assistant.text.document import Block, lead_in, parse, plain_inline

# a list marker opening a continuation line of a paragraph ("  2. **Batch:**" then "    - Ideal for ...":
# CommonMark reads the second line as paragraph text; its author meant an item)
_MARKER = re.compile(r"^(?:[-*+]|\d{1,9}[.)])[ \t]+")
# a sentence ends at . ! ? followed by a space and an upper-case letter, digit or markup; "e.g." stays
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)(?<!\betc)[.!?](?=\s+[\"'(*`]*[A-Z0-9])")
_MARKUP = re.compile(r"\*\*|__|`")
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_CODE_INTENT = re.compile(
    r"\b(?:how (?:do|can|should|would) (?:i|we|you)|how to|commands?|syntax|snippets?|scripts?|yaml|manifests?|"
    r"examples? (?:of )?(?:code|config))\b"
    # or it quotes code: a command-line flag ("-p 8080:80", "--tail") or a `code span`
    r"|(?:^|\s)--?[a-z][\w-]*|`[^`]+`", re.I)

# Lead-ins that name a kind of line, not a topic ("Example:", "Use Cases:", "Trade-offs:")
GENERIC_LABELS = frozenset({
    "description", "overview", "use case", "use cases", "trade-offs", "tradeoffs", "trade offs", "example",
    "examples", "key features", "features", "benefits", "benefit", "pros", "cons", "advantages",
    "disadvantages", "limitations", "limitation", "purpose", "when to use", "best for", "how it works",
    "note", "notes", "tip", "important", "definition", "definitions", "summary", "key points", "key point",
    "key idea", "key ideas", "details", "explanation", "why", "how",
})


# words that name a kind of content, not a topic: a lead-in or heading made only of them
# ("Key Commands", "YAML example", "Concept") is a template's section name
_GENERIC_WORDS = frozenset(
    """concept concepts key command commands example examples yaml json code snippet snippets syntax usage
    step steps overview summary note notes tip tips definition definitions description details detail
    explanation main important idea ideas point points feature features use case cases when to how it works
    why what purpose benefits benefit pros cons advantages disadvantages limitations limitation trade offs
    tradeoffs trade-offs best for notes general intro introduction recap strengths weaknesses practice
    practices""".split()
)
# a question about the thing the section is on ("What it is", "How it works", "When to use it"): a
# template's slot, unlike a question naming its topic ("What is SageMaker?")
_SLOT_QUESTION = re.compile(r"(?:what|how|why|when|where|which)(?:\s+(?:it|is|they|are|does|do|to|use|using|"
                            r"works?|matters?|means?|this|that|for|s))*\s*\??", re.I)


def is_generic(label: str) -> bool:
    """Whether a lead-in or heading names a kind of line ("Example", "Key Commands"), not a topic."""
    low = label.lower().strip()
    if low in GENERIC_LABELS or _SLOT_QUESTION.fullmatch(low.replace("'", " ")):
        return True
    words = re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", low)
    return bool(words) and all(w in _GENERIC_WORDS for w in words)


def code_intent(question: str) -> bool:
    """Whether a question asks how to do something or for a command (its answer may quote code)."""
    return bool(_CODE_INTENT.search(question))


@dataclass(frozen=True)
class Unit:
    """One answer unit of a passage: a line, a sentence, a code block or a table row.

    Attributes:
        chunk: Position of the passage in the retrieved list (0-based).
        line: 1-based first line in the note file.
        raw: The unit's source line(s) exactly as in the passage (indent removed).
        text: The text without markup, bullet marker or lead-in (what the answer shows); a
            code block's code; a table row's cells joined with " | ".
        label: The lead-in of its line ("Data Drift"), or "".
        parent: The lead-in of the enclosing bullet ("Drift in ML Models"), or "".
        parent_line: File line of the enclosing lead-in (a table row: its header row; 0: none).
        end_line: 1-based last line (a code block or a sentence over several lines).
        kind: "text", "code" or "row".
        heading_path: The unit's own headings (a chunk that merged small sections keeps each
            section's heading for its lines).
        heading_line: File line of the unit's own heading inside the passage (0: the passage's).
        part: A sentence of a longer line (the line's stored token vectors are not all its own).
        share: A sentence's place among its line's words, as fractions (start, end).
        span: File lines of the whole line or paragraph a sentence is part of.
        lang: A code block's language.
        header: A table row's header cells.
        cells: A table row's cells.
    """

    chunk: int
    line: int
    raw: str
    text: str
    label: str
    parent: str
    parent_line: int = 0
    end_line: int = 0
    kind: str = "text"
    heading_path: tuple[str, ...] = ()
    heading_line: int = 0
    part: bool = False
    lang: str = ""
    header: tuple[str, ...] = ()
    cells: tuple[str, ...] = ()
    share: tuple[float, float] = (0.0, 1.0)
    span: tuple[int, int] = (0, 0)
    context: str = ""

    @property
    def last_line(self) -> int:
        """1-based last file line of the unit."""
        return max(self.line, self.end_line)

    @property
    def heading(self) -> str:
        """The unit's heading path joined for display."""
        return " › ".join(self.heading_path)

    @property
    def topic(self) -> str:
        """The unit's nearest heading that names a topic (not a template section such as "Concept")."""
        for title in reversed(self.heading_path):
            if not is_generic(title):
                return title
        return self.heading_path[-1] if self.heading_path else ""

    def embed_text(self, heading: str = "") -> str:
        """What gets embedded: the sentence with the context that says what it is about."""
        topic = " ".join(x for x in (self.parent or self.topic or heading, self.label) if x)
        return f"{topic}: {self.text}" if topic else self.text


def clean(text: str) -> str:
    """Markdown emphasis and code markers removed, whitespace collapsed."""
    return " ".join(_MARKUP.sub("", text).split())


def outside_code(text: str) -> str:
    """The text of a passage's prose blocks, without code blocks and inline code spans (where ``**`` is not bold)."""
    doc = parse(text, passage=True)
    kept = [doc.lines[n - 1] for b in doc.blocks if b.kind in {"paragraph", "item", "quote", "heading"}
            for n in range(b.start, b.end + 1)]
    return "\n".join(_INLINE_CODE.sub("", line) for line in kept)


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


def _markdown(chunk: Chunk | RetrievedChunk) -> bool:
    return not chunk.source.lower().endswith(".txt")


@dataclass
class _Line:
    """One prose line (or hard-wrapped paragraph) of a block, before the lead-in rules run."""

    line: int
    end: int
    indent: int
    label: str
    rest: str
    alone: bool
    raw: str


def _prose_lines(block: Block, lines: tuple[str, ...]) -> list[_Line]:
    """A paragraph or item block as lines for the lead-in rules.

    A paragraph whose continuation lines open with a list marker is read line by line (its
    author meant items: CommonMark reads an under-indented "- x" as paragraph text); any
    other paragraph is one text over its lines (a hard-wrapped paragraph).
    """
    span = range(block.start, block.end + 1)
    sources = block.inline.split("\n")
    if len(span) > 1 and len(sources) == len(span) and any(_MARKER.match(s) for s in sources[1:]):
        out = []
        for n, source in zip(span, sources, strict=True):
            label, rest, alone = lead_in(source if n == block.start else _MARKER.sub("", source, count=1))
            if n == block.start and block.number:
                rest = f"{block.number} {rest}".strip()
            raw_line = lines[n - 1]
            indent = block.indent if n == block.start else len(raw_line) - len(raw_line.lstrip())
            out.append(_Line(n, n, indent, label, rest, alone, raw_line.strip()))
        return out
    rest = f"{block.number} {block.text}".strip() if block.number else block.text
    raw = "\n".join(lines[n - 1].strip() for n in span)
    return [_Line(block.start, block.end, block.indent, block.label, rest, block.alone, raw)]


def _sentences(text: str, first: int, last: int, sources: list[str]) -> list[tuple[str, int, int]]:
    """(sentence, first line, last line) of a long text over lines ``first..last``."""
    spans = split_sentences(text)
    if len(spans) < 2:
        return [(text, first, last)]
    # where each word of the text sits: the per-line word counts of the source, from the end
    # (a lead-in's words come first and are not in the text)
    per_line = [len(clean(s).split()) for s in sources] if len(sources) == last - first + 1 else []
    words_before = 0
    out = []
    total = sum(per_line)
    skip = max(0, total - len(text.split()))
    for a, b in spans:
        count = len(text[a:b].split())

        def line_of(word: int) -> int:
            at = word + skip
            for n, size in enumerate(per_line):
                if at < size:
                    return first + n
                at -= size
            return last

        start_line = line_of(words_before) if per_line else first
        end_line = line_of(words_before + count - 1) if per_line else last
        out.append((text[a:b].strip(), start_line, end_line))
        words_before += count
    return out


def passage_units(chunk: Chunk | RetrievedChunk, position: int) -> list[Unit]:
    """Every answer unit of a passage in reading order (see `_units`).

    Cached: the composer, the citation check and key-term feedback read the same passages.
    """
    return list(_units(chunk.text, _markdown(chunk), chunk.start_line, tuple(chunk.heading_path), position))


@lru_cache(maxsize=4096)
def _units(text: str, markdown: bool, start_line: int, heading_path: tuple[str, ...],
           position: int) -> tuple[Unit, ...]:
    """Every answer unit of a passage in reading order: prose lines and sentences, code blocks, table rows.

    Read from the passage's document model (`text.document`): headings update the units' own
    heading path, a code block is one unit (or a few, when long), each table row is a unit
    with its header, an HTML block is its text (an HTML table its rows), images are dropped.

    Args:
        text: A passage's text (retrieved, or a chunk of the index).
        markdown: Read headings (not a ``.txt`` note).
        start_line: File line of its first line.
        heading_path: Its heading path.
        position: Its 0-based position in the retrieved list.

    Returns:
        Units with their line numbers, lead-ins, enclosing lead-ins and heading paths.
    """
    doc = parse(text, markdown, passage=True)
    offset = start_line - 1
    base = heading_path
    prefix = base
    inner: list[tuple[int, str, int]] = []  # (level, title, file line) of headings inside the passage
    units: list[Unit] = []
    labels: list[tuple[int, str, int]] = []  # (indent, label, line) of open bullets, for nested bullets' parent
    # A title alone on its line with no nested lines under it leads the lines after it at its
    # own indent ("- Data Privacy:" then "- Bedrock ensures ..."), until the next title, a
    # blank line or a heading, or a line less indented than the title. (indent, label, line)
    title: tuple[int, str, int] | None = None
    title_is_last = False
    previous_end = 0
    for block in doc.blocks:
        if previous_end and any(not doc.lines[n - 1].strip() for n in range(previous_end + 1, block.start)):
            title = None  # a blank line ends a title's run
        previous_end = max(previous_end, block.end)
        if block.kind == "heading":
            title, labels = None, []
            if block.depth == 0:
                if not inner and block.text in prefix:
                    prefix = prefix[: prefix.index(block.text)]
                while inner and inner[-1][0] >= block.level:
                    inner.pop()
                inner.append((block.level, block.text, block.start + offset))
            continue
        path = prefix + tuple(t for _, t, _ in inner) if inner else base
        heading_line = inner[-1][2] if inner else 0
        if block.kind == "rule":
            title = None
            continue
        if block.kind == "code":
            units.extend(_code_units(block, doc.lines, position, offset, path, heading_line))
            continue
        if block.kind == "table":
            if block.header is None:
                continue
            header_line = block.header.line + offset
            for row in block.rows:
                if not any(row.cells):
                    continue
                raw = doc.lines[row.line - 1].strip()
                units.append(Unit(position, row.line + offset, raw, " | ".join(row.cells), "", "", header_line,
                                  kind="row", heading_path=path, heading_line=heading_line,
                                  header=block.header.cells, cells=row.cells))
            continue
        if block.kind == "html":
            text = block.text
            if len(text) >= 3:
                raw = "\n".join(doc.lines[n - 1].strip() for n in range(block.start, block.end + 1))
                units.append(Unit(position, block.start + offset, raw, text, "", "", 0, block.end + offset,
                                  heading_path=path, heading_line=heading_line))
            continue
        sources = block.inline.split("\n")
        if block.kind == "paragraph" and all(x.strip().startswith("|") for x in sources):
            # table rows cut off from their header (a table longer than a chunk): each row reads as
            # its cells in order, never as a bare "| a | b |" row
            for n, source in enumerate(sources):
                cells = [plain_inline(c.strip()) for c in re.split(r"(?<!\\)\|", source.strip().strip("|"))]
                text = " — ".join(c for c in cells if c)
                if len(text) >= 3:
                    line = block.start + n
                    units.append(Unit(position, line + offset, doc.lines[line - 1].strip(), text, "", "",
                                      heading_path=path, heading_line=heading_line))
            continue
        for item in _prose_lines(block, doc.lines):
            indent, label, rest, alone = item.indent, item.label, item.rest, item.alone
            line = item.line + offset
            if not label and not rest.strip(" -*+"):
                title = None  # an empty item breaks a title's run, as a blank line does
                continue
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
                labels.append((indent, label, line))
            if alone:
                # a lead-in alone ("**Drift in ML Models:**") introduces its sub-bullets
                title, title_is_last = (indent, label, line), True
                continue
            text = " ".join(rest.split())
            if len(text) < 3:
                continue
            one_line = item.end == item.line
            if one_line and len(text.split()) <= tuning.LINE_WORDS:
                units.append(Unit(position, line, item.raw, text, label, parent, parent_line,
                                  heading_path=path, heading_line=heading_line))
                continue
            # a long line or a paragraph over several lines: its sentences are the units
            own = sources if item.end > item.line else [sources[item.line - block.start]] \
                if len(sources) == block.end - block.start + 1 else []
            pieces = _sentences(text, item.line, item.end, own)
            # where each sentence's words sit among the line's (its lead-in's words come first)
            total = len(label.split()) + len(text.split())
            done = len(label.split())
            for sentence, first, last in pieces:
                raw = "\n".join(doc.lines[n - 1].strip() for n in range(first, last + 1))
                size = len(sentence.split())
                share = (0.0 if not units or units[-1].span != (item.line + offset, item.end + offset)
                         else done / total, (done + size) / total)
                done += size
                units.append(Unit(position, first + offset, raw, sentence, label, parent, parent_line,
                                  last + offset, heading_path=path, heading_line=heading_line,
                                  part=len(pieces) > 1, share=share, span=(item.line + offset, item.end + offset)))
    return tuple(units)


# a comment line of a code block: "# ...", "// ...", "-- ..." (not "#!", "#include" or a "--flag")
_COMMENT = re.compile(r"^(?:#+|//|--|;+)(?:\s|$)")
# a comment after a command on its line: "docker system df   # how much space ..."
_TRAILING = re.compile(r"\S\s{2,}(?:#|//)\s+\S")
# code blocks whose lines are prose written in a fence ("```text" notes, aligned "flag  meaning" lists)
PROSE_LANGS = frozenset({"text", "txt", "plain", "plaintext", "none", "notes", "note"})


def is_comment(line: str) -> bool:
    """Whether a line of code is a comment line ("# stop (SIGTERM ...) vs kill ...")."""
    return bool(_COMMENT.match(line.strip()))


def code_lines(unit: Unit) -> list[Unit]:
    """A code unit's non-blank lines as units of their own (kind "codeline"), for comparisons.

    A comment line's ``context`` is what it annotates: the lines under it up to the next blank
    line or comment, so "# stop (SIGTERM ...) vs kill (SIGKILL ...)" above "docker stop web" and
    "docker kill web" is about both commands.
    """
    lines = unit.text.split("\n")
    out = []
    for n, line in enumerate(lines):
        if len(line.strip()) < 3:
            continue
        context = ""
        if is_comment(line):
            rest = lines[n + 1:]
            rest = rest[: next((i for i, x in enumerate(rest) if not x.strip()), len(rest))]
            # a run of comments annotates the commands after the run; a command ends the annotated group
            first = next((i for i, x in enumerate(rest) if not is_comment(x)), len(rest))
            after = rest[first:]
            stop = next((i for i, x in enumerate(after) if is_comment(x)), len(after))
            body = [x.strip() for x in after[:stop]]
            context = "\n".join(body)
        out.append(Unit(unit.chunk, unit.line + n, line.strip(), line.strip(), "", "", 0, kind="codeline",
                        heading_path=unit.heading_path, heading_line=unit.heading_line, lang=unit.lang,
                        context=context))
    return out


def code_notes(unit: Unit) -> list[Unit]:
    """The lines of a code unit that explain rather than do: for questions that do not ask for code.

    Comment lines (with the commands they annotate as context), commands with a trailing comment,
    and every line of a block written in prose ("```text": "- :latest is NOT newest ..."). A
    student keeps explanations there as often as in the text around the block.
    """
    prose = unit.lang.lower() in PROSE_LANGS
    return [u for u in code_lines(unit) if prose or is_comment(u.text) or _TRAILING.search(u.text)]


def _code_runs(code: list[str], size: int) -> list[tuple[int, int]]:
    """[start, end) line runs of a code block: groups split at blank lines, packed up to ``size`` lines."""
    groups: list[tuple[int, int]] = []
    start = None
    for n, line in enumerate(code + [""]):
        if line.strip() and start is None:
            start = n
        elif not line.strip() and start is not None:
            groups.extend((a, min(a + size, n)) for a in range(start, n, size))  # a long group: windows
            start = None
    runs: list[tuple[int, int]] = []
    for a, b in groups:
        if runs and b - runs[-1][0] <= size:
            runs[-1] = (runs[-1][0], b)  # the blank lines between two groups go with them
        else:
            runs.append((a, b))
    return runs


def _code_units(block: Block, lines: tuple[str, ...], position: int, offset: int, path: tuple[str, ...],
                heading_line: int) -> list[Unit]:
    """A code block as units: the whole block, or runs of at most ``tuning.CODE_LINES`` lines cut at blank lines."""
    fenced = lines[block.start - 1].lstrip().startswith(("```", "~~~"))
    first = block.start + 1 if fenced else block.start
    code = block.text.split("\n")
    out = []
    for a, b in _code_runs(code, tuning.CODE_LINES):
        start, end = first + a, first + b - 1
        raw = "\n".join(lines[n - 1].strip() for n in range(start, end + 1))
        out.append(Unit(position, start + offset, raw, "\n".join(code[a:b]), "", "", 0, end + offset, kind="code",
                        heading_path=path, heading_line=heading_line, lang=block.lang))
    return out
