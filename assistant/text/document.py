"""One document model: a note parsed once into typed blocks with exact 1-based source line spans.

Chunking (where a section may be cut), answer units (which lines are prose, code, table rows),
key terms and the UI's passage view all read this model, so they agree on what a fence, a
table, a heading or a list item is. Markdown goes through ``markdown-it-py`` (CommonMark + GFM
tables); its tokens carry line maps. Plain text (``.txt``) is parsed the same way with headings
off, so a ``#`` line in a text file is text.

Pure: no I/O. Parses are cached by text, since a passage is read by the composer, the citation
check and the key-term feedback in one answer.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from markdown_it.token import Token

from assistant.text.markdown import HTML_TAG, split_lines

_INLINE = MarkdownIt("commonmark")
# blocks only: a paragraph's inline markup is parsed on demand (`lead_in`, cached by its text), since
# most of a passage is never a lead-in or a table cell that needs it (3x faster on the notes)
_MD = MarkdownIt("commonmark").enable("table").disable("inline")
_TEXT = MarkdownIt("commonmark").enable("table").disable(["heading", "lheading", "inline"])


@dataclass(frozen=True)
class Row:
    """One table row: its 1-based source line and its cells as plain text."""

    line: int
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Block:
    """One block of a note, in reading order.

    Attributes:
        kind: "heading", "paragraph", "item" (a list item's first paragraph, or an empty item),
            "table", "code", "quote" (a paragraph inside a block quote), "html" or "rule".
        start: 1-based first source line.
        end: 1-based last source line (inclusive).
        heading_path: Headings above the block (a heading's own path includes itself).
        level: A heading's level (1-6), else 0.
        indent: Columns of whitespace before the block's first line (a list item's bullet).
        depth: List nesting depth (0 outside lists).
        label: The lead-in of a paragraph or item ("Data Drift" of "**Data Drift:** ..."), or "".
        alone: The lead-in is the whole text (a title introducing the lines below it).
        text: Plain text after the lead-in (markup, images, HTML tags removed); a heading's
            title; a code block's code; an HTML block's text.
        number: An ordered item's number as written ("2." / "3)"), when it is content (an
            ordered list opened on the same line as its parent item, before plain text).
        lang: A fenced code block's language ("bash"), else "".
        header: A table's header row (also for an HTML table).
        rows: A table's body rows.
        inline: The inline markdown source of a paragraph, item or heading.
    """

    kind: str
    start: int
    end: int
    heading_path: tuple[str, ...] = ()
    level: int = 0
    indent: int = 0
    depth: int = 0
    label: str = ""
    alone: bool = False
    text: str = ""
    number: str = ""
    lang: str = ""
    header: Row | None = None
    rows: tuple[Row, ...] = ()
    inline: str = ""


@dataclass(frozen=True)
class Document:
    """A parsed note: its lines and its blocks in reading order."""

    lines: tuple[str, ...]
    blocks: tuple[Block, ...] = field(default=())

    def atomic_lines(self) -> set[int]:
        """1-based lines inside a code block, table or HTML block after its first line (never a cut)."""
        return {n for b in self.blocks if b.kind in {"code", "table", "html"} for n in range(b.start + 1, b.end + 1)}

    def line_kinds(self) -> list[str]:
        """Each line's kind for display: "fence", "code", "table", "html" or "prose" (0-based list)."""
        kinds = ["prose"] * len(self.lines)
        for b in self.blocks:
            if b.kind == "code":
                for n in range(b.start, b.end + 1):
                    kinds[n - 1] = "code"
                if self.lines[b.start - 1].lstrip().startswith(("```", "~~~")):
                    kinds[b.start - 1] = "fence"
                    closing = self.lines[b.end - 1].strip()
                    if b.end > b.start and closing and set(closing) <= {"`", "~"}:
                        kinds[b.end - 1] = "fence"
            elif b.kind in {"table", "html"}:
                for n in range(b.start, b.end + 1):
                    kinds[n - 1] = b.kind
        return kinds


