"""Follow-ups resolved without a model (issue 15): the resolver, and the target on the conversation sets.

The resolver's cases below are phrased on purpose unlike the conversation sets in eval/ (databases,
networking, containers), so that the sets stay a check of rules that were not written for them.
"""

from __future__ import annotations

import pytest
from conftest import REPO

from assistant.answer.followup import resolve, rewrite, topic
from assistant.answer.gate import Vocabulary
from assistant.evaluation.conversations import Conversation, carries, load_conversations, run
from assistant.evaluation.harness import Variant, summarize
from assistant.text.question import comparison_sides


def asked(*questions: str) -> list[dict[str, str]]:
    """A history of user questions, each with a placeholder answer."""
    out: list[dict[str, str]] = []
    for q in questions:
        out += [{"role": "user", "content": q}, {"role": "assistant", "content": "..."}]
    return out


# -- the resolver -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("history, question, standalone", [
    # a pronoun takes the subject of the last question
    (["what is a write-ahead log?"], "why does it make commits durable?",
     "why does write-ahead log make commits durable?"),
    (["how do I tune postgres for heavy writes?"], "does it need more memory for that?",
     "does postgres need more memory for that?"),
    # a plural pronoun prefers a plural subject
    (["does postgres support partial indexes?"], "are they fast?", "are partial indexes fast?"),
    # "that one", "the latter", "the former", "both", "which one" pick from the things compared
    (["hash join or merge join for big tables?"], "when is the latter faster?", "when is merge join faster?"),
    (["hash join or merge join for big tables?"], "does the former need an index?", "does hash join need an index?"),
    (["hash join or merge join for big tables?"], "do both need sorted input?",
     "do hash join and merge join need sorted input?"),
    (["hash join or merge join for big tables?"], "which one uses less memory?",
     "which one uses less memory: hash join or merge join?"),
    (["tcp vs udp for video calls?", "tell me more about udp"], "and the other one?", "tell me more about tcp?"),
    # an ellipsis borrows the last question
    (["how do I tune postgres for heavy writes?"], "what about mysql?", "how do I tune mysql for heavy writes?"),
    (["which index type for equality lookups?"], "and for range queries?", "which index type for range queries?"),
    (["what is mvcc?"], "any drawbacks?", "any drawbacks of mvcc?"),
    (["how do I restart a container?"], "and if it keeps crashing?",
     "how do I restart a container if it keeps crashing?"),
    (["which index type for equality lookups?", "and for range queries?"], "what about sorting?",
     "which index type for sorting?"),
    # a comparison left open takes the subject as its other side
    (["what's gradient boosting?"], "is bagging better for noisy data?",
     "is bagging better than gradient boosting for noisy data?"),
    (["what is a b-tree?"], "how is an lsm tree different from that?", "how is an lsm tree different from b-tree?"),
    (["what is kafka?"], "and rabbitmq, how's that different?", "how's rabbitmq different from kafka?"),
    # a fronted subject: the pronoun is that subject, not the conversation's
    (["what is kafka?"], "what about rabbitmq, is it open source?", "is rabbitmq open source?"),
    # a bare request for more, or a bare question word, asks about the last question
    (["what is a write-ahead log?"], "tell me more", "tell me more about write-ahead log?"),
    (["is raft easier to follow than paxos?"], "why?", "why is raft easier to follow than paxos?"),
    (["how do I tune postgres for heavy writes?"], "is that the one with the vacuum?",
     "is postgres the one with the vacuum?"),
])
def test_follow_ups_resolve_against_the_conversation(history, question, standalone):
    resolution = resolve(question, asked(*history))
    assert resolution.follow_up
    assert resolution.standalone == standalone


def test_a_new_question_about_a_compared_pair_asks_about_both_without_comparing_them():
    """The README's example: "how do I detect it?" after "X vs Y" is not the comparison again."""
    standalone = rewrite("and how do I detect it?", asked("explain concept drift vs data drift"))
    assert standalone == "how do I detect concept drift and data drift?"
    assert comparison_sides(standalone) is None  # the extractive composer answers it, not the X-vs-Y layout
    three = rewrite("how do I monitor them?", asked("raft vs paxos vs zab?"))
    assert three == "how do I monitor raft and paxos and zab?" and comparison_sides(three) is None


@pytest.mark.parametrize("history, question", [
    (["explain raft consensus"], "what is a bloom filter?"),
    (["how do I restart a container?"], "ok and how do I prune unused images?"),
    (["what is mvcc?"], "is it possible to index a view?"),  # "it" stands for nothing
    (["what is gdpr?"], "can a customer get their data exported?"),  # "their" is the customer's
    (["what is mvcc?"], "what is a covering index and why is it fast?"),  # "it" is named in the question
    (["what is mvcc?"], "which models that overfit need dropout?"),  # "that" joins a clause
    (["what is mvcc?"], "what does it mean when a query is sargable?"),
    (["what is mvcc?"], "what's it called when two writers collide?"),
])
def test_questions_with_their_own_subject_are_left_alone(history, question):
    resolution = resolve(question, asked(*history))
    assert resolution.standalone == question
    assert not carries(resolution.standalone, ["raft", "container", "mvcc", "gdpr"])


