"""How the picked lines are shown: bullets under their lead-ins, the most relevant first, each cited."""

from __future__ import annotations

from collections.abc import Sequence

from assistant import tuning
from assistant.answer.extractive.selection import shorten, topic_words
from assistant.schema import RetrievedChunk
from assistant.text.document import plain_inline
from assistant.text.sentences import GENERIC_LABELS, Unit, is_generic

# kinds shown as a bullet's running text: prose lines, and single code lines (as inline code)
_LINES = frozenset({"text", "codeline"})


def _named(text: str) -> bool:
    """Whether a lead-in says something: at least one letter or digit ("-" or "" is no lead-in)."""
    return any(c.isalnum() for c in text)


def lead_in(unit: Unit, heading_path: Sequence[str]) -> str:
    """A line's lead-in as shown: its label, qualified by its topic when the label alone says little.

    The topic is the nearest heading that names one: a template's section name ("Concept",
    "Key Commands") is passed over for the heading above it.
    """
    topic = unit.parent or unit.topic or next((h for h in reversed(heading_path) if not is_generic(h)), "")
    topic = plain_inline(topic) if "<" in topic or "](" in topic else topic  # no HTML or image in a lead-in
    topic = topic if _named(topic) else ""
    label = unit.label if _named(unit.label) else ""
    if label and topic and label.lower() in GENERIC_LABELS:
        return f"{topic} — {label}"
    if label and topic and is_generic(label):
        return topic  # a template section name ("Concept:") says nothing the topic does not
    return label or topic


