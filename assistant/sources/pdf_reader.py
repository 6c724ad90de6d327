"""A PDF as a markdown text view, one region per page.

Read with ``pypdf`` (BSD, pure Python): on a 20-page text PDF it extracts in ~0.2 s where
``pdfplumber`` (pdfminer) takes ~1.9 s, and it installs no compiled parts. Its text visitor gives
each run of text with its position, font and size, which is all the layout needed here:

- lines in the order the page draws them (reading order as the author's tool wrote it);
- paragraphs: a vertical gap wider than the page's usual line spacing starts a new one, and the
  lines of one paragraph are joined (a hyphen at a line break is dropped only where the joined
  word occurs elsewhere in the document and the hyphenated one does not);
- headings: from the outline (bookmarks) when there is one, else lines in a font clearly larger
  than the body text, ranked by size;
- bullets (``•``, ``◦``, ``–`` ...) become ``- `` items; lines in a monospaced font become a
  fenced code block;
- a line repeated at the top or bottom of most pages (a running title, "Page 3 of 20") is dropped.
"""

from __future__ import annotations

import io
import logging
import math
import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from assistant import tuning
from assistant.sources.views import UnreadableError, View, ViewBuilder, escape_line, fence, table

_BULLET = re.compile(r"^\s*[•◦▪▫●○■□‣⁃∙·\-–—*]\s+")
# monospaced font families by name: TeX's typewriter fonts are CMTT/LMTT/SFTT/txtt, URW's Nimbus Mono
_MONO = re.compile(r"mono|courier|code|consol|menlo|inconsolata|typewriter|cmtt|lmtt|sftt|txtt|tt\d", re.I)
_SECTION_NUMBER = re.compile(r"^(?:\d+[.)]?)+\s+|^[A-Z][.)]\s+")
_LEADER = re.compile(r"(?:\s*\.){4,}\s*")
# typographic ligatures (ﬁ, ﬂ, ﬃ ...) as the letters they join: "Diﬃe" must match "Diffie"
_LIGATURES = str.maketrans({chr(c): unicodedata.normalize("NFKC", chr(c)) for c in range(0xFB00, 0xFB07)})
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@dataclass
class _Line:
    text: str = ""
    size: float = 0.0
    y: float | None = None
    x: float | None = None
    mono: bool = True
    heading: int = 0  # markdown level, 0 for body text
    chars: Counter = field(default_factory=Counter)  # characters per font size
    runs: list[tuple[float, float, str]] = field(default_factory=list)  # (x, y, text) of each run with text
    table: list[list[str]] | None = None  # a table standing in for the lines it was read from


def _runs(page) -> list[_Line]:
    """A page's text lines with their size, position and whether every run is monospaced."""
    lines = [_Line()]

    def visit(text: str, cm, tm, font, size) -> None:
        if not text:
            return
        # the run's origin and its font size on the page: the text matrix mapped by the current transform
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = math.sqrt(abs((tm[0] * cm[0] + tm[1] * cm[2]) * (tm[2] * cm[1] + tm[3] * cm[3])
                              - (tm[0] * cm[1] + tm[1] * cm[3]) * (tm[2] * cm[0] + tm[3] * cm[2])))
        name = str(font.get("/BaseFont", "")) if font else ""
        for n, part in enumerate(text.split("\n")):
            if n:
                lines.append(_Line())
            line = lines[-1]
            if part.strip():
                line.chars[round(size * scale, 1)] += len(part.strip())
                line.runs.append((x, y, part.translate(_LIGATURES)))
                line.mono = line.mono and bool(_MONO.search(name))
                if line.y is None:
                    line.y, line.x = y, x
            line.text += part

    page.extract_text(visitor_text=visit)
    out = []
    for line in lines:
        line.text = line.text.translate(_LIGATURES)
        line.text = line.text.strip() if line.mono else _LEADER.sub(" … ", line.text).strip()
        if line.text:
            line.size = line.chars.most_common(1)[0][0] if line.chars else 0.0
            out.append(line)
    return out


