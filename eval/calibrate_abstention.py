"""Calibrate the "do my notes cover this?" gate on the gold set and show the calibration.

Usage: .venv/bin/python eval/calibrate_abstention.py [--gold eval/gold.jsonl]
                                                     [--check eval/holdout.jsonl] [--write]

Fits the logistic gate (see assistant/abstention.py) on the gold set's answerable and
unanswerable questions, then picks the threshold that abstains on the most unanswerable
questions while answering at least --min-answered of the answerable ones. Prints the threshold
sweep, leave-one-out results (each question judged by a gate fitted without it: an honest
estimate for new questions) and the --check set's results. --write saves the gate to
assistant/answer/abstention.json, which the assistant ships with.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant import StudyAssistant  # noqa: E402
from assistant.answer.gate import FEATURES, Gate, fit_gate  # noqa: E402
from assistant.evaluation.gold import load_gold  # noqa: E402

GATE_FILE = Path(__file__).resolve().parents[1] / "assistant" / "abstention.json"


def features(sa: StudyAssistant, path: Path) -> tuple[list, list[dict], list[bool]]:
    """Gate features of every question of a gold file, with the retrieval the chain uses."""
    items = load_gold(path)
    rows = [sa.coverage_evidence(item.question, sa.retrieve(item.question)) for item in items]
    return items, rows, [item.answerable for item in items]


def rates(gate: Gate, rows: list[dict], labels: list[bool]) -> tuple[float, float]:
    """(answered share of answerable, abstained share of unanswerable)."""
    answered = [gate.covered(r) for r in rows]
    pos = [a for a, y in zip(answered, labels, strict=True) if y]
    neg = [not a for a, y in zip(answered, labels, strict=True) if not y]
    return sum(pos) / max(len(pos), 1), sum(neg) / max(len(neg), 1)


def pick_threshold(weights, bias, rows, labels, min_answered: float) -> float:
    """The threshold with the most abstentions on unanswerable items among those answering enough.

    Among equally good thresholds, the midpoint of the best run (a margin on both sides).
    """
    probs = sorted({Gate(weights, bias, 0.5).probability(r) for r in rows})
    candidates = [0.0] + [(a + b) / 2 for a, b in zip(probs, probs[1:], strict=False)] + [1.0]
    scored = []
    for t in candidates:
        answered, abstained = rates(Gate(weights, bias, t), rows, labels)
        scored.append((answered >= min_answered, abstained + answered, t))
    best = max(scored)[:2]
    run = [t for ok, s, t in scored if (ok, s) == best]
    return round(run[len(run) // 2], 4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=Path("eval/gold.jsonl"))
    parser.add_argument("--check", type=Path, default=Path("eval/holdout.jsonl"))
    parser.add_argument("--min-answered", type=float, default=0.96)
    parser.add_argument("--write", action="store_true", help=f"save the gate to {GATE_FILE}")
    args = parser.parse_args()

    sa = StudyAssistant.from_env()
    sa.ingest(progress=False)
    items, rows, labels = features(sa, args.gold)
    weights, bias = fit_gate(rows, labels)
    gate = Gate(weights, bias, pick_threshold(weights, bias, rows, labels, args.min_answered))
    print(f"Gate fitted on {args.gold}: {sum(labels)} answerable, {len(labels) - sum(labels)} unanswerable")
    print("  P(covered) = sigmoid(" + " + ".join(f"{w:+.2f}*{n}" for w, n in zip(weights, FEATURES, strict=True))
          + f" {bias:+.2f}); answer when P >= {gate.threshold}\n")

    print("| threshold | answered (answerable) | abstained (unanswerable) |")
    print("|---|---|---|")
    for t in sorted({0.2, 0.3, 0.4, 0.5, 0.6, 0.7, gate.threshold}):
        answered, abstained = rates(Gate(weights, bias, t), rows, labels)
        mark = " (chosen)" if t == gate.threshold else ""
        print(f"| {t:.3f}{mark} | {answered:.3f} | {abstained:.3f} |")

    # leave-one-out: each item judged by a gate fitted (and thresholded) without it
    loo = []
    for i in range(len(rows)):
        rest_rows, rest_labels = rows[:i] + rows[i + 1:], labels[:i] + labels[i + 1:]
        w, b = fit_gate(rest_rows, rest_labels)
        t = pick_threshold(w, b, rest_rows, rest_labels, args.min_answered)
        loo.append(Gate(w, b, t).covered(rows[i]))
    pos = [a for a, y in zip(loo, labels, strict=True) if y]
    neg = [not a for a, y in zip(loo, labels, strict=True) if not y]
    print(f"\nLeave-one-out on {args.gold}: answered {sum(pos) / len(pos):.3f} of answerable, "
          f"abstained {sum(neg) / len(neg):.3f} of unanswerable")

    answered, abstained = rates(gate, rows, labels)
    print(f"Fitted gate on {args.gold}: answered {answered:.3f}, abstained {abstained:.3f}")
    for item, row, y in zip(items, rows, labels, strict=True):
        if gate.covered(row) != y:
            print(f"  wrong: {item.id} ({'answerable' if y else 'unanswerable'}) "
                  f"P={gate.probability(row):.3f} {item.question}")
    if args.check and args.check.is_file():
        check_items, check_rows, check_labels = features(sa, args.check)
        answered, abstained = rates(gate, check_rows, check_labels)
        print(f"Check set {args.check}: answered {answered:.3f} of {sum(check_labels)} answerable, "
              f"abstained {abstained:.3f} of {len(check_labels) - sum(check_labels)} unanswerable")
        for item, row, y in zip(check_items, check_rows, check_labels, strict=True):
            if gate.covered(row) != y:
                print(f"  wrong: {item.id} ({'answerable' if y else 'unanswerable'}) "
                      f"P={gate.probability(row):.3f} {item.question}")
    if args.write:
        GATE_FILE.write_text(json.dumps(gate.to_dict(), indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {GATE_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
