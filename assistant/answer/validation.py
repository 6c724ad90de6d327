"""Is an LLM's answer an answer? Checks on what came back, before it is shown as one.

A small local model may return only citation markers ("[2] vs [3]"), echo the question or the
prompt, use ``[n]`` as list numbers, cite passages that do not say what the sentence says, or
refuse in its own words while citing a source. The chain (`chain.run`) checks every LLM answer
here: a refusal becomes an abstention; anything else that fails gets one retry with a corrective
instruction (`corrective_instruction`), then the extractive answer, labelled as such.

Pure functions on the answer text and the passages: no model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.answer.citations import MARKER, cited_sentences, marker_support
from assistant.schema import RetrievedChunk
from assistant.text.sentences import Unit
from assistant.text.words import salient, tokens

# the model saying the notes don't have it, in the words small models use
_REFUSAL = re.compile(
    r"\b(?:(?:notes|passages|context|sources?|documents?|provided (?:text|information))\s+"
    r"(?:do not|don['’]t|does not|doesn['’]t|did not|didn['’]t)\s+(?:cover|answer|mention|contain|include|say|"
    r"provide|have)"
    r"|(?:no|not enough|insufficient) (?:relevant )?information (?:about|on|in|to)"
    r"|(?:i (?:do not|don['’]t) know|i (?:cannot|can['’]t|am unable to) (?:answer|find|tell))"
    r"|(?:is|are) not (?:covered|mentioned|discussed) in the (?:notes|passages|context))", re.I)
# "[1] Data drift ..." at the start of lines: markers used as list numbers, not as citations
_LIST_MARKER = re.compile(r"^\s*(?:[-*]\s*)?\[\d+\]", re.M)
#: fewer words than this outside the markers is no answer ("[2] vs [3]", "See [1].")
MIN_PROSE_WORDS = 4
#: a refusal with more words than this around it is an answer that also says what the notes lack
#: ("Your notes don't cover SHAP in depth, but Clarify detects bias before and after training [1].")
REFUSAL_WORDS = 6
#: share of markers whose passage must support their sentence
MIN_SUPPORTED = 0.5
# filler that says nothing about the notes ("see", "vs", "and")
_FILLER = frozenset({"see", "vs", "versus", "and", "or", "the", "a", "an", "in", "of", "is", "are", "passage",
                     "passages", "source", "sources", "answer", "cf"})


@dataclass(frozen=True)
class AnswerCheck:
    """What the checks found in one LLM answer.

    Attributes:
        problems: Why it is not shown as an answer, one short reason each ("" reasons: it passed).
        refusal: The model said the notes don't cover the question.
        markers: Citation markers that name a passage.
        supported: Of those, markers whose passage shares enough of its sentence's words.
        sides: For "X vs Y" with notes on more than one side: each side as the notes name it
            (the retry asks for a sentence on each).
    """

    problems: tuple[str, ...] = ()
    refusal: bool = False
    markers: int = 0
    supported: int = 0
    sides: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Shown as an answer as it is."""
        return not self.problems and not self.refusal


@dataclass
class CheckRecord:
    """How an LLM answer was checked, kept on the `Answer` (``Answer.checks``).

    Attributes:
        outcome: ``accepted`` (first answer passed), ``retried`` (the retry passed), ``fallback``
            (the extractive answer is shown), ``refused`` (the model's own refusal, shown as an
            abstention), ``unchecked`` (checks off: shown as it came, problems recorded), ``failed``
            (failed with no extractive answer to fall back to: shown, problems recorded).
        attempts: Model answers generated (1 or 2).
        problems: The reasons each rejected attempt failed.
        markers: Citation markers in the shown answer that name a passage.
        supported: Of those, the ones their passage supports.
        attached: Markers the checks added to sentences the model left unmarked
            (`citations.attach_markers`), included in ``markers``.
    """

    outcome: str = "accepted"
    attempts: int = 1
    problems: list[str] = field(default_factory=list)
    markers: int = 0
    supported: int = 0
    attached: int = 0

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return {"outcome": self.outcome, "attempts": self.attempts, "problems": list(self.problems),
                "markers": self.markers, "supported": self.supported, "attached": self.attached}


def _words(text: str) -> list[str]:
    return tokens(MARKER.sub(" ", text))


def _prose(text: str) -> list[str]:
    """The answer's words outside markers, without filler."""
    return [w for w in _words(text) if w not in _FILLER]


def is_refusal(text: str) -> bool:
    """The model says the notes don't cover the question, and says little else."""
    found = _REFUSAL.search(text)
    if not found:
        return False
    rest = text[: found.start()] + " " + text[found.end():]
    return len(_prose(rest)) <= REFUSAL_WORDS


