"""The Streamlit study UI: AppTest runs the real page; a real headless Chromium drives a real server."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS, NOTES_FILE, page_over, serving

from assistant.ui.feedback import feedback_record, gold_candidates
from assistant.ui.render import answer_html, cited_lines, follow_up_questions, passage_html, resolved_question

DRIFT = "Explain concept drift vs data drift"
FOLLOW_UP = "and how do I detect it?"


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    """A folder with the real notes; the app runs from it (no developer .env, its own feedback file)."""
    tmp = tmp_path_factory.mktemp("app")
    (tmp / "corpus").mkdir()
    shutil.copy(NOTES_FILE, tmp / "corpus" / NOTES_FILE.name)
    return tmp


@pytest.fixture
def at(app_env, monkeypatch):
    app = page_over(app_env, monkeypatch)
    app.run()
    assert not app.exception
    return app


def as_shown(markdown: str) -> str:
    """What a string made literal by ``markdown_text`` reads as on the page (escapes and joiners gone)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "").replace("\u00a0", " ")


def ask(app, question: str):
    app.chat_input[0].set_value(question).run()
    assert not app.exception
    return app


def test_empty_chat_offers_starter_questions(at):
    labels = [b.label for b in at.button]
    assert DRIFT in labels and "New chat" in labels and "Re-index notes" in labels


def test_drift_question_gives_a_cited_answer_with_a_source_per_citation(at):
    ask(at, DRIFT)
    # answers and passages are HTML built from escaped note text (st.html), not markdown
    answer = next(h.value for h in at.get("html") if "Concept Drift:" in h.value and "<mark>" not in h.value)
    assert 'title="source 1"' in answer  # markers render as our badges
    cited = sorted({int(x) for x in re.findall(r'title="source (\d+)"', answer)})
    sources = [e.label for e in at.expander]
    assert [int(label[1:label.index("]")]) for label in sources] == cited
    assert all("aws-mla-c01-notes.md, line" in label for label in sources)
    passages = [h.value for h in at.get("html") if "<mark>" in h.value]
    assert passages and any("Concept Drift:" in p[p.index("<mark>"):] for p in passages)
    assert any("extractive · prompt default" in c.value for c in at.caption)
    assert len(at.session_state.messages) == 2


def test_unanswerable_question_renders_the_abstained_state(at):
    ask(at, "what hydration percentage should my sourdough loaf have?")
    assert any("don't cover this" in w.value for w in at.warning)
    follow_ups = [b for b in at.button if b.label.startswith("What do my notes say about")]
    assert follow_ups and not at.expander
    follow_ups[0].click().run()  # a closest topic is a question to ask
    assert not at.exception and len(at.session_state.messages) == 4


def test_follow_up_helpers():
    answer = {"question": FOLLOW_UP, "standalone_question": "How do I detect concept drift?", "text": "x [1]",
              "citations": [{"chunk": {"heading_path": ["Drift"], "source": "a.md"}, "quote": "drift"}]}
    assert resolved_question(answer) == "How do I detect concept drift?"
    assert resolved_question({"question": "what is  drift?", "standalone_question": "what is drift?"}) is None
    record = feedback_record(FOLLOW_UP, answer, 1)
    assert (record["question"], record["asked"]) == ("How do I detect concept drift?", FOLLOW_UP)
    assert feedback_record(DRIFT, {"text": "x"}, 0)["question"] == DRIFT  # an answer from before: as typed
    # closest topics from several kinds of notes: numbered and bold headings, repeated last headings
    topics = ["Key Components › 1. Amazon SageMaker", "Services › Amazon SageMaker", "Lecture 3 › 3.2 TCP",
              "Services › 4. **Amazon S3:**", "query-processing.txt", "Lecture 3 – Transport layer (CN, week 3)",
              "Domain 1: Data Preparation"]
    assert [q.removeprefix("What do my notes say about ") for q in follow_up_questions(topics)] == [
        "Amazon SageMaker?", "TCP?", "Amazon S3?", "query-processing.txt?", "Lecture 3 – Transport layer (CN, week 3)?",
        "Domain 1: Data Preparation?"]


