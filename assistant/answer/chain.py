"""The answer chain: standalone follow-up -> retrieve -> coverage gate -> compose -> check citations.

Why plain functions and not a langchain runnable pipeline: the chain streams text pieces and then
one typed `Answer` (with checked citations), and its middle step decides between two paths
(abstain, or compose); each step is a pure, separately tested function. A runnable wrapper would
add an import and a layer of indirection without removing any of this code. The chain does the
same steps for every backend: what differs lives in the composer (`compose`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.answer import followup
from assistant.answer.citations import StreamRenumbering, parse_citations
from assistant.answer.compose import Composer
from assistant.answer.gate import Gate, Vocabulary, evidence
from assistant.answer.prompting import load_prompt
from assistant.errors import BackendError, QuestionError
from assistant.schema import Answer, RetrievedChunk

if TYPE_CHECKING:
    from assistant.embedding.encoders import Embedder

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
NOT_COVERED = "Your notes don't cover this."
_LLM_ABSTAINS = re.compile(r"notes (?:do not|don['’]t|does not|doesn['’]t) (?:cover|answer|mention)", re.I)


@dataclass(frozen=True)
class ChainParts:
    """What one answer run needs from the assistant (all already loaded).

    Attributes:
        retrieve: ``(question, k, hybrid) -> passages``.
        vocabulary: What the notes contain (for the coverage gate).
        gate: The calibrated coverage gate.
        embedder: The question embedder (the gate weighs unknown words by it).
    """

    retrieve: Callable[[str, int | None, bool | None], list[RetrievedChunk]]
    vocabulary: Vocabulary
    gate: Gate
    embedder: Embedder | None = None


def clean_question(question: str) -> tuple[str, str]:
    """The question trimmed, and a notice if it had to be shortened.

    Raises:
        QuestionError: Empty or whitespace only.
    """
    text = " ".join((question or "").split())
    if not text:
        raise QuestionError("The question is empty: type what you want to know about your notes.")
    if len(text) > MAX_QUESTION_CHARS:
        cut = text[:MAX_QUESTION_CHARS].rsplit(" ", 1)[0]
        return cut, (f"Your question was {len(text):,} characters; only the first {len(cut):,} were used.")
    return text, ""


def abstention_text(hits: Sequence[RetrievedChunk], limit: int = 3) -> tuple[str, list[str]]:
    """The "not covered" message and the closest topics the notes do cover (distinct headings)."""
    topics: list[str] = []
    places: list[str] = []
    for hit in hits:
        topic = hit.heading or hit.source
        if topic not in topics:
            topics.append(topic)
            places.append(f"- **{topic}** ({hit.place()})")
        if len(topics) == limit:
            break
    if not topics:
        return NOT_COVERED, []
    return NOT_COVERED + " The closest topics they do cover:\n" + "\n".join(places), topics


def standalone_question(question: str, history: Sequence[Mapping[str, str]] | None, composer: Composer,
                        notes: followup.Lexicon | None = None) -> str:
    """The question to retrieve with and answer: resolved against the conversation if it is a follow-up.

    The rule-based resolution (`followup.resolve`) needs no model; an LLM composer may rewrite
    better with the condense prompt, and falls back to the rule. A question with a subject of its
    own is answered as asked (a topic shift's "unrelated, but" is dropped).

    Args:
        question: As asked (trimmed).
        history: Earlier messages, oldest first.
        composer: The answer writer (its ``standalone`` rewrites a follow-up).
        notes: What the notes contain (keeps their names whole when resolving).
    """
    resolution = followup.resolve(question, history, notes)
    if not resolution.follow_up:
        return resolution.standalone
    return composer.standalone(question, history or [], resolution.standalone)


def run(
    question: str,
    composer: Composer,
    prompt_name: str,
    parts: ChainParts,
    history: Sequence[Mapping[str, str]] | None = None,
    k: int | None = None,
    hybrid: bool | None = None,
) -> Iterator[str | Answer]:
    """Answer one question, yielding text pieces as they are produced and then the `Answer`.

    Args:
        question: As the student typed it.
        composer: The answer writer (extractive, or an LLM backend's).
        prompt_name: Prompt template name (checked even for the extractive composer).
        parts: Retrieval and the gate.
        history: Earlier messages (``role``/``content``), oldest first.
        k: Passages to retrieve (None: the settings' default).
        hybrid: Keyword + dense retrieval (None: the settings' default).

    Raises:
        QuestionError: Empty question.
        ConfigError: Unknown prompt.
        BackendError: The backend failed; ``partial`` holds the text streamed before.
    """
    started = time.perf_counter()
    text, notice = clean_question(question)
    template = load_prompt(prompt_name)
    standalone = standalone_question(text, history, composer, parts.vocabulary)
    hits = parts.retrieve(standalone, k, hybrid)
    features = evidence(standalone, hits, parts.vocabulary, parts.embedder)
    probability = parts.gate.probability(features)
    facts = {**{n: round(v, 4) for n, v in features.items()}, "p_covered": round(probability, 4),
             "threshold": parts.gate.threshold}
    if parts.gate.source != "shipped":  # the student's own calibration decided (say so in the output)
        facts["gate"] = parts.gate.source
    notices = [notice] if notice else []

    def abstain(contexts: list[RetrievedChunk], tokens_in: int = 0, tokens_out: int = 0) -> Answer:
        message, topics = abstention_text(hits)
        return Answer(text=message, abstained=True, backend=composer.name, prompt=template.name,
                      seconds=time.perf_counter() - started, question=text, standalone_question=standalone,
                      contexts=contexts, closest_topics=topics, notice=" ".join(notices),
                      tokens_in=tokens_in, tokens_out=tokens_out, evidence=facts)

    if not hits or probability < parts.gate.threshold:
        answer = abstain(list(hits))
        yield answer.text
        yield answer
        return

    draft = composer.draft(standalone, hits, template)
    if draft.notice:
        notices.append(draft.notice)
    pieces: list[str] = []
    # the streamed text shows the numbers the final answer will (1..n in order of first use)
    shown = StreamRenumbering(len(draft.contexts))
    try:
        for piece in composer.stream(draft):
            if piece:
                pieces.append(piece)
                if settled := shown.feed(piece):
                    yield settled
    except BackendError as exc:
        exc.partial = shown.shown + shown.flush()
        raise
    except Exception as exc:  # a backend bug must still reach the user as one clear line
        raise BackendError(f"The {composer.name} backend failed: {exc}", shown.shown + shown.flush()) from exc
    if rest := shown.flush():
        yield rest
    raw = "".join(pieces).strip()
    tokens_in, tokens_out = composer.usage(draft, raw)
    contexts = draft.contexts
    parsed = parse_citations(raw, contexts)
    # an LLM that says the notes don't cover it, and cites nothing, has abstained
    if not raw or (_LLM_ABSTAINS.search(raw) and not parsed.citations):
        answer = abstain(contexts, tokens_in, tokens_out)
        if not raw:
            yield answer.text
        else:  # its own words are on screen already; add the closest topics
            yield "\n\n" + answer.text.removeprefix(NOT_COVERED).strip()
        yield answer
        return
    yield Answer(
        text=parsed.text, citations=parsed.citations, abstained=False, backend=composer.name,
        prompt=template.name, seconds=time.perf_counter() - started, question=text,
        standalone_question=standalone, contexts=contexts, notice=" ".join(notices),
        tokens_in=tokens_in, tokens_out=tokens_out, dropped_markers=parsed.dropped,
        unverified_quotes=parsed.unverified_quotes, evidence=facts,
    )
