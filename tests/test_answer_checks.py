"""LLM answers are checked before they are shown as answers (issue 16).

Pure checks on small inline strings, then the chain end to end through the real backend registry:
the `bedrock` backend on an injected bedrock-runtime client whose ConverseStream replies are scripted
(`bedrock_stream`), the one fake allowed (the AWS boundary).
"""

from __future__ import annotations

import boto3
import pytest
from bedrock_stream import serve_streams
from test_answers import DRIFT, split_stream

from assistant.answer.citations import attach_markers, marker_support
from assistant.answer.validation import check_answer, corrected_messages, is_refusal
from assistant.core import StudyAssistant
from assistant.schema import Retraction, RetrievedChunk

PASSAGES = [
    RetrievedChunk("a", "- **Data Drift:** Occurs when the statistical properties of the input data change over time.",
                   "notes.md", ["Monitoring"], 10, 10, 1.0, 0.8),
    RetrievedChunk("b", "- **Concept Drift:** The relationship between the inputs and the target changes.",
                   "notes.md", ["Monitoring"], 11, 11, 1.0, 0.7),
]
QUESTION = "explain concept drift vs data drift"


@pytest.mark.parametrize(("text", "problem"), [
    ("", "nothing"),
    ("[2] vs [1]", "only citation markers"),
    ("[1][2]", "only citation markers"),
    ("See [1].", "only citation markers"),
    ("Explain concept drift vs data drift? [1]", "repeats the question"),
    ("Answer using only the numbered passages below and cite each claim with its number [1].",
     "repeats the instructions"),
    ("Data drift is when the statistical properties of the input data change over time.", "no citation markers"),
    ("[1] Data drift: input data properties change over time.\n[2] Concept drift: the target relationship "
     "changes.", "list numbers"),
    ("Kinesis Firehose loads streaming records into S3 buckets for batch jobs [1]. Glue crawlers build "
     "catalog tables from those buckets [2].", "2 of 2 markers"),
])
def test_answers_that_are_not_answers_are_caught(text, problem):
    check = check_answer(text, QUESTION, PASSAGES,
                         ["Answer using only the numbered passages below and cite each claim with its number."])
    assert not check.ok and not check.refusal
    assert any(problem in p for p in check.problems), check.problems


def test_a_grounded_answer_passes_with_its_markers_counted():
    text = ("Data drift is when the statistical properties of the input data change over time [1]. "
            "Concept drift is when the relationship between the inputs and the target changes [2].")
    check = check_answer(text, QUESTION, PASSAGES)
    assert check.ok and (check.markers, check.supported) == (2, 2)


@pytest.mark.parametrize(("text", "refusal"), [
    ("Your notes don't cover this.", True),
    ("The passages do not mention SageMaker Canvas. [1]", True),  # cited, still a refusal
    ("I don't know.", True),
    ("Data drift is a change in the input data [1]. The notes don't cover how often to retrain; they only "
     "say that Model Monitor alerts you when data drift is detected and that a baseline comes from the "
     "training data, so set a schedule that fits your traffic and retrain on each alert [1].", False),
])
def test_the_models_own_refusal_is_recognised(text, refusal):
    assert is_refusal(text) is refusal


def test_a_marker_alone_after_a_sentence_speaks_for_it():
    text = "Data drift is when the statistical properties of the input data change over time.\n[1]"
    assert marker_support(text, PASSAGES) == [True]
    assert marker_support("Firehose loads streaming records into S3 buckets [1][2]. [9]", PASSAGES) == [False, False]


def client():
    return boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")


@pytest.fixture
def scripted(notes_assistant):
    """A StudyAssistant whose bedrock model answers with the given replies, in order; and its calls."""
    made = []

    def make(*replies, **overrides):
        bedrock, calls = client(), []
        serve_streams(bedrock, [[r] for r in replies], calls)
        settings = notes_assistant.settings.with_overrides(**overrides)
        sa = StudyAssistant(settings, embedder=notes_assistant.embedder, client=bedrock)
        made.append(sa)
        return sa, calls

    yield make
    for sa in made:
        sa.close()


GOOD = ("Data drift is when the statistical properties of the input data change over time [2]. Concept drift "
        "refers to changes in the relationship between the input data and the target variable [1].")


