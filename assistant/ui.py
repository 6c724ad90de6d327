"""Pure helpers for the Streamlit page: citation badges, highlighted passages, feedback records.

Kept out of ``app.py`` so they are tested on small inline strings; the page only lays things out.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from assistant.citations import CODE, MARKER, marker_numbers

STARTERS = (
    "Explain concept drift vs data drift",
    "When should I use batch transform instead of a real-time endpoint?",
    "How do I handle class imbalance?",
    "What does SageMaker Clarify do?",
)


def badge_markers(text: str) -> str:
    """``[1]`` / ``[1, 2]`` markers as small Streamlit badges (``:blue-badge[1]``); code is left alone."""
    def badge(match: re.Match) -> str:
        numbers = marker_numbers(match.group(1))
        return " ".join(f":blue-badge[{n}]" for n in numbers) if numbers else match.group(0)

    out, at = [], 0
    for code in CODE.finditer(text):
        out.append(MARKER.sub(badge, text[at:code.start()]))
        out.append(code.group(0))
        at = code.end()
    out.append(MARKER.sub(badge, text[at:]))
    return "".join(out)


def highlight_passage(text: str, start_line: int, lines: Iterable[int]) -> str:
    """A passage as markdown with the cited lines marked (``<mark>``); its own HTML is escaped.

    Args:
        text: The passage text.
        start_line: File line number of its first line.
        lines: File line numbers to highlight.
    """
    wanted = set(lines)
    raw = text.split("\n")
    # a passage cut from the middle of a nested list starts indented; markdown would read 4+ spaces
    # as a code block, so the common indent goes
    prose, inside = [], False
    for x in raw:
        if re.match(r"\s*(```|~~~)", x):
            inside = not inside
        elif not inside and x.strip() and x.strip() not in {"-", "*", "+"}:  # an empty bullet sets no indent
            prose.append(x)
    indents = [len(x) - len(x.lstrip()) for x in prose]
    common = min(indents) if indents else 0
    out = []
    fenced = False
    for offset, line in enumerate(raw):
        if re.match(r"\s*(```|~~~)", line):
            fenced = not fenced
            out.append(line.strip())
            continue
        if fenced or line.lstrip().startswith("|"):
            out.append(line if fenced else line.strip())  # code and tables shown as written
            continue
        line = line[common:] if line[:common].strip() == "" else line.lstrip()
        # the notes are shown as markdown, but never as raw HTML
        safe = html.escape(line, quote=False)
        # a heading inside a passage would render huge; bold is enough (the path is in the label)
        safe = re.sub(r"^#{1,6}[ \t]+(.+)$", r"**\1**", safe)
        if start_line + offset in wanted and safe.strip():
            indent = len(safe) - len(safe.lstrip())
            bullet = re.match(r"(?:[-*+]|\d+[.)])\s+", safe[indent:])
            head = safe[: indent + (bullet.end() if bullet else 0)]
            safe = f"{head}<mark>{safe[len(head):]}</mark>"
        out.append(safe)
    return "\n".join(out)


def cited_lines(quote: str, passage: str, start_line: int) -> list[int]:
    """File line numbers of a citation's quoted lines inside its passage."""
    lines = passage.split("\n")
    wanted = [q.strip() for q in quote.split("\n") if q.strip()]
    return [start_line + i for i, line in enumerate(lines) if line.strip() in wanted]


def follow_up_question(topic: str) -> str:
    """A question to ask about one of the closest topics: its last heading."""
    return f"What do my notes say about {topic.split(' › ')[-1]}?"


def feedback_record(question: str, answer: Mapping, score: int, comment: str = "") -> dict:
    """One feedback line: the question, the answer, how it was made, its sources, and the thumbs."""
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "question": question,
        "answer": answer.get("text", ""),
        "abstained": bool(answer.get("abstained")),
        "backend": answer.get("backend", ""),
        "prompt": answer.get("prompt", ""),
        "score": "up" if score else "down",
        "comment": comment,
        "sources": [
            {"heading": c["chunk"].get("heading_path"), "source": c["chunk"].get("source"),
             "start_line": c.get("start_line"), "end_line": c.get("end_line"), "quote": c.get("quote", "")}
            for c in answer.get("citations", [])
        ],
    }


def append_feedback(path: Path, record: dict) -> None:
    """Append one record to the JSONL feedback file (created with its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_feedback(path: Path) -> list[dict]:
    """Every feedback record (unreadable lines skipped)."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def gold_candidates(records: Iterable[Mapping]) -> list[dict]:
    """Feedback as extra gold-set rows (same schema as eval/gold.jsonl), for a person to review.

    The latest thumb per answer counts. A thumbs-up answer becomes the reference and its quoted lines
    the evidence; a thumbs-up abstention an unanswerable question; a thumbs-down answer a candidate
    unanswerable question marked for review. Every row loads with `load_gold`.
    """
    latest: dict[tuple, Mapping] = {}
    for r in records:  # a changed thumb replaces the earlier one for the same answer
        latest[(r.get("question"), r.get("answer"))] = r
    out = []
    for n, r in enumerate(latest.values(), 1):
        evidence = [line.strip() for s in r.get("sources", []) for line in (s.get("quote") or "").split("\n")
                    if line.strip()]
        if r.get("score") == "up" and not r.get("abstained") and evidence:
            out.append({"id": f"feedback-{n}", "question": r["question"], "reference": r["answer"],
                        "evidence": evidence, "answerable": True})
        elif r.get("score") == "up" and r.get("abstained"):
            out.append({"id": f"feedback-{n}", "question": r["question"], "reference": "The notes don't cover this.",
                        "evidence": [], "answerable": False})
        elif r.get("score") == "down" and not r.get("abstained"):
            # a wrong answer: a candidate question the notes may not cover (loads as unanswerable)
            out.append({"id": f"feedback-{n}", "question": r["question"], "reference": "TODO: review",
                        "evidence": [], "answerable": False, "needs_review": True})
        # a thumbs-down on an abstention needs evidence a person must find; it is not exported
    return out
