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

from assistant.citations import MARKER, marker_numbers

STARTERS = (
    "Explain concept drift vs data drift",
    "When should I use batch transform instead of a real-time endpoint?",
    "How do I handle class imbalance?",
    "What does SageMaker Clarify do?",
)


def badge_markers(text: str) -> str:
    """``[1]`` / ``[1, 2]`` markers as small Streamlit badges (``:blue-badge[1]``)."""
    def badge(match: re.Match) -> str:
        numbers = marker_numbers(match.group(1))
        return " ".join(f":blue-badge[{n}]" for n in numbers) if numbers else match.group(0)

    return MARKER.sub(badge, text)


def highlight_passage(text: str, start_line: int, lines: Iterable[int]) -> str:
    """A passage as markdown with the cited lines marked (``<mark>``); its own HTML is escaped.

    Args:
        text: The passage text.
        start_line: File line number of its first line.
        lines: File line numbers to highlight.
    """
    wanted = set(lines)
    out = []
    for offset, line in enumerate(text.split("\n")):
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

    A thumbs-up answer becomes the reference, and its quoted lines become the evidence. A thumbs-down
    flips the decision for review: an abstention becomes answerable (reference left to write), an
    answer becomes a candidate unanswerable question.
    """
    out = []
    for n, r in enumerate(records, 1):
        evidence = [line for s in r.get("sources", []) for line in (s.get("quote") or "").split("\n") if line]
        if r.get("score") == "up" and not r.get("abstained") and evidence:
            out.append({"id": f"feedback-{n}", "question": r["question"], "reference": r["answer"],
                        "evidence": evidence, "answerable": True})
        elif r.get("score") == "up" and r.get("abstained"):
            out.append({"id": f"feedback-{n}", "question": r["question"], "reference": "The notes don't cover this.",
                        "evidence": [], "answerable": False})
        elif r.get("score") == "down":
            out.append({"id": f"feedback-{n}", "question": r["question"], "reference": "TODO: write the answer",
                        "evidence": [], "answerable": bool(r.get("abstained")), "needs_review": True})
    return out
