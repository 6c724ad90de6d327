"""The app's Study tab: check a practice question, take a quiz, export flashcards.

Drawn by ``app.py`` (which passes its answer renderer in). Text from the notes and the student is
shown as text: the verdict through the app's answer renderer (escaped HTML), quiz lines through
`markdown_literal`, never as markdown of their own.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from assistant.errors import AssistantError
from assistant.ui.render import markdown_literal, markdown_text

ALL = "All domains"
# what the tab holds about the question in the checker; a new question clears it
_ANSWER_STATE = ("study-verdict", "study-result", "study-graded", "study-mine", "study-key")


def _cards(sa):
    """The notes' cards, made once per loaded index (a rebuilt index is a new retriever)."""
    loaded = sa.retriever
    if st.session_state.get("study-cards-index") is not loaded:
        st.session_state["study-cards"] = sa.cards()
        st.session_state["study-cards-index"] = loaded
    return st.session_state["study-cards"]


def checker(sa, render_answer: Callable[[dict, str], None]) -> None:
    """A pasted practice question and the option the notes support, cited."""
    st.subheader("Check a practice question")
    try:
        kept = sa.progress.practice()
        due = sa.progress.due(list(kept))
    except AssistantError as exc:
        kept, due = {}, []
        st.error(markdown_text(str(exc)), icon=":material/error:")
    if due:
        st.button(f"Review a practice question you answered before ({len(due)} due)", key="study-review-practice",
                  on_click=_load_due, args=(kept[due[0]][0],))
    text = st.text_area("Paste a question with its options (A. B. C. D.)", key="study-check-text", height=180)
    if st.button("Check against my notes", key="study-check"):
        for stale in _ANSWER_STATE:  # a new question: no verdict or answer to it yet
            st.session_state.pop(stale, None)
        try:
            result = sa.check(text)
            st.session_state["study-result"] = result
            st.session_state["study-verdict"] = sa.practice_answer(result).to_dict()
        except AssistantError as exc:
            st.session_state.pop("study-verdict", None)
            st.session_state.pop("study-result", None)
            st.error(markdown_text(str(exc)), icon=":material/error:")
    if verdict := st.session_state.get("study-verdict"):
        render_answer(verdict, "study-verdict")
        record_answer(sa, st.session_state["study-result"])


def _load_due(question: str) -> None:
    """Put a practice question due for review into the text area (before it is drawn), without its verdict."""
    st.session_state["study-check-text"] = question
    for stale in _ANSWER_STATE:
        st.session_state.pop(stale, None)


def record_answer(sa, result) -> None:
    """The student's own answer to the checked question: graded (by their key, else the notes) and kept."""
    letters = list(result.question.options)

    def label(letter: str) -> str:
        return markdown_literal(f"{letter}. {result.question.options[letter]}")

    with st.form("study-mine-form"):
        left, right = st.columns(2)
        if result.question.choose == 1:
            mine = left.radio("My answer", letters, index=None, format_func=label, key="study-mine")
            key = right.radio("Answer key, if my source gives one", letters, index=None, format_func=label,
                              key="study-key")
        else:
            mine = left.multiselect("My answers", letters, format_func=label, key="study-mine")
            key = right.multiselect("Answer key, if my source gives one", letters, format_func=label,
                                    key="study-key")
        submitted = st.form_submit_button("Record my answer")
    if submitted:
        try:
            graded, due = sa.record_check(result, ",".join(mine or []), ",".join(key or []) or None)
            st.session_state["study-graded"] = (graded, due)
        except AssistantError as exc:
            st.session_state.pop("study-graded", None)
            st.error(markdown_text(str(exc)), icon=":material/error:")
    if found := st.session_state.get("study-graded"):
        graded, due = found
        verdict, note = graded.said(result.question)
        (st.success if graded.correct else st.warning)(markdown_literal(verdict))
        if note:
            st.caption(markdown_literal(note))
        st.caption(f"Kept in your progress; due for review {due.astimezone():%Y-%m-%d %H:%M}.")