def test_a_marker_only_answer_is_retried_with_a_corrective_instruction(scripted):
    sa, calls = scripted("[2] vs [3]", GOOD)
    events = list(sa.stream(DRIFT, backend="bedrock"))
    retractions = [e for e in events if isinstance(e, Retraction)]
    _, (answer,) = split_stream(events)
    assert len(retractions) == 1 and "only citation markers" in retractions[0].reason
    assert answer.checks["outcome"] == "retried" and answer.checks["attempts"] == 2
    assert answer.text.startswith("Data drift is") and answer.citations and not answer.abstained
    assert len(calls) == 2
    # the same prompt, with what was wrong added to the question's message (not a new turn)
    first, retry = calls[0]["messages"], calls[1]["messages"]
    assert len(retry) == len(first) == 1 and retry[0]["role"] == "user"
    asked, again = first[0]["content"][0]["text"], retry[0]["content"][0]["text"]
    cue = asked.removesuffix("Answer:")  # the correction goes before the prompt's answer cue
    assert again.startswith(cue) and "only citation markers" in again[len(cue):] and again.endswith("Answer:")
    # the text streamed after the retraction is the answer shown
    after = "".join(e for e in events[events.index(retractions[0]) + 1:] if isinstance(e, str))
    assert after.startswith("Data drift is")


def test_two_failed_attempts_fall_back_to_the_notes_labelled(scripted):
    sa, calls = scripted("[1] [2] [3] [4] [5]", "[2][3]")
    events = list(sa.stream(DRIFT, backend="bedrock"))
    _, (answer,) = split_stream(events)
    assert len([e for e in events if isinstance(e, Retraction)]) == 2 and len(calls) == 2
    assert answer.checks["outcome"] == "fallback" and len(answer.checks["problems"]) == 2
    assert "did not pass the checks" in answer.notice and "quoted from your notes" in answer.notice
    assert "**Concept Drift:**" in answer.text and answer.citations  # the extractive answer, cited
    assert answer.checks["markers"] >= 2 and answer.checks["supported"] == answer.checks["markers"]
    assert answer.backend == "bedrock"  # what was asked for; the notice and checks say what happened


def test_fallback_mode_quotes_the_notes_without_a_retry(scripted):
    sa, calls = scripted("[1] vs [2]", GOOD, answer_checks="fallback")
    answer = sa.answer(DRIFT, backend="bedrock")
    assert len(calls) == 1 and answer.checks["outcome"] == "fallback"


def test_checks_off_shows_the_answer_and_records_its_problems(scripted):
    sa, calls = scripted("[1] vs [2]", answer_checks="off")
    events = list(sa.stream(DRIFT, backend="bedrock"))
    _, (answer,) = split_stream(events)
    assert not any(isinstance(e, Retraction) for e in events) and len(calls) == 1
    assert answer.checks["outcome"] == "unchecked" and "only citation markers" in answer.checks["problems"][0]


def test_the_models_refusal_with_a_source_is_an_abstention(scripted):
    sa, _ = scripted("Your notes don't cover this. [1]")
    answer = sa.answer(DRIFT, backend="bedrock")
    assert answer.abstained and answer.citations == [] and answer.checks["outcome"] == "refused"
    assert answer.closest_topics


def test_a_good_answer_is_accepted_as_it_came(scripted):
    sa, calls = scripted(GOOD)
    events = list(sa.stream(DRIFT, backend="bedrock"))
    _, (answer,) = split_stream(events)
    assert not any(isinstance(e, Retraction) for e in events) and len(calls) == 1
    assert answer.checks == {"outcome": "accepted", "attempts": 1, "problems": [], "markers": 2, "supported": 2,
                             "attached": 0}
    assert answer.to_dict()["checks"]["outcome"] == "accepted"


def test_extractive_answers_carry_no_checks(notes_assistant):
    assert notes_assistant.answer(DRIFT).checks == {}


def test_the_cli_says_a_streamed_answer_was_set_aside(scripted, capsys):
    from assistant.cli import _stream_answer

    sa, _ = scripted("[2] vs [3]", GOOD)
    answer = _stream_answer(sa, DRIFT, None, "bedrock", None, None)
    out, err = capsys.readouterr()
    # the rejected text stays on screen (shown renumbered), the answer follows it, then its sources
    assert out.index("[1] vs [2]") < out.index("Data drift is when") < out.index("Sources")
    assert answer.checks["outcome"] == "retried"
    assert "set aside (only citation markers, no sentences); asking it once more" in err


def test_a_marker_at_a_paragraphs_end_cites_the_paragraph():
    said = ("Data drift is when the statistical properties of the input data change. Concept drift is when the "
            "relationship between inputs and the target changes. Which one matters depends on your use case.")
    # two of the three sentences are in the passages: the marker stands
    assert marker_support(said + " [1][2]", PASSAGES) == [True, True]
    made_up = ("Firehose loads records into S3. Glue crawlers build tables from buckets. Data drift is when the "
               "statistical properties of the input data change.")
    assert marker_support(made_up + " [1]", PASSAGES) == [False]


