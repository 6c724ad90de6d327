"""Probe: can a small local LLM tell whether the quoted lines answer a question the gate let through?

Usage: .venv/bin/python eval/judge_probe.py MODEL.gguf [--only CORPUS ...] [--answerable N]

A measurement, not a feature: the gate (`assistant/answer/gate.py`) lets through unanswerable
questions written in the notes' own words ("how do i back up a named volume to a tar file"), and
its features cannot tell them apart (`eval/gate_probe.py`). This asks a GGUF model run in process
(llama-cpp-python, the ``llamacpp`` extra; e.g. the 1.5B measuring model that
``../shared/tools/measurement-model`` assembles) one yes/no question per answered question: "Do the
notes answer the question?", with the notes being the lines the extractive answer quotes. It prints
P(YES) (from the first token's top log-probabilities) for every unanswerable question the gate
answers and for the first N answerable ones the gate answers, lower-cased as students type them,
then how many answerable questions a threshold refusing k of the let-through ones would also refuse.

Every note set is indexed in a temporary folder, as ``eval/bench_corpora.py`` does.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_corpora import corpora  # noqa: E402

from assistant import StudyAssistant  # noqa: E402
from assistant.config import load_settings  # noqa: E402
from assistant.evaluation.gold import load_gold  # noqa: E402
from assistant.extras import LLAMACPP, problem  # noqa: E402

SYSTEM = ("You check whether a student's notes answer a question. Reply with one word: YES if the notes state "
          "the answer, NO if they do not.")


def p_yes(llama, lines: str, question: str) -> tuple[float, str]:
    """P(YES) among the YES/NO first tokens, and the reply's first word."""
    messages = [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"Notes:\n{lines}\n\nQuestion: {question}\n\n"
                                            "Do the notes answer the question? YES or NO."}]
    out = llama.create_chat_completion(messages=messages, max_tokens=2, temperature=0.0, logprobs=True,
                                       top_logprobs=5)
    choice = out["choices"][0]
    tops = choice["logprobs"]["content"][0]["top_logprobs"]
    yes = sum(math.exp(t["logprob"]) for t in tops if t["token"].strip().upper().startswith("YES"))
    no = sum(math.exp(t["logprob"]) for t in tops if t["token"].strip().upper().startswith("NO"))
    return yes / (yes + no) if yes + no else 0.5, (choice["message"]["content"] or "").strip()[:5]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a GGUF file")
    parser.add_argument("--only", nargs="*", default=["ours", "crypto-pdf", "docker-commands"])
    parser.add_argument("--answerable", type=int, default=20, help="answerable questions per gold file")
    args = parser.parse_args()

    missing = problem("eval/judge_probe.py needs llama-cpp-python", "llamacpp", LLAMACPP)
    if missing:
        print(missing, file=sys.stderr)
        return 2
    if not args.model.is_file():
        print(f"No GGUF model at {args.model}.", file=sys.stderr)
        return 2
    from llama_cpp import Llama

    # llama.cpp directly, not `backends.llamacpp`: the probe needs the first token's log-probabilities,
    # which the backend protocol (text in, text out) does not carry
    llama = Llama(model_path=str(args.model), n_ctx=4096, n_threads=os.cpu_count() or 2, logits_all=True,
                  verbose=False)
    with tempfile.TemporaryDirectory() as tmp:
        for name, notes, golds in corpora(args.only):
            settings = load_settings(env_file=None).with_overrides(corpus_dir=notes, index_dir=Path(tmp) / name)
            sa = StudyAssistant(settings)
            sa.ingest(progress=False)
            for label, gold in golds:
                items = load_gold(gold)
                chosen = [i for i in items if not i.answerable] + [i for i in items if i.answerable][:args.answerable]
                negatives, positives = [], []
                print(f"\n## {label}\n\n| kind | P(YES) | reply | s | question |\n|---|---|---|---|---|")
                for item in chosen:
                    question = item.question.lower()
                    answer = sa.answer(question)
                    kind = "answerable" if item.answerable else "unanswerable"
                    if answer.abstained:
                        print(f"| {kind} | gate refused | | | {question} |")
                        continue
                    started = time.perf_counter()
                    p, reply = p_yes(llama, "\n".join(c.quote for c in answer.citations), question)
                    (positives if item.answerable else negatives).append(p)
                    print(f"| {kind} | {p:.3f} | {reply} | {time.perf_counter() - started:.1f} | {question} |")
                for k in range(1, len(negatives) + 1):
                    cut = sorted(negatives)[k - 1]  # refuse at P(YES) <= cut: the k least sure let-through ones
                    lost = sum(p <= cut for p in positives)
                    print(f"- refusing {k} of {len(negatives)} let through (P(YES) <= {cut:.3f}) also refuses "
                          f"{lost} of {len(positives)} answerable")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