def _echoes(text: str, source: str, least: int = 8) -> bool:
    """Whether ``text`` repeats a run of ``least`` words of ``source`` (the prompt's instructions)."""
    words = _words(source)
    if len(words) < least:
        return False
    runs = {" ".join(words[i:i + least]) for i in range(len(words) - least + 1)}
    said = _words(text)
    return any(" ".join(said[i:i + least]) in runs for i in range(len(said) - least + 1))


#: a clause has its sides swapped when a line about another side holds this share of what it says...
SWAP_HELD = 0.5
#: ...and this much more of it than the best line about the side it names
SWAP_MARGIN = 0.3
# the clauses of a comparison sentence ("X does a, while Y does b")
_CLAUSES = re.compile(r",?\s+(?:while|whereas)\s+|;\s+|,\s+but\s+", re.I)
# a claim about every side at once ("X and Y are both ...", "all three ...")
_JOINT = re.compile(r"\b(?:both|all|each)\b", re.I)


@dataclass(frozen=True)
class _Comparison:
    """A comparison question read against the passages the model was given."""

    titles: list[str]  # each side as the notes name it
    spellings: list[set[str]]  # each side's names an answer may use
    units: list[Unit]
    sides_of: list[list]  # per passage: per side, which of its lines are about that side


def _comparison(question: str, contexts: Sequence[RetrievedChunk]) -> _Comparison | None:
    from assistant.answer.extractive.sides import notes_name, side_lines, side_title
    from assistant.text.question import comparison_sides
    from assistant.text.sentences import passage_units

    sides = comparison_sides(question)
    if not sides:
        return None
    # each side as the notes name it ("xgboost vs random forest" is read as "xgboost forest" and
    # "random forest"; the notes say "XGBoost"), the way the extractive answer names its parts
    units = [u for i, chunk in enumerate(contexts) for u in passage_units(chunk, i)]
    topics = [contexts[u.chunk].heading_path[-1] if contexts[u.chunk].heading_path else "" for u in units]
    titles = [notes_name(side_title(side), question, units, topics) for side in sides]
    # an answer may name a side as the notes do, as the question did, or by its last two words
    # ("Model Monitor" for "Amazon SageMaker Model Monitor")
    spellings = [{title, side_title(side), *([" ".join(title.split()[-2:])] if len(title.split()) > 2 else [])}
                 for title, side in zip(titles, sides, strict=True)]
    sides_of = [side_lines(titles, [u for u in units if u.chunk == i],
                           [t for u, t in zip(units, topics, strict=True) if u.chunk == i])
                for i in range(len(contexts))]
    return _Comparison(titles, spellings, units, sides_of)


def swapped_sides(text: str, question: str, contexts: Sequence[RetrievedChunk],
                  comparison: _Comparison | None = None) -> int:
    """Clauses of a comparison answer that say of one side what the given notes say of another.

    For "X vs Y", what a clause naming one side says of it (its topic words without the sides'
    names) is looked for in the lines of the passages, by side (`extractive.sides.side_lines`):
    when a line about another side holds at least ``SWAP_HELD`` of it and ``SWAP_MARGIN`` more than
    any line about the named side, the sides are swapped ("concept drift can be due to changes in
    user behavior", which the notes say of data drift). A clause that says something of every
    side it names ("Avro and Parquet are both columnar") fails the same way for any one of them
    (the notes say "row-based" of Avro). Other clauses are left to marker support.
    """
    found = comparison or _comparison(question, contexts)
    if found is None:
        return 0
    titles, units, sides_of = found.titles, found.units, found.sides_of
    from assistant.answer.extractive.sides import says

    named_words = set(salient(" ".join(titles + [n for names in found.spellings for n in names])))
    swapped = 0

    def held(words: set[str], side: int) -> tuple[float, float]:
        """The best share of the words held by a line about the side, and by a line about another side."""
        own = other = 0.0
        # in every passage the model was given: a cited passage may not hold the other side's
        # words it borrowed ("user behavior" from the data drift line of another passage)
        for i, about in enumerate(sides_of):
            for j, unit in enumerate(u for u in units if u.chunk == i):
                share = len(words & set(salient(f"{unit.label} {unit.parent} {unit.text}"))) / len(words)
                if about[side][j]:
                    own = max(own, share)
                elif any(other_side[j] for other_side in about):
                    other = max(other, share)
        return own, other

    for sentence, numbers in cited_sentences(text):
        if not numbers:
            continue
        for clause in _CLAUSES.split(MARKER.sub(" ", sentence)):
            named = [i for i, names in enumerate(found.spellings) if any(says(n, clause) for n in names)]
            # what the clause says of its side, without the sides' own names
            words = set(salient(clause)) - named_words
            if len(words) < 3:
                continue
            if len(named) == 1:
                own, other = held(words, named[0])
                swapped += other >= SWAP_HELD and other - own >= SWAP_MARGIN
            elif len(named) > 1 and _JOINT.search(clause):
                # "Avro and Parquet are both columnar": said of every side named, held by one side's lines
                swapped += any(other >= SWAP_HELD and other - own >= SWAP_MARGIN
                               for own, other in (held(words, side) for side in named))
    return swapped