def test_unmarked_sentences_get_the_marker_of_the_passage_that_says_them():
    text = ("Data drift is when the statistical properties of the input data change over time. Concept drift "
            "is when the relationship between the inputs and the target changes [2]. Retrain often.\n"
            "```python\nmonitor.schedule(drift=True)  # checks data drift of the input data daily\n```")
    marked, added = attach_markers(text, PASSAGES)
    assert added == 1
    assert marked.startswith("Data drift is when the statistical properties of the input data change over time. [1] ")
    assert "target changes [2]." in marked and "Retrain often." in marked  # short or unsupported: left alone
    assert "```python\nmonitor.schedule(drift=True)  # checks data drift of the input data daily\n```" in marked
    assert attach_markers("Firehose loads records into S3 buckets nightly.", PASSAGES) == (
        "Firehose loads records into S3 buckets nightly.", 0)


def test_an_answer_without_markers_is_cited_where_the_notes_say_it(scripted):
    plain = ("Data drift is when the statistical properties of the input data change over time. Concept drift "
             "refers to changes in the relationship between the input data and the target variable.")
    sa, calls = scripted(plain)
    events = list(sa.stream(DRIFT, backend="bedrock"))
    pieces, (answer,) = split_stream(events)
    assert not any(isinstance(e, Retraction) for e in events) and len(calls) == 1
    assert answer.checks["outcome"] == "accepted" and answer.checks["attached"] == 2
    assert len(answer.citations) >= 1 and answer.text.count("[") == 2
    assert "".join(pieces) == answer.text  # cited as it streamed: the reader sees it once, with its markers


def test_markers_are_attached_sentence_by_sentence_as_the_answer_streams():
    from assistant.answer.citations import MarkerAttacher

    text = ("Data drift is when the statistical properties of the input data change over time. Concept drift "
            "is when the relationship between the inputs and the target changes [2]. Retrain often.\n"
            "```python\n# data drift of the input data changes over time\nmonitor.run()\n```\nDone.")
    attacher = MarkerAttacher(PASSAGES)
    out, seen = [], []
    for n in range(0, len(text), 7):  # pieces cut anywhere, as a model streams them
        ready = attacher.feed(text[n:n + 7])
        out.append(ready)
        seen.append("".join(out))
    out.append(attacher.flush())
    assert "".join(out) == attach_markers(text, PASSAGES)[0] and attacher.added == 1
    # the first sentence is shown, cited, before the answer ends; code is never cut open
    first = "Data drift is when the statistical properties of the input data change over time. [1]"
    assert any(s.startswith(first) and "Retrain" not in s for s in seen)
    assert not any(s.count("```") == 1 for s in seen)


def test_the_correction_goes_inside_the_prompt_before_its_answer_cue():
    from assistant.answer.validation import AnswerCheck, corrected_messages

    messages = [{"role": "system", "content": "rules"},
                {"role": "user", "content": "Notes: ...\nQuestion: q?\nAnswer:"}]
    fixed = corrected_messages(messages, AnswerCheck(problems=("it repeats the question",)))
    assert fixed[0] == messages[0] and len(fixed) == 2
    assert fixed[1]["content"].startswith("Notes: ...\nQuestion: q?\n\nYour first answer could not be used")
    assert "Do not just repeat the question" in fixed[1]["content"]
    assert "it repeats the question" in fixed[1]["content"] and fixed[1]["content"].endswith("\nAnswer:")


def test_a_comparison_clause_that_swaps_the_sides_is_caught():
    from assistant.answer.validation import swapped_sides

    notes = [RetrievedChunk(
        "d", "- **Data Drift:** The input data's statistics change over time, due to changes in user behavior or "
             "external events.\n- **Concept Drift:** The relationship between the inputs and the target changes.",
        "notes.md", ["Monitoring", "Drift"], 10, 11, 1.0, 0.8)]
    swapped = ("Concept drift happens due to changes in user behavior or external events, while data drift "
               "is when the relationship between the inputs and the target changes [1].")
    right = ("Data drift happens due to changes in user behavior or external events, while concept drift "
             "is when the relationship between the inputs and the target changes [1].")
    assert swapped_sides(swapped, QUESTION, notes) == 2
    assert swapped_sides(right, QUESTION, notes) == 0
    assert swapped_sides(swapped, "what is drift?", notes) == 0  # not a comparison: nothing to swap
    assert "say of one side what the notes say of the other" in check_answer(swapped, QUESTION, notes).problems[0]


