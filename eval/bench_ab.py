"""A/B speed of two checkouts of this code, alternating, so the machine's drift hits both alike.

Usage: .venv/bin/python eval/bench_ab.py BEFORE_TREE AFTER_TREE [--asks 21] [--searches 10]

Each tree runs with its own package (a fresh process started in the tree's folder imports it first)
and its own index folder, built once. Two measurements, interleaved tree by tree:

* first answer: wall time of `python -m assistant.cli ask "explain concept drift vs data drift"`
  in a fresh process (start-up, loading the index and the model, one answer);
* warm search: one process per run searches every gold and held-out question three times (after
  one warm-up round) and reports its p50; the table shows the median of the runs' p50s.

A git worktree makes the before tree: `git worktree add /tmp/before <commit>`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTION = "explain concept drift vs data drift"
SEARCH = r"""
import sys, time
from pathlib import Path
from assistant import StudyAssistant
from assistant.config import Settings
from assistant.evaluation.gold import load_gold
questions = [g.question for f in ("eval/gold.jsonl", "eval/holdout.jsonl") for g in load_gold(Path(f))]
sa = StudyAssistant(Settings(corpus_dir=Path("corpus"), index_dir=Path(sys.argv[1]), cache_dir=Path(sys.argv[2])))
for q in questions:
    sa.retrieve(q)
times = []
for _ in range(3):
    for q in questions:
        start = time.perf_counter()
        sa.retrieve(q)
        times.append(time.perf_counter() - start)
times.sort()
print(times[len(times) // 2] * 1000)
"""


def main() -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--asks", type=int, default=21, help="fresh-process answers per tree")
    parser.add_argument("--searches", type=int, default=10, help="warm-search processes per tree")
    args = parser.parse_args()
    cache = Path(os.environ.get("ASSISTANT_CACHE_DIR", ".cache")).resolve()
    work = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    env = dict(os.environ, HF_HUB_OFFLINE="1", ASSISTANT_CACHE_DIR=str(cache))
    envs = {name: dict(env, ASSISTANT_INDEX_DIR=str(work / name)) for name in trees}
    for name, tree in trees.items():
        subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", "-q"], cwd=tree, env=envs[name], check=True)
    asks: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(args.asks):
        for name, tree in trees.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "assistant.cli", "ask", QUESTION], cwd=tree, env=envs[name],
                           check=True, capture_output=True)
            asks[name].append(time.perf_counter() - start)
    searches: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(args.searches):
        for name, tree in trees.items():
            out = subprocess.run([sys.executable, "-c", SEARCH, str(work / name), str(cache)], cwd=tree,
                                 env=envs[name], check=True, capture_output=True, text=True)
            searches[name].append(float(out.stdout.strip().splitlines()[-1]))
    slower = sum(a > b for a, b in zip(searches["after"], searches["before"], strict=True))
    print("| measurement | before | after |\n|---|---|---|")
    for label, data, unit, scale in (("first answer, fresh process", asks, "s", 1.0),
                                     ("warm search p50", searches, "ms", 1.0)):
        cells = [f"{statistics.median(v) * scale:.3f} {unit} ({min(v):.3f}–{max(v):.3f}, {len(v)} runs)"
                 for v in (data["before"], data["after"])]
        print(f"| {label} | {cells[0]} | {cells[1]} |")
    print(f"\nwarm search: after slower than before in {slower} of {args.searches} alternating pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
