"""Pure helpers for the Streamlit page: answers and passages as escaped HTML, literal labels, feedback.

Kept out of ``app.py`` so they are tested on small inline strings; the page only lays things out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Iterable, Mapping

from assistant.answer.citations import MARKER, marker_numbers
from assistant.text.document import parse

STARTERS = (
    "Explain concept drift vs data drift",
    "When should I use batch transform instead of a real-time endpoint?",
    "How do I handle class imbalance?",
    "What does SageMaker Clarify do?",
)


_MONO = "font-family:'Source Code Pro',ui-monospace,monospace"


_BADGE = ("display:inline-block;padding:0 0.45em;margin:0 0.1em;border-radius:0.6em;font-size:0.75em;"
          "line-height:1.5;vertical-align:0.1em;background:rgba(28,131,225,0.14);color:#1c83e1")


_CODE_STYLE = f"{_MONO};font-size:0.85em;padding:0.1em 0.3em;border-radius:0.3em;background:rgba(128,128,128,0.14)"


_PRE = (f"{_MONO};font-size:0.85em;white-space:pre-wrap;overflow-wrap:anywhere;margin:0 0 0.75em;"
        "padding:0.6em 0.8em;border-radius:0.5em;background:rgba(128,128,128,0.1)")


_ANSWER = "line-height:1.6"


_P = "margin:0 0 0.75em"


_LIST = "margin:0 0 0.5em;padding-left:1.4em"


_LI = "margin:0.2em 0"


# a report's headings by level (a <p> like every block here: the tag set stays the answers' one)
_HEADINGS = {1: "margin:0.4em 0 0.6em;font-size:1.6em", 2: "margin:1em 0 0.5em;font-size:1.3em",
             3: "margin:0.8em 0 0.4em;font-size:1.1em", 4: _P}


_TABLE = "border-collapse:collapse;margin:0 0 0.75em"


_CELL = "border:1px solid rgba(128,128,128,0.3);padding:0.25em 0.6em;text-align:left;vertical-align:top"


# the passage view: one row per file line, its number in a gutter (not copied with the text)
_SOURCE = ("font-size:0.9rem;line-height:1.55;padding:0.4em 0;border:1px solid rgba(128,128,128,0.2);"
           "border-radius:0.5rem")


_ROW = "display:flex;align-items:baseline;padding-right:0.75em"


_ROW_CITED = _ROW + ";background:rgba(255,213,0,0.12)"


_GUTTER = (f"flex:0 0 auto;min-width:2.6em;padding:0 0.9em 0 0.4em;text-align:right;{_MONO};font-size:0.78em;"
           "color:rgba(128,128,128,0.9);user-select:none")


_GUTTER_CITED = _GUTTER + ";font-weight:600"


_LINE = "flex:1 1 auto;min-width:0;white-space:pre-wrap;overflow-wrap:anywhere"


_LINE_CODE = f"{_LINE};{_MONO};font-size:0.85em"


_CODE_SPAN = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")


_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")


_EM = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")


_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


_ITEM = re.compile(r"^(\s*)([-*+]|\d{1,9}[.)])(?:\s+(.*))?$")


_HEADING = re.compile(r"^\s{0,3}#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*$")


_RULE = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")


_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")


def _badges(safe: str, cited: Collection[int] | None) -> str:
    """``[1]`` / ``[1, 2]`` markers in escaped text as our badges (each says which source it names).

    A marker naming a number outside ``cited`` stays text, all of it (None: every marker is a badge).
    """
    def badge(match: re.Match) -> str:
        numbers = marker_numbers(match.group(1))
        if not numbers or (cited is not None and not set(numbers) <= set(cited)):
            return match.group(0)
        return " ".join(f'<span title="source {n}" style="{_BADGE}">{n}</span>' for n in numbers)

    return MARKER.sub(badge, safe)


def _phrase(text: str, badges: bool, cited: Collection[int] | None) -> str:
    """Text outside code spans: escaped first, then our bold, italics and badges around the escaped text."""
    safe = html.escape(text)
    safe = _STRONG.sub(r"<strong>\1</strong>", safe)
    safe = _EM.sub(r"<em>\1</em>", safe)
    return _badges(safe, cited) if badges else safe


def inline_html(text: str, badges: bool = False, cited: Collection[int] | None = None) -> str:
    """One line of markdown-ish text as HTML: `code`, **bold**, *italics* (and citation badges); the rest escaped.

    >>> inline_html("**Drift:** <b>x</b> `a[1]` [1] [9]", badges=True, cited={1}).count("source")
    1
    """
    out, at = [], 0
    for span in _CODE_SPAN.finditer(text):
        out.append(_phrase(text[at:span.start()], badges, cited))
        out.append(f'<code style="{_CODE_STYLE}">{html.escape(span.group(2))}</code>')
        at = span.end()
    out.append(_phrase(text[at:], badges, cited))
    return "".join(out)


def _closes(line: str, fence: str) -> bool:
    """Whether ``line`` closes a block opened with ``fence``: the same character, at least as many (CommonMark)."""
    match = re.fullmatch(r"\s*(`{3,}|~{3,})\s*", line)
    return bool(match) and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence)


def _cells(line: str) -> list[str]:
    """The cells of one table row (an escaped pipe stays inside its cell)."""
    row = line.strip().removeprefix("|")
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", row)]


def answer_html(text: str, badges: bool = True, cited: Collection[int] | None = None, headings: bool = False) -> str:
    """An answer (markdown from our backends or an LLM) as HTML in which only our own markup is live.

    Kept: paragraphs, headings (as bold lines: a heading inside an answer would render huge),
    bullet and numbered lists with nesting, fenced code, tables, ``code``, **bold**, *italics*, rules,
    and ``[n]`` citation markers as badges. Everything else is shown as written, escaped: HTML,
    Streamlit directives, images, links, math.

    Args:
        text: The answer text.
        badges: Show ``[n]`` markers as badges (False while an answer streams: its markers are checked
            only once it is complete).
        cited: The citation numbers the answer really has (`parse_citations` already dropped markers
            naming no passage; this keeps a stray ``[99]`` from a note line a text, not a badge, here
            too). None: every marker.
        headings: Show headings as headings (a report), not as bold lines (an answer).

    Returns:
        One ``<div>`` for ``st.html``.

    >>> answer_html("- **A:** <img src=x> [1]").count("&lt;img")
    1
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    paragraph: list[str] = []
    lists: list[tuple[int, str]] = []  # the open lists, innermost last: (indent, tag); each has an open <li>

    def end_paragraph() -> None:
        if paragraph:
            out.append(f'<p style="{_P}">{inline_html(" ".join(paragraph), badges, cited)}</p>')
            paragraph.clear()

    def close_lists(deeper_than: int = -1) -> None:
        while lists and lists[-1][0] > deeper_than:
            out.append(f"</li></{lists.pop()[1]}>")

    i, blank_before = 0, True
    while i < len(lines):
        line, stripped = lines[i], lines[i].strip()
        i += 1
        fence = _FENCE.match(line)
        if fence:
            end_paragraph()
            if not line[:1].isspace():
                close_lists()  # an indented block stays inside its list item
            indent = len(line) - len(line.lstrip())
            body = []
            while i < len(lines) and not _closes(lines[i], fence.group(1)):
                body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i].lstrip())
                i += 1
            i += 1  # the closing fence; an unclosed block runs to the end, as in CommonMark
            # newlines as character references: the HTML stays one line, whatever st.html trims or dedents
            out.append(f'<pre style="{_PRE}"><code>{"&#10;".join(html.escape(b) for b in body)}</code></pre>')
        elif not stripped:
            end_paragraph()
        elif _RULE.match(line):
            end_paragraph()
            close_lists()
            out.append('<hr style="margin:0.75em 0">')
        elif _HEADING.match(line):
            end_paragraph()
            close_lists()
            title = _HEADING.match(line).group(1) or ""
            if headings:
                level = min(len(line.lstrip().split(None, 1)[0]), 4)
                out.append(f'<p style="{_HEADINGS[level]}"><strong>{inline_html(title, badges, cited)}</strong></p>')
            else:
                out.append(f'<p style="{_P}"><strong>{inline_html(title, badges, cited)}</strong></p>')
        elif "|" in stripped and i < len(lines) and "-" in lines[i] and _TABLE_RULE.match(lines[i]):
            end_paragraph()
            if not line[:1].isspace():
                close_lists()  # an indented table stays inside its list item (a lead-in's table)
            head, rows, i = _cells(line), [], i + 1
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append(_cells(lines[i]))
                i += 1
            cells = "".join(f'<th style="{_CELL}">{inline_html(c, badges, cited)}</th>' for c in head)
            body = "".join("<tr>" + "".join(f'<td style="{_CELL}">{inline_html(c, badges, cited)}</td>' for c in row)
                           + "</tr>" for row in rows)
            out.append(f'<table style="{_TABLE}"><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>')
        elif item := _ITEM.match(line):
            end_paragraph()
            indent = len(item.group(1).expandtabs(4))
            tag = "ol" if item.group(2)[0].isdigit() else "ul"
            close_lists(indent)
            if lists and lists[-1][0] == indent and lists[-1][1] != tag:
                close_lists(indent - 1)  # "1." after "-" at the same depth starts another list
            if lists and lists[-1][0] == indent:
                out.append("</li>")
            else:
                start = int(item.group(2)[:-1]) if tag == "ol" else 1
                first = f' start="{start}"' if start != 1 else ""
                out.append(f'<{tag}{first} style="{_LIST}">')
                lists.append((indent, tag))
            out.append(f'<li style="{_LI}">{inline_html(item.group(3) or "", badges, cited)}')
        elif lists and (not blank_before or line[:1].isspace()):
            out.append(" " + inline_html(stripped, badges, cited))  # the item's text goes on
        else:
            close_lists()
            paragraph.append(stripped)
        blank_before = not stripped
    end_paragraph()
    close_lists()
    return f'<div style="{_ANSWER}">{"".join(out)}</div>'