def test_backend_error_shows_st_error_and_keeps_history(at):
    ask(at, DRIFT)
    at.sidebar.selectbox(key="backend").select("openai").run()
    assert any("needs" in w.value for w in at.sidebar.warning)  # says what it needs before you try
    ask(at, "what is data drift?")
    # the message is shown as text (markdown_text escapes it): read it as the page shows it
    assert any("ASSISTANT_OPENAI_BASE_URL" in as_shown(e.value) for e in at.error)
    assert len(at.session_state.messages) == 2  # the failed turn is not added; the first one stays


def test_switching_prompt_in_the_sidebar_takes_effect(at):
    at.sidebar.selectbox(key="prompt").select("short-answers").run()
    ask(at, "How do I handle class imbalance?")
    assert any("prompt short-answers" in c.value for c in at.caption)
    answer = at.session_state.messages[-1]["answer"]
    assert answer["prompt"] == "short-answers" and len(answer["text"].split()) < 110


def test_new_chat_clears_the_conversation(at):
    ask(at, DRIFT)
    next(b for b in at.button if b.label == "New chat").click().run()
    assert at.session_state.messages == []


def test_thumbs_store_feedback_with_question_answer_backend_and_sources(at, app_env):
    ask(at, DRIFT)
    at.get("feedback")[0].set_value(1).run()
    assert not at.exception
    lines = (app_env / "feedback" / "feedback.jsonl").read_text().splitlines()
    record = json.loads(lines[-1])
    assert record["question"] == DRIFT and record["score"] == "up" and record["backend"] == "extractive"
    assert record["sources"] and record["sources"][0]["quote"] and "Concept Drift" in record["answer"]
    assert any(b.label.startswith("Export") for b in at.sidebar.get("download_button"))


def test_feedback_is_exported_as_gold_candidates():
    record = {"question": DRIFT, "answer": "- **Data Drift:** changes [1]", "abstained": False, "score": "up",
              "sources": [{"quote": "- **Data Drift:** Occurs when the statistical properties change"}]}
    (candidate,) = gold_candidates([record])
    assert candidate["answerable"] and candidate["evidence"] == [record["sources"][0]["quote"]]
    assert set(candidate) >= {"id", "question", "reference", "evidence", "answerable"}


def passage_rows(view: str) -> list[tuple[int, str]]:
    """(file line number, shown text) for each row of a passage view: its bullet or number as "• " / "1. ",
    its indent (padding, in columns of the note) as spaces."""
    rows = []
    for n, style, text in re.findall(
            r'title="line (\d+)" style="[^"]*">\d+</span><span style="([^"]*)">(.*?)</span></div>', view):
        indent = re.search(r"padding-left:calc\((\d+)ch", style)
        lead = re.sub(r'^<span style="[^"]*">([^<]+)</span>', r"\1 ", text)
        rows.append((int(n), " " * int(indent.group(1) if indent else 0) + lead))
    return rows


