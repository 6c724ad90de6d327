"""Speed and memory on this machine: cold ingest, no-op re-ingest, warm retrieve, peak RSS.

Usage: .venv/bin/python eval/bench_speed.py [--questions 100] [--repeat 3] [--with-conversion]

Each stage runs in its own fresh process (as a student's CLI call would), against a temporary
index folder, with the notes in ASSISTANT_CORPUS_DIR (default ./corpus). The converted ONNX
model in ASSISTANT_CACHE_DIR (default ./.cache) is made once by setup; --with-conversion also
times a first run that has to convert it. Each stage runs --repeat times (each cold ingest into a
new folder); the table shows the median run and the range, since a shared 2-core machine's speed
moves by 10-20% between runs of the same code.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

INGEST = """
import json, time
from assistant import StudyAssistant
t = time.perf_counter()
report = StudyAssistant.from_env(env_file=None).ingest(progress=False)
print(json.dumps({"in_process_s": time.perf_counter() - t, "added": report.added, "chunks": report.chunks}))
"""

RETRIEVE = """
import json, sys, time
from assistant import StudyAssistant
from assistant.evaluation.gold import load_gold
questions = [g.question for g in load_gold("eval/gold.jsonl")][: int(sys.argv[1])]
sa = StudyAssistant.from_env(env_file=None)
t = time.perf_counter(); sa.retrieve(questions[0]); first = time.perf_counter() - t
for q in questions[:10]:
    sa.retrieve(q)  # warm-up
times = []
for q in questions:
    t = time.perf_counter(); sa.retrieve(q, k=5); times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({"first_s": first, "p50_ms": times[len(times) // 2] * 1000,
                  "p95_ms": times[int(len(times) * 0.95) - 1] * 1000, "n": len(times)}))
"""


def run(code: str, env: dict, *args: str) -> tuple[dict, float, float]:
    """Run a snippet in a fresh interpreter: (its JSON line, wall seconds, peak RSS MB)."""
    # output goes to files, not pipes: the process is reaped with wait4 (for its own peak RSS)
    # before its output is read, and a full pipe would block it
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env, stdout=out, stderr=err,
                                text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"stage failed:\n{err.read()}")
        return json.loads(out.read().strip().splitlines()[-1]), wall, usage.ru_maxrss / 1024


def median(runs: list, key):
    """The run with the median ``key`` (the upper one of an even count)."""
    return sorted(runs, key=key)[len(runs) // 2]


def spread(runs: list, key, unit: str, digits: int) -> str:
    """"; 3 runs 8.90–9.60 s" for several runs, nothing for one."""
    if len(runs) < 2:
        return ""
    values = sorted(key(r) for r in runs)
    return f"; {len(runs)} runs {values[0]:.{digits}f}–{values[-1]:.{digits}f}{unit}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each stage (median shown)")
    parser.add_argument("--with-conversion", action="store_true")
    args = parser.parse_args()
    repeat = max(1, args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        rows = []
        if args.with_conversion:
            conv_env = {**env, "ASSISTANT_CACHE_DIR": str(Path(tmp) / "cache"),
                        "ASSISTANT_INDEX_DIR": str(Path(tmp) / "index-conv")}
            out, wall, rss = run(INGEST, conv_env)
            rows.append(("first ever ingest (converts the model to ONNX)", wall, rss, f"{out['chunks']} chunks"))
        cold = [run(INGEST, {**env, "ASSISTANT_INDEX_DIR": str(Path(tmp) / f"index-{n}")}) for n in range(repeat)]
        env["ASSISTANT_INDEX_DIR"] = str(Path(tmp) / f"index-{repeat - 1}")
        out, wall, _ = median(cold, lambda r: r[1])
        rss = max(r[2] for r in cold)  # peak over every run
        rows.append(("cold ingest (no index)", wall, rss, f"{out['added']} chunks embedded, "
                     f"{out['in_process_s']:.1f} s in process{spread(cold, lambda r: r[1], ' s', 2)}"))
        noop = [run(INGEST, env) for _ in range(repeat)]
        out, wall, _ = median(noop, lambda r: r[1])
        rss = max(r[2] for r in noop)
        rows.append(("re-ingest, nothing changed", wall, rss, f"{out['added']} embedded, "
                     f"{out['in_process_s'] * 1000:.0f} ms in process{spread(noop, lambda r: r[1], ' s', 2)}"))
        warm = [run(RETRIEVE, env, str(args.questions)) for _ in range(repeat)]
        out, wall, _ = median(warm, lambda r: r[0]["p50_ms"])
        rss = max(r[2] for r in warm)
        # the row is the run with the median warm p50 (its wall time and first call with it)
        rows.append((f"retrieve x{out['n']} (fresh process)", wall, rss,
                     f"first {out['first_s']:.2f} s, warm p50 {out['p50_ms']:.1f} ms, p95 {out['p95_ms']:.1f} ms"
                     f"{spread(warm, lambda r: r[0]['p50_ms'], ' ms', 1)}"))
    print(f"Speed on {os.cpu_count()} cores (each stage a fresh process, wall time includes Python start-up; "
          f"median of {repeat} runs, peak RSS of all)\n")
    print("| stage | wall s | peak RSS MB | detail |")
    print("|---|---|---|---|")
    for name, wall, rss, detail in rows:
        print(f"| {name} | {wall:.2f} | {rss:.0f} | {detail} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
