"""Quiz questions made offline from the flashcards: "Which term does this describe?" with sibling distractors.

A question shows one card's definition (the term itself masked where the definition repeats it)
and asks which term it describes. The three distractors are terms of the same family: cards under
the same heading first (of those, the same table's rows or columns first), then the same parent
heading, then the same domain; commands only with commands; never the same term twice, never one
whose definition says the same or whose name is a part or the whole of the answer's (a second right
answer), never one named inside the definition shown (a giveaway). Seeded, so a quiz can be taken
again as it was.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.study.cards import Card
from assistant.text.words import jaccard, salient

LETTERS = "ABCD"
#: a distractor whose definition shares this much of the right one's words would be a second right answer
SAME_DEFINITION = 0.6
#: a distractor whose name fits the definition shown this much better (cosine) than the right name does is
#: a second right answer, or makes the question unfair ("VPC Endpoints" for what the notes say of PrivateLink)
CLOSER_BY = 0.2

#: ``(text, names) -> cosine of each name with the text``: how well names fit a definition (`closeness`)
Closeness = Callable[[str, Sequence[str]], Sequence[float]]


def closeness(embedder) -> Closeness:
    """How close names are in meaning to a text, with the notes' embedding model (`core.StudyAssistant.embedder`)."""

    def fit(text: str, names: Sequence[str]) -> list[float]:
        vectors = np.asarray(embedder.embed([text, *names]), dtype=float)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-9)
        return list(vectors[1:] @ vectors[0])

    return fit


def _nested(name: str, other: str) -> bool:
    """One name inside the other ("Lambda" and "API Gateway + Lambda"): a part is not a wrong answer for the whole."""
    a, b = set(salient(name)), set(salient(other))
    return bool(a and b) and (a <= b or b <= a)


@dataclass(frozen=True)
class QuizQuestion:
    """One generated question.

    Attributes:
        stem: The question (the definition, then "Which term ...?").
        options: Option text by letter.
        answer: The right letter.
        card: The card it was made from (its definition is the explanation; its place the citation).
        distractors: The cards the wrong options come from.
        phrased_by: The model that phrased the stem (`llm_quiz`), or "" for the notes' own line.
    """

    stem: str
    options: dict[str, str]
    answer: str
    card: Card
    distractors: tuple[Card, ...]
    phrased_by: str = ""

    def to_dict(self) -> dict:
        """A JSON-ready dict (the shape `assistant check` and practice sets read, plus the citation)."""
        out = {"id": self.card.id, "question": self.stem, "options": dict(self.options), "answer": self.answer,
               "domain": self.card.domain, "heading": " › ".join(self.card.heading_path[-2:]),
               "explanation": self.card.definition, "source": self.card.place}
        return {**out, "phrased_by": self.phrased_by} if self.phrased_by else out


def quiz_term(card: Card) -> str:
    """What a question asks for: the thing a card is about.

    "Grid Search" for "Grid Search — Trade-offs"; no list number ("2. Amazon Rekognition").
    """
    return re.sub(r"^\s*\d+[.)]\s*", "", card.term.split(" — ")[0]).strip()


def _spelled(name: str) -> re.Pattern:
    """A name in any spacing or hyphenation: "Auto Scaling" finds "auto-scaling" and "autoscaling"."""
    words = re.findall(r"[A-Za-z0-9]+", name)
    return re.compile(r"(?<![A-Za-z0-9])" + r"[\s\-_/]*".join(map(re.escape, words)) + r"(?![A-Za-z0-9])", re.I)


def _masked(card: Card) -> str:
    """The definition with the term blanked out where it repeats it."""
    text = card.definition
    for name in sorted({card.term, quiz_term(card)}, key=len, reverse=True):
        if len(name) > 2:
            text = _spelled(name).sub("____", text)
    return text


def _family(card: Card, other: Card) -> int:
    """How close two cards sit: 3 the same heading, 2 the same parent heading, 1 the same domain, 0 none."""
    if other.source == card.source and other.heading_path == card.heading_path:
        return 3
    if other.heading_path[:-1] and other.heading_path[:-1] == card.heading_path[:-1]:
        return 2
    return 1 if other.domain == card.domain else 0


