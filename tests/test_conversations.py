"""Conversation sets (eval/followups.jsonl and eval/corpora/*/followups.jsonl): well-formed, and scored right."""

from __future__ import annotations

import json

import pytest
from conftest import REPO
from test_corpora import normalized, readable_text

from assistant.evaluation.conversations import KINDS, is_conversation_file, load_conversations, score_follow_up
from assistant.evaluation.gold import GoldSetError
from assistant.evaluation.harness import Row
from assistant.schema import Answer

SETS = [(REPO / "eval" / "followups.jsonl", REPO / "corpus")] + [
    (p / "followups.jsonl", p / "notes") for p in sorted((REPO / "eval" / "corpora").iterdir())
    if (p / "followups.jsonl").is_file()]


def test_the_sets_have_the_conversations_the_issue_asks_for():
    ours = load_conversations(SETS[0][0])
    assert len(ours) >= 30 and all(2 <= len(c.turns) <= 3 for c in ours)
    kinds = [t.kind for c in ours for t in c.turns[1:]]
    assert {"pronoun", "ellipsis", "comparison", "shift", "after-abstention"} <= set(kinds)
    assert all(t.must_not_carry for c in ours for t in c.turns if t.kind == "shift")
    questions = [t.item.question for c in ours for t in c.turns]
    assert sum(q == q.lower() for q in questions) >= 0.8 * len(questions), "typed the way students type"
    assert len(SETS) >= 3, "a few conversations on other students' notes too"


@pytest.mark.parametrize("path, notes", SETS, ids=lambda p: p.parent.name)
def test_every_evidence_string_of_the_sets_is_in_the_notes(path, notes):
    text = readable_text(notes.parent) if notes.name == "notes" else normalized(
        "\n".join(p.read_text(encoding="utf-8") for p in notes.glob("*.md")))
    missing = [(t.item.id, e) for c in load_conversations(path) for t in c.turns for e in t.item.evidence
               if normalized(e) not in text]
    assert not missing


@pytest.mark.parametrize("row, message", [
    ({"id": "x", "turns": [{"question": "a?", "answerable": True, "evidence": ["e"]}]}, "at least two turns"),
    ({"id": "x", "turns": [{"question": "a?", "answerable": True, "evidence": ["e"]},
                           {"question": "b?", "answerable": "yes", "evidence": []}]}, "turn 2: field 'answerable'"),
    ({"id": "x", "turns": [{"question": "a?", "answerable": True, "evidence": []},
                           {"question": "b?", "answerable": False}]}, "turn 1: field 'evidence' is empty"),
    ({"id": "x", "turns": [{"question": "a?", "answerable": False},
                           {"question": "b?", "answerable": False, "kind": "guess"}]}, "unknown kind 'guess'"),
])
def test_malformed_conversations_name_their_line_and_turn(tmp_path, row, message):
    path = tmp_path / "c.jsonl"
    good = {"id": "ok", "turns": [{"question": "a?", "answerable": False}, {"question": "b?", "answerable": False}]}
    path.write_text(json.dumps(good) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    assert is_conversation_file(path)
    with pytest.raises(GoldSetError, match=f"line 2: .*{message}"):
        load_conversations(path)


def test_a_gold_file_is_not_a_conversation_file():
    assert not is_conversation_file(REPO / "eval" / "gold.jsonl")


def answer(text: str, abstained: bool = False, standalone: str = "") -> Answer:
    return Answer(text=text, abstained=abstained, backend="extractive", prompt="default", seconds=0.0,
                  question="q", standalone_question=standalone)


def test_a_follow_up_counts_when_it_states_all_its_evidence_abstains_when_it_should_and_sheds_the_old_subject():
    (conversation,) = [c for c in load_conversations(SETS[0][0]) if any(t.kind == "shift" for t in c.turns)][:1]
    shift = next(t for t in conversation.turns if t.kind == "shift")
    row = Row("v", shift.item.id, shift.item.question, True, 0)
    evidence = " ".join(shift.item.evidence)
    score_follow_up(row, shift, answer(evidence, standalone=shift.item.question))
    assert row.scores == {"followup_answered": 1.0, "shift_clean": 1.0, "followup_ok": 1.0}
    carried = f"{shift.item.question} ({shift.must_not_carry[0]})"
    score_follow_up(row, shift, answer(evidence, standalone=carried))
    assert row.scores["shift_clean"] == 0.0 and row.scores["followup_ok"] == 0.0
    score_follow_up(row, shift, answer("Something else entirely.", standalone=shift.item.question))
    assert row.scores["followup_answered"] == 0.0
    uncovered = next(t for c in load_conversations(SETS[0][0]) for t in c.turns[1:] if not t.item.answerable)
    score_follow_up(row := Row("v", uncovered.item.id, "q", False, 0), uncovered, answer("...", abstained=True))
    assert row.scores == {"followup_abstained": 1.0, "followup_ok": 1.0}


def test_every_kind_is_known():
    assert set(KINDS) == {"first", "pronoun", "ellipsis", "comparison", "shift", "after-abstention", "own-subject"}
