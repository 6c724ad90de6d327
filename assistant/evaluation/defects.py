"""Formatting defects in an answer's text: markup of the notes that leaked into it instead of being rendered.

A scan, not a metric of correctness: it counts what a student would see as noise in an answer quoted
from notes written in another style (issue 14). Code (fenced blocks and inline spans) is skipped:
a command or a snippet may legitimately contain ``<br>``, pipes or backslashes.
"""

from __future__ import annotations

import re

from assistant.text.markdown import HTML_TAG

# Each kind, with what it means; the keys are the names used in reports and tests.
KINDS = {
    "html": "a raw HTML tag (<br>, <td>, <hr>, ...)",
    "image": "a markdown image link ![x](path)",
    "table_row": "a table row without its header and separator row",
    "empty_label": "a bold label with no name, or with nothing after it",
    "lone_symbol": "an emphasised or backslash-escaped lone symbol (**\\-**, *+:*, \\-)",
}

# HTML elements notes exports really contain; a bare <name> that is no element (docker's <none>,
# a placeholder like <pod-name>) is text, not markup.
_ELEMENTS = frozenset("a abbr b blockquote br caption center code col colgroup dd del details div dl dt em font "
                      "h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p pre s small span strong sub summary sup "
                      "table tbody td tfoot th thead tr u ul".split())
_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")
_ROW = re.compile(r"\|[^|\n]+\|[^|\n]*\|")  # two cells between pipes, anywhere in a line
_CITATION = r"(?:\s*\[\d+(?:\s*,\s*\d+)*\])*"
_EMPTY_NAME = re.compile(r"\*\*\s*:?\s*\*\*|__\s*:?\s*__")
# a label opening its line ("- **Concept:**") and followed by nothing but citation markers
_NOTHING_AFTER = re.compile(rf"^\s*(?:[-*+]\s+|\d+[.)]\s+)?(?:\*\*|__)[^*_\n]*\S(?::(?:\*\*|__)|(?:\*\*|__):)"
                            rf"{_CITATION}\s*$")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1|(?<![*\w])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![*\w])")
_ESCAPE = re.compile(r"(?<!\S)\\[-+*_#.!>|`]:?(?!\S)")  # standing alone, not inside a word


def _element(tag: re.Match) -> bool:
    return tag.group(1).lower() in _ELEMENTS


def html_tags(text: str) -> list[str]:
    """The tags of HTML elements in text (``<br>``, ``</td>``), not a bare ``<none>`` or ``<pod-name>``."""
    return [tag.group() for tag in HTML_TAG.finditer(text) if _element(tag)]


def without_html_tags(text: str) -> str:
    """Text with the tags of HTML elements replaced by spaces (a placeholder such as ``<none>`` is kept)."""
    return HTML_TAG.sub(lambda tag: " " if _element(tag) else tag.group(), text)


def _prose_lines(text: str) -> list[str]:
    """The answer's lines outside fenced code, with inline code spans blanked out."""
    out, fence = [], None
    for line in text.splitlines():
        opened = _FENCE.match(line)
        if fence:
            if opened and opened.group(1) == fence:
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        out.append(_INLINE_CODE.sub("``", line))
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _nested_below(lines: list[str], n: int) -> bool:
    """Whether the next non-blank line is indented under line ``n`` (a label heading sub-items has content)."""
    following = next((line for line in lines[n + 1:] if line.strip()), None)
    return following is not None and _indent(following) > _indent(lines[n])


def _table_blocks(lines: list[str]) -> set[int]:
    """Indexes of lines that belong to a well-formed pipe table: header row, separator row, body rows."""
    good: set[int] = set()
    n = 0
    while n < len(lines):
        if not lines[n].lstrip().startswith("|"):
            n += 1
            continue
        end = n
        while end < len(lines) and lines[end].lstrip().startswith("|"):
            end += 1
        if end - n >= 2 and not _SEPARATOR.match(lines[n]) and _SEPARATOR.match(lines[n + 1]):
            good.update(range(n, end))
        n = end
    return good


def answer_defects(text: str) -> dict[str, list[str]]:
    """The defects found in one answer, by kind (see `KINDS`); kinds with none are left out.

    Args:
        text: The answer as shown to the student (markdown).

    Returns:
        Kind -> the offending snippets, in order of appearance.
    """
    lines = _prose_lines(text)
    tables = _table_blocks(lines)
    found: dict[str, list[str]] = {}

    def add(kind: str, snippet: str) -> None:
        found.setdefault(kind, []).append(snippet.strip())

    for n, line in enumerate(lines):
        for tag in html_tags(line):
            add("html", tag)
        for match in _IMAGE.finditer(line):
            add("image", match.group())
        if n not in tables:
            if _SEPARATOR.match(line) and "|" in line:
                add("table_row", line)
            else:
                for match in _ROW.finditer(line):
                    add("table_row", match.group())
        for match in _EMPTY_NAME.finditer(line):
            add("empty_label", match.group())
        if not _EMPTY_NAME.search(line) and _NOTHING_AFTER.match(line) and not _nested_below(lines, n):
            add("empty_label", line)
        for match in _EMPHASIS.finditer(line):
            inner = (match.group(2) or match.group(3) or "").strip().rstrip(":").strip()
            if inner and not any(c.isalnum() for c in inner):
                add("lone_symbol", match.group())
        for match in _ESCAPE.finditer(_EMPHASIS.sub("", line)):
            add("lone_symbol", match.group())
    return found
