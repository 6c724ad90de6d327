"""The study UI: chat with your notes (streamed, cited answers), open the cited passages, see evaluations.

Run: ``.venv/bin/streamlit run app.py`` (see the README). Thin over `StudyAssistant`; pure helpers
are in ``assistant/ui.py``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from assistant import AssistantError, StudyAssistant
from assistant.answer.composers import NAMES, availability
from assistant.answer.prompting import available_prompts
from assistant.errors import BackendError, IndexBusyError, IndexCorruptError, IndexNotWritableError
from assistant.schema import Answer, IndexStatus, IngestReport, Retraction, place, shown_place
from assistant.ui.feedback import append_feedback, feedback_record, gold_candidates, read_feedback
from assistant.ui.render import (
    STARTERS,
    answer_html,
    chunk_passage_html,
    cited_lines,
    counted_line,
    follow_up_questions,
    markdown_literal,
    markdown_text,
    passage_html,
    problem_line,
    report_html,
    resolved_question,
)
from assistant.ui.study_tab import study_tab

FEEDBACK_FILE = Path("feedback/feedback.jsonl")
REPORTS_DIR = Path("eval/reports")
BUSY_NOTE = "Your notes are being re-indexed by another session; answering from the index as it is."

st.set_page_config(page_title="MLA-C01 study assistant", page_icon="📘", layout="wide")


@st.cache_resource(show_spinner=False)
def get_assistant() -> StudyAssistant:
    """One assistant per server process: the model, index and backends load once, for every browser session."""
    return StudyAssistant.from_env()


class IngestJob:
    """One ingest running in a thread of this server, outliving the page run that started it.

    When the student clicks or asks something during a page run, Streamlit (``runner.fastReruns``,
    the default) starts the next run at once and stops the running one at its next ``st`` call. An
    ingest inside the page run would stop with it, half done (seen in Chromium: a question typed
    during "Repair index" found the writer still busy, then the index still damaged). In a thread of
    its own it goes on; the next page run of the session that started it follows it to the end.
    """

    def __init__(self, owner: str) -> None:
        """A job started by the browser session ``owner``; `run` does the work."""
        self.owner = owner
        self.done = self.total = 0
        self.writing = False  # the writer lock is ours: progress is worth drawing
        self.report: IngestReport | None = None
        self.error: Exception | None = None
        self.finished = threading.Event()

    def run(self, sa: StudyAssistant, rebuild: bool, wait: bool) -> None:
        """Ingest (no Streamlit call here: this thread has no page); the outcome is kept for the page."""
        def progress(done: int, total: int) -> None:
            self.done, self.total, self.writing = done, total, True

        def step(_: str) -> None:
            self.writing = True

        try:
            self.report = sa.ingest(rebuild=rebuild, progress=progress, wait=wait, step=step)
        except Exception as exc:  # noqa: BLE001 - handed to the page run that follows the job, shown there
            self.error = exc
        finally:
            self.finished.set()


class IngestJobs:
    """This server's ingest: one at a time, shared by every browser session.

    Between processes the index's writer lock decides (``ingest(wait=False)`` raises `IndexBusyError`).
    Inside this server, a session that finds a job running does not call ``ingest`` at all: it follows
    the job if it started it, else answers from the index as it is.
    """

    def __init__(self) -> None:
        """No job yet."""
        self._lock = threading.Lock()
        self._job: IngestJob | None = None

    def running(self) -> IngestJob | None:
        """The job running now, if any."""
        job = self._job
        return job if job is not None and not job.finished.is_set() else None

    def start(self, sa: StudyAssistant, owner: str, rebuild: bool = False, wait: bool = False) -> IngestJob | None:
        """Start an ingest in a thread, unless one is running already (then None)."""
        with self._lock:
            if self.running() is not None:
                return None
            job = self._job = IngestJob(owner)
        threading.Thread(target=job.run, args=(sa, rebuild, wait), name="ingest", daemon=True).start()
        return job


@st.cache_resource(show_spinner=False)
def ingest_jobs() -> IngestJobs:
    """The server's ingest jobs (one object per process, like the assistant)."""
    return IngestJobs()


