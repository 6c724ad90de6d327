"""ragas metrics that need no LLM, run offline with our own embedding model.

Every metric is called on its own and guarded: an exception or a NaN becomes "unmeasured (reason)"
for that question, never a 0 and never hidden (ragas users' most common complaint is NaN scores
silently averaged in). Telemetry is turned off before ragas is imported.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

NON_LLM_METRICS = (
    "context_recall_nonllm",
    "context_precision_nonllm",
    "string_similarity",
    "rouge_l",
    "semantic_similarity",
)


@dataclass(frozen=True)
class Measured:
    """One metric on one question: a value in [0, 1], or why there is none."""

    value: float | None
    reason: str = ""


NEEDS = "The ragas metrics need the evaluation packages"  # + what is missing and the pip command (`eval` extra)


def _ragas():
    """The ragas classes we use; a missing package is a `MissingExtraError` naming the ``eval`` extra.

    `assistant eval` checks for every package before it runs (`assistant.extras.require_eval`); this
    covers the scorers built directly (tests, notebooks).
    """
    from assistant.extras import RAGAS, import_error, require

    require(NEEDS, "eval", RAGAS)
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # ragas reads it when imported
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import ragas.metrics as legacy
            from ragas import SingleTurnSample
            from ragas.embeddings.base import BaseRagasEmbedding
            from ragas.metrics.collections import NonLLMStringSimilarity, RougeScore, SemanticSimilarity
    except ImportError as exc:  # ragas is there but one of its own dependencies is not
        raise import_error(NEEDS, "eval", exc) from exc
    return legacy, SingleTurnSample, BaseRagasEmbedding, NonLLMStringSimilarity, RougeScore, SemanticSimilarity


def context_lines(contexts: Sequence[str]) -> list[str]:
    """The non-blank lines of retrieved passages, in rank order, without list and heading marks.

    Bold and code marks stay: the evidence strings are verbatim text of the notes, marks included.
    """
    from assistant.text.markdown import without_line_marks

    return [bare for text in contexts for line in text.splitlines() if (bare := without_line_marks(line).strip())]


class NonLLMScorer:
    """Scores answers with ragas' LLM-free metrics; built once per evaluation run."""

    names = NON_LLM_METRICS

    def __init__(self, embed: Callable[[list[str]], Sequence[Sequence[float]]]) -> None:
        """Set up the metrics.

        Args:
            embed: Our embedding model (texts -> vectors), used for SemanticSimilarity so
                nothing defaults to OpenAI and nothing is downloaded.
        """
        from assistant.extras import NON_LLM, require

        legacy, self._sample, base, string_similarity, rouge, semantic = _ragas()
        # ragas imports these inside its metrics (rouge_score in every score call, where a failure would only
        # mark every question unmeasured), so they are checked here, once, with the extra to install
        require("ragas' LLM-free metrics need rouge-score and rapidfuzz", "eval", NON_LLM)

        class LocalEmbeddings(base):
            """ragas embeddings backed by the assistant's own (offline) model."""

            def embed_text(self, text: str, **kwargs) -> list[float]:
                return [float(x) for x in embed([text])[0]]

            async def aembed_text(self, text: str, **kwargs) -> list[float]:
                return self.embed_text(text)

        self.context_recall = legacy.NonLLMContextRecall()
        self.context_precision = legacy.NonLLMContextPrecisionWithReference()
        self.string_similarity = string_similarity()
        self.rouge = rouge(rouge_type="rougeL", mode="fmeasure")
        self.semantic = semantic(embeddings=LocalEmbeddings())

    @staticmethod
    def _guard(call: Callable[[], float]) -> Measured:
        try:
            value = float(call())
        except Exception as exc:  # noqa: BLE001 - any failure is reported, not hidden
            return Measured(None, f"{type(exc).__name__}: {str(exc)[:120]}")
        if math.isnan(value) or math.isinf(value):
            return Measured(None, "NaN")
        return Measured(min(1.0, max(0.0, value)))

    def score(self, answer: str, reference: str, contexts: Sequence[str],
              evidence: Sequence[str], question: str = "") -> dict[str, Measured]:
        """Every LLM-free metric for one answered question.

        ragas' non-LLM context metrics count a reference context as found when one retrieved
        context is about 0.5 similar to it or more, by edit distance. The gold evidence strings are
        a line of the notes or part of one, while a passage runs to 5-40 lines, so no whole passage
        ever qualifies (gold: recall 0.005, precision 0.009); the passages are compared line by
        line instead, in their ranked order. Recall then says which evidence was retrieved;
        precision becomes average precision over lines, which a passage's other lines lower (it
        favours short passages: compare it between variants with similar passages).

        Args:
            answer: The answer text.
            reference: The gold answer.
            contexts: Retrieved passage texts, best first.
            evidence: Gold evidence passages (the reference contexts).
            question: The question (unused by these metrics).
        """
        lines = context_lines(contexts)
        sample = self._sample(user_input="", response=answer, reference=reference,
                              retrieved_contexts=lines, reference_contexts=list(evidence))
        return {
            "context_recall_nonllm": self._guard(lambda: self.context_recall.single_turn_score(sample)),
            "context_precision_nonllm": self._guard(lambda: self.context_precision.single_turn_score(sample)),
            "string_similarity": self._guard(
                lambda: self.string_similarity.score(reference=reference, response=answer).value),
            "rouge_l": self._guard(lambda: self.rouge.score(reference=reference, response=answer).value),
            "semantic_similarity": self._guard(
                lambda: self.semantic.score(reference=reference, response=answer).value),
        }


