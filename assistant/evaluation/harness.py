"""The evaluation harness: every gold question through every variant, scored, summarized.

A *variant* is a backend × prompt × retrieval setting (k, hybrid). Variants are named files in
``eval/variants/*.toml`` (or, for a bare name, a prompt or backend of that name). Scores per
question: deterministic retrieval metrics, our evidence coverage, ragas' LLM-free metrics,
abstention, latency and tokens (and cost, for priced backends). A score that cannot be computed
is recorded as unmeasured with its reason and left out of the averages, with the count shown.
"""

from __future__ import annotations

import math
import re
import statistics
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assistant.errors import ConfigError
from assistant.evaluation.defects import without_html_tags
from assistant.evaluation.gold import GoldItem
from assistant.evaluation.retrieval_metrics import score_retrieval

VARIANTS_DIR = Path("eval/variants")
PRICES_FILE = Path("eval/prices.toml")
COVERED = 0.8  # an evidence passage is stated when this share of its topic words are in the answer
LLM_BACKENDS = {"bedrock", "openai", "llamacpp"}


@dataclass(frozen=True)
class Variant:
    """One configuration to evaluate.

    Attributes:
        name: Shown in reports.
        backend: Answer backend.
        prompt: Prompt template.
        k: Passages retrieved (None: the settings' default).
        hybrid: Keyword + dense retrieval (None: the settings' default).
        description: One line for the report.
        model: The backend's model (a Bedrock model id, the OpenAI-compatible server's model
            name, or a GGUF file for ``llamacpp``); None: the settings'.
        base_url: The OpenAI-compatible server's address (``openai`` only); None: the settings'.
    """

    name: str
    backend: str = "extractive"
    prompt: str = "default"
    k: int | None = None
    hybrid: bool | None = None
    description: str = ""
    model: str | None = None
    base_url: str | None = None

    def settings_overrides(self) -> dict[str, object]:
        """The `Settings` fields this variant replaces (its model and server)."""
        if self.base_url and self.backend != "openai":
            raise ConfigError(f"Variant {self.name!r}: base_url is for the openai backend, not {self.backend}.")
        field_of = {"bedrock": "bedrock_model", "openai": "openai_model", "llamacpp": "gguf"}
        out: dict[str, object] = {}
        if self.model:
            if self.backend not in field_of:
                raise ConfigError(f"Variant {self.name!r}: the {self.backend} backend has no model to choose.")
            out[field_of[self.backend]] = Path(self.model).expanduser() if self.backend == "llamacpp" else self.model
        if self.base_url:
            out["openai_base_url"] = self.base_url
        return out


def load_variants(spec: str, folder: Path = VARIANTS_DIR, prompts: Sequence[str] = (),
                  backends: Sequence[str] = ()) -> list[Variant]:
    """Variants from a comma-separated list of names or TOML paths.

    A name is a file ``<folder>/<name>.toml``, else a prompt template name (the default backend
    with that prompt), else a backend name. An entry ending in ``.toml`` (or holding a ``/``) is
    a file anywhere: a student's own variant, named by its file stem. A file's keys: backend,
    prompt, k, hybrid, description, model, base_url.

    Raises:
        ConfigError: An unknown name, a missing or malformed file, or a name given twice.
    """
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise ConfigError("No variants given: e.g. --variants default,short-answers")
    out: list[Variant] = []
    for name in names:
        given = Path(name).expanduser()
        if name.endswith(".toml") or "/" in name:
            if not given.is_file():
                raise ConfigError(f"No variant file {name}: give a TOML file (keys: {', '.join(VARIANT_KEYS)}).")
            out.append(_variant_file(given, prompts, backends))
            continue
        path = folder / f"{name}.toml"
        if path.is_file():
            out.append(_variant_file(path, prompts, backends))
        elif name in prompts:
            out.append(Variant(name, prompt=name, description=f"prompt {name}"))
        elif name in backends:
            out.append(Variant(name, backend=name, description=f"backend {name}"))
        else:
            files = sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []
            raise ConfigError(f"Unknown variant {name!r}; available: {', '.join(files + list(prompts))} "
                              f"(or a backend: {', '.join(backends)}), a path to a .toml file, "
                              f"or add {folder}/{name}.toml.")
    seen = [v.name for v in out]
    if len(set(seen)) != len(seen):
        twice = sorted({n for n in seen if seen.count(n) > 1})
        raise ConfigError(f"A variant is named twice in {spec!r}: {', '.join(twice)}.")
    return out