def make_question(card: Card, cards: Sequence[Card], rng: random.Random,
                  fit: Closeness | None = None) -> QuizQuestion | None:
    """A question on one card, or None when its family has too few clean distractors.

    ``fit`` (`closeness`), when given, also leaves out a distractor whose name fits the definition
    shown `CLOSER_BY` better than the right name.
    """
    shown = _masked(card)
    said = set(salient(card.definition))
    right = quiz_term(card)
    taken = {right.lower()}
    candidates = []
    for other in cards:
        name = quiz_term(other).lower()
        if name in taken or other.id == card.id or _family(card, other) == 0:
            continue
        if (other.kind == "command") != (card.kind == "command"):
            continue  # a command among names (or a name among commands) is trivially wrong
        if jaccard(said, set(salient(other.definition))) >= SAME_DEFINITION or _nested(right, quiz_term(other)):
            continue  # says the same, or names a part or the whole of it: a second right answer
        if _spelled(quiz_term(other)).search(shown):
            continue  # named in the definition shown: a giveaway
        taken.add(name)
        candidates.append(other)
    rng.shuffle(candidates)
    # stable: shuffled within each family level; the other rows or columns of the same table first
    candidates.sort(key=lambda other: (-_family(card, other), not (card.group and other.group == card.group)))
    wrong = _fair(shown, right, candidates, fit) if fit else candidates[:3]
    if len(wrong) < 3:
        return None
    order = [card, *wrong]
    rng.shuffle(order)
    options = {letter: quiz_term(c) for letter, c in zip(LETTERS, order, strict=True)}
    answer = LETTERS[order.index(card)]
    stem = f"{shown}\n\nWhich term does this describe?"
    return QuizQuestion(stem, options, answer, card, tuple(wrong))


def _fair(shown: str, right: str, candidates: Sequence[Card], fit: Closeness) -> list[Card]:
    """The first three candidates whose names don't fit the definition shown clearly better than the right name."""
    out: list[Card] = []
    for start in range(0, len(candidates), 6):  # a few at a time: three are usually enough
        batch = candidates[start:start + 6]
        scores = fit(shown, [right, *(quiz_term(c) for c in batch)])
        out += [c for c, score in zip(batch, scores[1:], strict=True) if score - scores[0] <= CLOSER_BY]
        if len(out) >= 3:
            break
    return out[:3]


def make_quiz(cards: Sequence[Card], count: int = 10, seed: int | None = None,
              domain: str | None = None, first: Sequence[str] = (), fit: Closeness | None = None) -> list[QuizQuestion]:
    """Up to ``count`` questions on cards of the domain (all when None), without repeating a term.

    Args:
        cards: Every card of the notes (distractors may come from outside the domain's filter).
        count: How many questions.
        seed: For the same quiz again.
        domain: Only cards whose domain contains this text (case-insensitive).
        first: Card ids to ask first, in this order (the ones due for review).
        fit: `closeness` with the notes' embedding model, to leave out distractors that fit the
            definition better than the right answer (see `make_question`).
    """
    rng = random.Random(seed)
    pool = [c for c in cards if not domain or domain.lower() in c.domain.lower()]
    rng.shuffle(pool)
    order = {card_id: n for n, card_id in enumerate(first)}
    pool.sort(key=lambda c: order.get(c.id, len(order)))  # stable: the rest stay shuffled
    out, asked = [], set()
    for card in pool:
        if len(out) >= count:
            break
        if quiz_term(card).lower() in asked or "____" == _masked(card).strip():
            continue
        question = make_question(card, cards, rng, fit)
        if question is not None:
            out.append(question)
            asked.add(quiz_term(card).lower())
    return out


def audit(questions: Sequence[QuizQuestion], fit: Closeness | None = None) -> dict[str, int]:
    """Counts of what a good question must not have (each should be 0), over generated questions.

    ``not_four_distinct``: options not four different terms; ``answer_not_card``: the right option is
    not the card's term; ``outside_family``: a distractor from another domain; ``second_right``: a
    distractor whose definition says what the card's does, or whose name is a part or the whole of
    the right one; ``giveaway``: an option's term inside the definition shown; ``fits_better`` (with
    ``fit``): a distractor whose name fits the definition `CLOSER_BY` better than the right one.
    """
    out = {"questions": len(questions), "not_four_distinct": 0, "answer_not_card": 0, "outside_family": 0,
           "second_right": 0, "giveaway": 0, "fits_better": 0}
    for q in questions:
        terms = [t.lower() for t in q.options.values()]
        out["not_four_distinct"] += len(set(terms)) != 4
        out["answer_not_card"] += q.options[q.answer] != quiz_term(q.card)
        out["outside_family"] += any(_family(q.card, d) == 0 for d in q.distractors)
        said = set(salient(q.card.definition))
        out["second_right"] += any(jaccard(said, set(salient(d.definition))) >= SAME_DEFINITION or
                                   _nested(quiz_term(q.card), quiz_term(d)) for d in q.distractors)
        shown = q.stem.rsplit("\n\n", 1)[0]
        out["giveaway"] += any(_spelled(t).search(shown) for t in q.options.values())
        if fit is not None:
            scores = fit(shown, [quiz_term(q.card), *(quiz_term(d) for d in q.distractors)])
            out["fits_better"] += any(score - scores[0] > CLOSER_BY for score in scores[1:])
    return out