def _inline_code(text: str) -> str:
    """A line of code as an inline code span (a longer fence when the line holds backticks)."""
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}" if fence == "`" else f"{fence} {text} {fence}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _render_table(units: list[Unit], lead: str) -> str:
    """Table rows quoted with their header and separator row, as a small table, each row cited."""
    header = units[0].header
    width = max(len(header), *(len(u.cells) for u in units))
    head = list(header) + [""] * (width - len(header))
    # under a lead-in the table is indented into its bullet: it is the bullet's content (as a code
    # block is), not a bullet left empty with a table after the list
    pad = "  " if lead else ""
    out = [f"- **{lead}:**", ""] if lead else []
    out.append(f"{pad}| " + " | ".join(_cell(c) for c in head) + " |")
    out.append(f"{pad}|" + "---|" * width)
    for unit in units:
        cells = [_cell(c) for c in unit.cells] + [""] * (width - len(unit.cells))
        cells[-1] = f"{cells[-1]} [{unit.chunk + 1}]".strip()
        out.append(f"{pad}| " + " | ".join(cells) + " |")
    return "\n".join(out)


def _render_code(unit: Unit, lead: str) -> str:
    """A code block quoted as a fenced block under its lead-in, cited after the block.

    The block is indented under its bullet; its first line is the bullet (dropped when the block
    follows text lines under the same lead-in).
    """
    fence = "~~~" if "```" in unit.text else "```"
    body = "\n".join(f"  {line}" if line.strip() else "" for line in unit.text.split("\n"))
    head = f"- **{lead}:**" if lead else "-"
    return f"{head}\n  {fence}{unit.lang}\n{body}\n  {fence}\n  [{unit.chunk + 1}]"


def _render_group(units: list[Unit], lead: str | None) -> str:
    """One bullet: a bold lead-in, then its lines in reading order, each cited (a code line as inline code)."""
    body = " ".join(f"{_inline_code(u.text) if u.kind == 'codeline' else shorten(u.text)} [{u.chunk + 1}]"
                    for u in units)
    return f"- **{lead}:** {body}" if lead else f"- {body}"


def _render_side(ordered: Sequence[Unit], lead: str) -> list[str]:
    """One comparison side: a bullet led by the side's name, each further line a sub-bullet.

    A line keeps its own lead-in inline ("*Trade-offs:* slower …", "*RMSE:* measures …"): under
    a side's name, a con read without its label passes for a pro, and a metric's definition
    loses the metric's name.

    The notes' own entry for the side (a line whose lead-in is exactly the side's name,
    "Bagging: combine weak learners ...") opens the bullet; the other lines follow as given (the
    most relevant first).
    """
    out: list[str] = []
    head = ""
    entry = [u for u in ordered if topic_words(u.label) and topic_words(u.label) == topic_words(lead)][:1]
    for unit in entry + [u for u in ordered if u not in entry]:
        # a table row inside a side's bullet reads as its cells in order (no bare "| a | b |" row)
        shown = (" — ".join(c for c in unit.cells if c) if unit.kind == "row"
                 else _inline_code(unit.text) if unit.kind == "codeline" else shorten(unit.text))
        cited = f"{shown} [{unit.chunk + 1}]"
        # a label names the side when it holds all the side's topic words ("The difference" has
        # none: no label names it)
        own = bool(unit.label) and bool(topic_words(lead)) and topic_words(lead) <= topic_words(unit.label)
        if not out:
            head = unit.label if own else lead
        label_words = topic_words(unit.label)
        said = label_words <= topic_words(head) if label_words else unit.label.lower() in head.lower()
        inline = f"*{unit.label}:* " if unit.label and not said else ""
        if not out:
            out.append(f"- **{head}:** {inline}{cited}")
        elif own and unit.label.lower() != head.lower():
            out.append(f"  - **{unit.label}:** {cited}")  # a narrower name of the side
        else:
            out.append(f"  - {inline}{cited}")
    return out


def render_table(units: Sequence[Unit], picked: Sequence[int], contexts: Sequence[RetrievedChunk],
                 lead: str = "") -> list[str]:
    """Picked rows of one table as a small table with its header, in file order.

    Args:
        units: All candidate lines.
        picked: The rows to show (of one table).
        contexts: The passages (for heading paths).
        lead: The bullet the table goes under; "": the table's own lead-in (its heading).
    """
    ordered = sorted((units[i] for i in picked), key=lambda u: u.line)
    if not ordered:
        return []
    return [_render_table(ordered, lead or lead_in(ordered[0], contexts[ordered[0].chunk].heading_path))]


def render(units: Sequence[Unit], picked: Sequence[int], contexts: Sequence[RetrievedChunk],
           lead: str | None = None) -> list[str]:
    """Bullets for the picked lines, grouped under their lead-ins, the most relevant first.

    Lines under one lead-in that sit close together in the notes form one bullet, in reading
    order (a definition, then its example); the bullets come in the order of their best line in
    ``picked``, so the line that answers the question leads and a line from a passage that
    merely ranked high does not open the answer.

    Args:
        units: All candidate lines.
        picked: Which ones to show, the most relevant first (as `selection.select` returns them).
        contexts: The passages (for heading paths).
        lead: A comparison side's title: the side becomes one bullet, led by the side's name
            (or by a line's own lead-in that names the side: "PCA (Principal Component
            Analysis)"), its other lines sub-bullets. None: every line under its own lead-in.
    """
    if lead is not None:
        return _render_side([units[i] for i in dict.fromkeys(picked)], lead)
    rank = {i: n for n, i in reversed(list(enumerate(picked)))}
    ordered = sorted(rank, key=lambda i: (contexts[units[i].chunk].source, units[i].line,
                                          contexts[units[i].chunk].text.find(units[i].raw), units[i].share))
    groups: list[tuple[str, list[Unit]]] = []
    best: list[int] = []  # each group's best rank
    for i in ordered:
        unit = units[i]
        unit_lead = lead_in(unit, contexts[unit.chunk].heading_path)
        last = groups[-1][1][-1] if groups else None
        same_table = (last is not None and unit.kind == last.kind == "row" and unit.chunk == last.chunk
                      and unit.parent_line == last.parent_line)
        same_lead = bool(groups) and unit_lead == groups[-1][0]
        joins = (same_table
                 # a command under the lines it belongs to
                 or (same_lead and unit.kind == "code" and last.kind == "text")
                 # lines under one lead-in that sit close together in the notes
                 or (same_lead and unit.kind in _LINES and last.kind in _LINES
                     and unit.line - last.last_line <= tuning.GROUP_LINE_GAP))
        if joins:
            groups[-1][1].append(unit)
            best[-1] = min(best[-1], rank[i])
        else:
            groups.append((unit_lead, [unit]))
            best.append(rank[i])
    order = sorted(range(len(groups)), key=best.__getitem__)
    return [_render_kind(groups[n][1], groups[n][0]) for n in order]


def _render_kind(units: list[Unit], lead: str) -> str:
    if units[0].kind == "code":
        return _render_code(units[0], lead)
    if units[0].kind == "row":
        return _render_table(units, lead)
    text = [u for u in units if u.kind in _LINES]
    code = [u for u in units if u.kind == "code"]
    return "\n".join([_render_group(text, lead), *(_render_code(u, lead).split("\n", 1)[1] for u in code)])