def follow(job: IngestJob) -> IngestReport:
    """Draw a job's progress until it ends, then show its summary, repairs and warnings.

    Raises:
        AssistantError: The job's error (`IndexBusyError`: another process is writing).
    """
    slot = st.empty()
    drawn = None
    while not job.finished.wait(0.1):
        now = (job.done, job.total)
        if job.writing and now != drawn:  # each draw is also where Streamlit can stop this run
            text = f"Embedding your notes: {job.done}/{job.total} sections" if job.total else "Indexing your notes…"
            slot.progress(min(job.done / max(job.total, 1), 1.0), text=text)
            drawn = now
    slot.empty()
    if job.error is not None:
        raise job.error
    report = job.report
    st.toast(markdown_text(report.summary()), icon=":material/library_books:")
    for line in report.repaired:  # they name note files
        st.toast(markdown_text(f"Repaired: {line}"), icon=":material/healing:")
    for warning in report.warnings:
        st.warning(markdown_text(warning))
    return report


def wait_for_index(sa: StudyAssistant, me: str) -> None:
    """With no index at all yet: wait for whoever is building it, then bring it up to date.

    Whoever: a job of this server or another process holding the writer lock. Usually nothing is left
    to do once it has finished.
    """
    jobs = ingest_jobs()
    with st.spinner("Another session is indexing your notes; waiting for it…"):
        while True:
            other = jobs.running()
            if other is not None:
                other.finished.wait()
            job = jobs.start(sa, me, wait=True)
            if job is not None:
                follow(job)
                return


def refresh(sa: StudyAssistant, action: str | None, working: Callable[[], object]) -> IndexStatus | None:
    """Bring the index up to date before answering, without ever queueing behind another writer.

    ``action`` is a sidebar button's ("reindex", "repair": incremental; "rebuild": from scratch).
    Otherwise a changed or damaged index is refreshed when nobody else is writing it; when another
    session or process is, the page answers from the index as it is (readers never block) and says
    so; only with no index at all yet does it wait for that build. A job this session started in a
    run that was stopped (a click or a question meanwhile) is followed to its end.

    Args:
        sa: The assistant.
        action: The index action a sidebar button asked for, if any.
        working: Called before an ingest starts (the sidebar hides its index buttons meanwhile).

    Returns:
        What is indexed now (None: the index folder cannot even be read; the error is on the page).
    """
    me = st.session_state.setdefault("session_id", uuid.uuid4().hex)
    jobs = ingest_jobs()
    try:
        status = sa.status()
        running = jobs.running()
        if running is not None and running.owner == me:
            working()
            follow(running)
            return sa.status()
        if action is None and not status.needs_ingest:
            return status
        working()
        job = jobs.start(sa, me, rebuild=action == "rebuild")
        try:
            if job is None:
                raise IndexBusyError("Another session of this app is updating the index.")
            follow(job)
        except IndexBusyError:
            if action is not None:
                st.info("Another session is updating the index right now; try again once it has finished.")
            elif status.updated is None and not status.problems:  # nothing to answer from yet
                wait_for_index(sa, me)
            else:
                st.info(BUSY_NOTE, icon=":material/hourglass_top:")
        except IndexNotWritableError as exc:
            if status.updated is None or status.problems:
                raise
            # a read-only index folder (a shared or mounted copy): the index it has still answers
            st.warning(markdown_text(f"Cannot update the index, so answering from it as it is: {exc}"),
                       icon=":material/lock:")
    except AssistantError as exc:
        show_error(exc)
    try:
        return sa.status()
    except AssistantError:
        return None  # the same error as above, already shown


