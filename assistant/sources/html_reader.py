"""An HTML page as a markdown text view: its main text, headings, lists, tables and code.

Built on the standard library's ``html.parser`` (no dependency, ~2 ms to import): an export of notes
needs only the block structure, and a lenient tokenizer copes with the unclosed ``<p>``/``<li>``
that exports are full of. Scripts, styles, navigation, page header/footer and asides are dropped;
when the page marks its ``<main>`` (or one ``<article>``), only that is read.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from assistant.sources.views import UnreadableError, View, escape_line, fence, table

_DROP = frozenset({"script", "style", "nav", "header", "footer", "aside", "noscript", "template", "svg",
                   "head", "title", "form", "button", "select", "iframe", "object", "canvas", "math"})
_VOID = frozenset({"br", "img", "hr", "meta", "link", "input", "area", "base", "col", "embed", "source",
                   "track", "wbr", "param"})
_BLOCKS = frozenset({"p", "div", "section", "article", "main", "body", "blockquote", "figure", "figcaption",
                     "address", "details", "summary", "center", "dl", "dt", "dd", "caption", "fieldset"})
_INLINE_MARKS = {"strong": "**", "b": "**", "em": "*", "i": "*"}
_LANGUAGE = re.compile(r"(?:^|\s)(?:language|lang)-([\w+#.-]+)")
_SPACE = re.compile(r"[ \t\r\n\f\v\u00a0]+")


class _Converter(HTMLParser):
    """Walks the tags once, writing markdown lines; blocks end at their closing tag or the next block."""

    def __init__(self, scope: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.scope = scope  # "main" or "article": text outside it is page furniture
        self.in_scope = 0 if scope else 1
        self.out: list[str] = []
        self.inline: list[str] = []  # the open paragraph's pieces
        self.drop = 0
        self.lists: list[list] = []  # per open list: [ordered, next number]
        self.item_open = False
        self.quote = 0
        self.heading = 0
        self.pre: list[str] | None = None
        self.pre_language = ""
        self.code_language = ""
        self.rows: list[list[str]] | None = None
        self.cell: list[str] | None = None
        self.tables = 0
        self.soft = False  # the next line continues the paragraph a <br> broke

    # -- helpers -------------------------------------------------------------------------------
    def _flush(self) -> None:
        """Write the open paragraph (or list item, heading) as one line."""
        text = _SPACE.sub(" ", "".join(self.inline)).strip()
        self.inline = []
        if not text:
            return  # an item's text may still follow a nested block
        soft, self.soft = self.soft, False
        prefix = "> " * self.quote
        if self.heading:
            line = f"{'#' * self.heading} {text.replace('*', '')}"
            self._blank()
            self.out += [prefix + line, ""]
            return
        if self.lists:
            # a nested item is indented by its parents' marker widths ("- " is 2, "1. " is 3)
            indent = " " * sum(3 if ordered else 2 for ordered, _ in self.lists[:-1])
            ordered, number = self.lists[-1]
            if self.item_open:
                marker = f"{number}. " if ordered else "- "
                if ordered:
                    self.lists[-1][1] += 1
                self.item_open = False
                self.out.append(prefix + indent + marker + text)
            else:  # text continuing an item after a nested block or a <br>: its own indented line
                self.out.append(prefix + indent + " " * (3 if ordered else 2) + escape_line(text))
            return
        if not soft:
            self._blank()
        self.out.append(prefix + escape_line(text))

    def _blank(self) -> None:
        if self.out and self.out[-1].strip() and not self.lists:
            self.out.append("")

    def _visible(self) -> bool:
        return not self.drop and self.in_scope > 0

    # -- parser callbacks ------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.scope and tag == self.scope:
            self.in_scope += 1
        if tag == "body":
            self.drop = 0  # the body starts: a <head> left open (HTML allows it) ends here
        if tag in _DROP:
            if tag not in _VOID:
                self.drop += 1
            return
        if not self._visible():
            return
        classes = dict(attrs).get("class") or ""
        if self.pre is not None:
            if tag == "code":
                self.code_language = self.code_language or _language(classes)
            elif tag == "br":
                self.pre.append("\n")
            return
        if self.cell is not None:
            if tag in ("br", "p", "div", "li"):
                self.cell.append("; ")  # a line break inside a cell: the row must stay one line
            elif tag in _INLINE_MARKS:
                self.cell.append(_INLINE_MARKS[tag])
            return
        if tag == "table":
            self._flush()
            self.tables += 1
            if self.tables == 1:
                self.rows = []
            return
        if self.rows is not None:
            if tag == "tr":
                self.rows.append([])
            elif tag in ("td", "th"):
                if not self.rows:
                    self.rows.append([])
                self.cell = []
            return
        if tag == "pre":
            self._flush()
            self.pre, self.pre_language, self.code_language = [], _language(classes), ""
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._flush()
            self.heading = int(tag[1])
        elif tag in ("ul", "ol"):
            self._flush()
            if not self.lists:
                self._blank()
            self.lists.append([tag == "ol", 1])
        elif tag == "li":
            self._flush()
            self.item_open = True
        elif tag == "blockquote":
            self._flush()
            self.quote += 1
        elif tag == "br":
            self._flush()
            self.soft = True
        elif tag == "hr" or tag in _BLOCKS:
            self._flush()
            if tag == "dt":  # a defined term reads as a bold label over its definition
                self.inline.append("**")
        elif tag in _INLINE_MARKS and not self.heading:
            self.inline.append(_INLINE_MARKS[tag])
        elif tag == "code":
            self.inline.append("`")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP and tag not in _VOID:
            self.drop = max(0, self.drop - 1)
            return
        if self.scope and tag == self.scope:
            self._flush()
            self.in_scope = max(0, self.in_scope - 1)
            return
        if not self._visible():
            return
        if self.pre is not None:
            if tag == "pre":
                code = "".join(self.pre).strip("\n")
                self.out += ["", *fence(code, self.pre_language or self.code_language), ""]
                self.pre = None
            return
        if self.rows is not None:
            if tag in ("td", "th") and self.cell is not None:
                text = _SPACE.sub(" ", "".join(self.cell)).strip().strip(";").strip()
                self.rows[-1].append(text)
                self.cell = None
            elif tag == "table":
                self.tables -= 1
                if self.tables == 0:
                    rows = [r for r in self.rows if any(c for c in r)]
                    if rows:
                        self._blank()
                        self.out += [*table(rows), ""]
                    self.rows = None
            return
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._flush()
            self.heading = 0
        elif tag in ("ul", "ol"):
            self._flush()
            if self.lists:
                self.lists.pop()
            if not self.lists:
                self.out.append("")
        elif tag == "li":
            self._flush()
            self.item_open = False
        elif tag == "blockquote":
            self._flush()
            self.quote = max(0, self.quote - 1)
            self.out.append("")
        elif tag in _BLOCKS:
            if tag == "dt":
                self._close_mark("**")
            self._flush()
        elif tag in _INLINE_MARKS and not self.heading:
            self._close_mark(_INLINE_MARKS[tag])
        elif tag == "code":
            self._close_mark("`")

    def _close_mark(self, mark: str) -> None:
        """Close an inline mark; one that encloses nothing (an image, a dropped tag) is removed instead."""
        filled = [i for i, piece in enumerate(self.inline) if piece.strip()]
        if filled and self.inline[filled[-1]] == mark:
            del self.inline[filled[-1]:]
        else:
            self.inline.append(mark)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if not self._visible():
            return
        if self.pre is not None:
            self.pre.append(data)
        elif self.cell is not None:
            self.cell.append(data)
        elif self.rows is not None:
            return  # text between cells (whitespace, stray text) is not a cell
        else:
            self.inline.append(data)

    def result(self) -> str:
        self._flush()
        if self.pre is not None:  # an unclosed <pre> at the end of the file
            self.out += ["", *fence("".join(self.pre).strip("\n"), self.pre_language or self.code_language)]
        lines: list[str] = []
        for line in self.out:
            if line.strip() or (lines and lines[-1].strip()):
                lines.append(line.rstrip())
        return "\n".join(lines).strip("\n") + "\n"


def _language(classes: str) -> str:
    match = _LANGUAGE.search(classes)
    return match.group(1).lower() if match else ""


def _scope(text: str) -> str | None:
    """The element holding the page's main text, if the page marks one."""
    lower = text.lower()
    if re.search(r"<main[\s>]", lower):
        return "main"
    if len(re.findall(r"<article[\s>]", lower)) == 1:
        return "article"
    return None


def read_html(text: str) -> View:
    """The markdown view of an HTML page (no regions: it is cited by view lines).

    Raises:
        UnreadableError: The page has no text once scripts, styles and navigation are dropped.
    """
    converter = _Converter(_scope(text))
    converter.feed(text)
    converter.close()
    view = converter.result()
    if not view.strip():
        raise UnreadableError("it has no text once scripts, styles and navigation are dropped")
    return View(view)