def test_sides_are_named_as_the_notes_name_them_when_checking_a_swap():
    from assistant.answer.validation import swapped_sides

    notes = [RetrievedChunk("x", "- **XGBoost:** Gradient boosting with early stopping, strong on tabular data.",
                            "notes.md", ["Models", "XGBoost"], 1, 1, 1.0, 0.8),
             RetrievedChunk("r", "- **Random Forest:** Averages many decision trees, so it is less prone to "
                                 "overfitting.", "notes.md", ["Models", "Random Forest"], 3, 3, 1.0, 0.7)]
    question = "xgboost vs random forest for a tabular churn problem - pros and cons?"  # read as "xgboost forest"
    said = "XGBoost is less prone to overfitting because it averages many decision trees [2]."
    assert swapped_sides(said, question, notes) == 1
    assert swapped_sides("Random forest averages many decision trees, so it overfits less [2].", question, notes) == 0


def test_a_comparison_answer_that_names_one_side_only_is_caught_when_the_notes_have_both():
    from assistant.answer.validation import missing_sides

    bullets = [RetrievedChunk(
        "d", "- **Data Drift:** The input data's statistics change over time.\n"
             "- **Concept Drift:** The relationship between the inputs and the target changes.",
        "notes.md", ["Monitoring", "Drift"], 10, 11, 1.0, 0.8)]
    one_side = "Concept drift is when the relationship between the input data and the target changes [1]."
    both = one_side + " Data drift is when the statistics of the input data change over time [1]."
    # named as the notes spell it; "input data" does not name it
    assert missing_sides(one_side, QUESTION, bullets) == ["Data Drift"]
    assert missing_sides(both, QUESTION, bullets) == []
    assert missing_sides(one_side, "what is concept drift?", bullets) == []  # not a comparison
    check = check_answer(one_side, QUESTION, bullets)
    assert check.problems == ("it says nothing about Data Drift",)
    assert check.sides == ("Concept Drift", "Data Drift")  # in the question's order
    retry = corrected_messages([{"role": "user", "content": "Notes\nQuestion: q\nAnswer:"}], check)[0]["content"]
    assert "Write one sentence on Concept Drift, one on Data Drift, then one on how they differ" in retry


def test_one_sided_check_reads_headings_prose_and_identifier_spellings():
    from assistant.answer.validation import missing_sides

    # sides under their own headings, in prose, no bold; the answer names a side by its last two words
    headed = [RetrievedChunk("a", "Automates workflows across AWS services with a visual editor.", "orch.md",
                             ["Orchestration", "AWS Step Functions"], 3, 3, 1.0, 0.8),
              RetrievedChunk("b", "Builds and runs ML workflows as a DAG of steps.", "orch.md",
                             ["Orchestration", "SageMaker Pipelines"], 7, 7, 1.0, 0.7)]
    question = "aws step functions vs sagemaker pipelines?"
    answer = "Step Functions automates workflows across services [1], while SageMaker Pipelines runs ML DAGs [2]."
    assert missing_sides(answer, question, headed) == []
    assert missing_sides("Step Functions automates workflows across services [1].", question, headed) \
        == ["SageMaker Pipelines"]
    # camelCase in the notes, spaced in the answer
    probes = [RetrievedChunk("p", "livenessProbe: restarts a container that stops answering.\n\n"
                                  "readinessProbe: takes a pod out of the service until it is ready.",
                             "k8s.md", ["Pods", "Probes"], 1, 3, 1.0, 0.8)]
    spaced = "A liveness probe restarts a stuck container [1]; a readiness probe holds traffic back [1]."
    assert missing_sides(spaced, "livenessProbe vs readinessProbe", probes) == []


def test_a_side_the_given_notes_never_speak_of_is_not_asked_for():
    from assistant.answer.validation import missing_sides

    only_one = [RetrievedChunk("d", "- **Data Drift:** The input data's statistics change over time.",
                               "notes.md", ["Monitoring", "Drift"], 10, 10, 1.0, 0.8)]
    answer = "Data drift is when the input data's statistics change over time [1]."
    assert missing_sides(answer, QUESTION, only_one) == []
    assert check_answer(answer, QUESTION, only_one).sides == ()


def test_a_claim_about_both_sides_that_the_notes_make_of_one_is_caught():
    from assistant.answer.validation import swapped_sides

    notes = [RetrievedChunk(
        "f", "- **Apache Parquet:** A columnar storage format for efficient querying in large-scale analytics.\n"
             "- **Avro:** A row-based storage format that supports schema evolution over time.",
        "formats.md", ["Data formats"], 3, 4, 1.0, 0.8)]
    question = "what's the difference between avro and parquet as data formats?"
    both = "Avro and Parquet are both columnar formats for efficient querying in large-scale analytics [1]."
    assert swapped_sides(both, question, notes) == 1
    # a claim the notes make of both sides, and a contrast in two clauses, pass
    assert swapped_sides("Avro and Parquet are both storage formats [1].", question, notes) == 0
    contrast = ("Parquet is a columnar format for large-scale analytics, while Avro is row-based and supports "
                "schema evolution [1].")
    assert swapped_sides(contrast, question, notes) == 0
