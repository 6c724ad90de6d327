"""Probe a candidate feature for the "do my notes cover this?" gate on every note set, before shipping it.

Usage: .venv/bin/python eval/gate_probe.py [--extra NAME ...] [--only CORPUS ...] [--show]

The gate (`assistant/answer/gate.py`) is a logistic model on retrieval evidence, fitted on
``eval/gold.jsonl``. A feature earns its place only if it transfers: this script indexes ours and
every ``eval/corpora/<name>/`` set in a temporary folder (as ``eval/bench_corpora.py`` does), computes the
shipped features plus each ``--extra`` candidate for every question lower-cased (the gate reads no
capitals, so both forms decide alike), and prints two rows per feature set:

* gold-fit: fitted on ours (gold) only, the way the shipped gate is, judged on every set;
* leave-one-set-out: fitted on all the other sets together (their unanswerable questions included),
  judged on the set left out: an upper bound for what the features can tell apart.

Each cell is "unanswerable abstained / answerable answered". Candidates (``--extra``):

* ``line_joint``: the best window of two adjacent lines of the top 3 passages, by the share of the
  question's topic words (weighted by their centrality to the question) it holds with its heading;
* ``line_joint_idf``: the same, weighted by the words' rarity in the notes;
* ``line_sim``: the best cosine of the question with any such window (sentence-level similarity).

What these measured, and why none shipped: docs/decisions/0003-answers-and-abstention.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from bench_corpora import corpora  # noqa: E402

from assistant import StudyAssistant  # noqa: E402
from assistant.answer.gate import FEATURES, centrality  # noqa: E402
from assistant.config import load_settings  # noqa: E402
from assistant.evaluation.gold import load_gold  # noqa: E402
from assistant.text.words import salient_word, tokens  # noqa: E402

TOP = 3  # passages read by the line features
MIN_ANSWERED = 0.96  # as eval/calibrate_abstention.py


def _windows(hits) -> list[tuple[str, set[str]]]:
    """Two adjacent non-blank lines of each top passage, with the passage's heading stems."""
    out = []
    for hit in hits[:TOP]:
        lines = [line for line in hit.text.split("\n") if line.strip()]
        heading = {s for w in tokens(" ".join(hit.heading_path)) if (s := salient_word(w))}
        out.extend((" ".join(lines[i:i + 2]), heading) for i in range(len(lines)))
    return out


def _best_share(stems: list[str], weights: list[float], windows) -> float:
    total = sum(weights) or 1.0
    best = 0.0
    for text, heading in windows:
        held = heading | {s for w in tokens(text) if (s := salient_word(w))}
        best = max(best, sum(x for s, x in zip(stems, weights, strict=True) if s in held) / total)
    return best


def extras(sa: StudyAssistant, question: str, hits) -> dict[str, float]:
    """Every candidate feature of one question and its retrieved passages."""
    pairs = list(dict.fromkeys((w, s) for w in tokens(question) if (s := salient_word(w)) is not None))
    stems = [s for _, s in pairs]
    central = centrality([w for w, _ in pairs], question, sa.question_embedder) if pairs else []
    windows = _windows(hits)
    vectors = np.asarray(sa.question_embedder.embed([t for t, _ in windows] + [question]), dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return {
        "line_joint": _best_share(stems, central, windows),
        "line_joint_idf": _best_share(stems, [sa.vocabulary.idf(s) for s in stems], windows),
        "line_sim": float((vectors[:-1] @ vectors[-1]).max()) if windows else 0.0,
    }


def score_sets(only: list[str]) -> list[dict]:
    """One row per question of every set: its set, label and every feature (question lower-cased)."""
    rows = []
    for name, notes, golds in corpora(only):
        with tempfile.TemporaryDirectory(prefix=f"probe-{name}-") as work:
            settings = load_settings(env_file=None).with_overrides(corpus_dir=notes, index_dir=Path(work) / "index")
            sa = StudyAssistant(settings)
            sa.ingest(progress=False)
            for label, gold in golds:
                for item in load_gold(gold):
                    question = item.question.lower()
                    hits = sa.retrieve(question)
                    features = {**sa.coverage_evidence(question, hits), **extras(sa, question, hits)}
                    rows.append({"set": label, "answerable": item.answerable, "question": question, **features})
            sa.close()
    return rows


def _fit(x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The gate's logistic fit (class-balanced, L2 0.003, as `gate.fit_gate`) and its threshold."""
    sample = np.where(y == 1, 0.5 / max(y.sum(), 1), 0.5 / max((1 - y).sum(), 1))
    weights, bias = np.zeros(x.shape[1]), 0.0
    for _ in range(4000):
        grad = sample * (1 / (1 + np.exp(-(x @ weights + bias))) - y)
        weights -= 0.5 * (x.T @ grad + 0.003 * weights)
        bias -= 0.5 * grad.sum()

    def prob(z: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(z @ weights + bias)))

    p = prob(x)
    ok = [t for t in sorted(set(p)) if (p[y == 1] >= t).mean() >= MIN_ANSWERED]
    threshold = max(ok, key=lambda t: ((p[y == 0] < t).mean(), t)) if ok else 0.5
    return lambda z: prob(z) >= threshold


def judge(rows: list[dict], names: list[str], train: set[str], test: str) -> str:
    """"abstained/unanswerable answered/answerable" on ``test`` for a gate fitted on ``train``."""
    fit_rows = [r for r in rows if r["set"] in train]
    covered = _fit(np.array([[r[n] for n in names] for r in fit_rows]),
                   np.array([r["answerable"] for r in fit_rows], dtype=float))
    held = [r for r in rows if r["set"] == test]
    said = covered(np.array([[r[n] for n in names] for r in held]))
    no = [not s for s, r in zip(said, held, strict=True) if not r["answerable"]]
    yes = [s for s, r in zip(said, held, strict=True) if r["answerable"]]
    return f"{sum(no)}/{len(no)} {sum(yes)}/{len(yes)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", nargs="*", default=["line_joint", "line_joint_idf", "line_sim"])
    parser.add_argument("--only", nargs="*", default=[], help="corpus names (ours, docker-commands, ...)")
    args = parser.parse_args()
    rows = score_sets(args.only)
    sets = list(dict.fromkeys(r["set"] for r in rows))
    print("| features | fitted on | " + " | ".join(sets) + " |")
    print("|---|---|" + "---|" * len(sets))
    for extra in [None, *args.extra]:
        names = [*FEATURES, *([extra] if extra else [])]
        label = "shipped four" + (f" + {extra}" if extra else "")
        if "ours (gold)" in sets:
            cells = [judge(rows, names, {"ours (gold)"}, s) for s in sets]
            print(f"| {label} | ours (gold) | " + " | ".join(cells) + " |")
        cells = [judge(rows, names, set(sets) - {s}, s) for s in sets]
        print(f"| {label} | the other sets | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
