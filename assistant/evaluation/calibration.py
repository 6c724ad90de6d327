"""Fit the "do my notes cover this?" gate on a gold file against one index, and report how it does.

`assistant calibrate --gold FILE` (a student's own questions, their own index) and
``eval/calibrate_abstention.py`` (the shipped gate, on ``corpus/``) both run `calibrate` and print
`report`. The fit is the logistic model of `answer.gate` on the gold file's answerable and
unanswerable questions; the threshold is the one that abstains on the most unanswerable questions
while answering at least ``min_answered`` of the answerable ones. The report shows the threshold
sweep, leave-one-out (each question judged by a gate fitted without it: an honest estimate for new
questions), every gold question lower-cased (the gate must not lean on capitals: students type in
lower case) and a check file's results.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.answer.gate import FEATURES, Gate, fit_gate
from assistant.evaluation.gold import GoldItem, load_gold

NEED_BOTH = ("calibrating needs both answerable and unanswerable questions in the gold file "
             '(rows with "answerable": false are questions your notes do not cover)')

#: Retrieval + gate features of one question: ``features(question) -> dict`` (the assistant's own path).
Features = Callable[[str], Mapping[str, float]]


@dataclass
class Scored:
    """One gold file's questions with their gate features (as asked, and lower-cased)."""

    path: Path
    items: list[GoldItem]
    rows: list[Mapping[str, float]]
    lower_rows: list[Mapping[str, float]]

    @property
    def labels(self) -> list[bool]:
        """True for each answerable question."""
        return [item.answerable for item in self.items]


@dataclass
class Calibration:
    """A fitted gate and what the report prints about it."""

    gate: Gate
    gold: Scored
    min_answered: float
    loo: list[bool] = field(default_factory=list)
    check: Scored | None = None


def score_file(path: Path, features: Features) -> Scored:
    """Gate features of every question of a gold file, as written and lower-cased."""
    items = load_gold(path)
    rows = [dict(features(item.question)) for item in items]
    lower = [dict(features(item.question.lower())) if item.question.lower() != item.question else rows[n]
             for n, item in enumerate(items)]
    return Scored(path, items, rows, lower)


def rates(gate: Gate, rows: Sequence[Mapping[str, float]], labels: Sequence[bool]) -> tuple[float, float]:
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


def fit(rows: Sequence[Mapping[str, float]], labels: Sequence[bool], min_answered: float) -> Gate:
    """A gate fitted and thresholded on these rows.

    Raises:
        ValueError: The rows lack answerable or unanswerable questions (nothing to separate).
    """
    if all(labels) or not any(labels):
        raise ValueError(NEED_BOTH)
    weights, bias = fit_gate(rows, labels)
    return Gate(weights, bias, pick_threshold(weights, bias, rows, labels, min_answered))


def calibrate(gold: Path, features: Features, check: Path | None = None, min_answered: float = 0.96,
              leave_one_out: bool = True) -> Calibration:
    """Fit the gate on a gold file and judge it (leave-one-out, lower-cased questions, a check file).

    Args:
        gold: Gold JSONL with answerable and unanswerable questions.
        features: The assistant's retrieval + gate features for a question.
        check: Another gold file to judge the fitted gate on (not fitted on).
        min_answered: Share of answerable gold questions the threshold must answer.
        leave_one_out: Also refit once per question without it (n fits of a 4-weight model).
    """
    scored = score_file(gold, features)
    gate = fit(scored.rows, scored.labels, min_answered)
    result = Calibration(gate, scored, min_answered)
    if leave_one_out:
        rows, labels = scored.rows, scored.labels
        for i in range(len(rows)):
            rest, rest_labels = rows[:i] + rows[i + 1:], labels[:i] + labels[i + 1:]
            try:
                result.loo.append(fit(rest, rest_labels, min_answered).covered(rows[i]))
            except ValueError:  # the only question of its kind: judged by the full fit
                result.loo.append(gate.covered(rows[i]))
    if check is not None:
        result.check = score_file(check, features)
    return result


def _line(label: str, gate: Gate, rows, labels) -> str:
    answered, abstained = rates(gate, rows, labels)
    pos = sum(labels)
    return (f"{label}: answered {answered:.3f} of {pos} answerable, "
            f"abstained {abstained:.3f} of {len(labels) - pos} unanswerable")


