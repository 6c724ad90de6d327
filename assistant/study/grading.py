"""A student's own answer to a practice question, graded: by their answer key, else by their notes' pick.

Pure functions; `core.StudyAssistant.record_check` files the grade and stores it.

A practice question's id hashes its stem and options (case and spacing aside), so the same question
pasted again is the same item in the progress database and its review schedule.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from assistant.study.practice import PracticeError, PracticeQuestion


def practice_id(question: PracticeQuestion) -> str:
    """A stable id for a practice question: ``check-`` and a hash of its stem and options."""
    parts = [question.stem, *(f"{letter}. {text}" for letter, text in sorted(question.options.items()))]
    key = "\n".join(" ".join(part.lower().split()) for part in parts)
    return "check-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def question_text(question: PracticeQuestion) -> str:
    """The question as a student pastes it (stem, then one option per line): what a review shows again."""
    return "\n".join([question.stem, *(f"{letter}. {text}" for letter, text in question.options.items())])


def letters(answer: str | None, question: PracticeQuestion, what: str = "your answer") -> tuple[str, ...]:
    """The option letters in ``answer`` ("B", "b", "A, C", "AC", "A and C"), checked against the question.

    Args:
        answer: What the student typed; None or blank: no letters.
        question: The question answered.
        what: How messages name the answer ("your answer", "the answer key").

    Raises:
        PracticeError: A letter the question has no option for, or not as many letters as it asks for.
    """
    if not answer or not answer.strip():
        return ()
    found = re.sub(r"\bAND\b|[\s,;/&+]", "", answer.upper())
    if not found.isalpha():
        raise PracticeError(f"Write {what} as option letters (like B, or A,C), not {answer.strip()!r}.")
    unknown = sorted(set(found) - set(question.options))
    if unknown:
        raise PracticeError(f"The question has no option {unknown[0]}: {what} must be one of "
                            f"{', '.join(question.options)}.")
    picked = tuple(sorted(set(found)))
    if len(picked) != question.choose:
        wanted = "one option" if question.choose == 1 else f"{question.choose} options"
        raise PracticeError(f"The question asks for {wanted}; {what} gives {len(picked)}.")
    return picked


@dataclass(frozen=True)
class Grade:
    """A practice answer, graded.

    Attributes:
        item: The question's id (`practice_id`).
        mine: The student's letters.
        right: The letters graded as right.
        by: ``key`` (the student's answer key) or ``notes`` (the checker's pick).
        notes_pick: The checker's pick (empty when the notes can't decide).
    """

    item: str
    mine: tuple[str, ...]
    right: tuple[str, ...]
    by: str
    notes_pick: tuple[str, ...]

    @property
    def correct(self) -> bool:
        """The student's letters are the right ones."""
        return self.mine == self.right

    @property
    def notes_disagree(self) -> bool:
        """An answer key was given and the notes point elsewhere (the notes may be missing something)."""
        return self.by == "key" and bool(self.notes_pick) and self.notes_pick != self.right

    def said(self, question: PracticeQuestion) -> tuple[str, str]:
        """What the student is told: right or not and by what; and, when the key and the notes differ, that."""
        right = "; ".join(f"{x}. {question.options[x]}" for x in self.right)
        against = "the answer key says" if self.by == "key" else "your notes point to"
        verdict = f"Right: {against} {right}." if self.correct else \
            f"Not quite: {against} {right}; you answered {', '.join(self.mine)}."
        note = (f"Your notes point to {', '.join(self.notes_pick)} instead: they may be missing or contradicting "
                "something here.") if self.notes_disagree else ""
        return verdict, note


def grade(question: PracticeQuestion, notes_pick: tuple[str, ...], mine: str, key: str | None = None) -> Grade:
    """Grade the student's answer against ``key`` when given, else against the notes' pick.

    Raises:
        PracticeError: No answer, a bad letter, or neither a key nor a pick to grade against (the
            notes can't decide this question: the message asks for the key).
    """
    chosen = letters(mine, question)
    if not chosen:
        raise PracticeError("Give your answer (an option letter) to record it.")
    keyed = letters(key, question, "the answer key")
    if keyed:
        return Grade(practice_id(question), chosen, keyed, "key", tuple(sorted(notes_pick)))
    if not notes_pick:
        raise PracticeError("Your notes can't decide this question, so there is nothing to grade your answer "
                            "against: give the answer key (if your practice source has one) to record it.")
    return Grade(practice_id(question), chosen, tuple(sorted(notes_pick)), "notes", tuple(sorted(notes_pick)))