def quiz(sa) -> None:
    """Ten questions from the notes' definitions, filtered by domain; answers checked and cited."""
    from assistant.study.quiz import closeness, make_quiz

    st.subheader("Quiz me")
    cards = _cards(sa)
    domains = [ALL] + [name for name, _ in sorted(Counter(c.domain for c in cards).items())]
    left, right = st.columns([3, 1])
    domain = left.selectbox("Domain", domains, key="study-domain")
    count = right.number_input("Questions", min_value=1, max_value=50, value=10, key="study-count")
    review = st.checkbox("Weak topics first: the terms I missed, the soonest due for review first",
                         key="study-review")
    if st.button("New quiz", key="study-new-quiz"):
        seed = st.session_state.get("study-seed", 0) + 1
        st.session_state["study-seed"] = seed
        try:
            first = sa.progress.soonest([c.id for c in cards]) if review else []
        except AssistantError as exc:
            first = []
            st.error(markdown_text(str(exc)), icon=":material/error:")
        questions = make_quiz(cards, int(count), seed, None if domain == ALL else domain, first=first,
                              fit=closeness(sa.embedder))
        st.session_state["study-quiz"] = [q.to_dict() for q in questions]
        st.session_state.pop("study-answers", None)
        if not questions:
            st.info(markdown_text(f"No quiz questions for {domain}: it takes terms your notes define, at least "
                                  "four of a kind."))
    questions = st.session_state.get("study-quiz") or []
    if not questions:
        return
    with st.form("study-quiz-form"):
        for n, q in enumerate(questions, 1):
            stem = q["question"].rsplit("\n\n", 1)[0]
            st.markdown(markdown_literal(f"{n}. Which term does this describe? {stem}"))
            st.radio("Your answer", list(q["options"]), key=f"study-q-{n}", index=None, horizontal=True,
                     format_func=lambda letter, q=q: markdown_literal(f"{letter}. {q['options'][letter]}"),
                     label_visibility="collapsed")
        submitted = st.form_submit_button("Check my answers")
    if submitted:
        answers = {n: st.session_state.get(f"study-q-{n}") for n in range(1, len(questions) + 1)}
        st.session_state["study-answers"] = answers
        try:  # each answered question goes into the progress and the review schedule
            for n, q in enumerate(questions, 1):
                if answers[n]:
                    sa.progress.record(q["id"], "quiz", q["domain"], q.get("heading", ""), answers[n] == q["answer"])
        except AssistantError as exc:
            st.error(markdown_text(str(exc)), icon=":material/error:")
    answers = st.session_state.get("study-answers")
    if answers is None:
        return
    right = sum(answers[n] == q["answer"] for n, q in enumerate(questions, 1))
    st.success(f"{right} of {len(questions)} right.")
    for n, q in enumerate(questions, 1):
        mine = answers[n]
        verdict = "Right" if mine == q["answer"] else (f"Not quite (you: {mine})" if mine else "Skipped")
        st.markdown(markdown_literal(f"{n}. {verdict}: {q['answer']}. {q['options'][q['answer']]}"))
        st.caption(markdown_literal(f"Your notes: \"{q['explanation']}\" — {q['source']}"))


def flashcards(sa) -> None:
    """The notes' cards per domain, as CSV or an Anki deck to download."""
    from assistant.study.cards import write_anki, write_csv

    st.subheader("Flashcards")
    cards = _cards(sa)
    if not cards:
        st.info("Your notes define no terms to make cards from (lines like **Term:** what it is, or tables).")
        return
    counts = Counter(c.domain for c in cards)
    st.caption(markdown_literal(" · ".join(f"{name}: {n}" for name, n in sorted(counts.items()))))
    with tempfile.TemporaryDirectory() as tmp:
        csv_path, anki_path = Path(tmp) / "flashcards.csv", Path(tmp) / "flashcards.apkg"
        write_csv(cards, csv_path)
        write_anki(cards, anki_path)
        left, right = st.columns(2)
        left.download_button("Download CSV", csv_path.read_bytes(), "flashcards.csv", "text/csv",
                             key="study-csv")
        right.download_button("Download Anki deck (.apkg)", anki_path.read_bytes(), "flashcards.apkg",
                              "application/octet-stream", key="study-apkg")


def progress(sa) -> None:
    """Quiz and practice accuracy per domain as a chart, and the weakest headings."""
    from assistant.study.charts import accuracy_chart

    st.subheader("Progress")
    try:
        domains = sa.progress.by_domain()
        weak = [row for row in sa.progress.by_heading() if row[3] < row[2]][:5]
    except AssistantError as exc:
        st.error(markdown_text(str(exc)), icon=":material/error:")
        return
    if not domains:
        st.caption("No answers yet: your results per domain show here once you take a quiz or record your answer "
                   "to a practice question.")
        return
    with tempfile.TemporaryDirectory() as tmp:
        chart = Path(tmp) / "progress.png"
        accuracy_chart(domains, chart)
        st.image(chart.read_bytes())
    st.caption(markdown_literal(" · ".join(f"{d.domain}: {d.correct}/{d.answered} right, {d.due} due for review"
                                           for d in domains)))
    if weak:
        st.caption(markdown_literal("Weakest: " + "; ".join(f"{h} ({r}/{n})" for _, h, n, r in weak)))


def study_tab(sa, render_answer: Callable[[dict, str], None]) -> None:
    """The whole tab."""
    checker(sa, render_answer)
    st.divider()
    quiz(sa)
    st.divider()
    progress(sa)
    st.divider()
    flashcards(sa)