def _line_kinds(lines: list[str]) -> list[str]:
    """Each passage line's kind from the document model: "fence", "code", "table", "html" or "prose".

    Only the font depends on it: every line is escaped whatever its kind, so a fence read
    differently from a renderer can no longer turn a line into live HTML.
    """
    kinds = parse("\n".join(lines), passage=True).line_kinds()
    # a passage cut from inside a long table starts without its header: its rows are still rows
    return ["table" if kind == "prose" and line.lstrip().startswith("|") else kind
            for line, kind in zip(lines, kinds, strict=True)]


def _prose_line(line: str) -> tuple[str, str, str]:
    """A note line for the passage view, as (style, lead, body).

    The indent becomes padding and a bullet ("•") or number a lead hanging in it, so a long line wraps
    under its own text, not under the bullet; the body is the text with its inline markup (a heading
    bold). The lead stays outside a cited line's mark.
    """
    rest = line.lstrip()
    columns = len(line.expandtabs(4)) - len(rest.expandtabs(4))
    lead, width = "", 0.0
    if heading := re.fullmatch(r"#{1,6}\s+(.*?)(?:\s+#+)?\s*", rest):
        body = f"<strong>{inline_html(heading.group(1))}</strong>"
    elif marker := re.match(r"([-*+]|\d{1,9}[.)])(?:\s+|$)", rest):
        symbol = "•" if marker.group(1) in "-*+" else marker.group(1)
        width = 1.1 if symbol == "•" else 0.55 * len(symbol) + 0.45
        lead = f'<span style="display:inline-block;width:{width:g}em;text-indent:0">{html.escape(symbol)}</span>'
        body = inline_html(rest[marker.end():])
    else:
        body = inline_html(rest)
    style = _LINE
    if columns or width:
        style += f";padding-left:calc({columns}ch + {width:g}em);text-indent:-{width:g}em"
    return style, lead, body


