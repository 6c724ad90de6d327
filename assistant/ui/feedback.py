"""Feedback on answers: records, the feedback file, and gold-set candidates from it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path


def feedback_record(question: str, answer: Mapping, score: int, comment: str = "") -> dict:
    """One feedback line: the question, the answer, how it was made, its sources, and the thumbs.

    The question stored is the one the answer was searched for: a follow-up ("and how do I detect
    it?") means nothing without its conversation, so its rewrite (the answer's
    ``standalone_question``) is kept, and what was typed goes in ``asked``.

    Args:
        question: The question as typed.
        answer: The answer (`Answer.to_dict`).
        score: The thumb: 1 up, 0 down.
        comment: The student's words, if any.
    """
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "question": answer.get("standalone_question") or question,
        "asked": question,
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
