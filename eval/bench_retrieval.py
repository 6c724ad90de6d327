"""Retrieval quality on the gold set: ours vs dense only, BM25 only and the tutorial pipeline.

Usage: .venv/bin/python eval/bench_retrieval.py [--gold eval/gold.jsonl] [-k 5] [--json OUT]
                                                [--misses]

Every system sees the same notes (ASSISTANT_CORPUS_DIR) and the same embedding model. Only
answerable gold items are scored (unanswerable ones have no evidence to find).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant import StudyAssistant  # noqa: E402
from assistant.evaluation.gold import load_gold  # noqa: E402
from assistant.evaluation.retrieval_metrics import mean_scores, score_retrieval  # noqa: E402
from assistant.retrieval.retriever import Retriever  # noqa: E402
from assistant.sources.notes import load_corpus  # noqa: E402


def _view_text(note) -> str:
    """A note's text as indexed (a PDF, HTML page or notebook through its markdown view; "" if unreadable)."""
    from assistant.sources.views import UnreadableError

    try:
        return note.view().text
    except UnreadableError:
        return ""


def tutorial_pipeline(sa: StudyAssistant):
    """RecursiveCharacterTextSplitter(1000, 200) + all-MiniLM-L6-v2 + top-k cosine."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    notes, _ = load_corpus(sa.settings.corpus_dir, int(sa.settings.max_file_mb * 1e6))
    texts = [t for note in notes for t in splitter.split_text(_view_text(note))]
    vectors = sa.embedder.embed(texts)

    def search(question: str, k: int) -> list[str]:
        q = sa.embedder.embed([question])[0]
        return [texts[i] for i in np.argsort(-(vectors @ q))[:k]]

    return search, len(texts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=Path("eval/gold.jsonl"))
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--misses", action="store_true", help="list questions ours misses evidence on")
    args = parser.parse_args()

    items = [g for g in load_gold(args.gold) if g.answerable]
    sa = StudyAssistant.from_env()
    sa.ingest(progress=False)
    retriever = sa.retriever
    tutorial, n_tutorial = tutorial_pipeline(sa)
    without_feedback = Retriever(retriever.index, retriever.embedder, feedback=False)
    systems = {
        "ours (hybrid + feedback + comparison split + dedup + stitching)": lambda q, k: [
            h.text for h in retriever.search(q, k, mode="hybrid")],
        "ours without pseudo-relevance feedback": lambda q, k: [
            h.text for h in without_feedback.search(q, k, mode="hybrid")],
        "dense only (our chunks)": lambda q, k: [
            h.text for h in retriever.search(q, k, mode="dense", expand=False, dedup=False, stitch=False)],
        "BM25 only (our chunks)": lambda q, k: [
            h.text for h in retriever.search(q, k, mode="bm25", expand=False, dedup=False, stitch=False)],
        f"tutorial (1000/200 chars, {n_tutorial} chunks, dense top-k)": tutorial,
    }
    results, misses = {}, []
    for name, search in systems.items():
        scores, sizes, elapsed = [], [], 0.0
        for item in items:
            started = time.perf_counter()
            texts = search(item.question, args.k)
            elapsed += time.perf_counter() - started
            sizes.append(sum(sa.tokenizer.count(texts)))
            score = score_retrieval(item.evidence, texts, args.k)
            scores.append(score)
            if name.startswith("ours") and score.recall < 1:
                misses.append((item, score))
        results[name] = {**mean_scores(scores), "ms_per_query": elapsed / len(items) * 1000,
                         "context_tokens": float(np.mean(sizes))}

    print(f"Retrieval on {args.gold} ({len(items)} answerable questions, k={args.k}, "
          f"{len(retriever.chunks)} chunks of ours)\n")
    print(f"| system | hit@{args.k} | evidence recall@{args.k} | MRR@{args.k} | word pieces in top {args.k} "
          "| ms/query |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['hit']:.3f} | {r['recall']:.3f} | {r['mrr']:.3f} | {r['context_tokens']:.0f} "
              f"| {r['ms_per_query']:.1f} |")
    if args.misses:
        print("\nQuestions where ours misses evidence:")
        for item, score in misses:
            print(f"- {item.id} recall {score.recall:.2f} rr {score.reciprocal_rank:.2f}: {item.question}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
