"""Evaluation reports: results.jsonl, summary.csv, report.md and a chart; and the diff of two runs."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from assistant.errors import ConfigError
from assistant.evaluation.harness import SUMMARY_METRICS, Row, Variant

LABELS = {
    "hit": "hit@k", "evidence_recall": "evidence recall@k", "reciprocal_rank": "MRR@k",
    "evidence_coverage": "evidence coverage (answer)", "context_recall_nonllm": "ragas NonLLMContextRecall",
    "context_precision_nonllm": "ragas NonLLMContextPrecisionWithReference",
    "string_similarity": "ragas NonLLMStringSimilarity", "rouge_l": "ragas RougeScore (L, F1)",
    "semantic_similarity": "ragas SemanticSimilarity (local model)",
    "faithfulness": "ragas Faithfulness (judge)", "answer_relevancy": "ragas ResponseRelevancy (judge)",
    "context_precision": "ragas LLMContextPrecisionWithReference (judge)",
    "context_recall": "ragas LLMContextRecall (judge)", "factual_correctness": "ragas FactualCorrectness (judge)",
    "followup_ok": "follow-ups right", "followup_answered": "follow-ups answered stating their evidence",
    "followup_abstained": "follow-ups the notes don't cover, abstained",
    "shift_clean": "topic shifts without the old subject",
}
CHART_METRICS = ("evidence_recall", "reciprocal_rank", "evidence_coverage", "semantic_similarity", "rouge_l",
                 "faithfulness", "answer_relevancy", "factual_correctness")


def outcome(row: dict) -> float:
    """One number per question for "did it go right".

    A wrong abstain/answer decision is 0; otherwise evidence coverage for answerable questions (1
    when it has no evidence), 1 for a correct abstention.
    """
    if row.get("error"):
        return 0.0
    if not row["scores"].get("correct_abstention", 0.0):
        return 0.0
    if row["answerable"]:
        return float(row["scores"].get("evidence_coverage", 1.0))
    return 1.0


def _cell(summary: dict, metric: str) -> str:
    value = summary.get(metric)
    n = summary.get(f"{metric}_n", 0)
    missing = summary.get(f"{metric}_unmeasured", 0)
    skipped = summary.get(f"{metric}_abstained", 0)
    notes = [f"n={n}"] + ([f"{skipped} abstained"] if skipped else []) + (
        [f"{missing} unmeasured"] if missing else [])
    if value is None:
        return f"unmeasured ({', '.join(notes[1:])})" if missing or skipped else "n/a"
    sd = summary.get(f"{metric}_sd")
    return f"{value:.3f}" + (f" ± {sd:.3f}" if sd is not None else "") + f" ({', '.join(notes)})"


def cell_text(text: str) -> str:
    """Text safe inside a markdown table cell: no row-breaking newlines or column pipes."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _fmt(value, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def summary_table(summaries: Sequence[dict]) -> list[str]:
    """The side-by-side markdown table of variants."""
    lines = ["| measure | " + " | ".join(s["variant"] for s in summaries) + " |",
             "|---|" + "---|" * len(summaries)]
    lines.append("| backend / prompt / k / hybrid | " + " | ".join(
        f"{s['backend']} / {s['prompt']} / {s['k'] or 'default'} / "
        f"{'default' if s['hybrid'] is None else s['hybrid']}" for s in summaries) + " |")
    for metric in SUMMARY_METRICS:
        if any(metric in s for s in summaries):
            lines.append(f"| {LABELS[metric]} | " + " | ".join(_cell(s, metric) for s in summaries) + " |")
    for key, label in (("abstained_unanswerable", "abstained on unanswerable"),
                       ("answered_answerable", "answered answerable")):
        lines.append(f"| {label} | " + " | ".join(_fmt(s[key]) for s in summaries) + " |")
    lines.append("| answers without a citation | " + " | ".join(
        f"{s.get('uncited', 0)} of {s.get('answered', 0)}" for s in summaries) + " |")
    lines.append("| markers supported by their passage | " + " | ".join(
        (f"{s['supported']} of {s['markers']} ({s['supported'] / s['markers']:.0%})" if s.get("markers") else "n/a")
        for s in summaries) + " |")
    lines.append("| quotes not found in their passage | " + " | ".join(
        str(s.get("unverified_quotes", 0)) for s in summaries) + " |")
    if any(s.get("checks") for s in summaries):
        lines.append("| LLM answer checks (accepted / retried / fallback / refused) | " + " | ".join(
            " / ".join(str(s.get("checks", {}).get(k, 0)) for k in ("accepted", "retried", "fallback", "refused"))
            if s["backend"] != "extractive" else "n/a" for s in summaries) + " |")
    lines.append("| latency p50 / p95 (ms) | " + " | ".join(
        f"{_fmt(s['latency_p50_ms'], '.1f')} / {_fmt(s['latency_p95_ms'], '.1f')}" for s in summaries) + " |")
    lines.append("| tokens in / out | " + " | ".join(f"{s['tokens_in']} / {s['tokens_out']}" for s in summaries)
                 + " |")
    lines.append("| estimated cost (USD) | " + " | ".join(
        ("free (local)" if s.get("local", s["backend"] == "extractive") else "no price in eval/prices.toml")
        if s["cost_usd"] is None else f"{s['cost_usd']:.4f}" for s in summaries) + " |")
    lines.append("| backend errors | " + " | ".join(str(s["errors"]) for s in summaries) + " |")
    return lines


