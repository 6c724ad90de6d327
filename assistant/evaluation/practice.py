"""Practice-question sets (eval/practice.jsonl): loading, scoring the checker, and its report.

A row: ``{"id", "question", "options": {"A": ..., ...}, "answer": "C" | ["A", "D"] | null}`` and any
other fields (``evidence``, ``kind``). ``answer`` null means the notes can't decide the question;
the checker should then say so rather than pick. The measures: accuracy on the questions the notes
decide (a pick equal to the answer; a "can't decide" counts as not right), wrong picks, and "can't
decide" on the questions they don't.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.evaluation.gold import GoldSetError, first_row_has, json_rows
from assistant.study.practice import PracticeError, PracticeQuestion, choose_count


@dataclass(frozen=True)
class PracticeItem:
    """One practice question of a set, with the answer the notes give (None: they can't decide)."""

    id: str
    question: PracticeQuestion
    answer: tuple[str, ...] | None
    row: dict


def is_practice_file(path: Path) -> bool:
    """Whether a JSONL file holds practice questions (its first row has ``options``)."""
    return first_row_has(path, "options")


def practice_question(row: dict, where: str) -> PracticeQuestion:
    """A row's question and options as a `PracticeQuestion` (the checker's input).

    Raises:
        GoldSetError: The question is missing or empty, or the options are not two or more
            non-empty strings keyed by letter.
    """
    stem, options = row.get("question"), row.get("options")
    if not isinstance(stem, str) or not stem.strip():
        raise GoldSetError(f"{where}: field 'question' must be a non-empty string.")
    if not isinstance(options, dict) or len(options) < 2 or not all(
            isinstance(k, str) and len(k.strip()) == 1 and k.strip().isalpha() and isinstance(v, str) and v.strip()
            for k, v in options.items()):
        raise GoldSetError(f"{where}: field 'options' must map two or more letters to option texts "
                           '({"A": "...", "B": "..."}).')
    clean = {k.strip().upper(): " ".join(v.split()) for k, v in options.items()}
    if len(clean) < len(options):
        raise GoldSetError(f"{where}: field 'options' repeats a letter.")
    choose = choose_count(stem)
    if choose >= len(clean):
        raise GoldSetError(f"{where}: the question asks for {choose} options but has only {len(clean)}.")
    return PracticeQuestion(" ".join(stem.split()), dict(sorted(clean.items())), choose)


def load_practice(path: Path, need_answers: bool = True) -> list[PracticeItem]:
    """Read and validate a practice JSONL file.

    Args:
        path: The file.
        need_answers: Every row must say its ``answer`` (a letter, a list of letters, or null):
            for scoring. ``assistant check FILE`` reads rows without one.

    Raises:
        GoldSetError: On the first bad row, naming its line number and field.
    """
    items: list[PracticeItem] = []
    seen: set[str] = set()
    for n, (where, row) in enumerate(json_rows(path, "practice set"), 1):
        question = practice_question(row, where)
        answer = row.get("answer", ...)
        if answer is ...:
            if need_answers:
                raise GoldSetError(f"{where}: missing field 'answer' (a letter, a list of letters, or null).")
            letters = None
        elif answer is None:
            letters = None
        else:
            letters = tuple(sorted([answer] if isinstance(answer, str) else answer)) \
                if isinstance(answer, (str, list)) else ()
            if not letters or any(not isinstance(a, str) or a not in question.options for a in letters):
                raise GoldSetError(f"{where}: field 'answer' must be an option letter, a list of them, or null.")
            if len(letters) != question.choose:
                raise GoldSetError(f"{where}: the question asks for {question.choose} option(s), "
                                   f"the answer has {len(letters)}.")
        key = str(row.get("id", f"row-{n}"))
        if key in seen:
            raise GoldSetError(f"{where}: field 'id' repeats {key!r}.")
        seen.add(key)
        items.append(PracticeItem(key, question, letters, row))
    if not items:
        raise GoldSetError(f"{path}: no questions.")
    return items


@dataclass(frozen=True)
class PracticeScore:
    """How the checker did on a practice set.

    Attributes:
        decided: Questions whose answer the notes determine.
        right: Of those, picked correctly.
        wrong: Of those, a wrong pick (a "can't decide" is neither right nor wrong).
        undecided: Questions the notes can't decide.
        declined: Of those, answered "can't decide".
        seconds_p50: Median time per question.
    """

    decided: int
    right: int
    wrong: int
    undecided: int
    declined: int
    seconds_p50: float

    @property
    def accuracy(self) -> float:
        """Share of the decided questions picked correctly."""
        return self.right / self.decided if self.decided else 0.0

    @property
    def decline_rate(self) -> float:
        """Share of the undecided questions answered "can't decide"."""
        return self.declined / self.undecided if self.undecided else 0.0

    def lines(self) -> list[str]:
        """The summary as markdown table rows."""
        return ["| measure | value |", "|---|---|",
                f"| picked correctly (notes decide) | {self.right} of {self.decided} ({self.accuracy:.1%}) |",
                f"| wrong picks (notes decide) | {self.wrong} |",
                f"| can't decide (notes don't) | {self.declined} of {self.undecided} ({self.decline_rate:.1%}) |",
                f"| seconds per question (median) | {self.seconds_p50:.2f} |"]


def score(items: Sequence[PracticeItem], check: Callable[[PracticeQuestion], object],
          progress: Callable[[int], object] | None = None) -> tuple[PracticeScore, list[dict]]:
    """Run the checker on every question and score it.

    Args:
        items: The practice set.
        check: The checker (`study.checker.check_practice` bound to an assistant): returns a
            `PracticeResult`.
        progress: Called with 1 after each question.

    Returns:
        The score, and one result row per question (the input row with ``pick``, ``right``,
        ``reason``, ``citations``, ``options``).
    """
    rows, seconds = [], []
    decided = right = wrong = undecided = declined = 0
    for item in items:
        try:
            result = check(item.question)
        except PracticeError as exc:
            raise GoldSetError(f"{item.id}: {exc}") from None
        picked = tuple(sorted(result.pick))
        seconds.append(result.seconds)
        if item.answer is None:
            undecided += 1
            declined += not picked
            ok = not picked
        else:
            decided += 1
            right += picked == item.answer
            wrong += bool(picked) and picked != item.answer
            ok = picked == item.answer
        rows.append({**item.row, **result.to_dict(), "right": ok})
        if progress:
            progress(1)
    return PracticeScore(decided, right, wrong, undecided, declined,
                         statistics.median(seconds) if seconds else 0.0), rows


def write_practice_report(folder: Path, summary: PracticeScore, rows: Sequence[dict], source: Path) -> Path:
    """Write results.jsonl and report.md (the summary, then every miss) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "results.jsonl", "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    lines = [f"# Practice questions: {source}", "", *summary.lines(), "", "## Misses", ""]
    for row in rows:
        if row["right"]:
            continue
        lines.append(f"- **{row.get('id', '')}** answer {row.get('answer')!r}, pick {row['pick']!r}"
                     + (f" ({row['reason']})" if row["reason"] else ""))
    (folder / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "report.md"