def missing_sides(text: str, question: str, contexts: Sequence[RetrievedChunk],
                  comparison: _Comparison | None = None) -> list[str]:
    """Sides of "X vs Y" that the given passages speak about but the answer never names.

    A one-sided comparison ("Concept drift is ..." and nothing on data drift, though a passage
    defines it) does not answer the question. A side the passages say nothing about is not asked
    for: the notes don't cover it.
    """
    from assistant.answer.extractive.sides import says

    found = comparison or _comparison(question, contexts)
    if found is None:
        return []
    said = MARKER.sub(" ", text)
    missing = []
    for n, title in enumerate(found.titles):
        in_notes = any(about[n].any() for about in found.sides_of)
        if in_notes and not any(says(name, said) for name in found.spellings[n]):
            missing.append(title)
    return missing


def check_answer(text: str, question: str, contexts: Sequence[RetrievedChunk],
                 instructions: Sequence[str] = ()) -> AnswerCheck:
    """Check one LLM answer against the question and the numbered passages.

    Args:
        text: The model's answer as it came (markers as the model numbered them).
        question: The standalone question.
        contexts: The passages, ``[1]..[n]`` in this order.
        instructions: The prompt's own text (system message, template lines) an answer must not echo.

    Returns:
        The problems found (none: show it), whether it is a refusal, and marker support counts.
    """
    text = text.strip()
    if not text:
        return AnswerCheck(problems=("the model returned nothing",))
    if is_refusal(text):
        return AnswerCheck(refusal=True)
    problems: list[str] = []
    prose = _prose(text)
    if len(prose) < MIN_PROSE_WORDS:
        problems.append("only citation markers, no sentences" if MARKER.search(text) else "no sentences")
    else:
        asked = set(_prose(question))
        if len(prose) <= len(asked) + 2 and set(prose) <= asked | {"what", "how", "why", "which", "when"}:
            problems.append("it repeats the question")
        elif any(_echoes(text, part) for part in instructions):
            problems.append("it repeats the instructions")
    support = marker_support(text, list(contexts))
    markers, supported = len(support), sum(support)
    comparison = _comparison(question, contexts)
    covered = [t for n, t in enumerate(comparison.titles) if any(a[n].any() for a in comparison.sides_of)] \
        if comparison else []
    if not problems:
        if not markers:
            problems.append("no citation markers")
        elif len(_LIST_MARKER.findall(text)) >= 2:
            problems.append("markers used as list numbers")
        elif supported < MIN_SUPPORTED * markers:
            problems.append(f"{markers - supported} of {markers} markers cite a passage that does not say it")
        elif swapped := swapped_sides(text, question, contexts, comparison):
            problems.append(f"{swapped} clause(s) say of one side what the notes say of the other")
        elif missing := missing_sides(text, question, contexts, comparison):
            problems.append(f"it says nothing about {' or '.join(missing)}")
    return AnswerCheck(problems=tuple(problems), markers=markers, supported=supported,
                       sides=tuple(covered) if len(covered) > 1 else ())


def corrected_messages(messages: Sequence[dict[str, str]], check: AnswerCheck) -> list[dict[str, str]]:
    """The prompt again, with what was wrong and what to write instead added to its last message.

    In the prompt, not as a new turn after the rejected answer: measured with a 1.5B model, a
    follow-up turn got the same answer back word for word (it repeated the question again); the
    instruction inside the question's message got an answer. A trailing "Answer:" stays last.
    """
    *rest, last = messages
    body, tail = last["content"], ""
    if found := re.search(r"\n(Answer:)\s*$", body):
        body, tail = body[: found.start()], "\n" + found.group(1)
    return [*rest, {**last, "content": f"{body}\n\n{corrective_instruction(check)}{tail}"}]


def corrective_instruction(check: AnswerCheck) -> str:
    """What is sent with the retry: what was wrong, and what to write instead."""
    hint = " Do not just repeat the question: answer it." if any("repeats" in p for p in check.problems) else ""
    if check.sides:
        # a comparison: one sentence per side, so neither is left out or given the other's words
        each = ", one on ".join(check.sides)
        shape = f"Write one sentence on {each}, then one on how they differ, using only the notes."
    else:
        shape = "Answer in 2 to 5 full sentences using only the notes."
    return (f"Your first answer could not be used ({'; '.join(check.problems)}).{hint} {shape} End each "
            "sentence with the number of the note it comes from, like [1]. Do not start lines with a number.")
