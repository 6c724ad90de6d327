"""Evidence coverage and answer length on every note set, for the shipped settings and for trial values.

Usage: .venv/bin/python eval/sweep_answers.py ['{"PASSAGE_WEIGHT": 0.4}' ...] [--prompt default ...]
                                              [--only NAME ...] [--extra NOTES GOLD] [--index-root DIR]

Each argument is one trial: a JSON object of `assistant/tuning.py` names and the values to try
(``{}`` or none: the shipped settings). The values are set on the `tuning` module for that trial only
(the extractive composer reads them when it answers), so a trial needs no code change; a setting read
once at start-up (chunking, retrieval's index build) cannot be tried this way. The note sets are
`eval/bench_corpora.py`'s (ours with gold and held-out, every ``eval/corpora/*``, each ``--extra``);
each is indexed once (in ``--index-root``, kept between runs, or a temporary folder), and every
answerable question as written is answered with the extractive backend. One row per trial and
prompt; per set: evidence coverage (mean over answered answerable questions) / median / 90th
percentile answer words (`harness.answer_words`). For the gold set the comparison and one-topic
questions are also shown apart (their budgets differ: `tuning.COMPARISON_WORDS`, `tuning.WORD_BUDGET`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_corpora import corpora  # noqa: E402

from assistant import StudyAssistant, tuning  # noqa: E402
from assistant.config import load_settings  # noqa: E402
from assistant.evaluation.gold import load_gold  # noqa: E402
from assistant.evaluation.harness import answer_words, evidence_covered, word_spread  # noqa: E402
from assistant.text.question import comparison_sides  # noqa: E402


def cell(rows: list[tuple[float, int]]) -> str:
    """"coverage / median / p90" of (coverage, words) pairs."""
    if not rows:
        return "–"
    median, p90 = word_spread([w for _, w in rows])
    return f"{statistics.mean(c for c, _ in rows):.3f} / {median:.0f} / {p90:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trials", nargs="*", help='JSON objects of tuning values, e.g. \'{"WORD_BUDGET": 120}\'')
    parser.add_argument("--prompt", nargs="*", default=["default"], help="prompt templates (default, short-answers)")
    parser.add_argument("--only", nargs="*", default=[], help="corpus names (ours, docker-commands, ...)")
    parser.add_argument("--extra", nargs=2, action="append", default=[], metavar=("NOTES", "GOLD"))
    parser.add_argument("--index-root", type=Path, help="keep the indexes here between runs")
    args = parser.parse_args()

    trials = [json.loads(t) for t in args.trials] or [{}]
    unknown = {k for t in trials for k in t if not hasattr(tuning, k)}
    if unknown:
        parser.error(f"not in assistant/tuning.py: {', '.join(sorted(unknown))}")
    shipped = {k: getattr(tuning, k) for t in trials for k in t}
    with tempfile.TemporaryDirectory(prefix="sweep-") as scratch:
        root = args.index_root or Path(scratch)
        sets = []
        for name, notes, golds in corpora(args.only, args.extra):
            settings = load_settings(env_file=None).with_overrides(corpus_dir=notes, index_dir=root / name / "index")
            sa = StudyAssistant(settings)
            print(f"{name}: indexing {notes} ...", file=sys.stderr)
            sa.ingest(progress=False)
            sets += [(label, sa, load_gold(gold)) for label, gold in golds]
        labels = [label for label, _, _ in sets]
        print("| trial | prompt | " + " | ".join(labels) + " | gold: comparisons | gold: one topic |")
        print("|---|---|" + "---|" * (len(labels) + 2))
        for trial in trials:
            for prompt in args.prompt:
                for key, value in {**shipped, **trial}.items():
                    setattr(tuning, key, value)
                cells, split = [], {True: [], False: []}
                for label, sa, items in sets:
                    rows = []
                    for item in items:
                        if not item.answerable:
                            continue
                        answer = sa.answer(item.question, prompt=prompt)
                        if answer.abstained or not item.evidence:
                            continue
                        covered = sum(evidence_covered(e, answer.text) for e in item.evidence) / len(item.evidence)
                        rows.append((covered, answer_words(answer.text)))
                        if label == "ours (gold)":
                            split[bool(comparison_sides(answer.standalone_question))].append(rows[-1])
                    cells.append(cell(rows))
                print(f"| `{json.dumps(trial)}` | {prompt} | " + " | ".join(cells)
                      + f" | {cell(split[True])} | {cell(split[False])} |", flush=True)
        for key, value in shipped.items():
            setattr(tuning, key, value)
        for _, sa, _ in sets:
            sa.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