JUDGE_METRICS = ("faithfulness", "answer_relevancy", "context_precision", "context_recall", "factual_correctness")


def judge_model(name: str, settings):
    """The langchain chat model a judge name stands for, built from the settings (never a default).

    Args:
        name: ``openai`` (ASSISTANT_OPENAI_BASE_URL / _MODEL, e.g. a local server) or ``bedrock``
            (ASSISTANT_BEDROCK_MODEL in ASSISTANT_BEDROCK_REGION, boto3's credentials).
        settings: The frozen settings.

    Raises:
        ConfigError: Unknown judge, or its settings are missing.
        MissingExtraError: The judge's langchain package is not installed (the message names the extra).
    """
    from assistant.errors import ConfigError
    from assistant.extras import JUDGES, require

    for extra, modules in JUDGES.get(name, {}).items():
        require(f"The {name} judge needs langchain's {name} chat model", extra, modules)
    if name == "openai":
        if not (settings.openai_base_url and settings.openai_model):
            raise ConfigError("The openai judge needs ASSISTANT_OPENAI_BASE_URL and ASSISTANT_OPENAI_MODEL.")
        from langchain_openai import ChatOpenAI

        # langchain-openai sends the cap only as max_completion_tokens, which llama.cpp's server ignores
        # (measured: 423 tokens for a cap of 16, docs/decisions/0005-llm-clients.md); max_tokens too
        return ChatOpenAI(base_url=settings.openai_base_url, model=settings.openai_model, temperature=0,
                          api_key=settings.openai_api_key or "not-needed", timeout=settings.llm_timeout,
                          max_retries=1, max_tokens=settings.max_tokens,
                          extra_body={"max_tokens": settings.max_tokens})
    if name == "bedrock":
        from langchain_aws import ChatBedrockConverse

        return ChatBedrockConverse(model=settings.bedrock_model, region_name=settings.bedrock_region,
                                   temperature=0, max_tokens=settings.max_tokens)
    raise ConfigError(f"Unknown judge {name!r}; available: bedrock, openai.")


class JudgeScorer:
    """ragas' LLM-judged metrics with an explicit judge model and our local embeddings."""

    names = JUDGE_METRICS

    def __init__(self, chat_model, embed: Callable[[list[str]], Sequence[Sequence[float]]],
                 metrics: Sequence[str] = JUDGE_METRICS, timeout: float = 120.0) -> None:
        """Wire the metrics to the judge: ``llm=`` and ``embeddings=`` are always passed explicitly.

        Args:
            chat_model: A langchain chat model (see `judge_model`).
            embed: Our embedding model (texts -> vectors), for answer relevancy.
            metrics: Which of `JUDGE_METRICS` to run.
            timeout: Seconds per metric per question.
        """
        legacy, self._sample, *_ = _ragas()  # first: it reports a missing ragas before the imports below
        from langchain_core.embeddings import Embeddings
        from ragas.embeddings import LangchainEmbeddingsWrapper
        from ragas.llms import LangchainLLMWrapper
        from ragas.run_config import RunConfig

        class LocalEmbeddings(Embeddings):
            def embed_documents(self, texts: list[str]) -> list[list[float]]:
                return [[float(x) for x in v] for v in embed(list(texts))]

            def embed_query(self, text: str) -> list[float]:
                return self.embed_documents([text])[0]

        # few retries: a judge that cannot produce ragas' JSON will not learn on the tenth try
        config = RunConfig(timeout=int(timeout), max_retries=1, max_wait=2)
        llm = LangchainLLMWrapper(chat_model, run_config=config)
        embeddings = LangchainEmbeddingsWrapper(LocalEmbeddings(), run_config=config)
        build = {
            "faithfulness": lambda: legacy.Faithfulness(llm=llm),
            "answer_relevancy": lambda: legacy.ResponseRelevancy(llm=llm, embeddings=embeddings),
            "context_precision": lambda: legacy.LLMContextPrecisionWithReference(llm=llm),
            "context_recall": lambda: legacy.LLMContextRecall(llm=llm),
            "factual_correctness": lambda: legacy.FactualCorrectness(llm=llm),
        }
        self.names = tuple(m for m in JUDGE_METRICS if m in metrics)
        self.metrics = {name: build[name]() for name in self.names}
        for metric in self.metrics.values():
            metric.init(config)

    def prompt_tokens(self, count: Callable[[str], int]) -> dict[str, int]:
        """Per metric, the tokens of its longest prompt with empty inputs (instructions and examples).

        What a judge call costs before the question's own passages, reference and answer are put in.
        """
        out = {}
        for name, metric in self.metrics.items():
            sizes = [0]
            for prompt in metric.get_prompts().values():
                fields = prompt.input_model.model_fields
                empty = prompt.input_model.model_construct(**{
                    k: [] if "list" in str(f.annotation).lower() else "" for k, f in fields.items()})
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        sizes.append(count(prompt.to_string(empty)))
                except Exception:  # noqa: BLE001 - a prompt that cannot render empty is not counted
                    log.debug("prompt of %s not measured", name, exc_info=True)
            out[name] = max(sizes)
        return out

    def score(self, answer: str, reference: str, contexts: Sequence[str], evidence: Sequence[str],
              question: str = "") -> dict[str, Measured]:
        """Every configured judged metric for one answered question (failures become unmeasured)."""
        sample = self._sample(user_input=question, response=answer, reference=reference,
                              retrieved_contexts=list(contexts), reference_contexts=list(evidence))
        return {name: NonLLMScorer._guard(lambda m=metric: m.single_turn_score(sample))
                for name, metric in self.metrics.items()}