def test_badges_and_highlights():
    badges = answer_html("a [1] b [2, 3].")
    assert re.findall(r'<span title="source (\d+)"[^>]*>\d+</span>', badges) == ["1", "2", "3"]
    text = "# Drift\n- **Data Drift:** input <changes>\n- other"
    assert cited_lines("- **Data Drift:** input <changes>", text, 10) == [11]
    rows = passage_rows(passage_html(text, 10, [11]))
    assert rows == [(10, "<strong>Drift</strong>"),  # a heading is bold, not huge; the file's line numbers
                    (11, "• <mark><strong>Data Drift:</strong> input &lt;changes&gt;</mark>"),
                    (12, "• other")]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_real_browser_asks_and_opens_a_citation(app_env, tmp_path):
    """`streamlit run` on 127.0.0.1, driven by headless Chromium: type the drift question, wait for the
    streamed answer, open a citation, see the highlighted passage; the screenshot is kept in tmp_path."""
    from playwright.sync_api import sync_playwright

    with serving(app_env) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(url)
        box = page.get_by_placeholder("Ask about your notes…")
        box.wait_for(timeout=120_000)
        box.fill(DRIFT)
        box.press("Enter")
        page.locator("[data-testid='stExpander']").first.wait_for(timeout=120_000)
        # the answer streams, then the page reruns and redraws it: wait until the app is idle, so
        # the click lands on the final expander, not on one about to be replaced
        page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=60_000)
        # the answer is an st.html element, whose component the page loads on first use: it can show a
        # moment after the captions and expanders around it
        answer = page.locator("[data-testid='stChatMessage']").last.locator("[data-testid='stHtml']")
        answer.filter(has_text="Concept Drift:").first.wait_for(timeout=30_000)
        for _ in range(5):
            page.locator("[data-testid='stExpander']").first.locator("summary").click()
            try:
                page.locator("mark").first.wait_for(timeout=4_000)
                break
            except Exception:  # noqa: BLE001 - redrawn under the click; open it again
                continue
        page.locator("mark").first.wait_for(timeout=10_000)
        assert "Drift" in page.locator("mark").first.inner_text()
        page.screenshot(path=str(tmp_path / "drift-answer.png"), full_page=True)
        browser.close()
    assert (tmp_path / "drift-answer.png").stat().st_size > 20_000


def test_reindex_button_updates_the_index_in_place(at):
    next(b for b in at.sidebar.button if b.label == "Re-index notes").click().run()
    assert not at.exception
    # incremental: nothing changed, so nothing is embedded again (tests/test_app_index.py edits a note)
    assert any("Indexed 1 file(s)" in t.value and "(0 added, 0 removed" in t.value for t in at.toast)


def test_indented_passages_code_and_tables_render_as_written():
    text = ("    - **Glue:** runs ETL jobs\n        - **Crawler:** finds schemas\n```python\n# a comment <x>\n"
            "x = a**2 * b**2\n```\n| a | **b** |")
    rows = [shown for _, shown in passage_rows(passage_html(text, 1, [1]))]
    assert rows[0] == "• <mark><strong>Glue:</strong> runs ETL jobs</mark>"  # the common indent goes
    # (the bullet hangs outside the mark and the wrapped text: a long line wraps under its own text)
    assert rows[1] == "    • <strong>Crawler:</strong> finds schemas"
    assert rows[2:6] == ["```python", "# a comment &lt;x&gt;", "x = a**2 * b**2", "```"]  # code stays code, escaped
    assert rows[6] == "| a | **b** |"  # a table row as written
    code = answer_html("use `arr[1]` here [1]")
    assert "arr[1]</code>" in code and code.count('title="source 1"') == 1  # a marker in code is code


def test_exported_gold_candidates_load_as_a_gold_file(tmp_path):
    from assistant.evaluation.gold import load_gold

    answer = "- **Data Drift:** changes [1]"
    records = [
        {"question": DRIFT, "answer": answer, "abstained": False, "score": "down", "sources": []},
        {"question": DRIFT, "answer": answer, "abstained": False, "score": "up",  # the thumb changed
         "sources": [{"quote": "- **Data Drift:** input changes\n\n"}]},
        {"question": "sourdough?", "answer": "Your notes don't cover this.", "abstained": True, "score": "down"},
        {"question": "world cup?", "answer": "Your notes don't cover this.", "abstained": True, "score": "up"},
    ]
    rows = gold_candidates(records)
    assert [r["question"] for r in rows] == [DRIFT, "world cup?"]
    path = tmp_path / "candidates.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert [g.answerable for g in load_gold(path)] == [True, False]