def show_error(exc: Exception) -> None:
    """An error, shown as text: messages can hold file paths or an LLM server's own words."""
    st.error(markdown_text(str(exc)), icon=":material/error:")
    if isinstance(exc, IndexCorruptError):
        st.caption("**Repair index** in the sidebar rebuilds what is damaged from your notes.")


def show_region(citation: dict, marked: list[int]) -> bool:
    """A PDF page's or notebook cell's whole text, as indexed, with the cited lines marked.

    Lines are numbered as on the page (or in the cell), as the citation counts them; without a quote
    the cited passage's lines are marked. False when the index no longer holds that page.
    """
    chunk = citation["chunk"]
    try:
        found = get_assistant().region_text(chunk["source"], chunk["region"])
    except AssistantError:
        return False
    if found is None:
        return False
    text, number, last = found  # its first and last lines' numbers, as the page or cell counts them
    lines = marked or range(citation["start_line"] or chunk["start_line"],
                            (citation["end_line"] or chunk["end_line"]) + 1)
    st.html(passage_html(text, number, [counted_line(chunk, n) for n in lines], last))
    return True


def render_answer(answer: dict, key: str) -> None:
    """An answer: its text with citation badges, then a source entry per citation (or the abstention).

    Text from the notes or an LLM is never read as markdown here: the answer and the passages are HTML
    built from escaped text (`answer_html`, `passage_html`; why in ``assistant/ui.py``), and labels and
    captions, which Streamlit always reads as markdown, carry note text through `markdown_literal`.
    """
    if answer["abstained"]:
        st.warning(answer["text"].split(" The closest topics")[0], icon="📭")
        searched(answer)
        if answer["closest_topics"]:
            st.caption("The closest topics your notes do cover — ask about one:")
            for n, question in enumerate(follow_up_questions(answer["closest_topics"])):
                if st.button(markdown_literal(question), key=f"{key}-topic-{n}"):
                    st.session_state.pending = question
                    st.rerun()
        return
    st.html(answer_html(answer["text"], cited={c["n"] for c in answer["citations"]}))
    searched(answer)
    if answer.get("notice"):
        st.caption(markdown_literal(answer["notice"]))
    for citation in sorted(answer["citations"], key=lambda c: c["n"]):
        chunk = citation["chunk"]
        heading = markdown_literal(" › ".join(chunk["heading_path"]) or chunk["source"])
        where = markdown_literal(place(chunk["source"], citation["start_line"], citation["end_line"],
                                       chunk.get("region", ""), chunk.get("region_start", 0),
                                       chunk.get("region_end", 0)))
        # a page without headings is named by its file: said once ("[1] rome.html", not "rome.html — rome.html")
        with st.expander(f"[{citation['n']}] {heading}" + (f" — {where}" if where != heading else "")):
            marked = cited_lines(citation["quote"], chunk["text"], chunk["start_line"])
            if not (chunk.get("region") and show_region(citation, marked)):
                st.html(chunk_passage_html(chunk, marked))
            st.caption(markdown_literal(shown_place(chunk["source"], chunk["start_line"], chunk["end_line"],
                                                    chunk.get("region", ""), chunk.get("region_start", 0),
                                                    chunk.get("region_end", 0))))
    facts = [answer["backend"], f"prompt {answer['prompt']}", f"{answer['seconds']:.2f} s"]
    if answer.get("tokens_in") or answer.get("tokens_out"):
        facts.append(f"{answer['tokens_in']} tokens in / {answer['tokens_out']} out")
    st.caption(" · ".join(facts))


def searched(answer: dict) -> None:
    """Under an answer to a follow-up: the question it was searched for ("and how?" rewritten), as text."""
    if resolved := resolved_question(answer):
        st.caption(markdown_literal(f"Answering: {resolved}"))


