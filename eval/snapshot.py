"""Snapshot what the assistant retrieves and answers, per question, to compare two versions of the code.

A refactor must not change behaviour: run this on the code before and after, then compare.

    .venv/bin/python eval/snapshot.py /tmp/before.json                    # gold + held-out on corpus/
    .venv/bin/python eval/snapshot.py /tmp/b.json --corpus notes/ --questions q.txt   # any notes, any questions
    .venv/bin/python eval/snapshot.py --compare /tmp/before.json /tmp/after.json

It records, per question: the top-5 passages (id, score, similarity, lines), the answer text, whether it
abstained, its citations, notice and coverage evidence, and a follow-up asked after it. Only the public API
(`StudyAssistant`, `Settings`, the gold loader) is used, so the script runs unchanged on both versions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FOLLOW_UP = "and how is that different from the alternatives?"


def questions(paths: list[Path]) -> list[tuple[str, str]]:
    """(key, question) pairs from gold JSONL files or plain text files (one question per line)."""
    from assistant.evaluation.gold import load_gold

    out = []
    for path in paths:
        if path.suffix == ".jsonl":
            out += [(f"{path.name}:{g.id}", g.question) for g in load_gold(path)]
        else:
            lines = [q.strip() for q in path.read_text(encoding="utf-8").splitlines()]
            out += [(f"{path.name}:{n}", q) for n, q in enumerate(lines, 1) if q]
    return out


def snapshot(corpus: Path, paths: list[Path]) -> dict:
    """Every question's retrieval and answer on a fresh index of ``corpus``."""
    from assistant import StudyAssistant
    from assistant.config import Settings

    work = Path(tempfile.mkdtemp())
    try:
        assistant = StudyAssistant(Settings(corpus_dir=corpus, index_dir=work / "index", cache_dir=Path(".cache")))
        assistant.ingest(progress=False)
        rows = {}
        for key, question in questions(paths):
            hits = assistant.retrieve(question, k=5)
            answer = assistant.answer(question)
            history = [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]
            follow = assistant.answer(FOLLOW_UP, history=history)
            rows[key] = {
                "question": question,
                "hits": [[h.id, round(h.score, 6), round(h.similarity, 6), h.start_line, h.end_line] for h in hits],
                "answer": answer.text,
                "abstained": answer.abstained,
                "citations": [[c.n, c.chunk.id, c.quote, c.start_line, c.end_line] for c in answer.citations],
                "notice": answer.notice,
                "evidence": answer.evidence,
                "follow_up": [follow.standalone_question, follow.text, follow.abstained],
            }
        assistant.close()
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compare(a_path: Path, b_path: Path) -> int:
    """Print the questions whose records differ; 0 when none do."""
    a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (a_path, b_path))
    differ = 0
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            differ += 1
            fields = [f for f in set(a.get(key) or {}) | set(b.get(key) or {})
                      if (a.get(key) or {}).get(f) != (b.get(key) or {}).get(f)]
            print(f"differs: {key}: {', '.join(sorted(fields))}")
    print(f"{len(set(a) | set(b))} questions, {differ} differ")
    return 1 if differ else 0


def main() -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, help="where to write the snapshot (JSON)")
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--questions", type=Path, nargs="+",
                        default=[Path("eval/gold.jsonl"), Path("eval/holdout.jsonl")])
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    if not args.out:
        parser.error("give the output file, or --compare BEFORE AFTER")
    rows = snapshot(args.corpus, args.questions)
    args.out.write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"{len(rows)} questions -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