def test_after_which_x_a_pronoun_means_what_the_answer_named():
    history = [{"role": "user", "content": "which queue should I use for event streams?"},
               {"role": "assistant", "content": "- **Description:** queues in general [2]\n"
                                                "- **Apache Pulsar:** streams events with tiered storage [1]"}]
    assert rewrite("is it hard to run?", history) == "is Apache Pulsar hard to run?"
    assert rewrite("and for batch jobs?", history) == "which queue should I use for batch jobs?"
    # "them" are the things asked for, not what the answer named
    assert rewrite("how do I compare them?", history) == "how do I compare event streams?"
    refused = [history[0], {"role": "assistant", "content": "Your notes don't cover this. The closest topics they do "
                                                            "cover:\n- **Apache Pulsar** (queues.md, lines 1-9)"}]
    assert rewrite("is it hard to run?", refused) == "is event streams hard to run?"  # nothing was named


@pytest.mark.parametrize("history, question, standalone", [
    # a problem stated about the subject is what "fix it" fixes, not the subject itself
    (["my postgres replica is badly lagging, why?"], "how do I fix it?", "how do I fix lagging postgres replica?"),
    (["our vpn tunnel keeps dropping at night"], "can we prevent that?", "can we prevent dropping vpn tunnel?"),
    (["my queries are slow on the orders table"], "how do i solve it?", "how do i solve slow queries?"),
    # any other verb asks about the subject; so does a passive or a judgement
    (["my postgres replica is badly lagging"], "how do I restart it?", "how do I restart postgres replica?"),
    (["my vpn tunnel is used by three offices"], "how do I fix it?", "how do I fix vpn tunnel?"),
    (["my vpn tunnel is good enough"], "how do I fix it?", "how do I fix vpn tunnel?"),
    (["what is a vpn tunnel?"], "how do I fix it?", "how do I fix vpn tunnel?"),
])
def test_fixing_it_means_the_problem_the_last_question_stated(history, question, standalone):
    assert rewrite(question, asked(*history)) == standalone


def test_this_or_that_with_a_new_noun_mid_question_is_not_the_subject():
    history = asked("what is a write-ahead log?")
    assert rewrite("does it work with this replication thing?", history) == \
        "does write-ahead log work with this replication thing?"
    assert rewrite("where do I configure that setting?", history) == "where do I configure write-ahead log?"


def test_a_topic_shift_drops_its_marker_and_becomes_the_new_subject():
    history = asked("how do I restart a container?")
    shift = resolve("unrelated, but what does vacuum do?", history)
    assert shift.standalone == "what does vacuum do?" and not shift.follow_up
    after = rewrite("why does it matter?", history + asked("unrelated, but what does vacuum do?"))
    assert after == "why does vacuum matter?"


def test_nested_follow_ups_keep_the_subject_and_no_history_means_no_follow_up():
    history = asked("explain concept drift vs data drift", "and how do I detect it?")
    assert rewrite("does it cost much?", history) == "does concept drift and data drift cost much?"
    assert rewrite("and how do I detect it?", None) == "and how do I detect it?"
    assert not resolve("and how do I detect it?", []).follow_up


def test_the_notes_keep_their_names_whole_and_a_name_they_use_everywhere_is_not_the_subject():
    notes = Vocabulary([f"SageMaker note {n}: training jobs and endpoints." for n in range(30)]
                       + ["FSx for Lustre is a fast file system for training."])
    history = asked("when should I use fsx for lustre?")
    assert rewrite("is it pricey?", history, notes) == "is fsx for lustre pricey?"
    assert rewrite("is it pricey?", history) == "is fsx pricey?"  # without the notes "for" ends the name
    assert topic("does sagemaker support spot training?", notes).entities == ("spot training",)
    assert topic("does sagemaker support spot training?").entities == ("sagemaker",)


# -- no regression on the conversation sets ------------------------------------------------------------
# The target (>= 90% of follow-ups answered with their evidence) is a benchmark number, kept in
# docs/benchmarks.md with its command. These tests fail when a change loses a follow-up the code got right
# at the last measurement (44 of 49 ours, 7 of 7 docker-commands, 7 of 8 databases-prose, at 100-word answers).

SETS = [(REPO / "eval" / "followups.jsonl", REPO / "corpus")] + [
    (p / "followups.jsonl", p / "notes") for p in sorted((REPO / "eval" / "corpora").iterdir())
    if (p / "followups.jsonl").is_file()]
#: follow-ups right at the last measurement, per set (the folder holding the conversation file)
MEASURED = {"eval": 46, "docker-commands": 7, "databases-prose": 7}


def follow_ups_right(sa, conversations: list[Conversation]) -> tuple[float, list[str]]:
    variant = Variant("default")
    rows = run(conversations, [variant], lambda q, history, v: sa.answer(q, history=history), [], 5)
    (summary,) = summarize(rows, [variant])
    wrong = [f"{r.question_id}: {r.question!r} -> {r.standalone_question!r}" for r in rows
             if r.scores.get("followup_ok") == 0.0]
    return summary["followup_ok"], wrong


def right_count(share: float, conversations: list[Conversation]) -> int:
    return round(share * sum(len(c.turns) - 1 for c in conversations))


def test_the_mla_conversations_keep_their_follow_ups(notes_assistant):
    conversations = load_conversations(SETS[0][0])
    share, wrong = follow_ups_right(notes_assistant, conversations)
    assert right_count(share, conversations) >= MEASURED["eval"], wrong


@pytest.mark.parametrize("path, notes", SETS[1:], ids=lambda p: p.parent.name)
def test_conversations_on_other_students_notes_keep_their_follow_ups(path, notes, make_assistant, tmp_path):
    sa = make_assistant(tmp_path, corpus_dir=notes)
    sa.ingest(progress=False)
    conversations = load_conversations(path)
    share, wrong = follow_ups_right(sa, conversations)
    assert right_count(share, conversations) >= MEASURED[path.parent.name], wrong