def differences(rows: Sequence[dict], names: Sequence[str], limit: int = 30) -> list[str]:
    """Questions whose outcome differs between variants, worst regression against the first first."""
    by_question: dict[str, dict[str, list[float]]] = {}
    questions: dict[str, str] = {}
    grounded: dict[tuple[str, str], str] = {}  # (question, variant) -> "supported/markers cited, outcome"
    for row in rows:
        by_question.setdefault(row["question_id"], {}).setdefault(row["variant"], []).append(outcome(row))
        questions[row["question_id"]] = row["question"]
        g = row.get("grounding") or {}
        if g and not row.get("abstained") and not row.get("error"):
            check = g.get("outcome", "")
            grounded[(row["question_id"], row["variant"])] = (
                f"{g.get('supported', 0)}/{g.get('markers', 0)} supported"
                + (f", {check}" if check and check != "accepted" else ""))
    base = names[0]
    changed = []
    for qid, per in by_question.items():
        means = {v: sum(x) / len(x) for v, x in per.items()}
        if len(means) < 2 or max(means.values()) - min(means.values()) < 1e-9:
            continue
        worst = min((means.get(v, 0.0) - means.get(base, 0.0) for v in names[1:] if v in means), default=0.0)
        changed.append((worst, qid, means))
    changed.sort(key=lambda x: (x[0], x[1]))
    if not changed:
        return ["No question's outcome differs between the variants."]
    lines = [f"Outcome per question (0 = wrong abstain/answer decision, else evidence coverage; then the "
             f"answer's citation markers supported by their passage, and what the LLM checks did when it was "
             f"not to accept the first answer); change against `{base}`, worst first:", "",
             "| question | " + " | ".join(names) + " | change |", "|---|" + "---|" * (len(names) + 1)]
    for worst, qid, means in changed[:limit]:
        cells = " | ".join(_fmt(means.get(v)) + (f" ({grounded[qid, v]})" if (qid, v) in grounded else "")
                           for v in names)
        lines.append(f"| {cell_text(qid)}: {cell_text(questions[qid][:70])} | {cells} | {worst:+.3f} |")
    if len(changed) > limit:
        lines.append(f"\n…and {len(changed) - limit} more in results.jsonl.")
    return lines


