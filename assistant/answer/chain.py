"""The answer chain: standalone follow-up -> retrieve -> coverage gate -> compose -> check citations.

Why plain functions and not a langchain runnable pipeline: the chain streams text pieces and then
one typed `Answer` (with checked citations), and its middle step decides between two paths
(abstain, or compose); each step is a pure, separately tested function. A runnable wrapper would
add an import and a layer of indirection without removing any of this code. The chain does the
same steps for every backend: what differs lives in the composer (`compose`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from assistant.answer import followup
from assistant.answer.citations import MarkerAttacher, StreamRenumbering, marker_support, parse_citations
from assistant.answer.compose import Composer, Draft
from assistant.answer.gate import Gate, Vocabulary, evidence
from assistant.answer.prompting import load_prompt
from assistant.answer.validation import AnswerCheck, CheckRecord, check_answer, corrected_messages, is_refusal
from assistant.errors import BackendError, QuestionError
from assistant.schema import Answer, Retraction, RetrievedChunk

if TYPE_CHECKING:
    from assistant.embedding.encoders import Embedder

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
NOT_COVERED = "Your notes don't cover this."


@dataclass(frozen=True)
class ChainParts:
    """What one answer run needs from the assistant (all already loaded).

    Attributes:
        retrieve: ``(question, k, hybrid) -> passages``.
        vocabulary: What the notes contain (for the coverage gate).
        gate: The calibrated coverage gate.
        embedder: The question embedder (the gate weighs unknown words by it).
        fallback: The extractive composer, for an LLM answer that fails its checks (None: none).
    """

    retrieve: Callable[[str, int | None, bool | None], list[RetrievedChunk]]
    vocabulary: Vocabulary
    gate: Gate
    embedder: Embedder | None = None
    fallback: Callable[[], Composer] | None = None


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
) -> Iterator[str | Retraction | Answer]:
    """Answer one question, yielding text pieces as they are produced and then the `Answer`.

    An LLM's answer is checked (`validation.check_answer`) before it becomes the `Answer`: a
    refusal in its own words is an abstention; an answer that fails gets one retry and then the
    extractive answer (``ASSISTANT_ANSWER_CHECKS``). Text already streamed for a rejected attempt
    is withdrawn by a `Retraction` event; what follows it replaces it.

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
    spent = [0, 0]  # tokens in / out over every model call of this answer

    mode = getattr(composer, "checks", None)  # LLM composers: how their answers are checked
    attached = [0]  # markers attached while streaming (see `MarkerAttacher`)

    def cited(writer: Composer, draft: Draft) -> Iterator[str]:
        # an LLM's sentences left unmarked get the marker of the passage that plainly says them, as
        # they are written (checks off: shown as the model wrote them)
        if writer is not composer or mode in (None, "off"):
            yield from writer.stream(draft)
            return
        attacher = MarkerAttacher(draft.contexts)
        try:
            for piece in writer.stream(draft):
                if piece and (ready := attacher.feed(piece)):
                    yield ready
        except Exception:
            # the text written before a failure is the partial answer the reader keeps: pass it on
            rest, attacher.pending = attacher.pending, ""
            if rest:
                yield rest
            raise
        if rest := attacher.flush():
            yield rest
        attached[0] = attacher.added

    def write(writer: Composer, draft: Draft) -> Iterator[str]:
        """Stream one attempt (numbers shown as the final answer will show them); its text is returned."""
        pieces: list[str] = []
        shown = StreamRenumbering(len(draft.contexts))
        try:
            for piece in cited(writer, draft):
                if piece:
                    pieces.append(piece)
                    if settled := shown.feed(piece):
                        yield settled
        except BackendError as exc:
            exc.partial = shown.shown + shown.flush()
            raise
        except Exception as exc:  # a backend bug must still reach the user as one clear line
            raise BackendError(f"The {writer.name} backend failed: {exc}", shown.shown + shown.flush()) from exc
        if rest := shown.flush():
            yield rest
        raw = "".join(pieces).strip()
        used = writer.usage(draft, raw)
        spent[0] += used[0]
        spent[1] += used[1]
        return raw

    raw = yield from write(composer, draft)
    contexts = draft.contexts
    record: CheckRecord | None = None
    refused = not raw
    if mode:
        instructions = [m["content"] for m in draft.messages if m.get("role") == "system"]

        def checked(text: str) -> tuple[AnswerCheck, int]:
            return check_answer(text, standalone, contexts, instructions), attached[0]

        check, added = checked(raw)
        record = CheckRecord(markers=check.markers, supported=check.supported)
        refused = check.refusal
        if check.problems and mode == "off":
            record.outcome, record.problems = "unchecked", list(check.problems)
        elif check.problems:
            record.problems.append("; ".join(check.problems))
            if mode == "retry":
                yield Retraction(f"The {composer.name} model's answer was set aside ({'; '.join(check.problems)}); "
                                 "asking it once more.")
                again = replace(draft, messages=corrected_messages(draft.messages, check))
                raw = yield from write(composer, again)
                record.attempts = 2
                check, added = checked(raw)
                record.markers, record.supported, refused = check.markers, check.supported, check.refusal
                if check.problems:
                    record.problems.append("; ".join(check.problems))
                elif not check.refusal:
                    record.outcome = "retried"
            if check.problems and parts.fallback is not None:
                # never a marker-only or echoed answer shown as one: the notes' own lines, labelled
                yield Retraction(f"The {composer.name} model's answer did not pass the checks "
                                 f"({'; '.join(check.problems)}); quoting your notes instead.")
                extractive = parts.fallback()
                fallback = extractive.draft(standalone, hits, template)
                raw = yield from write(extractive, fallback)
                contexts = fallback.contexts
                record.outcome, refused = "fallback", not raw
                notices.append(f"The {composer.name} model's answer did not pass the checks "
                               f"({'; '.join(check.problems)}), so this is quoted from your notes.")
            elif check.problems:
                record.outcome = "failed"  # nothing to fall back to: shown, with its problems recorded
        if refused and raw:
            record.outcome = "refused"
        elif record.outcome in {"accepted", "retried"}:
            record.attached = added
    parsed = parse_citations(raw, contexts)
    if record is not None and record.outcome == "fallback":
        support = marker_support(raw, list(contexts))
        record.markers, record.supported = len(support), sum(support)
    # a writer that says the notes don't cover it has abstained (one definition: `validation.is_refusal`)
    if refused or (not mode and is_refusal(raw) and not parsed.citations):
        answer = abstain(contexts, *spent)
        answer.checks = record.to_dict() if record else {}
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
        tokens_in=spent[0], tokens_out=spent[1], dropped_markers=parsed.dropped,
        unverified_quotes=parsed.unverified_quotes, evidence=facts, checks=record.to_dict() if record else {},
    )
