"""A Jupyter notebook as a markdown text view, one region per cell.

Read with ``json`` (nbformat would add a dependency and validation we do not need: a notebook is a
JSON object with a ``cells`` list in nbformat 4). Markdown cells are kept as they are; code cells
become fenced blocks in the notebook's language. Outputs are dropped: they are what a run printed
(numbers, logs, tracebacks, images as base64), not what the student wrote, they change on every
run (so every run would re-embed the notebook) and they would be quoted as if they were notes.
"""

from __future__ import annotations

import json
import re

from assistant.sources.views import UnreadableError, View, ViewBuilder, fence


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _closed(lines: list[str]) -> list[str]:
    """A markdown cell's lines with a code fence it leaves open closed (it would swallow the next cells)."""
    open_fence = ""
    for line in lines:
        match = _FENCE.match(line)
        if not match:
            continue
        mark = match.group(1)
        if not open_fence:
            open_fence = mark
        elif mark[0] == open_fence[0] and len(mark) >= len(open_fence) and not line.strip()[len(mark):].strip():
            open_fence = ""
    return [*lines, open_fence] if open_fence else lines


def _language(notebook: dict) -> str:
    metadata = notebook.get("metadata") if isinstance(notebook.get("metadata"), dict) else {}
    for key, field in (("language_info", "name"), ("kernelspec", "language")):
        info = metadata.get(key)
        if isinstance(info, dict) and isinstance(info.get(field), str) and info[field].strip():
            return info[field].strip().lower()
    return "python"  # nbformat's default kernel


def read_notebook(text: str) -> View:
    """The markdown view of a notebook's text; cell N (1-based, every cell counted) is region ``cell N``.

    Raises:
        UnreadableError: Not JSON, not a notebook (no ``cells`` list: nbformat 3 and older keep them in
            worksheets), or no cell holds any text.
    """
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableError(f"it is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}), "
                         "so not a readable notebook") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        worksheets = isinstance(notebook, dict) and "worksheets" in notebook
        raise UnreadableError("it is an nbformat 3 notebook; open and save it in Jupyter to convert it" if worksheets
                         else "it is JSON but not a Jupyter notebook (no list of cells)")
    language = _language(notebook)
    builder = ViewBuilder()
    for number, cell in enumerate(notebook["cells"], start=1):
        if not isinstance(cell, dict):
            continue
        source = _source(cell)
        if not source.strip():
            continue
        kind = cell.get("cell_type")
        if kind == "markdown":
            lines = _closed(source.replace("\r\n", "\n").split("\n"))
            # lines are numbered as Jupyter numbers the cell's: its blank first lines count
            shift, tail = -next(n for n, line in enumerate(lines) if line.strip()), 0
        elif kind == "code":
            # the fences are ours: the cell's line 1 is the line after the opening one, its last line the
            # one before the closing one
            lines, shift, tail = fence(source.replace("\r\n", "\n"), language), 1, 1
        else:  # raw cells are for conversion tools (LaTeX, reST), not reading
            continue
        builder.add(f"cell {number}", lines, shift, tail)
    view = builder.view()
    if not view.regions:
        raise UnreadableError("its cells hold no text")
    return view