def feedback_widget(index: int, question: str, answer: dict) -> None:
    """Thumbs on an answer, stored locally with the question it answered, the answer, backend and sources."""
    def store() -> None:
        score = st.session_state.get(f"fb-{index}")
        if score is not None:
            append_feedback(FEEDBACK_FILE, feedback_record(question, answer, score))
            st.toast("Thanks: feedback saved to " + str(FEEDBACK_FILE))

    st.feedback("thumbs", key=f"fb-{index}", on_change=store)


def settings_sidebar(sa: StudyAssistant) -> tuple[dict, DeltaGenerator]:
    """Backend, prompt and retrieval settings; a place for the notes' status; new chat and feedback export.

    Drawn before anything is indexed, so the sidebar is there while an ingest runs and after one fails.

    Returns:
        The chosen options, and the slot `notes_panel` fills once the index is up to date.
    """
    with st.sidebar:
        st.header("Settings")
        ready = availability(sa.settings)
        names = list(NAMES)
        default = names.index(sa.settings.backend) if sa.settings.backend in names else 0
        backend = st.selectbox("Answer backend", names, index=default, key="backend",
                               format_func=lambda n: n if ready[n][0] else f"{n} (not set up)")
        if not ready[backend][0]:
            need = ready[backend][1]  # a missing extra's message names the backend itself
            st.warning(markdown_text(need if need.startswith("The ") else f"{backend} needs: {need}"))
        elif backend == "extractive":
            st.caption("Quotes your notes (no language model): offline and instant.")
        prompts = available_prompts()
        prompt = st.selectbox("Prompt", prompts, key="prompt",
                              index=prompts.index(sa.settings.prompt) if sa.settings.prompt in prompts else 0)
        k = st.slider("Passages to retrieve (k)", 1, 10, sa.settings.top_k, key="k")
        hybrid = st.toggle("Keyword + semantic search", value=sa.settings.hybrid, key="hybrid")
        st.divider()
        notes = st.empty()
        st.divider()
        st.button("New chat", use_container_width=True, type="primary", on_click=new_chat)
        # the count is of what the file will hold: the latest thumb per answer, and not a thumbs-down
        # on an abstention (a person must find its evidence first)
        rows = gold_candidates(read_feedback(FEEDBACK_FILE))
        if rows:
            st.download_button(
                f"Export {len(rows)} feedback item(s) as gold candidates",
                "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n",
                file_name="gold-candidates.jsonl", use_container_width=True)
    return {"backend": backend, "prompt": prompt, "k": k, "hybrid": hybrid}, notes


def new_chat() -> None:
    """Start an empty conversation (a question still being answered is dropped with it)."""
    st.session_state.messages = []
    st.session_state.pop("asking", None)
    st.session_state.pop("show_turn", None)


def index_action(name: str | None) -> None:
    """Remember a sidebar button's index action for the page run its click starts (`refresh` runs it).

    A button's callback runs before the page, so the action happens above the conversation, which is
    drawn first and stays on screen while the index is updated.
    """
    st.session_state.index_action = name
    st.session_state.confirm_rebuild = False


def skipped_files(status: IndexStatus) -> None:
    """Files in the notes folder the index could not read (a scanned PDF, a broken notebook) and why."""
    if status.skipped:
        st.caption(f"{len(status.skipped)} file(s) not indexed:  \n" + "  \n".join(
            "• " + markdown_text(line) for line in status.skipped))