VARIANT_KEYS = ("backend", "prompt", "k", "hybrid", "description", "model", "base_url")


def _variant_file(path: Path, prompts: Sequence[str], backends: Sequence[str]) -> Variant:
    """One variant from its TOML file (named by the file's stem)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc}).") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    unknown = set(data) - set(VARIANT_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; use {', '.join(VARIANT_KEYS)}.")
    k, hybrid = data.get("k"), data.get("hybrid")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ConfigError(f"{path}: k must be a whole number of 1 or more.")
    if hybrid is not None and not isinstance(hybrid, bool):
        raise ConfigError(f"{path}: hybrid must be true or false (without quotes).")
    for key in ("model", "base_url", "description"):
        if key in data and not isinstance(data[key], str):
            raise ConfigError(f"{path}: {key} must be text in quotes.")
    backend = str(data.get("backend", "extractive")).strip().lower()
    if backends and backend not in backends:
        raise ConfigError(f"{path}: unknown backend {backend!r}; available: {', '.join(backends)}.")
    prompt = str(data.get("prompt", "default")).strip().lower()
    if prompts and prompt not in prompts:
        raise ConfigError(f"{path}: unknown prompt {prompt!r}; available: {', '.join(prompts)}.")
    variant = Variant(path.stem, backend, prompt, k, hybrid, str(data.get("description", "")),
                      (data.get("model") or "").strip() or None, (data.get("base_url") or "").strip() or None)
    try:
        variant.settings_overrides()
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return variant


def load_prices(path: Path = PRICES_FILE) -> dict[str, tuple[float, float]]:
    """Model id -> (USD per 1k input tokens, USD per 1k output tokens) from an editable TOML table."""
    if not path.is_file():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {model: (float(v["input_per_1k"]), float(v["output_per_1k"])) for model, v in data.items()}


def evidence_covered(evidence: str, answer: str) -> bool:
    """Whether an answer states a gold evidence passage (most of its content words are in it).

    Words as `evaluation.coverage` reads them, with code no backend shares. HTML tags in the
    evidence are not words to state: "<td>header</td><td>8 bytes</td>" is covered by an answer
    that quotes the row as "| header | 8 bytes |".
    """
    from assistant.evaluation.coverage import content_words, stated_share

    # tags in an evidence string copied from a note's source are not words an answer can state
    text = without_html_tags(evidence)
    return bool(content_words(text)) and stated_share(text, answer) >= COVERED


_MARKERS = re.compile(r"\[\d+(?:\s*[,;-]\s*\d+)*\]")


def answer_words(text: str, notice: str = "") -> int:
    """An answer's length as a reader counts it: words, without citation markers or the notice.

    A word is a whitespace-separated token holding a letter or digit, so markdown alone ("-",
    "|", "**", a table's "---|") is not a word, and ``[2]`` or ``[1, 3]`` markers are not either.
    The notice ("Quoted from your notes ...") is shown with every extractive answer, not part of it:
    it is left out when the text ends with it.

    Args:
        text: The answer text.
        notice: The answer's notice, if the text may end with it.
    """
    body = text.rstrip()
    if notice and body.endswith(notice.strip()):
        body = body[: len(body) - len(notice.strip())]
    from assistant.text.words import reader_words

    return reader_words(_MARKERS.sub(" ", body))


def word_spread(counts: Sequence[int]) -> tuple[float, float]:
    """Median and 90th percentile (nearest rank) of answer lengths in words; (0, 0) for none."""
    if not counts:
        return 0.0, 0.0
    return float(statistics.median(counts)), float(percentile(counts, 0.9))


@dataclass
class Row:
    """One question × variant × repeat: the answer and every score."""

    variant: str
    question_id: str
    question: str
    answerable: bool
    repeat: int
    answer: str = ""
    abstained: bool = False
    contexts: list[dict] = field(default_factory=list)
    citations: int = 0
    seconds: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None
    scores: dict[str, float | None] = field(default_factory=dict)
    unmeasured: dict[str, str] = field(default_factory=dict)
    error: str = ""
    grounding: dict = field(default_factory=dict)  # `grounding`: markers, supported, quotes, check outcome
    kind: str = ""  # a conversation turn's kind (`conversations.KINDS`); "" for a gold question
    standalone_question: str = ""  # what the question was answered as (a follow-up resolved)

    def to_dict(self) -> dict:
        """JSON-ready."""
        return asdict(self)


def grounding(answer) -> dict:
    """How an answer is grounded, measured the same way for every backend.

    ``markers``: citation markers in the text; ``supported``: those whose cited passage supports
    what they cite (`citations.marker_support`); ``unverified_quotes``: quotations not found in
    the passage they cite; ``outcome``: what the LLM answer checks did (`Answer.checks`: accepted,
    retried, fallback, refused, ...; "" for the extractive backend); ``attached``: markers the
    checks added.
    """
    from assistant.answer.citations import marker_support

    cited = [c.chunk for c in sorted(answer.citations, key=lambda c: c.n)]
    support = marker_support(answer.text, cited) if cited and not answer.abstained else []
    return {"markers": len(support), "supported": sum(support), "unverified_quotes": len(answer.unverified_quotes),
            "outcome": answer.checks.get("outcome", ""), "attached": answer.checks.get("attached", 0)}


def fill_row(row: Row, result, price: tuple[float, float] | None) -> None:
    """A row's answer fields from an `Answer` (text, passages, citations, grounding, tokens, cost)."""
    row.answer, row.abstained, row.seconds = result.text, result.abstained, result.seconds
    row.standalone_question = result.standalone_question
    row.contexts = [{"heading": c.heading, "source": c.source, "start_line": c.start_line, "end_line": c.end_line,
                     "place": c.place(), "text": c.text} for c in result.contexts]
    row.citations = len(result.citations)
    row.grounding = grounding(result)
    row.tokens_in, row.tokens_out = result.tokens_in, result.tokens_out
    if price:
        row.cost_usd = (row.tokens_in * price[0] + row.tokens_out * price[1]) / 1000


def score_row(row: Row, item: GoldItem, answer, k: int, scorers: Sequence) -> None:
    """Fill a row's scores from an answer.

    Retrieval metrics and evidence coverage need evidence (answerable items); answer metrics also
    need an answer (not abstained). Anything else is recorded as unmeasured with the reason.
    """
    contexts = [c.text for c in answer.contexts]
    if item.answerable:
        if item.evidence:
            r = score_retrieval(item.evidence, contexts, k)
            row.scores.update({"hit": r.hit, "evidence_recall": r.recall, "reciprocal_rank": r.reciprocal_rank})
        if answer.abstained:
            for name in ("evidence_coverage", *(n for scorer in scorers for n in scorer.names)):
                row.unmeasured[name] = "abstained"
        else:
            if item.evidence:
                row.scores["evidence_coverage"] = sum(evidence_covered(e, answer.text) for e in item.evidence) / len(
                    item.evidence)
            for scorer in scorers:
                measured_all = scorer.score(answer.text, item.reference, contexts, item.evidence,
                                            question=item.question)
                for name, measured in measured_all.items():
                    if measured.value is None:
                        row.unmeasured[name] = measured.reason
                    else:
                        row.scores[name] = measured.value
    row.scores["correct_abstention"] = float(answer.abstained != item.answerable)


def run(
    items: Sequence[GoldItem], variants: Sequence[Variant], answer: Callable, scorers: Sequence, default_k: int,
    repeat: int = 1, prices: dict[str, tuple[float, float]] | None = None,
    model_of: Callable[[Variant], str] = lambda v: v.backend, progress: Callable[[int], None] | None = None,
) -> list[Row]:
    """Answer and score every question with every variant.

    Args:
        items: Gold questions.
        variants: Configurations.
        answer: ``(question, variant) -> Answer`` (the assistant's answer method).
        scorers: ragas scorers (`NonLLMScorer`, `JudgeScorer`); empty to skip ragas metrics.
        default_k: k when a variant does not set one.
        repeat: Runs per question for LLM variants (the extractive backend is deterministic).
        prices: Model id -> USD per 1k tokens in / out.
        model_of: Variant -> the model id its backend uses (for prices).
        progress: Called with 1 after each answer.

    Returns:
        One row per question × variant × repeat. A backend error is recorded in the row.
    """
    from assistant.errors import AssistantError

    rows = []
    for variant in variants:
        runs = repeat if variant.backend in LLM_BACKENDS else 1
        for n in range(runs):
            for item in items:
                row = Row(variant.name, item.id, item.question, item.answerable, n)
                started = time.perf_counter()
                try:
                    result = answer(item.question, variant)
                except AssistantError as exc:
                    row.error = str(exc)
                    row.seconds = time.perf_counter() - started
                    row.unmeasured["all"] = f"backend error: {exc}"
                    rows.append(row)
                    if progress:
                        progress(1)
                    continue
                fill_row(row, result, (prices or {}).get(model_of(variant)))
                score_row(row, item, result, variant.k or default_k, scorers)
                rows.append(row)
                if progress:
                    progress(1)
    return rows


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 1])."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


