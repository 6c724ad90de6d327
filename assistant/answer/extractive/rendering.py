"""How the picked lines are shown: bullets in reading order under their lead-ins, each cited."""

from __future__ import annotations

from collections.abc import Sequence

from assistant import tuning
from assistant.answer.extractive.selection import shorten, topic_words
from assistant.schema import RetrievedChunk
from assistant.text.sentences import GENERIC_LABELS, Unit


def _lead(unit: Unit, heading_path: Sequence[str]) -> str:
    """A line's lead-in: its bold label, qualified by its topic when the label alone says little."""
    topic = unit.parent or (heading_path[-1] if heading_path else "")
    if unit.label and topic and unit.label.lower() in GENERIC_LABELS:
        return f"{topic} — {unit.label}"
    return unit.label or topic


def _render_group(units: list[Unit], lead: str | None) -> str:
    """One bullet: a bold lead-in, then its lines in reading order, each cited."""
    body = " ".join(f"{shorten(u.text)} [{u.chunk + 1}]" for u in units)
    return f"- **{lead}:** {body}" if lead else f"- {body}"


def _render_side(ordered: Sequence[Unit], lead: str) -> list[str]:
    """One comparison side: a bullet led by the side's name, each further line a sub-bullet.

    A line keeps its own lead-in inline ("*Trade-offs:* slower …", "*RMSE:* measures …"): under
    a side's name, a con read without its label passes for a pro, and a metric's definition
    loses the metric's name.

    The notes' own entry for the side (a line whose lead-in is exactly the side's name,
    "Bagging: combine weak learners ...") opens the bullet; the other lines follow in reading
    order.
    """
    out: list[str] = []
    head = ""
    entry = [u for u in ordered if topic_words(u.label) and topic_words(u.label) == topic_words(lead)][:1]
    for unit in entry + [u for u in ordered if u not in entry]:
        cited = f"{shorten(unit.text)} [{unit.chunk + 1}]"
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


def render(units: Sequence[Unit], picked: Sequence[int], contexts: Sequence[RetrievedChunk],
           lead: str | None = None) -> list[str]:
    """Bullets for the picked lines in reading order, grouped under their lead-ins.

    Args:
        units: All candidate lines.
        picked: Which ones to show.
        contexts: The passages (for heading paths).
        lead: A comparison side's title: the side becomes one bullet, led by the side's name
            (or by a line's own lead-in that names the side: "PCA (Principal Component
            Analysis)"), its other lines sub-bullets. None: every line under its own lead-in.
    """
    ordered = sorted((units[i] for i in picked),
                     key=lambda u: (contexts[u.chunk].source, u.line, contexts[u.chunk].text.find(u.raw)))
    if lead is not None:
        return _render_side(ordered, lead)
    groups: list[tuple[str, list[Unit]]] = []
    for unit in ordered:
        unit_lead = _lead(unit, contexts[unit.chunk].heading_path)
        if groups and unit_lead == groups[-1][0] and unit.line - groups[-1][1][-1].line <= tuning.GROUP_LINE_GAP:
            groups[-1][1].append(unit)
        else:
            groups.append((unit_lead, [unit]))
    return [_render_group(group, group_lead) for group_lead, group in groups]
