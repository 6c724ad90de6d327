"""Composers: how an answer is written from the passages, one strategy per kind of writer.

The chain (`chain.run`) does the same steps for every backend: make a follow-up standalone,
retrieve, ask the coverage gate, then hand the passages to a composer and check the citations in
what comes back. What differs is the composer:

* `ExtractiveComposer` (``extractive/``) quotes the notes' best lines: no model, no prompt messages,
  follow-ups made standalone by rule.
* `LLMComposer` (here) fills the prompt template with as many passages as the model's context
  holds and streams an `LLMBackend`'s answer; follow-ups are rewritten with the condense prompt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from assistant import tuning
from assistant.backends.base import GenerationRequest, LLMBackend
from assistant.errors import BackendError
from assistant.schema import RetrievedChunk

from .prompting import (
    CONDENSE,
    PromptTemplate,
    build_messages,
    fit_contexts,
    format_context,
    format_history,
    load_prompt,
)

log = logging.getLogger(__name__)


@dataclass
class Draft:
    """What a composer answers from, prepared before the first word is written.

    Attributes:
        question: The standalone question.
        contexts: The passages the answer may cite, numbered ``[1]..[n]`` in this order.
        template: The prompt template (its ``max_words`` bounds an extractive answer too).
        messages: The chat messages an LLM is sent (empty for the extractive composer).
        tokens_in: Prompt tokens as counted before sending (0 without a prompt).
        notice: A line shown with the answer about how it was made ("" for none).
    """

    question: str
    contexts: list[RetrievedChunk]
    template: PromptTemplate
    messages: list[dict[str, str]] = field(default_factory=list)
    tokens_in: int = 0
    notice: str = ""


@runtime_checkable
class Composer(Protocol):
    """Writes an answer from passages. Errors are `BackendError` (or subclasses).

    Attributes:
        name: The registry name the student picks (``extractive``, ``bedrock``, ...).
    """

    name: str

    def standalone(self, question: str, history: Sequence[Mapping[str, str]], by_rule: str) -> str:
        """A follow-up question rewritten to stand alone; ``by_rule`` is the rule-based rewrite."""
        ...

    def draft(self, question: str, hits: Sequence[RetrievedChunk], template: PromptTemplate) -> Draft:
        """Choose the passages (and build the prompt) for one answer."""
        ...

    def stream(self, draft: Draft) -> Iterator[str]:
        """Yield the answer's text in pieces as it is written."""
        ...

    def usage(self, draft: Draft, text: str) -> tuple[int, int]:
        """Tokens in and out of the answer just written (0, 0 without a model)."""
        ...

    def close(self) -> None:
        """Release models, connections or caches."""
        ...


def selected_lines(selector: Composer, question: str, hits: Sequence[RetrievedChunk],
                   template: PromptTemplate) -> tuple[list[RetrievedChunk], list[str]]:
    """The passages the extractive answer cites, in its order, and the lines of each it quotes.

    The lines are verbatim from the notes (each citation's quote), so the model reads the notes'
    own words under their heading, and a marker it writes still names a whole passage.
    """
    from .citations import parse_citations

    draft = selector.draft(question, hits, template)
    text = "".join(selector.stream(draft))
    if not text.strip():
        return [], []
    citations = parse_citations(text, list(draft.contexts)).citations
    return [c.chunk for c in citations], [c.quote or c.chunk.text for c in citations]


class LLMComposer:
    """An LLM writes the answer from a prompt holding the numbered passages."""

    def __init__(self, backend: LLMBackend, count_messages: Callable[[list[dict[str, str]]], int],
                 count_text: Callable[[str], int], max_tokens: int = 512, temperature: float = 0.0,
                 condense_tokens: int = 64, checks: str = "retry",
                 selector: Callable[[], Composer] | None = None) -> None:
        """Wrap a backend.

        Args:
            backend: The model client.
            count_messages: Token counter for chat prompts (trims passages to the context).
            count_text: Token counter for text (when the backend reports no counts).
            max_tokens: Most tokens an answer may take.
            temperature: Sampling temperature.
            condense_tokens: Most tokens a follow-up's rewrite may take.
            checks: How the chain checks this model's answers (`config.CHECK_MODES`).
            selector: The extractive composer, which picks the lines a ``passages: lines``
                template shows the model (None: such templates show whole passages).
        """
        self.backend = backend
        self.name = backend.name
        self.count_messages = count_messages
        self.count_text = count_text
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.condense_tokens = condense_tokens
        self.checks = checks
        self.selector = selector

    def standalone(self, question: str, history: Sequence[Mapping[str, str]], by_rule: str) -> str:
        """The condense prompt's rewrite; ``by_rule`` when the model fails or rambles."""
        messages = build_messages(load_prompt(CONDENSE), history=format_history(history or []), question=question)
        try:
            text = self.backend.complete(GenerationRequest(messages, self.condense_tokens, 0.0))
        except BackendError as exc:
            log.warning("condensing the follow-up failed (%s); using the rule-based rewrite", exc)
            return by_rule
        text = " ".join(text.strip().strip('"').split())
        if not text or len(text) > tuning.CONDENSE_GROWTH * len(by_rule) + tuning.CONDENSE_SLACK:
            return by_rule
        return text

    def draft(self, question: str, hits: Sequence[RetrievedChunk], template: PromptTemplate) -> Draft:
        """As many passages as fit the model's context with room for the answer, in a filled prompt.

        A ``passages: lines`` template shows only the lines the extractive selection picks for the
        question, numbered by the passages that hold them (`selected_lines`); whole passages when
        it picks none.
        """
        budget = (self.backend.context_tokens or 0) - self.max_tokens
        if template.passages == "lines" and self.selector is not None:
            contexts, texts = selected_lines(self.selector(), question, hits, template)
            if contexts:
                messages = build_messages(template, context=format_context(contexts, texts), question=question)
                if budget <= 0 or self.count_messages(messages) <= budget:
                    return Draft(question, contexts, template, messages, self.count_messages(messages))
        contexts, messages = fit_contexts(hits, template, question, budget, self.count_messages)
        return Draft(question, contexts, template, messages, self.count_messages(messages))

    def stream(self, draft: Draft) -> Iterator[str]:
        """The backend's answer as it streams."""
        return self.backend.stream(GenerationRequest(draft.messages, self.max_tokens, self.temperature))

    def usage(self, draft: Draft, text: str) -> tuple[int, int]:
        """The backend's own counts where it reports them, else counted here."""
        usage = self.backend.last_usage
        return usage.tokens_in or draft.tokens_in, usage.tokens_out or self.count_text(text)

    def close(self) -> None:
        """Close the backend."""
        self.backend.close()
