"""Quiz stems phrased by a language model; the options and the answer stay the offline quiz's.

The offline quiz shows a card's definition and asks "Which term does this describe?". With a model,
the definition is rewritten as one exam-style question. The rewrite is used only when it passes
`check_stem`: one question, not too long, naming none of the options (no giveaway), saying nothing
the notes' line doesn't (its content words are the definition's) and keeping most of what it says.
Otherwise the offline stem stays, so every question is still grounded in the cited line.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from assistant.study.checker import VENDORS
from assistant.study.quiz import QuizQuestion, _spelled
from assistant.text.words import salient

SYSTEM = """You write exam practice questions from a student's notes.
- You get one definition from the notes and the answer options.
- Rewrite the definition as ONE question that asks which option it describes, the way a certification exam would.
- Use only what the definition says. Add no facts, numbers or names.
- Never name any of the options in the question.
- Reply with the question only, ending with a question mark."""

#: a phrased stem longer than this (words) is no longer a short exam question
MAX_WORDS = 60
#: at least this share of a phrased stem's content words must be the definition's own (nothing added)
GROUNDED = 0.6
#: and at least this share of the definition's content words must be in the stem (nothing important dropped)
KEEPS = 0.5
# words any exam question uses, whatever its topic: not content the stem adds
_ASKING = frozenset(salient(
    "which what option term service feature tool technique approach method describes described describe best "
    "fits fit matches match most likely should would could use used using team company engineer ml machine "
    "learning needs need wants want describe refers refer called question provides provide does do is"))


def _messages(question: QuizQuestion) -> list[dict[str, str]]:
    definition = question.stem.rsplit("\n\n", 1)[0].replace("____", "[the term]")
    options = "\n".join(f"{letter}. {text}" for letter, text in question.options.items())
    user = f"Definition from the notes:\n{definition}\n\nOptions:\n{options}\n"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


# a vendor's or platform's name before a product's own ("SageMaker Feature Store" is named by "feature store")
_VENDOR = VENDORS | {"sagemaker", "the"}


def _names(option: str) -> list[str]:
    """An option's name as written, without an aside in parentheses, and without its vendor's name."""
    core = re.sub(r"\s*\([^)]*\)", "", option).strip() or option
    words = core.split()
    while len(words) > 1 and words[0].lower() in _VENDOR:
        words = words[1:]
    return [n for n in dict.fromkeys([option, core, " ".join(words)]) if len(n) >= 2]


def check_stem(stem: str, question: QuizQuestion) -> str:
    """Why a phrased stem can't be used ("" when it can)."""
    words = stem.split()
    if not stem.endswith("?") or stem.count("?") != 1:
        return "not one question"
    if len(words) > MAX_WORDS:
        return f"longer than {MAX_WORDS} words"
    named = [text for text in question.options.values() if any(_spelled(n).search(stem) for n in _names(text))]
    if named:
        return f"names an option ({named[0]})"
    said = set(salient(question.card.definition)) - _ASKING
    content = [w for w in salient(stem) if w not in _ASKING]
    if content and sum(w in said for w in content) / len(content) < GROUNDED:
        return "says what the notes' line doesn't"
    if said and len(said & set(content)) / len(said) < KEEPS:
        return "leaves out most of the notes' line"
    return ""


def phrase_stems(questions: Sequence[QuizQuestion], composer) -> tuple[list[QuizQuestion], list[str]]:
    """Each question with a model-phrased stem where the phrasing passes `check_stem`.

    Args:
        questions: The offline quiz (`quiz.make_quiz`).
        composer: An LLM composer (``composer.backend`` is its `LLMBackend`; ``composer.name``).

    Returns:
        The questions (offline stem kept where the model's can't be used), and per question why it
        was kept ("" when the phrased stem is used).
    """
    from assistant.backends.base import GenerationRequest
    from assistant.errors import BackendError

    out, why = [], []
    for question in questions:
        try:
            reply = composer.backend.complete(GenerationRequest(_messages(question), 120, 0.0))
        except BackendError as exc:
            out.append(question)
            why.append(f"the {composer.name} model could not be asked ({exc})")
            continue
        stem = " ".join(re.sub(r"^\s*(?:question\s*:\s*)", "", reply.strip(), flags=re.I).split()).strip('"')
        problem = check_stem(stem, question)
        if problem:
            out.append(question)
            why.append(problem)
        else:
            out.append(dataclasses.replace(question, stem=stem, phrased_by=composer.name))
            why.append("")
    return out, why