SUMMARY_METRICS = ("hit", "evidence_recall", "reciprocal_rank", "evidence_coverage", "context_recall_nonllm",
                   "context_precision_nonllm", "string_similarity", "rouge_l", "semantic_similarity",
                   "faithfulness", "answer_relevancy", "context_precision", "context_recall", "factual_correctness",
                   "followup_ok", "followup_answered", "followup_abstained", "shift_clean")


def summarize(rows: Sequence[Row], variants: Sequence[Variant], local: Sequence[str] = ()) -> list[dict]:
    """One summary per variant.

    Metric means (with how many questions were measured, abstained or unmeasured), abstention,
    grounding (answers without a citation, markers supported, unverified quotes, what the LLM
    checks did), latency, tokens and cost. With repeats, means are averaged per run and shown as
    mean ± sd. ``local``: names of variants whose model runs on this machine (their cost is free).
    """
    out = []
    present = {m for r in rows for m in (*r.scores, *r.unmeasured)}
    metrics = [m for m in SUMMARY_METRICS if m in present or m in SUMMARY_METRICS[:9]]
    for variant in variants:
        mine = [r for r in rows if r.variant == variant.name]
        runs = sorted({r.repeat for r in mine})
        summary: dict = {"variant": variant.name, "backend": variant.backend, "prompt": variant.prompt,
                         "k": variant.k, "hybrid": variant.hybrid, "runs": len(runs),
                         "questions": len({r.question_id for r in mine}),
                         "errors": sum(bool(r.error) for r in mine)}
        for metric in metrics:
            per_run = []
            measured = unmeasured = abstained = 0
            for n in runs:
                values = [r.scores[metric] for r in mine if r.repeat == n and metric in r.scores]
                measured += len(values)
                unmeasured += sum(metric in r.unmeasured and r.unmeasured[metric] != "abstained"
                                  for r in mine if r.repeat == n)
                abstained += sum(r.unmeasured.get(metric) == "abstained" for r in mine if r.repeat == n)
                if values:
                    per_run.append(statistics.mean(values))
            summary[metric] = statistics.mean(per_run) if per_run else None
            summary[f"{metric}_sd"] = statistics.stdev(per_run) if len(per_run) > 1 else None
            summary[f"{metric}_n"] = measured
            summary[f"{metric}_unmeasured"] = unmeasured
            summary[f"{metric}_abstained"] = abstained
        unanswerable = [r for r in mine if not r.answerable and not r.error]
        answerable = [r for r in mine if r.answerable and not r.error]
        summary["abstained_unanswerable"] = (sum(r.abstained for r in unanswerable) / len(unanswerable)
                                             if unanswerable else None)
        summary["answered_answerable"] = (sum(not r.abstained for r in answerable) / len(answerable)
                                          if answerable else None)
        seconds = [r.seconds for r in mine if not r.error]
        summary["latency_p50_ms"] = percentile(seconds, 0.5) * 1000 if seconds else None
        summary["latency_p95_ms"] = percentile(seconds, 0.95) * 1000 if seconds else None
        summary["tokens_in"] = sum(r.tokens_in for r in mine)
        summary["tokens_out"] = sum(r.tokens_out for r in mine)
        costs = [r.cost_usd for r in mine if r.cost_usd is not None]
        summary["cost_usd"] = sum(costs) if costs else None
        summary["local"] = variant.backend == "extractive" or variant.name in local
        answered = [r for r in mine if not r.error and not r.abstained]
        summary["uncited"] = sum(r.citations == 0 for r in answered)
        summary["answered"] = len(answered)
        summary["markers"] = sum(r.grounding.get("markers", 0) for r in answered)
        summary["supported"] = sum(r.grounding.get("supported", 0) for r in answered)
        summary["unverified_quotes"] = sum(r.grounding.get("unverified_quotes", 0) for r in answered)
        outcomes: dict[str, int] = {}
        for r in mine:
            if r.grounding.get("outcome"):
                outcomes[r.grounding["outcome"]] = outcomes.get(r.grounding["outcome"], 0) + 1
        summary["checks"] = outcomes
        out.append(summary)
    return out
