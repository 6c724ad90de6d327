"""Scale: how ingest and search behave when the notes folder grows (10x, 100x the shipped notes).

Usage: .venv/bin/python eval/bench_scale.py [--copies 1,10,100] [--server] [--questions 50] [--work DIR]

For each size it writes a corpus of N files, each a copy of corpus/aws-mla-c01-notes.md whose
text is varied per copy (every heading and every fifth text line carry the copy's number), so no
two chunks are the same and nothing is deduplicated. Then, each stage in its own fresh process
(as a student's CLI call would be), it measures: cold ingest, a no-op ingest, a one-line edit of
one file, and a search process (its first search, from start-up, and warm searches over gold
questions: p50 / p95), with each process's peak RSS, and the index folder's size. With --server
it does the same with the index mirrored into a `chroma run` on 127.0.0.1 that it starts.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_speed import run  # noqa: E402 - each stage in a fresh interpreter, with its peak RSS

NOTES = ROOT / "corpus" / "aws-mla-c01-notes.md"

INGEST = """
import json, time
from assistant import StudyAssistant
t = time.perf_counter()
report = StudyAssistant.from_env(env_file=None).ingest(progress=False)
print(json.dumps({"in_process_s": time.perf_counter() - t, "added": report.added, "chunks": report.chunks}))
"""

SEARCH = """
import json, sys, time
t0 = time.perf_counter()
from assistant import StudyAssistant
from assistant.evaluation.gold import load_gold
questions = [g.question for g in load_gold("eval/gold.jsonl")][: int(sys.argv[1])]
sa = StudyAssistant.from_env(env_file=None)
sa.retrieve(questions[0])
first = time.perf_counter() - t0
for q in questions[:5]:
    sa.retrieve(q)  # warm-up
times = []
for q in questions:
    t = time.perf_counter(); sa.retrieve(q, k=5); times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({"first_s": first, "p50_ms": times[len(times) // 2] * 1000,
                  "p95_ms": times[max(0, int(len(times) * 0.95) - 1)] * 1000, "n": len(times)}))
"""


def make_corpus(folder: Path, copies: int) -> None:
    """``copies`` files, each the shipped notes with its copy number in every heading and every 5th line."""
    lines = NOTES.read_text(encoding="utf-8").split("\n")
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(copies):
        out, fenced, text_lines = [], False, 0
        for line in lines:
            if re.match(r"\s*(```|~~~)", line):
                fenced = not fenced
            elif not fenced and re.match(r"#{1,6}\s", line):
                line = f"{line} (set {n})"
            elif not fenced and line.strip():
                text_lines += 1
                if text_lines % 5 == 0:
                    line = f"{line} (revision {n})"
            out.append(line)
        (folder / f"notes-{n:03d}.md").write_text("\n".join(out), encoding="utf-8")


def folder_mb(path: Path) -> float:
    """Bytes under ``path`` in MB."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def start_chroma(data: Path) -> tuple[subprocess.Popen, str]:
    """A `chroma run` on a free 127.0.0.1 port (never another host)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chroma = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen([str(chroma), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("chroma run did not start")


def measure(work: Path, copies: int, questions: int, server_url: str | None,
            reuse: bool = False) -> list[tuple[str, str]]:
    """Every stage for one corpus size; (measure, value) rows (``reuse``: keep an index built before)."""
    corpus = work / f"corpus-{copies}"
    if not corpus.exists():
        make_corpus(corpus, copies)
    index = work / f"index-{copies}-{'server' if server_url else 'local'}"
    reused = reuse and (index / "manifest.json").exists()
    if not reused:
        shutil.rmtree(index, ignore_errors=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ASSISTANT_CORPUS_DIR": str(corpus), "ASSISTANT_INDEX_DIR": str(index)}
    if server_url:
        env["ASSISTANT_CHROMA_URL"] = server_url
    rows = []
    if reused:
        rows += [("cold ingest", "not run (--reuse: the index built by an earlier run)")]
    else:
        out, wall, rss = run(INGEST, env)
        rows += [("cold ingest", f"{wall:.1f} s, peak {rss:.0f} MB ({out['chunks']} chunks)")]
    fresh_mb = folder_mb(index)
    out, wall, rss = run(INGEST, env)
    rows += [("no-op ingest", f"{wall:.2f} s, peak {rss:.0f} MB")]
    target = corpus / "notes-000.md"
    original = target.read_text(encoding="utf-8")
    edits = []
    for n in range(3):  # a one-line edit of one file, three times (median shown)
        target.write_text(original + f"\n- Added in review {n}: check the drift alarms weekly.\n", encoding="utf-8")
        edits.append(run(INGEST, env))
    target.write_text(original, encoding="utf-8")
    run(INGEST, env)
    out, wall, rss = sorted(edits, key=lambda r: r[1])[1]
    rows += [("one-line edit of one file", f"{wall:.2f} s, peak {max(e[2] for e in edits):.0f} MB "
              f"({out['added']} chunk(s) embedded; 3 runs {min(e[1] for e in edits):.2f}–"
              f"{max(e[1] for e in edits):.2f} s)")]
    searches = [run(SEARCH, env, str(questions)) for _ in range(3)]
    out, wall, rss = sorted(searches, key=lambda r: r[0]["p50_ms"])[1]
    firsts = sorted(s[0]["first_s"] for s in searches)
    rows += [("fresh process, first search (from start-up)", f"{firsts[1]:.2f} s (3 runs {firsts[0]:.2f}–"
              f"{firsts[-1]:.2f} s)"),
             (f"warm search p50 / p95 ({out['n']} gold questions)", f"{out['p50_ms']:.1f} / {out['p95_ms']:.1f} ms"),
             ("search process peak RSS", f"{max(s[2] for s in searches):.0f} MB")]
    rows += [("index folder", f"{folder_mb(index):.0f} MB (fresh build {fresh_mb:.0f} MB)")]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", default="1,10,100", help="corpus sizes, in copies of the notes")
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--server", action="store_true", help="also measure with a Chroma server (127.0.0.1)")
    parser.add_argument("--work", type=Path, default=None, help="keep corpora and indexes here (default: temp)")
    parser.add_argument("--reuse", action="store_true",
                        help="with --work: skip the cold ingest where an earlier run left an index (and server data)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = [int(x) for x in args.copies.split(",") if x.strip()]
    results: dict[str, list[tuple[str, str]]] = {}
    server = None
    try:
        for copies in sizes:
            results[f"{copies}x local"] = measure(work, copies, args.questions, None, args.reuse)
            print(f"{copies}x local done", file=sys.stderr, flush=True)
            if args.server:
                server, url = start_chroma(work / f"chroma-{copies}")
                results[f"{copies}x server"] = measure(work, copies, args.questions, url, args.reuse)
                server.terminate()
                server.wait(timeout=30)
                server = None
                print(f"{copies}x server done", file=sys.stderr, flush=True)
    finally:
        if server is not None:
            server.kill()
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    names = list(results)
    print(f"Scale on {os.cpu_count()} cores; each stage a fresh process; wall time includes Python start-up\n")
    print("| measure | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for i, (measure_name, _) in enumerate(results[names[0]]):
        print(f"| {measure_name} | " + " | ".join(results[n][i][1] for n in names) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
