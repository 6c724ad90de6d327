"""The gold Q&A set (eval/gold.jsonl): loading with row-by-row validation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import AssistantError

FIELDS = {"id": str, "question": str, "reference": str, "evidence": list, "answerable": bool}
_KIND = {str: "a string", list: "a list", bool: "true or false"}


class GoldSetError(AssistantError):
    """A gold file row is malformed; the message names the line and the field."""


@dataclass(frozen=True)
class GoldItem:
    """One gold question.

    Attributes:
        id: Stable identifier.
        question: As a student would ask it.
        reference: A short correct answer from the notes.
        evidence: Verbatim substrings of the notes that support the answer.
        answerable: False when the notes do not cover the question.
    """

    id: str
    question: str
    reference: str
    evidence: tuple[str, ...]
    answerable: bool


def decode(data: bytes, path: Path) -> str:
    """The file's text; a byte that is not UTF-8 stops the run, naming its line like a malformed row does.

    A replacement character in a question or evidence string would quietly change what is scored.
    """
    try:
        return data.decode("utf-8-sig")  # with or without the BOM Windows editors write
    except UnicodeDecodeError as exc:
        before = exc.object[: exc.start].decode("utf-8")  # exc.object lacks the BOM, as exc.start does
        number = len((before + "x").splitlines())  # the same line numbers as the rows' errors below
        column = len((before + "x").splitlines()[-1])
        raise GoldSetError(
            f"{path} line {number}: not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at character {column}); "
            "re-save the file as UTF-8."
        ) from None


def json_rows(path: Path, what: str) -> Iterator[tuple[str, dict]]:
    """Each non-blank row of a JSONL file as (``"<path> line N"``, the row's object), validated as JSON.

    Args:
        path: The file.
        what: What the file holds, for the message when it cannot be read ("gold set").

    Raises:
        GoldSetError: The file cannot be read, is not UTF-8, or a row is not a JSON object.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise GoldSetError(f"Cannot read the {what} {path}: {exc.strerror or exc}.") from None
    for number, line in enumerate(decode(data, path).splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldSetError(f"{where}: not valid JSON ({exc.msg}).") from None
        if not isinstance(row, dict):
            raise GoldSetError(f"{where}: expected a JSON object.")
        yield where, row


def first_row_has(path: Path, field: str) -> bool:
    """Whether a JSONL file's first row is an object with ``field`` (which kind of set it is).

    A file that cannot be read or parsed is not of the kind: its loader says why (bytes that are not
    UTF-8 raise here already, naming the line).
    """
    try:
        text = decode(Path(path).read_bytes(), path)
    except OSError:
        return False
    for line in text.splitlines():
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                return False
            return isinstance(row, dict) and field in row
    return False


def load_gold(path: Path) -> list[GoldItem]:
    """Read and validate a gold JSONL file.

    Raises:
        GoldSetError: On the first bad row, naming its line number and field.
    """
    items: list[GoldItem] = []
    seen: set[str] = set()
    for where, row in json_rows(path, "gold set"):
        for name, kind in FIELDS.items():
            if name not in row:
                raise GoldSetError(f"{where}: missing field '{name}'.")
            if not isinstance(row[name], kind):
                raise GoldSetError(f"{where}: field '{name}' must be {_KIND.get(kind, kind.__name__)}.")
        if not row["question"].strip():
            raise GoldSetError(f"{where}: field 'question' is empty.")
        if not all(isinstance(e, str) and e.strip() for e in row["evidence"]):
            raise GoldSetError(f"{where}: field 'evidence' must be a list of non-empty strings.")
        if row["answerable"] and not row["evidence"]:
            raise GoldSetError(f"{where}: field 'evidence' is empty for an answerable question.")
        if row["id"] in seen:
            raise GoldSetError(f"{where}: field 'id' repeats {row['id']!r}.")
        seen.add(row["id"])
        items.append(GoldItem(row["id"], row["question"], row["reference"], tuple(row["evidence"]), row["answerable"]))
    if not items:
        raise GoldSetError(f"{path}: no questions.")
    return items
