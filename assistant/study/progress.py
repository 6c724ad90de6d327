"""Study progress: every quiz and practice answer, kept in SQLite, and a spaced-repetition schedule.

One file, ``<study dir>/progress.sqlite``. Each answer is a row (what was asked, its domain and
heading, right or wrong, when); each item also has a review card from the ``fsrs`` scheduler (a
right answer rated Good, a wrong one Again), so "review weak topics" asks the items that are due,
missed ones first; a practice question's text is kept with it, so a review can ask it again. A
database another process holds locked, or one that is damaged, is reported with what to do; it is
never reset or overwritten.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from assistant.errors import AssistantError

FILE = "progress.sqlite"
_SCHEMA = """
create table if not exists answers (
    item text not null, kind text not null, domain text not null, heading text not null,
    correct integer not null, answered_at text not null);
create table if not exists schedule (item text primary key, card text not null, due text not null);
create table if not exists practice (item text primary key, question text not null, answer text not null);
"""


class ProgressError(AssistantError):
    """The progress database can't be used; the message says why and what to do."""


@dataclass(frozen=True)
class DomainProgress:
    """One domain's numbers.

    Attributes:
        domain: Its name.
        answered: Questions answered in it.
        correct: Of those, right.
        last: When the last was answered (ISO time, UTC).
        due: Items of it due for review now.
    """

    domain: str
    answered: int
    correct: int
    last: str
    due: int

    @property
    def accuracy(self) -> float:
        """Share answered right."""
        return self.correct / self.answered if self.answered else 0.0


def _now() -> datetime:
    return datetime.now(UTC)


class Progress:
    """The progress database of one study folder."""

    def __init__(self, folder: Path) -> None:
        """Use ``folder``/progress.sqlite (made on first write)."""
        self.path = Path(folder) / FILE

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        if write:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ProgressError(f"Cannot create the study folder {self.path.parent} ({exc.strerror or exc}); "
                                    "set ASSISTANT_STUDY_DIR to a folder you can write.") from None
        elif not self.path.exists():
            yield None
            return
        try:
            db = sqlite3.connect(self.path, timeout=5)
        except sqlite3.Error as exc:
            raise ProgressError(f"Cannot open your study progress {self.path} ({exc}).") from None
        try:
            with db:
                if write:
                    db.executescript(_SCHEMA)
                yield db
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise ProgressError(f"Your study progress {self.path} is locked by another program; close it "
                                    "(or wait for it) and try again.") from None
            raise ProgressError(f"Your study progress {self.path} cannot be read ({exc}); nothing was changed. "
                                f"Move the file aside to start a new one.") from None
        except sqlite3.DatabaseError as exc:
            raise ProgressError(f"Your study progress {self.path} is damaged ({exc}); nothing was changed. "
                                f"Move the file aside (it is kept as it is) to start a new one.") from None
        finally:
            db.close()

    def record(self, item: str, kind: str, domain: str, heading: str, correct: bool,
               when: datetime | None = None, question: str = "", answer: str = "") -> datetime:
        """Store one answer and move the item's review date; returns when it is due next.

        Args:
            item: What was asked (a card id, a practice question id).
            kind: ``quiz`` or ``check``.
            domain: Its domain.
            heading: Its heading in the notes.
            correct: Answered right.
            when: The time of the answer (now).
            question: A practice question's text, kept so a review can ask it again.
            answer: Its answer key's letters ("B", "A,C"), when the student gave them.
        """
        from fsrs import Card, Rating, Scheduler

        when = when or _now()
        with self._db(write=True) as db:
            db.execute("insert into answers values (?, ?, ?, ?, ?, ?)",
                       (item, kind, domain, heading, int(correct), when.isoformat()))
            row = db.execute("select card from schedule where item = ?", (item,)).fetchone()
            card = Card.from_json(row[0]) if row else Card()
            card, _ = Scheduler(enable_fuzzing=False).review_card(card, Rating.Good if correct else Rating.Again,
                                                                 review_datetime=when)
            db.execute("insert or replace into schedule values (?, ?, ?)",
                       (item, card.to_json(), card.due.isoformat()))
            if question:
                db.execute("insert or replace into practice values (?, ?, ?)", (item, question, answer))
        return card.due

    def practice(self) -> dict[str, tuple[str, str]]:
        """Every practice question answered: its text and its answer key ("" when none was given), by item id."""
        with self._db() as db:
            if db is None:
                return {}
            try:
                rows = db.execute("select item, question, answer from practice").fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):  # a database from before practice questions were kept
                    return {}
                raise
        return {item: (question, answer) for item, question, answer in rows}

    def due(self, items: Sequence[str] | None = None, now: datetime | None = None) -> list[str]:
        """Items due for review at ``now``, the longest overdue first (only of ``items`` when given)."""
        with self._db() as db:
            if db is None:
                return []
            rows = db.execute("select item, due from schedule where due <= ? order by due",
                              ((now or _now()).isoformat(),)).fetchall()
        wanted = set(items) if items is not None else None
        return [item for item, _ in rows if wanted is None or item in wanted]

    def soonest(self, items: Sequence[str] | None = None) -> list[str]:
        """Every scheduled item, the soonest due first (a missed one is due within minutes): what to review."""
        with self._db() as db:
            if db is None:
                return []
            rows = db.execute("select item from schedule order by due").fetchall()
        wanted = set(items) if items is not None else None
        return [item for (item,) in rows if wanted is None or item in wanted]

    def by_domain(self, now: datetime | None = None) -> list[DomainProgress]:
        """Answers, accuracy, last answer and items due, per domain."""
        with self._db() as db:
            if db is None:
                return []
            rows = db.execute("select domain, count(*), sum(correct), max(answered_at) from answers "
                              "group by domain order by domain").fetchall()
            due = dict(db.execute(
                "select a.domain, count(distinct s.item) from schedule s join answers a on a.item = s.item "
                "where s.due <= ? group by a.domain", ((now or _now()).isoformat(),)).fetchall())
        return [DomainProgress(d, n, int(c or 0), last, int(due.get(d, 0))) for d, n, c, last in rows]

    def by_heading(self) -> list[tuple[str, str, int, int]]:
        """(domain, heading, answered, right) for every heading answered, the weakest first."""
        with self._db() as db:
            if db is None:
                return []
            return db.execute("select domain, heading, count(*), sum(correct) from answers group by domain, "
                              "heading order by 1.0 * sum(correct) / count(*), count(*) desc").fetchall()
