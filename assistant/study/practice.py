"""Pasted practice questions: a stem and its labelled options, read from any common layout.

Students paste exam-style questions as they find them: options one per line ("A. ...", "A) ...",
"(A) ...", "a - ...", "A: ...") or all on one line ("A. foo B. bar C. baz D. qux"), sometimes with
"(Select TWO.)" in the stem. `parse_practice` reads all of these into a `PracticeQuestion`;
`looks_like_practice` tells the chat and ``assistant ask`` when a message is one. Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.errors import QuestionError

LETTERS = "ABCDEFGH"
_NUMBERS = {"two": 2, "three": 3, "2": 2, "3": 3}
# "(Select TWO.)", "choose 2", "select two answers"
_CHOOSE = re.compile(r"\b(?:select|choose|pick)\s+(two|three|2|3)\b", re.I)
# an option label at the start of a line: "A.", "A)", "(A)", "A:", "a -", "[A]"; then the option's text
_LINE = re.compile(r"^\s*(?:[-*•]\s+)?(?:\(([A-Ha-h])\)|\[([A-Ha-h])\]|([A-Ha-h])(?:[.):]|\s+[-–—]))\s+(\S.*)$")
# a label inside a line, for options written on one line: the same shapes, after a space
_INLINE = re.compile(r"(?:^|(?<=\s))(?:\(([A-Ha-h])\)|([A-Ha-h])[.)])\s+")


class PracticeError(QuestionError):
    """A pasted practice question can't be read; the message says what to fix."""


@dataclass(frozen=True)
class PracticeQuestion:
    """A practice question.

    Attributes:
        stem: The question without its options.
        options: Option text by letter (upper case), in order from A.
        choose: How many options to pick ("(Select TWO.)": 2).
    """

    stem: str
    options: dict[str, str]
    choose: int = 1


def choose_count(stem: str) -> int:
    """How many options a stem asks for: "(Select TWO.)" 2, else 1."""
    found = _CHOOSE.search(stem)
    return _NUMBERS[found.group(1).lower()] if found else 1


def _line_options(lines: list[str]) -> tuple[int, list[tuple[str, str]]] | None:
    """Options one per line: where they start and (letter, text) pairs, continuation lines joined."""
    start, found = None, []
    for n, line in enumerate(lines):
        match = _LINE.match(line)
        letter = next((g for g in match.groups()[:3] if g), "").upper() if match else ""
        expected = LETTERS[len(found)] if len(found) < len(LETTERS) else ""
        if match and (letter == expected or (found and letter in {f[0] for f in found})):
            start = n if start is None else start
            found.append((letter, match.group(4).strip()))
        elif found and line.strip() and not _LINE.match(line):
            found[-1] = (found[-1][0], f"{found[-1][1]} {line.strip()}")  # an option over two lines
        elif found and not line.strip():
            continue
        elif found:
            break
    return (start, found) if start is not None and len(found) >= 2 else None


def _inline_options(text: str) -> tuple[int, list[tuple[str, str]]] | None:
    """Options on one line: labels A, B, C ... in order, each followed by its text."""
    marks = []
    for match in _INLINE.finditer(text):
        letter = (match.group(1) or match.group(2)).upper()
        if letter == LETTERS[len(marks)] if len(marks) < len(LETTERS) else False:
            # the same case as the first label ("a)" ... "b)"), so an article "a." inside text is no label
            if not marks or (match.group(1) or match.group(2)).isupper() == marks[0][1]:
                marks.append((match, (match.group(1) or match.group(2)).isupper()))
    if len(marks) < 2:
        return None
    found = []
    for i, (match, _) in enumerate(marks):
        end = marks[i + 1][0].start() if i + 1 < len(marks) else len(text)
        found.append((LETTERS[i], text[match.end():end].strip(" ,;")))
    return marks[0][0].start(), found


def parse_practice(text: str) -> PracticeQuestion:
    """Read a pasted practice question.

    Args:
        text: The stem and its options, labelled A, B, C ... in any common layout.

    Returns:
        The question.

    Raises:
        PracticeError: Fewer than two labelled options, a label used twice, an option without
            text, two options saying the same, or a "select N" asking for as many options as
            there are.
    """
    text = text.replace("\r\n", "\n").strip()
    lines = text.split("\n")
    stem, pairs = "", []
    by_line = _line_options(lines)
    if by_line:
        start, pairs = by_line
        stem = "\n".join(lines[:start]).strip()
    else:
        for n, line in enumerate(lines):  # the options on one line (the stem's last line, or their own)
            inline = _inline_options(line)
            if inline and len(inline[1]) >= 2:
                at, pairs = inline
                stem = "\n".join([*lines[:n], line[:at]]).strip()
                break
    if len(pairs) < 2:
        raise PracticeError("A practice question needs at least two options, each labelled with a letter "
                            "(A. B. C. D., or A) B) C) D)), after the question.")
    letters = [letter for letter, _ in pairs]
    twice = sorted({letter for letter in letters if letters.count(letter) > 1})
    if twice:
        raise PracticeError(f"Option {twice[0]} appears twice: label each option once (A, B, C, ...).")
    empty = [letter for letter, option in pairs if not option]
    if empty:
        raise PracticeError(f"Option {empty[0]} has no text: write the option after its letter.")
    seen: dict[str, str] = {}
    for letter, option in pairs:
        key = " ".join(option.lower().split()).rstrip(".")
        if key in seen:
            raise PracticeError(f"Options {seen[key]} and {letter} say the same thing: each option must differ.")
        seen[key] = letter
    if not stem:
        raise PracticeError("The options have no question before them: paste the question, then its options.")
    choose = choose_count(stem)
    if choose >= len(pairs):
        raise PracticeError(f"The question asks for {choose} options but has only {len(pairs)}.")
    return PracticeQuestion(" ".join(stem.split()), dict(pairs), choose)


def looks_like_practice(text: str) -> bool:
    """Whether a message is a practice question with options (and not, say, a list in a question)."""
    try:
        question = parse_practice(text)
    except PracticeError:
        return False
    # a stem that asks ("Which ...?", "... meets these requirements?") and at least two real options
    return len(question.options) >= 2 and ("?" in question.stem or bool(re.search(
        r"\b(?:which|what|select|choose)\b", question.stem, re.I)))