# -- inline text --------------------------------------------------------------------------------

# elements that end a line of text: as inline HTML they leave a space between the words they part
_BREAKS = frozenset({"br", "p", "div", "li", "tr", "hr"})
# what in an HTML block is neither a tag nor text: comments, <!doctype ...>, <?xml ...?>, CDATA
_NOT_TEXT = re.compile(r"<!--.*?-->|<[!?][^>]*>", re.S)
_STRAY_MARKUP = re.compile(r"\*\*|__|(?<!\w)\*(?!\s)|(?<!\s)\*(?!\w)")
_SYMBOLS_ONLY = re.compile(r"^[\W_]*$")
# a plain lead-in: "Term: text" or "Term:" alone (a few words, no sentence inside it)
_DEFINITION = re.compile(r"^([^\n]{1,80})\n:[ \t]+(.+)$", re.S)
_TITLE = re.compile(r"^(?P<label>[A-Za-z][^.!?:;]{0,80}?)[ \t]*:$")
_PLAIN_LABEL = re.compile(r"^(?P<label>[A-Za-z][\w/&().'+-]*(?:[ \t]+[\w/&().'+-]+){0,4}?)[ \t]*:(?:[ \t]+|$)")


def heading_title(raw: str) -> str:
    """A heading as shown and stored in heading paths: emphasis and code markers and a final colon removed.

    The rest stays as written (chunk ids hash heading paths, and a heading is shown as text).
    """
    title = re.sub(r"[ \t]+#+[ \t]*$", "", raw.strip())
    title = re.sub(r"\*\*|__|`", "", title).strip()
    return title.rstrip(":").strip() or raw.strip()


def html_text(fragment: str) -> str:
    """Text of an HTML fragment: tags dropped, line breaks and cells as spaces, entities decoded."""
    return " ".join(html.unescape(HTML_TAG.sub(" ", fragment)).split())


def _breaks_line(tag: str) -> bool:
    """Whether an inline HTML tag (``<br>``, ``</p>``) parts the words around it."""
    match = HTML_TAG.match(tag)
    return bool(match) and match.group(1).lower() in _BREAKS


def _plain(tokens: list[Token]) -> str:
    """Plain text of inline tokens: emphasis and code markers, images and HTML tags dropped."""
    out: list[str] = []
    for tok in tokens:
        if tok.type == "image":
            continue  # an image link is not text ("![diagram](x.png)")
        if tok.type in {"text", "code_inline"}:
            out.append(tok.content)
        elif tok.type in {"softbreak", "hardbreak"}:
            out.append(" ")
        elif tok.type == "html_inline":
            out.append(" " if _breaks_line(tok.content) else "")
    text = "".join(out)
    text = _STRAY_MARKUP.sub("", text)  # emphasis the notes opened but never closed ("Title:**")
    return " ".join(text.split())


def _lead_in(children: list[Token]) -> tuple[str, str, bool]:
    """(label, rest, alone) of an inline run: a bold lead-in, else a short "Term:" lead-in."""
    while children and children[0].type == "text" and not children[0].content.strip():
        children = children[1:]
    if children and children[0].type == "strong_open":
        depth, close = 0, None
        for n, tok in enumerate(children):
            depth += tok.type == "strong_open"
            depth -= tok.type == "strong_close"
            if depth == 0:
                close = n
                break
        if close is not None:
            label = _plain(children[1:close]).strip()
            rest = _plain(children[close + 1:]).strip()
            colon = label.endswith(":") or rest.startswith(":")
            label = label.rstrip(":").strip()
            rest = rest.lstrip(":").strip()
            if _SYMBOLS_ONLY.match(label):  # "**\-**": a symbol set in bold is no lead-in
                return "", rest.lstrip("-–—•:;,. "), False
            if not rest and not colon and len(label.split()) > 6:
                return "", label, False  # a whole bold sentence is a statement, not a lead-in
            return label, rest, not rest
    text = _plain(children)
    match = _PLAIN_LABEL.match(text)
    if match and not re.match(r"^(?:https?|ftp|s3)$", match.group("label"), re.I):
        rest = text[match.end():].strip()
        return match.group("label").strip(), rest, not rest
    title = _TITLE.match(text)
    if title:  # a title alone on its line ("AWS Identity and Access Management (IAM):")
        return title.group("label").strip(), "", True
    return "", text, False