def passage_html(text: str, start_line: int, lines: Iterable[int], last_line: int = 0) -> str:
    """A cited passage as a source view: the file's line numbers, its cited lines marked (``<mark>``).

    Every line is escaped, then wrapped in our own markup only. Prose lines show their bold, italics
    and code (a bullet as "•" with the line's indent, a heading bold); code blocks and table rows are
    shown as written, in monospace. A passage cut from the middle of a nested list loses its common
    indent. Lines the file does not have (a notebook code cell's fences, which the view adds) are
    shown without a number and never marked.

    Args:
        text: The passage text.
        start_line: File line number of its first line (0 when that line is the view's own).
        lines: File line numbers to highlight.
        last_line: The file's (page's, cell's) last line number; lines after it are the view's own
            (0: every line after ``start_line`` is the file's).

    Returns:
        One ``<div>`` for ``st.html``.

    >>> "<mark>&lt;b&gt;</mark>" in passage_html("<b>", 7, [7])
    True
    """
    wanted = set(lines)
    raw = text.replace("\r\n", "\n").split("\n")
    kinds = _line_kinds(raw)
    # an empty bullet sets no indent
    prose = [x for x, kind in zip(raw, kinds, strict=True) if kind == "prose" and x.strip() not in {"", "-", "*", "+"}]
    common = min((len(x) - len(x.lstrip()) for x in prose), default=0)
    rows = []
    for offset, (line, kind) in enumerate(zip(raw, kinds, strict=True)):
        number = start_line + offset
        counted = number >= 1 and not (last_line and number > last_line)
        cited = counted and number in wanted and bool(line.strip())
        line = line[common:] if line[:common].strip() == "" else line.lstrip()
        style, lead, body = _prose_line(line) if kind == "prose" else (_LINE_CODE, "", html.escape(line))
        if cited:
            body = f"<mark>{body}</mark>"
        gutter = f'<span title="line {number}" ' if counted else '<span '
        rows.append(f'<div style="{_ROW_CITED if cited else _ROW}">{gutter}'
                    f'style="{_GUTTER_CITED if cited else _GUTTER}">{number if counted else ""}</span>'
                    f'<span style="{style}">{lead}{body}</span></div>')
    return f'<div style="{_SOURCE}">{"".join(rows)}</div>'