def _wrong(gate: Gate, items, rows, lower: bool = False) -> list[str]:
    out = []
    for item, row in zip(items, rows, strict=True):
        if gate.covered(row) != item.answerable:
            question = item.question.lower() if lower else item.question
            out.append(f"  wrong: {item.id} ({'answerable' if item.answerable else 'unanswerable'}) "
                       f"P={gate.probability(row):.3f} {question}")
    return out


def report(result: Calibration) -> list[str]:
    """The calibration report, line by line (markdown table + summaries + every wrong decision)."""
    gate, gold = result.gate, result.gold
    labels = gold.labels
    lines = [f"Gate fitted on {gold.path}: {sum(labels)} answerable, {len(labels) - sum(labels)} unanswerable",
             "  P(covered) = sigmoid(" + " + ".join(f"{w:+.2f}*{n}" for w, n in zip(gate.weights, FEATURES,
                                                                                    strict=True))
             + f" {gate.bias:+.2f}); answer when P >= {gate.threshold}", "",
             "| threshold | answered (answerable) | abstained (unanswerable) |", "|---|---|---|"]
    for t in sorted({0.2, 0.3, 0.4, 0.5, 0.6, 0.7, gate.threshold}):
        answered, abstained = rates(Gate(gate.weights, gate.bias, t), gold.rows, labels)
        mark = " (chosen)" if t == gate.threshold else ""
        lines.append(f"| {t:.3f}{mark} | {answered:.3f} | {abstained:.3f} |")
    lines.append("")
    if result.loo:
        pos = [a for a, y in zip(result.loo, labels, strict=True) if y]
        neg = [not a for a, y in zip(result.loo, labels, strict=True) if not y]
        lines.append(f"Leave-one-out on {gold.path}: answered {sum(pos) / max(len(pos), 1):.3f} of answerable, "
                     f"abstained {sum(neg) / max(len(neg), 1):.3f} of unanswerable")
    lines.append(_line(f"Fitted gate on {gold.path}", gate, gold.rows, labels))
    lines += _wrong(gate, gold.items, gold.rows)
    lines.append(_line("  lower-cased", gate, gold.lower_rows, labels))
    lines += _wrong(gate, gold.items, gold.lower_rows, lower=True)
    if result.check is not None:
        lines += judge(gate, result.check, f"Check set {result.check.path}")
    return lines


def judge(gate: Gate, scored: Scored, label: str | None = None) -> list[str]:
    """How a gate decides one gold file's questions, as written and lower-cased (no fitting).

    Args:
        gate: The gate to judge (e.g. the shipped one on other notes).
        scored: The file's questions with their features.
        label: What to call the file in the first line (default: its path).
    """
    lines = [_line(label or str(scored.path), gate, scored.rows, scored.labels)]
    lines += _wrong(gate, scored.items, scored.rows)
    lines.append(_line("  lower-cased", gate, scored.lower_rows, scored.labels))
    lines += _wrong(gate, scored.items, scored.lower_rows, lower=True)
    return lines


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (first 16 hex digits): which gold file a gate was fitted on."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def fitted_on(result: Calibration, model: str, corpus: str, corpus_digest: str) -> dict:
    """What a gate was fitted on, stored with its weights.

    A gate fitted on other notes or with another model is not a calibration of these.

    Args:
        result: The calibration.
        model: The embedding model's fingerprint (similarity depends on it).
        corpus: The notes folder's name.
        corpus_digest: A digest of the indexed notes (the index manifest's file hashes).
    """
    labels = result.gold.labels
    return {"model": model, "corpus": corpus, "corpus_digest": corpus_digest,
            "gold": Path(result.gold.path).name, "gold_digest": file_digest(result.gold.path),
            "answerable": sum(labels), "unanswerable": len(labels) - sum(labels),
            "min_answered": result.min_answered, "date": time.strftime("%Y-%m-%d", time.gmtime())}


def write_gate(path: Path, gate: Gate, meta: Mapping) -> Path:
    """Save a gate with what it was fitted on as JSON (`answer.gate.load_gate` reads it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**gate.to_dict(), "fitted_on": dict(meta)}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
