"""The markdown text view of a note in another format, and the map of its pages or cells.

A PDF, an HTML page or a notebook is read into markdown text (headings as ``#`` lines, tables as pipe
tables, code as fenced blocks with a language, list items as ``- ``) so that one chunker and one
answer model serve every format. Beside the text, a PDF or notebook has a region map: which view
lines are page 3, or cell 5, so a citation can say where a student finds the quote in the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.schema import HTML_SUFFIXES

PDF_SUFFIXES = (".pdf",)
NOTEBOOK_SUFFIXES = (".ipynb",)
CONVERTED_SUFFIXES = PDF_SUFFIXES + HTML_SUFFIXES + NOTEBOOK_SUFFIXES
# Bump when a reader makes a different view of the same file, so stored indexes read their files again.
READERS_VERSION = 3  # 2: notebook cells numbered as Jupyter numbers them (no fence line); 3: and end there


@dataclass(frozen=True)
class Region:
    """A run of view lines that is one page (PDF) or one cell (notebook).

    Attributes:
        label: How a reader names it: ``page 3``, ``cell 5``.
        start: 1-based first view line.
        end: 1-based last view line (inclusive).
        origin: The view line the student counts as the region's line 1 (None: ``start``). A code
            cell's view opens with a fence line the notebook does not have, so its origin is one line
            later; a markdown cell whose blank first lines were dropped starts counting earlier (the
            origin may then lie before the view's first line: 0 or negative).
        last: The view line that is the region's last line as the student counts it (None: ``end``).
            A code cell's view closes with a fence line the notebook does not have, so its last line
            is the one before it.
    """

    label: str
    start: int
    end: int
    origin: int | None = None
    last: int | None = None

    @property
    def first_counted(self) -> int:
        """The view line that is line 1 of the page or cell as the student counts it."""
        return self.start if self.origin is None else self.origin

    @property
    def last_counted(self) -> int:
        """The view line that is the last line of the page or cell as the student counts it."""
        return self.end if self.last is None else self.last


@dataclass(frozen=True)
class View:
    """A note as markdown text, and its regions (empty for a file cited by view lines only)."""

    text: str
    regions: tuple[Region, ...] = ()


class UnreadableError(Exception):
    """A file of a known format that cannot be indexed; the message is the reason, as a clause."""


class ViewBuilder:
    """Collects view lines region by region (a page, a cell), keeping a blank line between regions."""

    def __init__(self) -> None:
        """Start an empty view."""
        self.lines: list[str] = []
        self.regions: list[Region] = []

    def add(self, label: str, lines: list[str], shift: int = 0, tail: int = 0) -> None:
        """Append one region's lines (skipped when they hold no text, as an empty cell or a blank page).

        Args:
            label: The region's name (``page 3``, ``cell 5``).
            lines: Its view lines; blank lines at either end are dropped.
            shift: Where the file's line 1 lies from the first kept line: 1 when that line is the
                view's own (a code cell's opening fence), -n when the file has n blank lines first.
            tail: How many of the last kept lines are the view's own (1 for a code cell's closing fence).
        """
        while lines and not lines[-1].strip():
            lines = lines[:-1]
        while lines and not lines[0].strip():
            lines = lines[1:]
        if not lines:
            return
        start = len(self.lines) + 1
        # the blank line ends a paragraph or list at the region's end and belongs to the region
        self.lines += [*lines, ""]
        last = start + len(lines) - 1 - tail
        self.regions.append(Region(label, start, len(self.lines), start + shift if shift else None, last))

    def view(self) -> View:
        """The text and the region map."""
        return View("\n".join(self.lines), tuple(self.regions))


_BLOCK_START = re.compile(r"^( {0,3})(#|>|`{3}|~{3}|\||=+\s*$|[-*_](?:\s*[-*_]){2,}\s*$|<)")


def escape_line(line: str) -> str:
    """Plain text kept from being read as markdown structure (a heading, quote, fence, rule, table, HTML).

    Text from a PDF or an HTML paragraph such as ``#1 rule`` or ``---`` is text, not markup.
    """
    return _BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2), line, count=1)


def fence(code: str, language: str) -> list[str]:
    """A fenced code block, its fence longer than any backtick run at a line start inside."""
    runs = [len(m.group(0)) for m in re.finditer(r"^\s*`{3,}", code, re.M)]
    ticks = "`" * max(3, *(n + 1 for n in runs)) if runs else "```"
    body = code.rstrip("\n").split("\n") if code.strip() else []
    return [f"{ticks}{language}", *body, ticks]


def table(rows: list[list[str]]) -> list[str]:
    """A pipe table: the first row is the header, then the separator, then the body (ragged rows padded)."""
    width = max(len(r) for r in rows)

    def cell(text: str) -> str:
        return " ".join(text.split()).replace("|", "\\|") or " "

    out = []
    for n, row in enumerate(rows):
        cells = [cell(c) for c in row] + [" "] * (width - len(row))
        out.append("| " + " | ".join(cells) + " |")
        if n == 0:
            out.append("|" + "|".join(["---"] * width) + "|")
    return out