def _outline(reader) -> dict[int, list[tuple[int, str]]]:
    """Per page index, the outline's (level, title) entries pointing at it, in outline order."""
    found: dict[int, list[tuple[int, str]]] = {}

    def walk(items, level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            try:
                page = reader.get_destination_page_number(item)
            except Exception:  # noqa: BLE001 - a broken bookmark is only a missing heading
                continue
            title = " ".join(str(getattr(item, "title", "") or "").split())
            if page is not None and page >= 0 and title:
                found.setdefault(page, []).append((min(level, 6), title))

    try:
        walk(reader.outline, 1)
    except Exception:  # noqa: BLE001 - an unreadable outline: fall back to font sizes
        return {}
    return found


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _mark_outline(lines: list[_Line], entries: list[tuple[int, str]]) -> list[_Line]:
    """Mark the lines that carry the page's bookmark titles as headings (a title found nowhere is added)."""
    cursor = 0
    for level, title in entries:
        want = _norm(title)
        hit = None
        for i in range(cursor, len(lines)):
            for span in (1, 2, 3):  # a long title wraps over two or three lines
                text = " ".join(x.text for x in lines[i : i + span])
                if want in (_norm(text), _norm(_SECTION_NUMBER.sub("", text))):
                    hit = (i, span)
                    break
            if hit:
                break
        if hit:
            i, span = hit
            text = " ".join(" ".join(x.text for x in lines[i : i + span]).split())  # "2.2 Naming" keeps its number
            lines[i : i + span] = [_Line(text, lines[i].size, lines[i].y, lines[i].x, mono=False, heading=level)]
            cursor = i + 1
        else:
            lines.insert(cursor, _Line(title, mono=False, heading=level))
            cursor += 1
    return lines


def _body_size(pages: list[list[_Line]]) -> float:
    """The body text's font size: the size most characters are set in."""
    chars: Counter = Counter()
    for lines in pages:
        for line in lines:
            chars.update(line.chars)
    return chars.most_common(1)[0][0] if chars else 0.0


def _size_levels(pages: list[list[_Line]]) -> dict[float, int]:
    """Heading level per font size clearly larger than the body text's (the most used size)."""
    body = _body_size(pages)
    if not body:
        return {}
    bigger = sorted({line.size for lines in pages for line in lines
                     if line.size >= body * tuning.PDF_HEADING_SIZE and not line.mono
                     and len(line.text) <= tuning.PDF_HEADING_CHARS}, reverse=True)
    return {size: min(n + 1, 6) for n, size in enumerate(bigger)}


_PAGE_NUMBER = re.compile(r"^(?:page\s*)?(?:#|[ivxlc]{1,6})(?:\s*(?:of|/)\s*#)?$", re.I)


def _furniture(pages: list[list[_Line]], heading_size: float) -> set[tuple[int, int]]:
    """(page, line) positions of page furniture at the top or bottom of pages: page numbers, running titles.

    An edge line in body-size type is furniture when it is a page number alone ("12", "Page 3 of 20",
    "iv"), when it carries a number that counts up with the pages ("Chapter 2: Trees 17" on the page
    after "16"), or when, digits aside, it is the same on three pages or more. Code lines and lines
    set as headings never are.
    """
    edges = [(n, i, x) for n, lines in enumerate(pages) for i in {0, len(lines) - 1} if lines
             for x in [lines[i]] if not x.mono and len(x.text) <= 80 and x.size < heading_size]
    offsets: Counter = Counter()
    numbered: dict[tuple[int, int], int] = {}
    for n, i, x in edges:
        match = re.search(r"(\d+)\s*$", x.text) or re.match(r"\s*(\d+)\b", x.text)
        if match:
            numbered[(n, i)] = int(match.group(1)) - n
            offsets[numbered[(n, i)]] += 1
    same = Counter(_digits(x.text) for _, _, x in edges)
    return {(n, i) for n, i, x in edges
            if _PAGE_NUMBER.match(_digits(x.text)) or same[_digits(x.text)] >= 3
            or ((n, i) in numbered and offsets[numbered[(n, i)]] >= 3)}


def _digits(text: str) -> str:
    return re.sub(r"\d+", "#", text)


def _columns(runs: list[tuple[float, float, str]], tolerance: float) -> list[float]:
    """The distinct x positions where a line's runs start (runs within ``tolerance`` are one column)."""
    columns: list[float] = []
    for x, _, _ in sorted(runs):
        if not columns or x - columns[-1] > tolerance:
            columns.append(x)
    return columns


def _column(x: float, columns: list[float], tolerance: float) -> int | None:
    return next((n for n, c in enumerate(columns) if abs(x - c) <= tolerance), None)


def _tables(lines: list[_Line], gap: float, header: dict) -> list[_Line]:
    """Runs of lines whose text starts at the same two or more x positions, read as one table each.

    A line's runs starting at one set of columns, followed by lines whose every run starts at one of
    those columns (another of them starting at two or more), make a table of at least two rows. Rows
    are bands of text separated by more than a line's spacing (a cell's wrapped lines stay in its row).
    A table that goes on from the previous page (same columns) keeps that page's header row, passed in
    ``header`` (columns -> row).
    """
    out: list[_Line] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        size = line.size or 10.0
        tolerance = max(1.0, size * 0.1)  # table columns line up exactly; words of prose only by chance
        columns = _columns(line.runs, tolerance) if not (line.heading or line.mono) else []
        if not 2 <= len(columns) <= tuning.PDF_TABLE_COLUMNS or columns[1] - columns[0] < size * 2:
            out.append(line)
            i += 1
            continue
        j = i + 1
        while (j < len(lines) and not lines[j].heading and not lines[j].mono and lines[j].runs
               and all(_column(x, columns, tolerance) is not None for x, _, _ in lines[j].runs)):
            j += 1
        runs = [(y, _column(x, columns, tolerance), text) for x2 in lines[i:j] for x, y, text in x2.runs]
        rows = _rows(runs, len(columns), gap)
        # two lines breaking at the same places: a change of font inside a sentence breaks one line only
        aligned = sum(len(_columns(x2.runs, tolerance)) >= 2 for x2 in lines[i:j])
        if aligned < 2 or (len(rows) < 2 and not header.get(_key(columns))):
            out.append(line)
            i += 1
            continue
        key = _key(columns)
        if key in header and rows[0] != header[key]:  # the rest of a table begun on the page before
            rows = [header[key], *rows]
        header.clear()
        header[key] = rows[0]
        out.append(_Line(table=rows, mono=False, y=line.y, x=line.x, size=line.size))
        i = j
    return out


def _key(columns: list[float]) -> tuple[int, ...]:
    return tuple(round(c) for c in columns)


def _rows(runs: list[tuple[float, int | None, str]], width: int, gap: float) -> list[list[str]]:
    """Cells of a table's runs (y, column, text): bands of y more than a line spacing apart are rows."""
    rows: list[list[list[str]]] = []
    last_y: float | None = None
    for y, column, text in sorted(runs, key=lambda r: -r[0]):
        if last_y is None or last_y - y > gap * tuning.PDF_ROW_GAP:
            rows.append([[] for _ in range(width)])
        last_y = y
        rows[-1][column or 0].append(_LEADER.sub(" … ", text).strip(" …"))  # a contents page's dot leaders
    return [[" ".join(" ".join(cell).split()) for cell in row] for row in rows if any(any(c) for c in row)]


def _join(before: str, after: str, vocabulary: set[str]) -> str:
    """Two lines of one paragraph as one, mending a word broken at the line end sensibly."""
    if before.endswith("\u00ad"):  # a soft hyphen marks a break inside a word
        return before[:-1] + after
    head = re.search(r"([^\W\d_]+)-$", before)
    tail = _WORD.match(after)
    if head and tail and after[:1].islower():
        joined = (head.group(1) + tail.group(0)).lower()
        hyphenated = f"{head.group(1)}-{tail.group(0)}".lower()
        if joined in vocabulary and hyphenated not in vocabulary:
            return before[:-1] + after
        return before + after  # a compound broken at its own hyphen ("state-of-the-" + "art")
    return f"{before} {after}"


def _blocks(lines: list[_Line], gap: float, full: float, margin: float, vocabulary: set[str]) -> list[str]:
    """A page's markdown lines: headings, paragraphs (joined), list items, code blocks.

    ``gap`` is the usual line spacing, ``full`` the length of a full line: a wider gap, or a line
    ending well short of a full one (the last line of a paragraph, a list item, a table row, a
    slide's bullet), ends a paragraph. ``margin`` is where body lines start: a paragraph set in
    from it by more than a first-line indent is a list item whose bullet was drawn as a shape.
    """
    out: list[str] = []
    para: str | None = None
    code: list[str] = []
    prev_y: float | None = None
    prev_short = True

    def end_para() -> None:
        nonlocal para
        if para is not None:
            out.append(escape_line(para) if not para.startswith("- ") else para)
            para = None

    def end_code() -> None:
        if code:
            if out and out[-1]:
                out.append("")
            out.extend(fence("\n".join(code), "text"))
            out.append("")
            code.clear()

    for line in lines:
        broke = (prev_short or prev_y is None or line.y is None
                 or abs(prev_y - line.y) > gap * tuning.PDF_PARAGRAPH_GAP)
        prev_y = line.y if line.y is not None else prev_y
        prev_short = len(line.text) < full * tuning.PDF_SHORT_LINE
        if line.table:
            end_para()
            end_code()
            if out and out[-1]:
                out.append("")
            out += [*table(line.table), ""]
            continue
        if line.heading:
            end_para()
            end_code()
            if out and out[-1]:
                out.append("")
            out += [f"{'#' * line.heading} {' '.join(line.text.split())}", ""]
            continue
        if line.mono:
            end_para()
            code.append(line.text)
            continue
        end_code()
        bullet = _BULLET.match(line.text)
        if bullet:
            end_para()
            para = "- " + escape_line(line.text[bullet.end():])
        elif para is None or broke:
            end_para()
            indented = line.x is not None and line.x - margin >= tuning.PDF_LIST_INDENT * (line.size or 1)
            if broke and out and out[-1] and not (out[-1].startswith("- ") and indented):
                out.append("")
            para = "- " + escape_line(line.text) if indented else line.text
        else:
            para = _join(para, line.text, vocabulary)
    end_para()
    end_code()
    return out


def _open(data: bytes):
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a lenient read of a sloppy file is not news
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds for a damaged file
        raise UnreadableError(f"it is not a readable PDF ({_why(exc)})") from None
    if encrypted:
        try:
            ok = reader.decrypt("")  # owner-password-only files (print/copy limits) open with an empty one
        except (DependencyError, FileNotDecryptedError, PdfReadError, NotImplementedError):
            ok = 0
        if not ok:
            raise UnreadableError("it is an encrypted (password-protected) PDF; save a copy without the password "
                             "to index it")
    return reader


def _why(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:120]


def read_pdf(data: bytes) -> View:
    """The markdown view of a PDF's bytes; page N (1-based) is region ``page N``.

    Raises:
        UnreadableError: Damaged, encrypted with a password, or no page has a text layer (a scan).
    """
    reader = _open(data)
    try:
        pages = [_runs(page) for page in reader.pages]
        outline = _outline(reader)
    except UnreadableError:
        raise
    except Exception as exc:  # noqa: BLE001 - a page that cannot be parsed makes the file unreadable
        raise UnreadableError(f"it is not a readable PDF ({_why(exc)})") from None
    if not any(pages):
        raise UnreadableError("it has no text layer (a scanned PDF?); run OCR on it to index it")
    drop = _furniture(pages, _body_size(pages) * tuning.PDF_HEADING_SIZE)
    pages = [[x for i, x in enumerate(lines) if (n, i) not in drop] for n, lines in enumerate(pages)]
    if outline:
        pages = [_mark_outline(lines, outline.get(n, [])) for n, lines in enumerate(pages)]
    else:
        levels = _size_levels(pages)
        for lines in pages:
            for line in lines:
                line.heading = levels.get(line.size, 0)
    gaps = [a.y - b.y for lines in pages for a, b in zip(lines, lines[1:], strict=False)
            if a.y is not None and b.y is not None and not a.heading and not b.heading and a.y != b.y]
    gap = statistics.median([abs(g) for g in gaps]) if gaps else 0.0
    lengths = sorted(len(x.text) for lines in pages for x in lines if not x.heading and not x.mono)
    full = lengths[int(len(lengths) * 0.9)] if lengths else 0
    starts = Counter(round(x.x) for lines in pages for x in lines if x.x is not None and not x.heading and not x.mono)
    margin = min((x for x, n in starts.items() if n >= max(starts.values()) * 0.5), default=0.0) if starts else 0.0
    vocabulary = {w.lower() for lines in pages for line in lines for w in re.findall(r"[^\W\d_][\w-]*", line.text)}
    header: dict = {}
    pages = [_tables(lines, gap, header) if gap else lines for lines in pages]
    builder = ViewBuilder()
    for n, lines in enumerate(pages, start=1):
        builder.add(f"page {n}", _blocks(lines, gap or math.inf, full, margin, vocabulary))
    return builder.view()
