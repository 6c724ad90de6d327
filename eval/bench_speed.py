"""Speed and memory on this machine: cold ingest, no-op re-ingest, warm retrieve, peak RSS.

Usage: .venv/bin/python eval/bench_speed.py [--questions 100] [--with-conversion]

Each stage runs in its own fresh process (as a student's CLI call would), against a temporary
index folder, with the notes in ASSISTANT_CORPUS_DIR (default ./corpus). The converted ONNX
model in ASSISTANT_CACHE_DIR (default ./.cache) is made once by setup; --with-conversion also
times a first run that has to convert it.
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
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    out, err = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"stage failed:\n{err}")
    return json.loads(out.strip().splitlines()[-1]), wall, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--with-conversion", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ASSISTANT_INDEX_DIR": str(Path(tmp) / "index"), "HF_HUB_OFFLINE": "1"}
        rows = []
        if args.with_conversion:
            conv_env = {**env, "ASSISTANT_CACHE_DIR": str(Path(tmp) / "cache"),
                        "ASSISTANT_INDEX_DIR": str(Path(tmp) / "index-conv")}
            out, wall, rss = run(INGEST, conv_env)
            rows.append(("first ever ingest (converts the model to ONNX)", wall, rss, f"{out['chunks']} chunks"))
        out, wall, rss = run(INGEST, env)
        rows.append(("cold ingest (no index)", wall, rss, f"{out['added']} chunks embedded, "
                     f"{out['in_process_s']:.1f} s in process"))
        out, wall, rss = run(INGEST, env)
        rows.append(("re-ingest, nothing changed", wall, rss, f"{out['added']} embedded, "
                     f"{out['in_process_s'] * 1000:.0f} ms in process"))
        out, wall, rss = run(RETRIEVE, env, str(args.questions))
        rows.append((f"retrieve x{out['n']} (fresh process)", wall, rss,
                     f"first {out['first_s']:.2f} s, warm p50 {out['p50_ms']:.1f} ms, p95 {out['p95_ms']:.1f} ms"))
    print(f"Speed on {os.cpu_count()} cores (each stage a fresh process, wall time includes Python start-up)\n")
    print("| stage | wall s | peak RSS MB | detail |")
    print("|---|---|---|---|")
    for name, wall, rss, detail in rows:
        print(f"| {name} | {wall:.2f} | {rss:.0f} | {detail} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
