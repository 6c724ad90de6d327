"""One table row per notes folder: how the assistant does on our notes and on the other students' notes.

Usage: .venv/bin/python eval/bench_corpora.py [--only NAME ...] [-k 5] [--prompt NAME] [--extra NOTES GOLD]
                                              [--json OUT] [--show-defects]

The corpora: ours (``corpus/`` with ``eval/gold.jsonl`` and ``eval/holdout.jsonl``, one row each) and
every ``eval/corpora/<name>/`` (``notes/`` with ``gold.jsonl``). Each folder is indexed from scratch
in a temporary folder (the student's index is not touched), with the extractive backend. Per row:

* files indexed / skipped: note files in the index, and the other files in the folder (PDFs or
  notebooks the code cannot read yet, images); a folder with nothing readable is reported as
  "0 indexed, N skipped" and its other columns stay empty;
* recall@k and MRR@k of the retrieved passages against the gold evidence (answerable questions);
* answerable questions answered, and unanswerable ones abstained on, for the question as written
  and lower-cased (students type in lower case; the "not covered" gate must not lean on capitals);
* evidence coverage: the mean share of gold evidence an answer states (answered answerable ones);
* answer words: median and 90th percentile over the answers to answerable questions as written
  (`harness.answer_words`: no citation markers, markdown or notice);
* defects: answers (as written and lower-cased) with markup that leaked into them, by kind
  (`assistant/evaluation/defects.py`).

The metrics are the harness's (`assistant/evaluation/`): `score_retrieval`/`mean_scores` as in
eval/bench_retrieval.py, `run` for answers, abstention and evidence coverage as `assistant eval`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant import StudyAssistant  # noqa: E402
from assistant.config import load_settings  # noqa: E402
from assistant.errors import AssistantError  # noqa: E402
from assistant.evaluation.defects import KINDS, answer_defects  # noqa: E402
from assistant.evaluation.gold import GoldItem, load_gold  # noqa: E402
from assistant.evaluation.harness import Variant, answer_words, run, word_spread  # noqa: E402
from assistant.evaluation.retrieval_metrics import mean_scores, score_retrieval  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHORT = {"html": "html", "image": "img", "table_row": "row", "empty_label": "label", "lone_symbol": "sym"}


def corpora(only: list[str], extra: list[list[str]] = ()) -> list[tuple[str, Path, list[tuple[str, Path]]]]:
    """(name, notes folder, [(row label, gold file)]) for ours, every eval/corpora/* set and each extra pair."""
    found = [("ours", REPO / "corpus", [("ours (gold)", REPO / "eval/gold.jsonl"),
                                        ("ours (held-out)", REPO / "eval/holdout.jsonl")])]
    for folder in sorted((REPO / "eval/corpora").iterdir()):
        if (folder / "notes").is_dir() and (folder / "gold.jsonl").is_file():
            found.append((folder.name, folder / "notes", [(folder.name, folder / "gold.jsonl")]))
    for notes, gold in extra:
        name = Path(notes).resolve().name
        found.append((name, Path(notes).resolve(), [(name, Path(gold).resolve())]))
    return [c for c in found if not only or c[0] in only]


def files_in(folder: Path) -> int:
    """Every file a student put in the folder (hidden ones aside, as the notes reader does)."""
    return sum(1 for p in folder.rglob("*") if p.is_file() and not any(s.startswith(".") for s in
                                                                       p.relative_to(folder).parts))


def lowered(items: list[GoldItem]) -> list[GoldItem]:
    return [replace(item, question=item.question.lower()) for item in items]


def answers(sa: StudyAssistant, items: list[GoldItem], k: int, prompt: str | None = None) -> list:
    """The harness's rows: one extractive answer per question, scored against its gold item."""
    return run(items, [Variant("default")], lambda q, v: sa.answer(q, k=k, prompt=prompt), [], k)


def measure(sa: StudyAssistant, items: list[GoldItem], k: int, prompt: str | None = None) -> dict:
    """Every number of one row, on an index already built."""
    answerable = [i for i in items if i.answerable]
    retrieval = mean_scores([score_retrieval(i.evidence, [h.text for h in sa.retrieve(i.question, k=k)], k)
                             for i in answerable])
    row: dict = {"questions": len(items), "answerable": len(answerable),
                 "unanswerable": len(items) - len(answerable), "recall": retrieval["recall"],
                 "mrr": retrieval["mrr"]}
    defects: dict[str, int] = dict.fromkeys(KINDS, 0)
    examples: list[dict] = []
    scanned = 0
    for form, batch in (("orig", items), ("lower", lowered(items))):
        rows = answers(sa, batch, k, prompt)
        yes = [r for r in rows if r.answerable]
        no = [r for r in rows if not r.answerable]
        row[f"answered_{form}"] = sum(not r.abstained for r in yes) / max(len(yes), 1)
        row[f"abstained_{form}"] = sum(r.abstained for r in no) / max(len(no), 1)
        if form == "orig":
            covered = [r.scores["evidence_coverage"] for r in yes if "evidence_coverage" in r.scores]
            row["coverage"] = statistics.mean(covered) if covered else None
            row["words_median"], row["words_p90"] = word_spread([answer_words(r.answer) for r in yes
                                                                 if not r.abstained])
        for r in rows:
            if r.abstained:
                continue
            scanned += 1
            found = answer_defects(r.answer)
            for kind in found:
                defects[kind] += 1
            if found:
                examples.append({"id": r.question_id, "form": form, "question": r.question, "defects": found})
    row["answers_scanned"] = scanned  # every answer given, to the questions as written and lower-cased
    row["answers_with_defects"] = len(examples)  # one entry per answer with any defect
    row["defects"] = defects
    row["defect_examples"] = examples
    return row


def bench(name: str, notes: Path, golds: list[tuple[str, Path]], k: int, prompt: str | None = None) -> list[dict]:
    """Index ``notes`` in a temporary folder and measure each of its gold files."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as work:
        settings = load_settings(env_file=None).with_overrides(corpus_dir=notes, index_dir=Path(work) / "index")
        sa = StudyAssistant(settings)
        total = files_in(notes)
        started = time.perf_counter()
        try:
            report = sa.ingest(progress=False)
        except AssistantError as exc:  # e.g. only PDFs and notebooks, which this code cannot read
            sa.close()
            return [{"corpus": label, "files_indexed": 0, "files_skipped": total, "ingest_error": str(exc)}
                    for label, _ in golds]
        base = {"files_indexed": report.files, "files_skipped": total - report.files,
                "chunks": report.chunks, "ingest_seconds": round(time.perf_counter() - started, 2)}
        rows = [{"corpus": label, **base, **measure(sa, load_gold(gold), k, prompt)} for label, gold in golds]
        sa.close()
        return rows


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def table(rows: list[dict], k: int) -> list[str]:
    """The markdown table of the rows."""
    out = [f"| corpus | files indexed / skipped | recall@{k} | MRR@{k} | answerable answered (orig / lower) "
           "| unanswerable abstained (orig / lower) | evidence coverage | answer words (median / p90) "
           f"| answers with defects ({' / '.join(SHORT.values())}) |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        files = f"{r['files_indexed']} / {r['files_skipped']}"
        if "ingest_error" in r:
            out.append(f"| {r['corpus']} | {files} | – | – | – | – | – | – | – |")
            continue
        kinds = " / ".join(str(r["defects"][kind]) for kind in SHORT)
        out.append(f"| {r['corpus']} | {files} | {fmt(r['recall'])} | {fmt(r['mrr'])} "
                   f"| {fmt(r['answered_orig'])} / {fmt(r['answered_lower'])} "
                   f"| {r['abstained_orig'] * r['unanswerable']:.0f}/{r['unanswerable']} / "
                   f"{r['abstained_lower'] * r['unanswerable']:.0f}/{r['unanswerable']} "
                   f"| {fmt(r['coverage'])} | {r['words_median']:.0f} / {r['words_p90']:.0f} "
                   f"| {r['answers_with_defects']}/{r['answers_scanned']} ({kinds}) |")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="corpus names (ours, docker-commands, ...)")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--prompt", default=None, help="prompt template (default: the settings'; short-answers)")
    parser.add_argument("--extra", nargs=2, action="append", default=[], metavar=("NOTES", "GOLD"),
                        help="another notes folder and its questions (a row named after the folder)")
    parser.add_argument("--json", type=Path, help="also write every number (and each defect found) here")
    parser.add_argument("--show-defects", action="store_true", help="list the answers with defects")
    args = parser.parse_args()

    rows: list[dict] = []
    for name, notes, golds in corpora(args.only, args.extra):
        print(f"{name}: indexing {notes} ...", file=sys.stderr)
        rows += bench(name, notes, golds, args.k, args.prompt)
    print("\n".join(table(rows, args.k)))
    for r in rows:
        if "ingest_error" in r:
            print(f"\n{r['corpus']}: nothing indexed ({r['ingest_error']})")
    if args.show_defects:
        for r in rows:
            for e in r.get("defect_examples", []):
                print(f"\n- {r['corpus']} {e['id']} ({e['form']}): {e['question']}")
                for kind, snippets in e["defects"].items():
                    print(f"  {kind}: {' · '.join(snippets[:4])}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
