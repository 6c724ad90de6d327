"""Conversation sets (e.g. eval/followups.jsonl): follow-up questions scored in their conversation.

One row per conversation: ``{"id": ..., "turns": [turn, ...]}`` with two or more turns, each
``{"question": ..., "answerable": true|false, "evidence": [...]}`` like a gold item (``reference``
optional), plus optionally ``kind`` (a label for the report: ``pronoun``, ``ellipsis``,
``comparison``, ``shift``, ``after-abstention``, ``own-subject``) and ``must_not_carry``: words of
the earlier subject that a topic shift's standalone question must not contain.

Every turn is asked with the conversation so far (the assistant's own earlier answers included),
and scored like a gold question (`harness.score_row`). A follow-up (any turn after the first)
also gets ``followup_ok``: right when an answerable one is answered stating all its gold evidence
(`harness.evidence_covered`, the harness's evidence-coverage measure), an unanswerable one
abstains, and a topic shift's standalone question carries none of its ``must_not_carry`` words.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.evaluation.gold import GoldItem, GoldSetError, first_row_has, json_rows
from assistant.evaluation.harness import LLM_BACKENDS, Row, Variant, evidence_covered, fill_row, score_row

KINDS = ("first", "pronoun", "ellipsis", "comparison", "shift", "after-abstention", "own-subject")


@dataclass(frozen=True)
class Turn:
    """One question of a conversation.

    Attributes:
        item: The question as a gold item (id ``<conversation>#<n>``, n from 1).
        kind: What sort of follow-up it is (``first`` for the opening question).
        must_not_carry: Words of the earlier subject its standalone question must not contain.
    """

    item: GoldItem
    kind: str = "first"
    must_not_carry: tuple[str, ...] = ()


@dataclass(frozen=True)
class Conversation:
    """A conversation of two or more turns, asked in order."""

    id: str
    turns: tuple[Turn, ...]


def is_conversation_file(path: Path) -> bool:
    """Whether a JSONL file holds conversations (its first row has ``turns``) rather than gold questions."""
    return first_row_has(path, "turns")


def _turn(raw: object, where: str, conversation: str, n: int) -> Turn:
    if not isinstance(raw, dict):
        raise GoldSetError(f"{where}: turn {n} must be a JSON object.")
    question, answerable, evidence = raw.get("question"), raw.get("answerable"), raw.get("evidence", [])
    if not isinstance(question, str) or not question.strip():
        raise GoldSetError(f"{where}: turn {n} needs a non-empty 'question'.")
    if not isinstance(answerable, bool):
        raise GoldSetError(f"{where}: turn {n}: field 'answerable' must be true or false.")
    if not isinstance(evidence, list) or not all(isinstance(e, str) and e.strip() for e in evidence):
        raise GoldSetError(f"{where}: turn {n}: field 'evidence' must be a list of non-empty strings.")
    if answerable and not evidence:
        raise GoldSetError(f"{where}: turn {n}: field 'evidence' is empty for an answerable question.")
    kind = raw.get("kind", "first" if n == 1 else "pronoun")
    if kind not in KINDS:
        raise GoldSetError(f"{where}: turn {n}: unknown kind {kind!r}; use one of {', '.join(KINDS)}.")
    carry = raw.get("must_not_carry", [])
    if not isinstance(carry, list) or not all(isinstance(c, str) and c.strip() for c in carry):
        raise GoldSetError(f"{where}: turn {n}: field 'must_not_carry' must be a list of non-empty strings.")
    item = GoldItem(f"{conversation}#{n}", question, str(raw.get("reference", "")), tuple(evidence), answerable)
    return Turn(item, kind, tuple(carry))


def load_conversations(path: Path) -> list[Conversation]:
    """Read and validate a conversation set.

    Raises:
        GoldSetError: On the first bad row, naming its line number and field.
    """
    out: list[Conversation] = []
    seen: set[str] = set()
    for where, row in json_rows(path, "conversation set"):
        cid, turns = row.get("id"), row.get("turns")
        if not isinstance(cid, str) or not cid.strip():
            raise GoldSetError(f"{where}: field 'id' must be a non-empty string.")
        if cid in seen:
            raise GoldSetError(f"{where}: field 'id' repeats {cid!r}.")
        seen.add(cid)
        if not isinstance(turns, list) or len(turns) < 2:
            raise GoldSetError(f"{where}: field 'turns' must be a list of at least two turns.")
        out.append(Conversation(cid, tuple(_turn(t, where, cid, n) for n, t in enumerate(turns, 1))))
    if not out:
        raise GoldSetError(f"{path}: no conversations.")
    return out


def carries(question: str, words: Sequence[str]) -> list[str]:
    """Which of ``words`` (whole words or phrases, any case) a standalone question still contains."""
    return [w for w in words if re.search(rf"(?<![\w-]){re.escape(w.lower())}(?![\w-])", question.lower())]


def score_follow_up(row: Row, turn: Turn, answer) -> None:
    """Add a follow-up's own scores to its row (after `harness.score_row`).

    ``followup_answered`` (answerable follow-ups): answered, stating every gold evidence passage;
    ``followup_abstained`` (unanswerable ones): abstained; ``shift_clean`` (topic shifts): the
    standalone question carries none of the old subject's words; ``followup_ok``: all that apply.
    """
    item = turn.item
    if item.answerable:
        stated = not answer.abstained and all(evidence_covered(e, answer.text) for e in item.evidence)
        row.scores["followup_answered"] = float(stated)
        ok = stated
    else:
        row.scores["followup_abstained"] = float(answer.abstained)
        ok = answer.abstained
    if turn.must_not_carry:
        clean = not carries(answer.standalone_question or item.question, turn.must_not_carry)
        row.scores["shift_clean"] = float(clean)
        ok = ok and clean
    row.scores["followup_ok"] = float(ok)


def run(
    conversations: Sequence[Conversation], variants: Sequence[Variant], answer: Callable, scorers: Sequence,
    default_k: int, repeat: int = 1, prices: dict[str, tuple[float, float]] | None = None,
    model_of: Callable[[Variant], str] = lambda v: v.backend, progress: Callable[[int], None] | None = None,
) -> list[Row]:
    """Ask every conversation, turn by turn, with every variant; one scored row per turn.

    Args:
        conversations: The set.
        variants: Configurations.
        answer: ``(question, history, variant) -> Answer``; history is the conversation so far
            (``role``/``content`` messages, the assistant's own answers included).
        scorers: ragas scorers (empty to skip ragas metrics).
        default_k: k when a variant does not set one.
        repeat: Runs per conversation for LLM variants.
        prices: Model id -> USD per 1k tokens in / out.
        model_of: Variant -> the model id its backend uses (for prices).
        progress: Called with 1 after each answer.

    Returns:
        Rows with ``question_id`` ``<conversation>#<turn>``; a backend error ends its conversation
        (later turns would be asked after a turn that has no answer).
    """
    from assistant.errors import AssistantError

    rows: list[Row] = []
    for variant in variants:
        runs = repeat if variant.backend in LLM_BACKENDS else 1
        for n in range(runs):
            for conversation in conversations:
                history: list[dict[str, str]] = []
                for position, turn in enumerate(conversation.turns):
                    item = turn.item
                    row = Row(variant.name, item.id, item.question, item.answerable, n, kind=turn.kind)
                    started = time.perf_counter()
                    try:
                        result = answer(item.question, list(history), variant)
                    except AssistantError as exc:
                        row.error, row.seconds = str(exc), time.perf_counter() - started
                        row.unmeasured["all"] = f"backend error: {exc}"
                        rows.append(row)
                        if progress:
                            progress(len(conversation.turns) - position)
                        break
                    fill_row(row, result, (prices or {}).get(model_of(variant)))
                    score_row(row, item, result, variant.k or default_k, scorers)
                    if position:
                        score_follow_up(row, turn, result)
                    rows.append(row)
                    history += [{"role": "user", "content": item.question},
                                {"role": "assistant", "content": result.text}]
                    if progress:
                        progress(1)
    return rows


def follow_up_lines(rows: Sequence[Mapping]) -> list[str]:
    """Per variant: follow-ups right of all, by kind, and the ones that went wrong (markdown)."""
    lines: list[str] = []
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == variant and "followup_ok" in r["scores"]]
        if not mine:
            continue
        right = sum(r["scores"]["followup_ok"] for r in mine)
        lines += [f"### {variant}: {right:.0f} of {len(mine)} follow-ups right ({right / len(mine):.1%})", "",
                  "| kind | right | of |", "|---|---|---|"]
        for kind in KINDS:
            of_kind = [r for r in mine if r.get("kind") == kind]
            if of_kind:
                lines.append(f"| {kind} | {sum(r['scores']['followup_ok'] for r in of_kind):.0f} | {len(of_kind)} |")
        wrong = [r for r in mine if not r["scores"]["followup_ok"]]
        if wrong:
            lines += ["", "| follow-up | answered as | what went wrong |", "|---|---|---|"]
            for r in wrong:
                why = ("answered" if not r["answerable"] else "abstained" if r["abstained"]
                       else "evidence not stated")
                if r["scores"].get("shift_clean") == 0.0:
                    why = "carried the old subject" + ("" if r["scores"].get("followup_answered", 1.0) else f"; {why}")
                question = " ".join(r["question"].split()).replace("|", "\\|")
                standalone = " ".join((r.get("standalone_question") or "").split()).replace("|", "\\|")
                lines.append(f"| {r['question_id']}: {question} | {standalone} | {why} |")
        lines.append("")
    return lines
