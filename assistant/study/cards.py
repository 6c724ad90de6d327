"""Flashcards from the notes: each defined term with its definition and the lines it comes from; CSV and Anki.

A card is a line that defines something in the notes' own structure: a lead-in and its text
("**Data Drift:** Occurs when ..."), or a table row (its first cell, the other cells under their
column names). A lead-in that only says what kind of line follows ("Example:", "Use Cases:") is
no term; the heading above it is ("SageMaker Clarify — Use Cases"). Cards are grouped by domain:
the exam guide's (`domains`), or the notes' own top-level sections (`section_of`).

A card's id is stable: it hashes the file, the heading path, the term and which of that term's
cards under that heading it is, not the definition or the line numbers; a re-export after editing
the notes updates the same Anki notes instead of adding new ones.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.schema import place
from assistant.text.sentences import is_generic, passage_units

#: lead-ins that flag a remark about the section's topic ("Careful:", "Problem:"), not a term of it; kept out
#: of `sentences.is_generic` because answers quote them as the notes' own labels
REMARKS = frozenset("""careful caution warning warnings gotcha gotchas reminder problem problems solution
    solutions challenge challenges""".split())
#: a lead-in longer than this is a sentence, not a term
MAX_TERM_WORDS = 6
#: a definition shorter than this says too little to learn from
MIN_DEFINITION_WORDS = 4


@dataclass(frozen=True)
class Card:
    """One flashcard.

    Attributes:
        id: Stable id (see the module docstring).
        term: The front: the thing defined.
        definition: The back: what the notes say of it.
        domain: The notes' section (or exam domain) it belongs to.
        source: The note file.
        heading_path: Its headings.
        start_line: First line in the file (of the note's view, for a PDF or notebook).
        end_line: Last line in the file.
        region: The PDF page or notebook cell it is on ("page 3"), or "" (see `schema.Chunk.region`).
        region_start: The view line that is line 1 of the region.
        region_end: The region's last view line.
        kind: What the card was made from: ``term`` (a lead-in and its text), ``row`` (a table row),
            ``column`` (a column of a table comparing its columns), ``command`` (a commented command).
        group: For a row or column, its table ("file:header line"); "" otherwise.
    """

    id: str
    term: str
    definition: str
    domain: str
    source: str
    heading_path: tuple[str, ...]
    start_line: int
    end_line: int
    region: str = ""
    region_start: int = 0
    region_end: int = 0
    kind: str = "term"
    group: str = ""

    @property
    def place(self) -> str:
        """Where it comes from, as answers cite it: "notes.md, line 12", "slides.pdf, page 3, lines 4-5"."""
        return place(self.source, self.start_line, self.end_line, self.region, self.region_start, self.region_end)


def _region(chunk) -> tuple[str, int, int]:
    return chunk.region, chunk.region_start, chunk.region_end


def _term(unit, heading_path: Sequence[str]) -> str:
    label = " ".join(unit.label.split()).strip(" :*")
    if not label:
        return ""
    if is_generic(label) or label.lower() in REMARKS:
        # what the slot is about: the enclosing lead-in, else the nearest heading, unless that is a slot too
        # ("Use Case" under "Strengths" under "### Random Forest")
        owners = [" ".join(unit.parent.split()).strip(" :*"), *reversed(heading_path)]
        owner = next((o for o in owners if o and not is_generic(o) and o.lower() not in REMARKS), "")
        return f"{owner} — {label}" if owner else ""
    return label


def _domains(chunks) -> dict[str, int]:
    """Per file, the heading level that names its domains.

    Notes in several files: each file's top heading (a file per topic or lecture is its own
    section). One file: the first level at which its sections differ (under the document's title).
    """
    by_source: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for chunk in chunks:
        by_source[chunk.source].add(tuple(chunk.heading_path))
    if len(by_source) > 1:
        return dict.fromkeys(by_source, 0)
    levels: dict[str, int] = {}
    for source, paths in by_source.items():
        depth = 0
        while depth < max((len(p) for p in paths), default=0) - 1 and \
                len({p[depth] for p in paths if len(p) > depth}) == 1:
            depth += 1
        levels[source] = depth
    return levels


def section_of(chunks) -> dict[str, str]:
    """Each chunk's own top-level section (by chunk id): the first heading level at which its file's differ."""
    level = _domains(chunks)
    out = {}
    for chunk in chunks:
        path, depth = tuple(chunk.heading_path), level.get(chunk.source, 0)
        out[chunk.id] = path[depth] if len(path) > depth else (path[-1] if path else chunk.source)
    return out


def extract_cards(chunks, domain_of=None) -> list[Card]:
    """Every card the notes define, in file order.

    Args:
        chunks: The indexed chunks (`core.StudyAssistant.chunks`), any file type.
        domain_of: ``(chunk, heading path of the line) -> domain or None`` (see
            `core.StudyAssistant.cards`); default, or None: the line's own top-level section.
    """
    level = _domains(chunks)
    seen: dict[tuple, int] = defaultdict(int)
    out: list[Card] = []
    done: set[tuple[str, int, str]] = set()
    # tables that compare their columns, gathered row by row: (file, header line) -> header, rows, where
    tables: dict[tuple[str, int], dict] = {}

    def add(term: str, definition: str, line: int, end: int, chunk, path: tuple[str, ...], kind: str,
            group: str = "") -> None:
        key = (chunk.source, line, term)
        if key in done:  # a line in two overlapping passages
            return
        done.add(key)
        domain = domain_of(chunk, path) if domain_of is not None else None
        if not domain:
            depth = level.get(chunk.source, 0)
            domain = path[depth] if len(path) > depth else (path[-1] if path else chunk.source)
        which = (chunk.source, path, term.lower())
        seen[which] += 1
        ident = hashlib.sha256(repr((*which, seen[which])).encode("utf-8")).hexdigest()[:16]
        out.append(Card(ident, term, definition, domain, chunk.source, path, line, end, *_region(chunk), kind,
                        group))

    for chunk in sorted(chunks, key=lambda c: (c.source, c.start_line)):
        for unit in passage_units(chunk, 0):
            path = tuple(unit.heading_path or chunk.heading_path)
            if unit.kind == "row" and len(unit.cells) >= 2:  # tables are read whole, below
                table = tables.setdefault((chunk.source, unit.parent_line),
                                          {"header": unit.header, "rows": {}, "chunk": chunk, "path": path})
                # keyed by line and cells: an HTML table's rows may all be on one line of the file
                table["rows"].setdefault((unit.line, tuple(unit.cells)), (unit.cells, unit.end_line or unit.line))
                continue
            if unit.kind == "text":
                term, definition = _term(unit, path), " ".join(unit.text.split())
            elif unit.kind == "code":
                # command notes: a command and the comment that says what it does
                for offset, command, comment in code_cards(unit.text):
                    line = unit.line + offset + (1 if unit.raw.lstrip().startswith(("```", "~~~")) else 0)
                    if len(comment.split()) >= MIN_DEFINITION_WORDS:
                        add(command, comment, line, line, chunk, path, "command")
                continue
            else:
                continue
            if not term or len(term.split()) > MAX_TERM_WORDS or len(definition.split()) < MIN_DEFINITION_WORDS:
                continue
            add(term, definition, unit.line, unit.end_line or unit.line, chunk, path, "term")
    for (source, header_line), table in tables.items():
        rows = [(line, value) for (line, _), value in table["rows"].items()]  # in the notes' order
        header, group = table["header"], f"{source}:{header_line}"
        chunk, path = table["chunk"], table["path"]
        aspects = [" ".join(cells[0].split()) for _, (cells, _) in rows]
        if compares(header):
            # a card per column, its rows under their first cell ("Keys: one shared secret key; Speed: fast")
            for column, name in enumerate(header[1:], 1):
                term = " ".join(name.split()).strip(" *")
                said = [(aspect, " ".join(cells[column].split()) if len(cells) > column else "")
                        for aspect, (_, (cells, _)) in zip(aspects, rows, strict=True)]
                definition = "; ".join(f"{aspect}: {text}" for aspect, text in said if text)
                if term and len(term.split()) <= MAX_TERM_WORDS and \
                        len(definition.split()) >= MIN_DEFINITION_WORDS:
                    add(term, definition, rows[0][0], rows[-1][1][1], chunk, path, "column", group)
            continue
        for line, (cells, end) in rows:  # a row per thing: its first cell, the others under their column names
            term = " ".join(cells[0].split())
            definition = "; ".join(f"{h}: {c}" if h else c for h, c in zip(header[1:], cells[1:], strict=False)
                                   if c.strip())
            if term and len(term.split()) <= MAX_TERM_WORDS and len(definition.split()) >= MIN_DEFINITION_WORDS:
                add(term, definition, line, end, chunk, path, "row", group)
    out.sort(key=lambda c: (c.source, c.start_line))  # file order, the columns of a table where it stands
    return out


# the first header cell of a table that compares its columns: empty, or a word for "what is compared"
_ASPECT = frozenset("aspect aspects property properties criterion criteria attribute attributes characteristic "
                    "characteristics dimension compare comparison vs vs. metric category".split())


def compares(header: Sequence[str]) -> bool:
    """Whether a table compares its columns rather than listing a thing per row.

    "| | Symmetric | Asymmetric |": its first column holds aspects (the first header cell is empty
    or says "aspect"). A two-column table reads as a thing per row ("| command | what it does |"):
    telling it from two compared columns of descriptions would take reading the cells.
    """
    if len(header) < 3:
        return False
    first = " ".join(header[0].split()).strip(" *:").lower()
    return not first or first in _ASPECT or is_generic(first)


_COMMENT = re.compile(r"^(?P<command>\S.*?\S)\s+#\s+(?P<comment>\S.*)$")


def code_cards(code: str) -> list[tuple[int, str, str]]:
    """(line offset, command, what its comment says) for each commented command line of a code block.

    "docker compose down -v   # ... and the named volumes too" gives the command and the comment; a
    comment alone on the line above says what the next command does (several comment lines in a row
    may each speak of another line: none is paired). A shell prompt ("$ ") is dropped.
    """
    out, above, stacked = [], "", 0
    for offset, line in enumerate(code.split("\n")):
        stripped = line.strip()
        if not stripped:
            above, stacked = "", 0
            continue
        if stripped.startswith("#") and not stripped.startswith("#!"):
            stacked += 1
            above = stripped.lstrip("# ").strip() if stacked == 1 else ""
            continue
        stacked = 0
        found = _COMMENT.match(stripped)
        command = (found.group("command") if found else stripped).removeprefix("$ ").strip()
        comment = found.group("comment").strip() if found else above
        if comment and len(command.split()) <= MAX_TERM_WORDS * 2:
            out.append((offset, command, comment))
        above = ""
    return out


def write_csv(cards: Sequence[Card], path: Path) -> None:
    """One row per card: domain, term, definition, source (file and lines), id."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["domain", "term", "definition", "source", "id"])
        for card in cards:
            writer.writerow([card.domain, card.term, card.definition, card.place, card.id])


def _number(text: str) -> int:
    """A stable id in Anki's range for a deck or a note type, from its name."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], 16) % (1 << 31) + (1 << 30)


def write_anki(cards: Sequence[Card], path: Path, title: str = "Study notes") -> dict[str, int]:
    """An Anki package (``.apkg``): a deck per domain under ``title``, one note per card.

    Notes keep their card's id as their guid, so importing a newer export updates them.

    Returns:
        Cards per deck name.
    """
    import html

    import genanki

    model = genanki.Model(
        _number("assistant flashcard v1"), "Study assistant card",
        fields=[{"name": "Term"}, {"name": "Definition"}, {"name": "Source"}],
        templates=[{"name": "Card 1", "qfmt": "{{Term}}",
                    "afmt": "{{FrontSide}}<hr id=answer>{{Definition}}<br><small>{{Source}}</small>"}])
    decks: dict[str, genanki.Deck] = {}
    for card in cards:
        name = f"{title}::{card.domain}"
        deck = decks.setdefault(name, genanki.Deck(_number(name), name))
        # the notes' text is text: escaped before Anki renders it as HTML
        deck.add_note(genanki.Note(model=model, guid=card.id,
                                   fields=[html.escape(card.term), html.escape(card.definition),
                                           html.escape(card.place)]))
    genanki.Package(list(decks.values())).write_to_file(str(path))
    return {name: len(deck.notes) for name, deck in decks.items()}
