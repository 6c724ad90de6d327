"""ragas metrics that need no LLM, run offline with our own embedding model.

Every metric is called on its own and guarded: an exception or a NaN becomes "unmeasured (reason)"
for that question, never a 0 and never hidden (ragas users' most common complaint is NaN scores
silently averaged in). Telemetry is turned off before ragas is imported.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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


def _ragas():
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # ragas reads it when imported
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import ragas.metrics as legacy
        from ragas import SingleTurnSample
        from ragas.embeddings.base import BaseRagasEmbedding
        from ragas.metrics.collections import NonLLMStringSimilarity, RougeScore, SemanticSimilarity
    return legacy, SingleTurnSample, BaseRagasEmbedding, NonLLMStringSimilarity, RougeScore, SemanticSimilarity


class NonLLMScorer:
    """Scores answers with ragas' LLM-free metrics; built once per evaluation run."""

    names = NON_LLM_METRICS

    def __init__(self, embed: Callable[[list[str]], Sequence[Sequence[float]]]) -> None:
        """Set up the metrics.

        Args:
            embed: Our embedding model (texts -> vectors), used for SemanticSimilarity so
                nothing defaults to OpenAI and nothing is downloaded.
        """
        legacy, self._sample, base, string_similarity, rouge, semantic = _ragas()

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
              evidence: Sequence[str]) -> dict[str, Measured]:
        """Every LLM-free metric for one answered question.

        Args:
            answer: The answer text.
            reference: The gold answer.
            contexts: Retrieved passage texts.
            evidence: Gold evidence passages (the reference contexts).
        """
        sample = self._sample(user_input="", response=answer, reference=reference,
                              retrieved_contexts=list(contexts), reference_contexts=list(evidence))
        return {
            "context_recall_nonllm": self._guard(lambda: self.context_recall.single_turn_score(sample)),
            "context_precision_nonllm": self._guard(lambda: self.context_precision.single_turn_score(sample)),
            "string_similarity": self._guard(
                lambda: self.string_similarity.score(reference=reference, response=answer).value),
            "rouge_l": self._guard(lambda: self.rouge.score(reference=reference, response=answer).value),
            "semantic_similarity": self._guard(
                lambda: self.semantic.score(reference=reference, response=answer).value),
        }