def notes_panel(status: IndexStatus | None) -> None:
    """The notes' status, what is wrong with the index (with a repair), re-index and rebuild (confirmed first).

    Every line that can hold a path or a note's file name is shown as text, never as markdown.
    """
    st.subheader("Your notes")
    if status is None:
        st.caption("The index cannot be read: see the message on the page.")
        st.button("Re-index notes", use_container_width=True, on_click=index_action, args=("reindex",))
        return
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(status.updated)) if status.updated else "never"
    st.markdown(f"{status.files} file(s), {status.chunks} sections  \nlast indexed {when}")
    st.caption("Notes folder")
    st.code(status.corpus_dir, language=None, wrap_lines=True)  # a code block reads no markdown
    skipped_files(status)
    if status.problems:
        st.error("The index needs a repair:  \n" + "  \n".join(
            "• " + markdown_text(problem_line(p)) for p in status.problems), icon=":material/healing:")
        st.button("Repair index", type="primary", use_container_width=True, on_click=index_action,
                  args=("repair",), help="Re-embeds only what is missing or damaged; your notes are not touched.")
    if status.busy:
        st.caption("Another session or process is updating the index right now.")
    elif status.stale:
        st.info("Your notes changed since the last index.")
    st.button("Re-index notes", use_container_width=True, on_click=index_action, args=("reindex",),
              help="Embeds only new or changed notes and drops removed ones.")
    if not st.session_state.get("confirm_rebuild"):
        st.button("Rebuild from scratch…", use_container_width=True,
                  on_click=lambda: st.session_state.update(confirm_rebuild=True),
                  help="Re-embeds every note; asks first.")
        return
    st.warning(f"Rebuild re-embeds all {status.chunks} sections of your notes, which takes a while. "
               "Re-index is enough after editing notes. The current index keeps answering meanwhile.")
    yes, no = st.columns(2)
    yes.button("Yes, rebuild", type="primary", use_container_width=True, on_click=index_action, args=("rebuild",))
    no.button("Cancel", use_container_width=True, on_click=index_action, args=(None,))


# Keeps a new question and its answer in view while the answer is written and drawn. Streamlit follows
# the page's bottom as it grows, with the question box pinned there, but only if the student has not
# scrolled up meanwhile (to read a long answer from its start, say): then the new turn would appear out
# of sight. So the page follows the new turn itself: all of it, at the bottom of the page, while it fits
# above the question box; once taller, its question at the top of the window, to read from the start.
# Following stops at the student's first scroll, click, tap or key, and at the next question. Our own
# constant code: no note or user text ever reaches it.
_FOLLOW_JS = """
export default function ({ data }) {
  if (!data || !data.turn || window.studyAssistantShown === data.id) return;
  window.studyAssistantShown = data.id;  // once per question: other page runs leave the scroll alone
  if (window.studyAssistantStop) window.studyAssistantStop();
  const pane = document.querySelector("[data-testid='stAppScrollToBottomContainer']");
  const content = document.querySelector("[data-testid='stMainBlockContainer']");
  if (!pane || !content) return;
  const place = () => {
    const turn = document.querySelector(`.st-key-turn-${data.turn}`);  // redrawn by each page run
    const box = turn && turn.getBoundingClientRect();
    if (!box || !box.height) return;  // not drawn, or on a hidden tab
    const header = document.querySelector("[data-testid='stHeader']");
    const bar = document.querySelector("[data-testid='stBottom']");
    const top = (header ? header.getBoundingClientRect().bottom : 0) + 8;
    const bottom = (bar ? bar.getBoundingClientRect().top : window.innerHeight) - 8;
    if (box.height > bottom - top) {
      if (Math.abs(box.top - top) > 1) pane.scrollBy(0, box.top - top);
    } else if (box.top < top || box.bottom > bottom) {
      pane.scrollTop = pane.scrollHeight;  // the turn ends the page
    }
  };
  const observer = new ResizeObserver(place);
  observer.observe(content);
  // the question box's bar changes height when the box is enabled again after an answer: that moves
  // the room above it without resizing the page's content
  const bottomBar = document.querySelector("[data-testid='stBottom']");
  if (bottomBar) observer.observe(bottomBar);
  pane.addEventListener("scroll", place, { passive: true });
  const events = ["wheel", "touchstart", "pointerdown", "keydown"];
  const stop = () => {
    observer.disconnect();
    pane.removeEventListener("scroll", place);
    for (const name of events) window.removeEventListener(name, stop, true);
    window.studyAssistantStop = null;
  };
  for (const name of events) window.addEventListener(name, stop, { capture: true, passive: true });
  window.studyAssistantStop = stop;
  place();
}
"""