# -- HTML blocks --------------------------------------------------------------------------------


class _TableReader(HTMLParser):
    """Rows of the tables in an HTML fragment, each row's cells as text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in {"td", "th"}:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"td", "th"} and self._cell is not None:
            if not self.rows:
                self.rows.append([])
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _html_block(tok: Token, start: int, end: int, path: tuple[str, ...], indent: int) -> Block:
    content = tok.content
    if re.search(r"<table\b", content, re.I):
        reader = _TableReader()
        reader.feed(content)
        rows = [tuple(r) for r in reader.rows if any(c for c in r)]
        if rows:
            # the rows of a one-line HTML table share its line: the line is what can be cited
            header = Row(start, rows[0])
            body = tuple(Row(start, r) for r in rows[1:])
            return Block("table", start, end, path, indent=indent, header=header, rows=body)
    text = html_text(_NOT_TEXT.sub(" ", content))
    return Block("html", start, end, path, indent=indent, text=text)


# -- the parse ----------------------------------------------------------------------------------


def _table(tokens: list[Token], i: int, path: tuple[str, ...], indent: int) -> tuple[Block, int]:
    """The table opened at ``tokens[i]``: header and body rows with their lines; the index after it."""
    open_tok = tokens[i]
    header: Row | None = None
    rows: list[Row] = []
    cells: list[str] = []
    row_line = 0
    j = i + 1
    while j < len(tokens) and tokens[j].type != "table_close":
        tok = tokens[j]
        if tok.type == "tr_open":
            cells, row_line = [], (tok.map[0] + 1 if tok.map else 0)
        elif tok.type == "inline":
            cells.append(plain_inline(tok.content))
        elif tok.type == "tr_close":
            row = Row(row_line, tuple(cells))
            if header is None:
                header = row
            else:
                rows.append(row)
        j += 1
    start, end = open_tok.map[0] + 1, open_tok.map[1]
    return Block("table", start, end, path, indent=indent, header=header, rows=tuple(rows)), j + 1


def _indent(lines: list[str], start: int) -> int:
    line = lines[start - 1] if 0 < start <= len(lines) else ""
    return len(line.expandtabs(4)) - len(line.lstrip().expandtabs(4))


@lru_cache(maxsize=2048)
def parse(text: str, markdown: bool = True, passage: bool = False) -> Document:
    """Parse a note (or a passage of one) into blocks.

    Args:
        text: The note's text.
        markdown: Read headings (``.md``); False for plain text, whose ``#`` lines are text.
        passage: The text is cut from a note, maybe from inside a nested list: its lines are read
            relative to its first line's indent (four spaces there would otherwise open an
            indented code block). Blocks keep the lines' own indents.

    Returns:
        The document: its lines and its blocks with 1-based line spans.
    """
    lines = split_lines(text)
    source = lines
    if passage:
        first = next((line for line in lines if line.strip()), "")
        shift = len(first) - len(first.lstrip())
        source = [line[min(shift, len(line) - len(line.lstrip())):] for line in lines]
    tokens = (_MD if markdown else _TEXT).parse("\n".join(source))
    blocks: list[Block] = []
    stack: list[tuple[int, str]] = []
    path: tuple[str, ...] = ()
    depth = 0
    quote = 0
    # per open list item: (its first line, whether it has shown a paragraph yet, its ordered marker)
    items: list[list] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        kind = tok.type
        if kind in {"bullet_list_open", "ordered_list_open"}:
            depth += 1
        elif kind in {"bullet_list_close", "ordered_list_close"}:
            depth -= 1
        elif kind == "blockquote_open":
            quote += 1
        elif kind == "blockquote_close":
            quote -= 1
        elif kind == "list_item_open":
            marker = f"{tok.info}{tok.markup}" if tok.info else ""
            items.append([tok.map[0] + 1 if tok.map else 0, False, marker])
        elif kind == "list_item_close":
            first, shown, _ = items.pop()
            if not shown:  # an empty item ("- "): still a line of the list
                blocks.append(Block("item", first, first, path, indent=_indent(lines, first), depth=depth))
        elif kind == "heading_open" and tok.map:
            inline = tokens[i + 1]
            title = heading_title(inline.content)
            level = int(tok.tag[1])
            if depth == 0 and quote == 0:
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, title))
                path = tuple(t for _, t in stack)
            start, end = tok.map[0] + 1, tok.map[1]
            blocks.append(Block("heading", start, end, path, level=level, indent=_indent(lines, start),
                                depth=depth, text=title, inline=inline.content))
            i += 3
            continue
        elif kind == "paragraph_open" and tok.map:
            inline = tokens[i + 1]
            start, end = tok.map[0] + 1, tok.map[1]
            label, rest, alone = lead_in(inline.content)
            term = _DEFINITION.match(inline.content)
            if term and not label:
                # a definition list ("Term" then ": what it means"): the term leads its definition
                label, rest, alone = plain_inline(term.group(1)), plain_inline(term.group(2)), False
            first_of_item = bool(items) and not items[-1][1] and items[-1][0] == start
            number = ""
            if first_of_item:
                items[-1][1] = True
                # "- 2023. A big year": an ordered list opened on its parent item's own line
                # before plain text keeps its number as text; before a lead-in it is markup
                if items[-1][2] and len(items) > 1 and items[-2][0] == start and not label:
                    number = items[-1][2]
                for outer in items[:-1]:
                    if outer[0] == start:
                        outer[1] = True  # the parent's line is this paragraph's
            block_kind = "item" if first_of_item else ("quote" if quote else "paragraph")
            blocks.append(Block(block_kind, start, end, path, indent=_indent(lines, start), depth=depth,
                                label=label, alone=alone, text=rest, number=number, inline=inline.content))
            i += 3
            continue
        elif kind in {"fence", "code_block"} and tok.map:
            start, end = tok.map[0] + 1, tok.map[1]
            lang = tok.info.strip().split(None, 1)[0] if kind == "fence" and tok.info.strip() else ""
            if items and not items[-1][1] and items[-1][0] == start:
                items[-1][1] = True
            blocks.append(Block("code", start, end, path, indent=_indent(lines, start), depth=depth,
                                text=tok.content.rstrip("\n"), lang=lang))
        elif kind == "table_open" and tok.map:
            block, i = _table(tokens, i, path, _indent(lines, tok.map[0] + 1))
            blocks.append(block)
            continue
        elif kind == "html_block" and tok.map:
            start, end = tok.map[0] + 1, tok.map[1]
            if items and not items[-1][1] and items[-1][0] == start:
                items[-1][1] = True
            blocks.append(_html_block(tok, start, end, path, _indent(lines, start)))
        elif kind == "hr" and tok.map:
            blocks.append(Block("rule", tok.map[0] + 1, tok.map[1], path, indent=_indent(lines, tok.map[0] + 1)))
        i += 1
    blocks.sort(key=lambda b: (b.start, b.depth))
    return Document(tuple(lines), tuple(blocks))


@lru_cache(maxsize=20_000)
def plain_inline(markdown_text: str) -> str:
    """A line of inline markdown as plain text (markup, images, HTML tags removed)."""
    tokens = _INLINE.parseInline(markdown_text)
    return _plain(tokens[0].children or []) if tokens else ""


@lru_cache(maxsize=20_000)
def lead_in(markdown_text: str) -> tuple[str, str, bool]:
    """(label, rest, alone) of inline markdown (a paragraph's or one line's), as `Block.label` reads it."""
    tokens = _INLINE.parseInline(markdown_text)
    return _lead_in(tokens[0].children or []) if tokens else ("", "", False)
