"""LLM answers with a real local model: checks, grounding, correctness and time to first token, per prompt.

Usage: .venv/bin/python eval/bench_llm.py GGUF [--prompt default whole-passages ...] [--gold eval/gold.jsonl]
                                          [--answerable 20] [--unanswerable 4] [--checks retry] [--show]

GGUF is a model file for the in-process ``llamacpp`` backend (``../shared/tools/measurement-model``
prints the 1.5B one used in docs/benchmarks.md); without it the script says so and exits 0. Never
part of setup or CI. The questions are a spread of the gold set (every n-th answerable and
unanswerable question, in file order), the same for every prompt.

Per prompt, over the answers the chain returned (`StudyAssistant.stream`, checks as set):
* outcome counts (`Answer.checks`): accepted, retried, fallback (the extractive answer, labelled),
  refused (the model's own "not covered"), and abstained by the gate before any model call;
* bad answers returned as answers: not abstained, yet fewer than 4 words outside citation markers,
  or an echo of the question (must be 0 with checks on);
* markers supported: of the markers in model-written answers (accepted or retried), the share whose
  passage supports their sentence (`citations.marker_support`);
* graded (answerable questions; the evidence check stated here): for each gold evidence string, the
  share of its content words (`evaluation.coverage`, code no backend uses) the answer states; an
  answer is *correct* when the mean over its evidence strings is >= 0.5, *partial* at >= 0.25, else
  *wrong* (an abstention is wrong). Shown for all answers and for the model-written ones alone;
* unanswerable questions refused (by the gate or by the model);
* time to first token (the first text piece the stream yields) and to the whole answer, medians;
  prompt tokens (median).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant import StudyAssistant  # noqa: E402
from assistant.answer.validation import check_answer  # noqa: E402
from assistant.config import load_settings  # noqa: E402
from assistant.evaluation.coverage import stated_share  # noqa: E402
from assistant.evaluation.gold import load_gold  # noqa: E402
from assistant.evaluation.harness import answer_words  # noqa: E402
from assistant.schema import Answer, Retraction  # noqa: E402


def spread(items: list, n: int) -> list:
    """``n`` items spread evenly over the list (all of them when it holds fewer)."""
    if n >= len(items):
        return list(items)
    return [items[int(i * len(items) / n)] for i in range(n)]


def grade(evidence: tuple[str, ...], text: str) -> float:
    """Mean share of each evidence string's content words that the answer states (`evaluation.coverage`)."""
    return statistics.mean(stated_share(e, text) for e in evidence) if evidence else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gguf", type=Path)
    parser.add_argument("--prompt", nargs="+", default=["default", "whole-passages"])
    parser.add_argument("--gold", type=Path, default=Path("eval/gold.jsonl"))
    parser.add_argument("--answerable", type=int, default=20)
    parser.add_argument("--unanswerable", type=int, default=4)
    parser.add_argument("--checks", default="retry", help="ASSISTANT_ANSWER_CHECKS for the run")
    parser.add_argument("--show", action="store_true", help="print every answer")
    args = parser.parse_args()
    if not args.gguf.is_file():
        print(f"No model file at {args.gguf}: nothing measured (see ../shared/tools/measurement-model).")
        return 0

    gold = load_gold(args.gold)
    questions = (spread([g for g in gold if g.answerable], args.answerable)
                 + spread([g for g in gold if not g.answerable], args.unanswerable))
    settings = load_settings().with_overrides(gguf=args.gguf, answer_checks=args.checks)
    sa = StudyAssistant(settings)
    sa.ingest(progress=False)
    rows = []
    for prompt in args.prompt:
        stats = {"outcomes": {}, "bad": 0, "markers": 0, "supported": 0, "grades": [], "model_grades": [],
                 "refused": 0, "first": [], "total": [], "tokens": [], "words": []}
        for item in questions:
            started = time.perf_counter()
            first = None
            answer = None
            streamed, rejected = "", []
            for event in sa.stream(item.question, backend="llamacpp", prompt=prompt):
                if isinstance(event, Answer):
                    answer = event
                elif isinstance(event, Retraction):
                    rejected.append(f"{streamed.strip()!r} -> {event.reason}")
                    streamed = ""
                else:
                    streamed += event
                    if first is None:
                        first = time.perf_counter() - started
            total = time.perf_counter() - started
            outcome = answer.checks.get("outcome", "gate") if not (answer.abstained and not answer.checks) else "gate"
            stats["outcomes"][outcome] = stats["outcomes"].get(outcome, 0) + 1
            if not answer.abstained:
                check = check_answer(answer.text, item.question, answer.contexts)
                if any("markers, no sentences" in p or "no sentences" in p or "repeats" in p for p in check.problems):
                    stats["bad"] += 1
                stats["words"].append(answer_words(answer.text))
            written = outcome in {"accepted", "retried"}
            if written:
                stats["markers"] += answer.checks["markers"]
                stats["supported"] += answer.checks["supported"]
            if item.answerable:
                score = 0.0 if answer.abstained else grade(item.evidence, answer.text)
                stats["grades"].append(score)
                if written:
                    stats["model_grades"].append(score)
            elif answer.abstained:
                stats["refused"] += 1
            if first is not None:
                stats["first"].append(first)
            stats["total"].append(total)
            if answer.tokens_in:
                stats["tokens"].append(answer.tokens_in)
            print(f"{prompt} {item.id}: {outcome} {total:.1f}s", file=sys.stderr, flush=True)
            if args.show:
                print(f"\n## {prompt} · {item.id} · {outcome}\nQ: {item.question}", file=sys.stderr)
                for line in rejected:
                    print(f"rejected: {line}", file=sys.stderr)
                print(f"{answer.text}\n", file=sys.stderr)
        rows.append((prompt, stats))

    def med(values: list[float]) -> str:
        return f"{statistics.median(values):.1f}" if values else "–"

    def graded(scores: list[float]) -> str:
        if not scores:
            return "–"
        correct = sum(s >= 0.5 for s in scores)
        partial = sum(0.25 <= s < 0.5 for s in scores)
        return f"{correct} / {partial} / {len(scores) - correct - partial} ({correct / len(scores):.0%} correct)"

    answerable = sum(q.answerable for q in questions)
    print(f"\n{answerable} answerable + {len(questions) - answerable} unanswerable questions of {args.gold}, "
          f"checks {args.checks}, model {args.gguf.name}\n")
    print("| prompt | outcomes | bad answers returned | markers supported (model-written) | graded, all "
          "(correct / partial / wrong) | graded, model-written | unanswerable refused | first token s (median) "
          "| whole answer s (median) | prompt tokens (median) | answer words (median) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for prompt, s in rows:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(s["outcomes"].items()))
        support = f"{s['supported']} of {s['markers']}" + (f" ({s['supported'] / s['markers']:.0%})"
                                                            if s["markers"] else "")
        print(f"| {prompt} | {outcomes} | {s['bad']} | {support} | {graded(s['grades'])} | "
              f"{graded(s['model_grades'])} | {s['refused']} of {len(questions) - answerable} | {med(s['first'])} | "
              f"{med(s['total'])} | {med(s['tokens'])} | {med(s['words'])} |")
    sa.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