@st.cache_resource(show_spinner=False)
def follow_component():
    """The component that keeps a new turn in view (registered once per server)."""
    return st.components.v2.component("study_assistant.follow_turn", js=_FOLLOW_JS)


def show_turn(turn: int) -> None:
    """Ask the page to keep turn ``turn`` in view while it is answered (see ``_FOLLOW_JS``)."""
    request = st.session_state.get("show_turn") or {"id": 0}
    st.session_state.show_turn = {"turn": turn, "id": request["id"] + 1}


def follow_turns() -> None:
    """Carry out the latest `show_turn` request (the page's script does it once per request)."""
    follow_component()(key="follow-turn", data=st.session_state.get("show_turn"), height=0)


def conversation(messages: list[dict]) -> None:
    """The conversation so far (drawn before any indexing, so it stays on screen while the index updates).

    Each question and its answer sit in a container keyed ``turn-<n>`` (1-based), which `show_turn`
    keeps in view.
    """
    for n, message in enumerate(messages):
        if message["role"] == "user":
            turn = st.container(key=f"turn-{n // 2 + 1}")
        with turn, st.chat_message(message["role"]):
            if message["role"] == "user":
                st.text(message["content"])  # as typed: no markdown, no directives, line breaks kept
            else:
                render_answer(message["answer"], key=f"m{n}")
                feedback_widget(n, messages[n - 1]["content"] if n else "", message["answer"])


def asked() -> str | None:
    """The question of this page run: typed, a starter or closest topic clicked, or one still unanswered.

    Still unanswered: a page run stopped while answering (a tab switched, a setting changed meanwhile)
    leaves its question in ``asking``, and the next run answers it. Known before the question box is
    drawn, so the page shows it while the index is brought up to date. Blank input is no question.
    """
    for key in ("question", "pending", "asking"):
        text = st.session_state.get(key)
        if isinstance(text, str) and text.strip():
            return text
    return None


def question_box() -> None:
    """The question box, at page level: Streamlit pins it to the bottom of the window, under the chat.

    Inside a tab it would sit at the end of the conversation, below the fold after each answer.
    """
    st.chat_input("Ask about your notes…", key="question")


def chat(sa: StudyAssistant, options: dict, messages: list[dict], turn: DeltaGenerator) -> None:
    """Starters on an empty chat, and the new answer streamed into ``turn``.

    ``turn`` already shows the question (`main` drew it before updating the index).
    """
    question = asked()
    st.session_state.pop("pending", None)
    if not messages and not question:
        st.markdown("Ask anything about your notes. Try one of these:")
        columns = st.columns(len(STARTERS))
        for column, starter in zip(columns, STARTERS, strict=True):
            if column.button(starter, use_container_width=True):
                st.session_state.pending = starter
                st.rerun()
    if not question:
        return
    st.session_state.asking = question  # answered by the next run if this one is stopped
    history = [{"role": m["role"], "content": m["content"]} for m in messages]
    with turn, st.chat_message("assistant"):
        try:
            answer = stream_answer(sa, options, question, history, key=f"m{len(messages) + 1}")
        except Exception:
            st.session_state.pop("asking", None)  # a bug must not re-ask on every run
            raise
    st.session_state.pop("asking", None)
    if answer is None:
        return
    messages += [{"role": "user", "content": question},
                 {"role": "assistant", "content": answer["text"], "answer": answer}]
    st.rerun()


