"""The study UI: chat with your notes (streamed, cited answers), open the cited passages, see evaluations.

Run: ``.venv/bin/streamlit run app.py`` (see the README). Thin over `StudyAssistant`; pure helpers
are in ``assistant/ui.py``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import streamlit as st

from assistant import AssistantError, StudyAssistant
from assistant.backends import BACKENDS, availability
from assistant.citations import line_span
from assistant.errors import BackendError
from assistant.prompting import available_prompts
from assistant.schema import Answer, IndexStatus
from assistant.ui import (
    STARTERS,
    answer_html,
    append_feedback,
    cited_lines,
    feedback_record,
    follow_up_question,
    gold_candidates,
    markdown_literal,
    passage_html,
    read_feedback,
)

FEEDBACK_FILE = Path("feedback/feedback.jsonl")
REPORTS_DIR = Path("eval/reports")

st.set_page_config(page_title="MLA-C01 study assistant", page_icon="📘", layout="wide")


@st.cache_resource(show_spinner=False)
def get_assistant() -> StudyAssistant:
    """One assistant per server process: the model, index and backends load once."""
    return StudyAssistant.from_env()


def ensure_index(sa: StudyAssistant, rebuild: bool = False) -> IndexStatus:
    """Build or update the index with a visible progress bar (the first load on a fresh clone).

    Returns:
        What is indexed now (read once per page run; the sidebar shows it).
    """
    status = sa.status()
    if not rebuild and status.stale is False:
        return status
    bar = st.progress(0.0, text="Indexing your notes…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"Embedding your notes: {done}/{total} sections")

    report = sa.ingest(rebuild=rebuild, progress=progress)
    bar.empty()
    st.toast(report.summary())
    for warning in report.warnings:
        st.warning(warning)
    return sa.status()


def render_answer(answer: dict, key: str) -> None:
    """An answer: its text with citation badges, then a source entry per citation (or the abstention).

    Text from the notes or an LLM is never read as markdown here: the answer and the passages are HTML
    built from escaped text (`answer_html`, `passage_html`; why in ``assistant/ui.py``), and labels and
    captions, which Streamlit always reads as markdown, carry note text through `markdown_literal`.
    """
    if answer["abstained"]:
        st.warning(answer["text"].split(" The closest topics")[0], icon="📭")
        if answer["closest_topics"]:
            st.caption("The closest topics your notes do cover — ask about one:")
            for n, topic in enumerate(answer["closest_topics"]):
                if st.button(markdown_literal(follow_up_question(topic)), key=f"{key}-topic-{n}"):
                    st.session_state.pending = follow_up_question(topic)
                    st.rerun()
        return
    st.html(answer_html(answer["text"], cited={c["n"] for c in answer["citations"]}))
    if answer.get("notice"):
        st.caption(markdown_literal(answer["notice"]))
    for citation in sorted(answer["citations"], key=lambda c: c["n"]):
        chunk = citation["chunk"]
        heading = markdown_literal(" › ".join(chunk["heading_path"]) or chunk["source"])
        source = markdown_literal(chunk["source"])
        lines = line_span(citation["start_line"], citation["end_line"])
        with st.expander(f"[{citation['n']}] {heading} — {source}, {lines}"):
            marked = cited_lines(citation["quote"], chunk["text"], chunk["start_line"])
            st.html(passage_html(chunk["text"], chunk["start_line"], marked))
            st.caption(f"{source}, {line_span(chunk['start_line'], chunk['end_line'])}")
    facts = [answer["backend"], f"prompt {answer['prompt']}", f"{answer['seconds']:.2f} s"]
    if answer.get("tokens_in") or answer.get("tokens_out"):
        facts.append(f"{answer['tokens_in']} tokens in / {answer['tokens_out']} out")
    st.caption(" · ".join(facts))


def feedback_widget(index: int, question: str, answer: dict) -> None:
    """Thumbs on an answer, stored locally with the question, answer, backend and sources."""
    def store() -> None:
        score = st.session_state.get(f"fb-{index}")
        if score is not None:
            append_feedback(FEEDBACK_FILE, feedback_record(question, answer, score))
            st.toast("Thanks: feedback saved to " + str(FEEDBACK_FILE))

    st.feedback("thumbs", key=f"fb-{index}", on_change=store)


def sidebar(sa: StudyAssistant, status: IndexStatus) -> dict:
    """Backend, prompt and retrieval settings; corpus status with re-index; new chat."""
    with st.sidebar:
        st.header("Settings")
        ready = availability(sa.settings)
        names = list(BACKENDS)
        default = names.index(sa.settings.backend) if sa.settings.backend in names else 0
        backend = st.selectbox("Answer backend", names, index=default, key="backend",
                               format_func=lambda n: n if ready[n][0] else f"{n} (not set up)")
        if not ready[backend][0]:
            st.warning(f"{backend} needs: {ready[backend][1]}")
        elif backend == "extractive":
            st.caption("Quotes your notes (no language model): offline and instant.")
        prompts = available_prompts()
        prompt = st.selectbox("Prompt", prompts, key="prompt",
                              index=prompts.index(sa.settings.prompt) if sa.settings.prompt in prompts else 0)
        k = st.slider("Passages to retrieve (k)", 1, 10, sa.settings.top_k, key="k")
        hybrid = st.toggle("Keyword + semantic search", value=sa.settings.hybrid, key="hybrid")
        st.divider()
        st.subheader("Your notes")
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(status.updated)) if status.updated else "never"
        st.markdown(f"{status.files} file(s), {status.chunks} sections  \nlast indexed {when}  \n"
                    f"folder `{status.corpus_dir}`")
        if status.stale:
            st.info("Your notes changed since the last index.")
        if st.button("Re-index notes", use_container_width=True):
            st.session_state.reindex = True
        st.divider()
        if st.button("New chat", use_container_width=True, type="primary"):
            st.session_state.messages = []
            st.rerun()
        records = read_feedback(FEEDBACK_FILE)
        if records:
            st.download_button(
                f"Export {len(records)} feedback item(s) as gold candidates",
                "\n".join(json.dumps(r, ensure_ascii=False) for r in gold_candidates(records)) + "\n",
                file_name="gold-candidates.jsonl", use_container_width=True)
    return {"backend": backend, "prompt": prompt, "k": k, "hybrid": hybrid}


def chat(sa: StudyAssistant, options: dict) -> None:
    """The conversation: history replayed, starters on an empty chat, the new answer streamed."""
    messages = st.session_state.setdefault("messages", [])
    for n, message in enumerate(messages):
        with st.chat_message(message["role"]):
            if message["role"] == "user":
                st.text(message["content"])  # as typed: no markdown, no directives, line breaks kept
            else:
                render_answer(message["answer"], key=f"m{n}")
                feedback_widget(n, messages[n - 1]["content"] if n else "", message["answer"])
    if not messages:
        st.markdown("Ask anything about your notes. Try one of these:")
        columns = st.columns(len(STARTERS))
        for column, starter in zip(columns, STARTERS, strict=True):
            if column.button(starter, use_container_width=True):
                st.session_state.pending = starter
                st.rerun()
    typed = st.chat_input("Ask about your notes…")
    question = typed or st.session_state.pop("pending", None)
    if not question:
        return
    history = [{"role": m["role"], "content": m["content"]} for m in messages]
    with st.chat_message("user"):
        st.text(question)
    with st.chat_message("assistant"):
        final: list[Answer] = []

        def pieces():
            for event in sa.stream(question, history=history, backend=options["backend"], prompt=options["prompt"],
                                   k=options["k"], hybrid=options["hybrid"]):
                if isinstance(event, Answer):
                    final.append(event)
                else:
                    yield event

        # the streamed text is drawn the way the final answer is (st.write_stream would read it as
        # markdown); markers become badges only in the final answer, once they are checked
        slot = st.empty()
        shown, drawn = "", 0.0
        try:
            for piece in pieces():
                shown += piece
                if time.monotonic() - drawn > 0.05:  # each redraw sends the whole text: not per token
                    slot.html(answer_html(shown, badges=False))
                    drawn = time.monotonic()
        except BackendError as exc:
            # the partial text stays on screen; the conversation keeps everything before this turn
            if shown:
                slot.html(answer_html(shown, badges=False))
            st.error(f"{exc}", icon="⚠️")
            return
        except AssistantError as exc:
            slot.empty()
            st.error(f"{exc}", icon="⚠️")
            return
        slot.empty()
        answer = final[0].to_dict()
        render_answer(answer, key=f"m{len(messages) + 1}")
    messages += [{"role": "user", "content": question},
                 {"role": "assistant", "content": answer["text"], "answer": answer}]
    st.rerun()


def evaluations() -> None:
    """The latest saved evaluation reports: table, chart and per-question differences."""
    runs = sorted((p for p in REPORTS_DIR.glob("*/report.md")), reverse=True) if REPORTS_DIR.is_dir() else []
    if not runs:
        st.info("No evaluation runs yet. Run `.venv/bin/assistant eval --variants default,short-answers`; "
                "reports appear here.")
        return
    chosen = st.selectbox("Run", runs, format_func=lambda p: p.parent.name)
    try:
        text = chosen.read_text(encoding="utf-8")
        before, _, after = text.partition("![chart](chart.png)")
        st.markdown(before)
        chart = chosen.parent / "chart.png"
        if chart.is_file():
            st.image(str(chart))
        st.markdown(after)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        st.error(f"This report cannot be shown ({exc}); re-run the evaluation or delete {chosen.parent}.")


def main() -> None:
    """Lay out the page."""
    st.title("MLA-C01 study assistant")
    st.caption("Answers from your own notes, every line cited; or an honest \"your notes don't cover this\".")
    try:
        sa = get_assistant()
        status = ensure_index(sa)
    except AssistantError as exc:
        st.error(f"{exc}", icon="⚠️")
        return
    options = sidebar(sa, status)
    if st.session_state.pop("reindex", False):
        try:
            ensure_index(sa, rebuild=True)
        except AssistantError as exc:
            st.error(f"{exc}", icon="⚠️")
    tab_chat, tab_eval = st.tabs(["Chat", "Evaluation"])
    with tab_chat:
        chat(sa, options)
    with tab_eval:
        evaluations()


main()