def chart(summaries: Sequence[dict], path: Path) -> None:
    """A grouped bar chart of the main metrics per variant (PNG).

    Raises:
        MissingExtraError: matplotlib is not installed (the message names the ``eval`` extra).
    """
    from assistant.extras import import_error

    try:
        import matplotlib

        matplotlib.use("Agg")  # no display: write files only
        import matplotlib.pyplot as plt
    except ImportError as exc:  # `assistant eval` checked before running; this covers a direct call
        raise import_error("The evaluation chart needs matplotlib", "eval", exc) from exc
    import numpy as np

    metrics = [m for m in CHART_METRICS if any(s.get(m) is not None for s in summaries)]
    x = np.arange(len(metrics))
    width = 0.8 / max(len(summaries), 1)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(metrics) + 2), 4.2), dpi=110)
    for i, s in enumerate(summaries):
        values = [s.get(m) or 0.0 for m in metrics]
        bars = ax.bar(x + i * width - 0.4 + width / 2, values, width, label=s["variant"])
        ax.bar_label(bars, labels=[_fmt(s.get(m), ".2f") for m in metrics], fontsize=7, padding=2)
    ax.set_xticks(x, [LABELS[m].replace("ragas ", "").replace(" (", "\n(") for m in metrics], fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("mean over questions")
    ax.set_title("Variants compared")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(folder: Path, rows: Sequence[Row], summaries: Sequence[dict], variants: Sequence[Variant],
                 gold: Path, seconds: float) -> Path:
    """Write results.jsonl, summary.csv, report.md and chart.png into ``folder``; return report.md."""
    folder.mkdir(parents=True, exist_ok=True)
    dicts = [r.to_dict() for r in rows]
    with (folder / "results.jsonl").open("w", encoding="utf-8") as f:
        for d in dicts:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    with (folder / "summary.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(summaries[0]))
        writer.writeheader()
        writer.writerows(summaries)
    chart(summaries, folder / "chart.png")
    names = [v.name for v in variants]
    lines = [f"# Evaluation: {', '.join(names)}", "",
             f"Gold set `{gold}`: {len({r.question_id for r in rows})} questions; "
             f"{len(rows)} answers in {seconds:.1f} s.", ""]
    lines += [f"- **{v.name}**: {v.description or 'no description'}" for v in variants]
    lines += ["", "## Side by side", "", *summary_table(summaries), "", "![chart](chart.png)", ""]
    if any("followup_ok" in d["scores"] for d in dicts):
        from assistant.evaluation.conversations import follow_up_lines

        lines += ["## Follow-ups", "", *follow_up_lines(dicts)]
    lines += ["## Questions that differ", "", *differences(dicts, names), ""]
    unmeasured = {}
    for r in rows:
        for metric, reason in r.unmeasured.items():
            if reason != "abstained":
                unmeasured.setdefault((r.variant, metric, reason), 0)
                unmeasured[(r.variant, metric, reason)] += 1
    if unmeasured:
        lines += ["## Unmeasured scores", "", "| variant | metric | reason | questions |", "|---|---|---|---|"]
        lines += [f"| {cell_text(v)} | {m} | {cell_text(why)} | {n} |" for (v, m, why), n in sorted(unmeasured.items())]
        lines.append("")
    path = folder / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def load_run(folder: Path) -> tuple[list[dict], list[str]]:
    """A saved run's rows and its variant names (in order).

    Raises:
        ConfigError: Not a run folder.
    """
    path = folder / "results.jsonl"
    if not path.is_file():
        raise ConfigError(f"{folder} is not an evaluation run (no results.jsonl); runs are in eval/reports/.")
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return rows, list(dict.fromkeys(r["variant"] for r in rows))
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is damaged ({exc}); re-run that evaluation.") from None


def compare_runs(a: Path, b: Path) -> str:
    """Markdown diff of two saved runs: their summaries side by side and the questions that differ.

    Variants are matched by name; runs with one variant each are compared whatever their names.
    """
    rows_a, names_a = load_run(a)
    rows_b, names_b = load_run(b)
    common = [n for n in names_a if n in names_b]
    pairs = [(n, n) for n in common] or ([(names_a[0], names_b[0])] if len(names_a) == len(names_b) == 1 else [])
    if not pairs:
        raise ConfigError(f"The runs share no variant name ({', '.join(names_a)} vs {', '.join(names_b)}).")
    # runs are "A" and "B" (folder names may be the same, e.g. one run copied from another checkout)
    out = [f"# A = {a} vs B = {b}", ""]
    for name_a, name_b in pairs:
        label_a, label_b = f"A:{name_a}", f"B:{name_b}"
        side_a = [r for r in rows_a if r["variant"] == name_a]
        side_b = [r for r in rows_b if r["variant"] == name_b]
        # only questions both runs answered are compared
        common = {r["question_id"] for r in side_a} & {r["question_id"] for r in side_b}
        merged = [{**r, "variant": label_a} for r in side_a if r["question_id"] in common]
        merged += [{**r, "variant": label_b} for r in side_b if r["question_id"] in common]
        mean = {lab: sum(outcome(r) for r in merged if r["variant"] == lab) /
                max(1, sum(r["variant"] == lab for r in merged)) for lab in (label_a, label_b)}
        only = len({r["question_id"] for r in side_a} ^ {r["question_id"] for r in side_b})
        out += [f"## {name_a}" + (f" vs {name_b}" if name_b != name_a else ""), "",
                f"Mean outcome over the {len(common)} questions both runs have: {label_a} {mean[label_a]:.3f}, "
                f"{label_b} {mean[label_b]:.3f}" + (f" ({only} question(s) in only one run left out)" if only else ""),
                "", *differences(merged, [label_a, label_b]), ""]
    return "\n".join(out)