def stream_answer(sa: StudyAssistant, options: dict, question: str, history: list[dict], key: str) -> dict | None:
    """Stream one answer into the current chat message, then draw it whole; None when it failed (shown)."""
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
            if isinstance(piece, Retraction):  # an LLM attempt that failed its checks: its text goes
                shown = ""
                slot.html(answer_html(piece.reason, badges=False))
                drawn = time.monotonic()
                continue
            shown += piece
            if time.monotonic() - drawn > 0.05:  # each redraw sends the whole text: not per token
                slot.html(answer_html(shown, badges=False))
                drawn = time.monotonic()
    except BackendError as exc:
        # the partial text stays on screen; the conversation keeps everything before this turn
        if shown:
            slot.html(answer_html(shown, badges=False))
        show_error(exc)
        return None
    except AssistantError as exc:
        slot.empty()
        show_error(exc)
        return None
    slot.empty()
    answer = final[0].to_dict()
    render_answer(answer, key=key)
    return answer


def evaluations() -> None:
    """The latest saved evaluation reports: table, chart and per-question differences.

    A report quotes questions and answers from the notes, so it is shown the way answers are: HTML we
    build from escaped text (`report_html`), never as Streamlit markdown; its chart is our own PNG.
    """
    runs = sorted((p for p in REPORTS_DIR.glob("*/report.md")), reverse=True) if REPORTS_DIR.is_dir() else []
    if not runs:
        st.info("No evaluation runs yet. Run `.venv/bin/assistant eval --variants default,short-answers`; "
                "reports appear here.")
        return
    chosen = st.selectbox("Run", runs, format_func=lambda p: p.parent.name)
    try:
        text = chosen.read_text(encoding="utf-8")
        before, _, after = text.partition("![chart](chart.png)")
        st.html(report_html(before))
        chart = chosen.parent / "chart.png"
        if chart.is_file():
            st.image(str(chart))
        if after.strip():
            st.html(report_html(after))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        st.error(markdown_text(f"This report cannot be shown ({exc}); re-run the evaluation or delete "
                               f"{chosen.parent}."), icon=":material/error:")


def main() -> None:
    """Lay out the page: the sidebar and the conversation first, then the index update, then the new answer.

    The question box is pinned to the bottom of the window on the Chat tab only: the tabs rerun the
    page when switched, so the Study and Evaluation tabs are drawn without it (a question typed there
    would be answered out of sight).
    """
    st.title("MLA-C01 study assistant")
    st.caption("Answers from your own notes, every line cited; or an honest \"your notes don't cover this\".")
    try:
        sa = get_assistant()
    except AssistantError as exc:  # a setting is wrong: nothing below can work until it is fixed
        show_error(exc)
        with st.sidebar:
            st.header("Settings")
            st.caption("Fix the setting named on the page, then reload.")
        return
    options, notes = settings_sidebar(sa)
    updates = st.container()  # progress, toasts, warnings and errors of the index update, above the tabs
    tab_chat, tab_study, tab_eval = st.tabs(["Chat", "Study", "Evaluation"], key="view", on_change="rerun")
    if tab_chat.open is not False:
        question_box()  # drawn first, so it stays in place while the index updates and the answer streams
    messages = st.session_state.setdefault("messages", [])
    with tab_chat:
        conversation(messages)
        # the new question and its answer, at the end of the conversation (then drawn by `conversation`)
        turn = st.container(key=f"turn-{len(messages) // 2 + 1}")
        if question := asked():
            with turn, st.chat_message("user"):
                st.text(question)  # as typed: no markdown, no directives, line breaks kept
            show_turn(len(messages) // 2 + 1)  # in view while it is answered, wherever the student had scrolled
        follow_turns()
    with updates:
        # while an ingest runs, the sidebar says so instead of showing the last run's buttons (a second
        # click on "Yes, rebuild" would queue a second rebuild)
        status = refresh(sa, st.session_state.pop("index_action", None),
                         working=lambda: notes.caption("Updating the index of your notes…"))
    with notes.container():
        notes_panel(status)
    with tab_chat:
        chat(sa, options, messages, turn)
    with tab_study:
        if tab_study.open is not False:  # drawn only when shown: it makes the cards and a deck
            study_tab(sa, render_answer)
    with tab_eval:
        evaluations()


main()
