"""Answer quality and speed on the gold set with a backend (default: extractive).

Usage: .venv/bin/python eval/bench_answers.py [--gold eval/gold.jsonl] [--backend extractive]
                                              [--prompt default] [--first-answer] [--show N]

Reports:
* abstention: share of unanswerable questions abstained on, share of answerable ones answered;
* evidence coverage: for each answered, answerable question, the share of its gold evidence
  passages the answer text states (an evidence passage counts when >= 80% of its topic words are
  in the answer); the mean, and the share of answers covering all their evidence;
* answer words: median and 90th percentile over answered questions (`harness.answer_words`: citation
  markers, markdown and the notice are not words);
* citations: share of answers with at least one citation, and of citations whose quote is verbatim
  in the cited passage;
* warm answer latency p50/p95 (model and index loaded, every gold question once);
* --first-answer: wall time of `assistant ask` in a fresh process with an existing index (3 runs).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant import StudyAssistant  # noqa: E402
from assistant.evaluation.gold import load_gold  # noqa: E402
from assistant.evaluation.harness import answer_words, evidence_covered, percentile, word_spread  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=Path("eval/gold.jsonl"))
    parser.add_argument("--backend", default="extractive")
    parser.add_argument("--prompt", default=None, help="prompt template (default: the settings'; short-answers)")
    parser.add_argument("--first-answer", action="store_true", help="also time `assistant ask` in fresh processes")
    parser.add_argument("--show", type=int, default=0, help="print the N answers with the least evidence")
    args = parser.parse_args()

    items = load_gold(args.gold)
    sa = StudyAssistant.from_env()
    sa.ingest(progress=False)
    sa.answer("warm up: what is data drift?", backend=args.backend)
    rows, seconds = [], []
    for item in items:
        started = time.perf_counter()
        answer = sa.answer(item.question, backend=args.backend, prompt=args.prompt)
        seconds.append(time.perf_counter() - started)
        rows.append((item, answer))

    answerable = [(i, a) for i, a in rows if i.answerable]
    unanswerable = [(i, a) for i, a in rows if not i.answerable]
    answered = [(i, a) for i, a in answerable if not a.abstained]
    coverage = [(sum(evidence_covered(e, a.text) for e in i.evidence) / len(i.evidence), i, a)
                for i, a in answered if i.evidence]
    cited = [a for _, a in answered if a.citations]
    quotes = [c for _, a in answered for c in a.citations]
    verbatim = [c for c in quotes if all(line in c.chunk.text for line in c.quote.split("\n") if line)]

    words = word_spread([answer_words(a.text, a.notice) for _, a in answered])
    print(f"Answers on {args.gold} with backend {args.backend}, prompt {args.prompt or sa.settings.prompt} "
          f"({len(answerable)} answerable, "
          f"{len(unanswerable)} unanswerable)\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| abstained on unanswerable | {sum(a.abstained for _, a in unanswerable) / len(unanswerable):.3f} |")
    print(f"| answered answerable | {len(answered) / len(answerable):.3f} |")
    print(f"| evidence coverage, mean over answered | {statistics.mean(c for c, _, _ in coverage):.3f} |")
    print(f"| answers covering all their evidence | {sum(c == 1 for c, _, _ in coverage) / len(coverage):.3f} |")
    print(f"| answers with citations | {len(cited) / max(len(answered), 1):.3f} |")
    print(f"| citation quotes verbatim in the cited passage | {len(verbatim) / max(len(quotes), 1):.3f} |")
    print(f"| mean answer length (words, lead-ins and markers included) | "
          f"{statistics.mean(len(a.text.split()) for _, a in answered):.0f} |")
    print(f"| answer words, median / p90 (no markers, no notice) | {words[0]:.0f} / {words[1]:.0f} |")
    print(f"| warm answer p50 / p95 (ms) | {percentile(seconds, 0.5) * 1000:.1f} / "
          f"{percentile(seconds, 0.95) * 1000:.1f} |")

    if args.first_answer:
        exe = Path(sys.executable).with_name("assistant")
        walls = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([str(exe), "ask", "explain concept drift vs data drift"], check=True,
                           capture_output=True)
            walls.append(time.perf_counter() - started)
        print(f"| first answer, fresh `assistant ask` process (s), 3 runs | "
              f"{' / '.join(f'{w:.2f}' for w in walls)} |")

    missed = [(i, a) for i, a in answerable if a.abstained] + [(i, a) for i, a in unanswerable if not a.abstained]
    if missed:
        print("\nWrong abstention decisions:")
        for item, answer in missed:
            kind = "answerable, abstained" if item.answerable else "unanswerable, answered"
            print(f"- {item.id} ({kind}, P={answer.evidence.get('p_covered')}): {item.question}")
    if args.show:
        print("\nLeast evidence covered:")
        for c, item, answer in sorted(coverage, key=lambda x: x[0])[: args.show]:
            print(f"\n## {item.id} coverage {c:.2f}: {item.question}\n{answer.text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
