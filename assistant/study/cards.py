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
    for chunk in sorted(chunks, key=lambda c: (c.source, c.start_line)):
        for unit in passage_units(chunk, 0):
            path = tuple(unit.heading_path or chunk.heading_path)
            if unit.kind == "row" and len(unit.cells) >= 2:
                term = " ".join(unit.cells[0].split())
                definition = "; ".join(f"{h}: {c}" if h else c for h, c in zip(unit.header[1:], unit.cells[1:],
                                                                                strict=False) if c.strip())
            elif unit.kind == "text":
                term, definition = _term(unit, path), " ".join(unit.text.split())
            elif unit.kind == "code":
                # command notes: a command and the comment that says what it does
                for offset, command, comment in code_cards(unit.text):
                    line = unit.line + offset + (1 if unit.raw.lstrip().startswith(("```", "~~~")) else 0)
                    key = (chunk.source, line, command)
                    if key in done or len(comment.split()) < MIN_DEFINITION_WORDS:
                        continue
                    done.add(key)
                    which = (chunk.source, path, command.lower())
                    seen[which] += 1
                    ident = hashlib.sha256(repr((*which, seen[which])).encode("utf-8")).hexdigest()[:16]
                    domain = (domain_of(chunk, path) if domain_of is not None else None) or \
                        (path[level.get(chunk.source, 0)] if len(path) > level.get(chunk.source, 0) else
                         (path[-1] if path else chunk.source))
                    out.append(Card(ident, command, comment, domain, chunk.source, path, line, line, *_region(chunk)))
                continue
            else:
                continue
            if not term or len(term.split()) > MAX_TERM_WORDS or len(definition.split()) < MIN_DEFINITION_WORDS:
                continue
            key = (chunk.source, unit.line, term)
            if key in done:  # a line in two overlapping passages
                continue
            done.add(key)
            domain = domain_of(chunk, path) if domain_of is not None else None
            if not domain:
                domain = path[level.get(chunk.source, 0)] if len(path) > level.get(chunk.source, 0) else \
                    (path[-1] if path else chunk.source)
            which = (chunk.source, path, term.lower())
            seen[which] += 1
            ident = hashlib.sha256(repr((*which, seen[which])).encode("utf-8")).hexdigest()[:16]
            out.append(Card(ident, term, definition, domain, chunk.source, path, unit.line,
                            unit.end_line or unit.line, *_region(chunk)))
    return out


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