def counted_line(chunk: Mapping, line: int) -> int:
    """A view line's number as the student counts it: on its page or in its cell (from 1), else as it is.

    Args:
        chunk: A passage as a dict (`RetrievedChunk.to_dict`).
        line: A line of the note's view.
    """
    return line - chunk.get("region_start", 0) + 1 if chunk.get("region") else line


def chunk_passage_html(chunk: Mapping, lines: Iterable[int]) -> str:
    """A passage's own lines as a source view, numbered as its file counts them (see `passage_html`).

    Args:
        chunk: The passage as a dict (`RetrievedChunk.to_dict`); a PDF page's or notebook cell's
            lines are numbered on the page or in the cell, a code cell's fences not at all.
        lines: View line numbers to highlight.
    """
    end = chunk.get("region_end", 0) if chunk.get("region") else 0
    return passage_html(chunk["text"], counted_line(chunk, chunk["start_line"]),
                        [counted_line(chunk, n) for n in lines], counted_line(chunk, end) if end else 0)


def markdown_literal(text: str) -> str:
    """Text for a place Streamlit always reads as markdown (expander and button labels, captions), made literal.

    Backslash escapes stop HTML, links, images, math, emphasis and code, and a list, heading or rule
    marker opening a line ("1. intro.md", "- x", "==="). A directive, icon or emoji short code
    (``:red[``, ``:material/x:``, ``:smile:``) and a bare URL or e-mail address (which GFM links) are
    found by Streamlit on the raw string or on text nodes after escapes are gone, so each gets an
    invisible word joiner (U+2060) where it would start instead: after a colon followed by a name, in
    ``://``, after ``www`` and ``@``. The text reads the same; a plain label ("Domain 1: Data
    Preparation") is unchanged.
    """
    escaped = re.sub(r"([\\`*_~\[\]<>$&#|])", r"\\\1", text)
    escaped = re.sub(r"^(\s*)([-+=])", r"\1\\\2", escaped, flags=re.M)
    escaped = re.sub(r"^(\s*\d{1,9})([.)])", r"\1\\\2", escaped, flags=re.M)
    escaped = re.sub(r"(?<=:)(?=//)|(?<=\bwww)(?=\.)|(?<=@)(?=[\w-])", "\u2060", escaped, flags=re.I)
    return re.sub(r":(?=[\w+-])", ":\u2060", escaped)


