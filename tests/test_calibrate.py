"""`assistant calibrate`: refit the coverage gate on a student's own questions and index, and use it."""

from __future__ import annotations

import json

from conftest import write_notes
from test_cli import NOTES, one_error_line, run

from assistant.answer.gate import USER_GATE, load_gate

ANSWERABLE = [
    "what is data drift?", "how is concept drift detected?", "when do I use batch transform?",
    "what do production variants allow?", "what metric drives auto scaling of endpoints?",
    "how is concept drift fixed?", "what do real-time endpoints serve?",
]
UNANSWERABLE = [
    "what's a good hydration percentage for a sourdough loaf?", "who won the 2018 FIFA World Cup?",
    "How do I configure Guardrails for Amazon Bedrock?",
]


def write_gold(path, questions) -> None:
    rows = [{"id": f"q{n}", "question": q, "reference": "r" if ok else "", "evidence": ["e"] if ok else [],
             "answerable": ok}
            for n, (q, ok) in enumerate(questions)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_calibrate_reports_refits_on_your_index_and_answers_use_your_gate(tmp_path):
    write_notes(tmp_path / "corpus", NOTES)
    gold, check = tmp_path / "mine.jsonl", tmp_path / "check.jsonl"
    write_gold(gold, [(q, True) for q in ANSWERABLE] + [(q, False) for q in UNANSWERABLE])
    write_gold(check, [("what does data drift mean?", True), ("how do I bake bread?", False)])

    result = run(tmp_path, "calibrate", "--gold", str(gold), "--check", str(check))
    assert result.exit_code == 0, (result.output, result.exception)
    out = result.stdout
    assert "Gate fitted on" in out and "7 answerable, 3 unanswerable" in out and "(chosen)" in out
    assert "Leave-one-out" in out and "lower-cased" in out and f"Check set {check}" in out
    assert not (tmp_path / "index" / USER_GATE).exists()  # nothing written without --write
    assert "shipped" in run(tmp_path, "status").stdout

    result = run(tmp_path, "calibrate", "--gold", str(gold), "--write")
    assert result.exit_code == 0, (result.output, result.exception)
    path = tmp_path / "index" / USER_GATE
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["fitted_on"]["gold"] == "mine.jsonl" and saved["fitted_on"]["unanswerable"] == 3
    assert saved["fitted_on"]["corpus"] == "corpus" and saved["fitted_on"]["model"]
    gate = load_gate(path)
    assert gate.source == str(path) and gate.weights == tuple(saved["weights"])

    status = run(tmp_path, "status").stdout
    assert "coverage gate  yours" in status and "mine.jsonl" in status
    answer = json.loads(run(tmp_path, "ask", "--json", "what is data drift?").stdout)
    assert answer["evidence"]["gate"] == str(path)
    # the fitted gate turns the gold file's own sourdough question away, in any case
    for question in (UNANSWERABLE[0], UNANSWERABLE[0].upper()):
        assert json.loads(run(tmp_path, "ask", "--json", question).stdout)["abstained"]


def test_calibrate_needs_both_kinds_of_question(tmp_path):
    write_notes(tmp_path / "corpus", NOTES)
    gold = tmp_path / "only-answerable.jsonl"
    write_gold(gold, [(q, True) for q in ANSWERABLE])
    line = one_error_line(run(tmp_path, "calibrate", "--gold", str(gold)))
    assert "answerable" in line and "only-answerable.jsonl" in line