def markdown_text(text: str) -> str:
    r"""Text of any length for a message Streamlit reads as markdown (st.error, st.warning, st.info, st.toast).

    Each line is made literal with `markdown_literal`; an indent stays an indent (no-break spaces: four
    spaces would open a code block) and each line break a line break (an error from an LLM server or a
    file path list keeps its lines).

    >>> print(markdown_text("1. <b>x</b>"))
    1\. \<b\>x\</b\>
    """
    lines = []
    for line in str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        body = line.lstrip(" \t")
        lines.append("\u00a0" * len(line[:len(line) - len(body)].expandtabs(4)) + markdown_literal(body))
    return "  \n".join(lines)


def problem_line(problem: str) -> str:
    """One problem of the index for the sidebar: what is wrong, without the CLI's "Run `assistant ingest`".

    The sidebar's Repair button does what that sentence asks.
    """
    return re.sub(r"\s*Run `assistant ingest`.*$", "", problem, flags=re.S) or problem


def report_html(text: str) -> str:
    """A saved evaluation report (markdown we wrote around questions and answers from the notes) as HTML.

    The same subset as `answer_html` (its headings as headings here, no citation badges): tables,
    lists, bold and code stay readable; HTML, directives, math and images from the questions and
    answers inside are shown as written.
    """
    return answer_html(text, badges=False, headings=True)


def cited_lines(quote: str, passage: str, start_line: int) -> list[int]:
    """File line numbers of a citation's quoted lines inside its passage.

    A quote line is a whole passage line, or a sentence of one (a long paragraph's sentences are
    quoted one by one): the lines holding it are marked.
    """
    lines = [line.strip() for line in passage.split("\n")]
    wanted = [q.strip() for q in quote.split("\n") if q.strip()]
    exact = set(wanted) & set(lines)
    partial = [q for q in wanted if q not in exact]
    return [start_line + i for i, line in enumerate(lines)
            if line and (line in exact or any(q in line for q in partial))]


# a heading's own list or section number ("1. ", "2) ", "3.2 "), which a question does not say
# a list or section number: "4. ", "2) ", "1.2 " before a capitalised title ("3.11 release notes" is a version)
_ENUMERATOR = re.compile(r"^\s*(?:\d{1,3}(?:\.\d{1,3})*[.)]\s+|\d{1,3}(?:\.\d{1,3})+\s+(?=[A-Z]))")


def follow_up_question(topic: str) -> str:
    """A question to ask about one of the closest topics: its last heading, as a person would say it.

    The heading's list number and its bold markers and closing colon go ("4. **Amazon S3:**" is
    asked about as "Amazon S3").

    >>> follow_up_question("Key Components of SageMaker › 5. SageMaker Feature Store")
    'What do my notes say about SageMaker Feature Store?'
    >>> follow_up_question("Python › 3.11 release notes")  # a version, not a section number
    'What do my notes say about 3.11 release notes?'
    """
    last = topic.split(" › ")[-1]
    name = _ENUMERATOR.sub("", re.sub(r"\*\*|__", "", last)).strip().rstrip(":").strip()
    return f"What do my notes say about {name or last.strip()}?"


def follow_up_questions(topics: Iterable[str]) -> list[str]:
    """One question per closest topic, each asked once (two sections can end in the same heading).

    >>> follow_up_questions(["A › 1. Amazon SageMaker", "B › Amazon SageMaker", "B › Glue"])
    ['What do my notes say about Amazon SageMaker?', 'What do my notes say about Glue?']
    """
    questions: dict[str, str] = {}
    for topic in topics:
        question = follow_up_question(topic)
        questions.setdefault(question.casefold(), question)
    return list(questions.values())


def resolved_question(answer: Mapping) -> str | None:
    """The question an answer was searched for, when it is not what was typed (a follow-up rewritten).

    >>> resolved_question({"question": "and how do I detect it?", "standalone_question": "How do I detect drift?"})
    'How do I detect drift?'
    """
    standalone = (answer.get("standalone_question") or "").strip()
    typed = " ".join((answer.get("question") or "").split())
    # the same question over several lines (a pasted practice question) is no rewrite
    return standalone if standalone and " ".join(standalone.split()) != typed else None
