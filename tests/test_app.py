"""The Streamlit study UI: AppTest runs the real page; a real headless Chromium drives a real server."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS, NOTES_FILE, page_over, serving

from assistant.ui.feedback import feedback_record, gold_candidates, read_feedback
from assistant.ui.render import answer_html, cited_lines, follow_up_questions, passage_html, resolved_question

DRIFT = "Explain concept drift vs data drift"
FOLLOW_UP = "and how do I detect it?"
# the follow-up as answered: both sides of the comparison asked about together, not compared again
RESOLVED = "how do I detect concept drift and data drift?"
IMBALANCE = "How do I handle class imbalance?"


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
    topics = [as_shown(b.label).removeprefix("What do my notes say about ") for b in follow_ups]
    assert len(set(topics)) == len(topics) and not any(re.match(r"\d", t) for t in topics)  # no "1. X" twice
    follow_ups[0].click().run()  # a closest topic is a question to ask
    assert not at.exception and len(at.session_state.messages) == 4


def shown_numbers(html: str) -> list[int]:
    """The citation badges of an answer, in the order they first appear."""
    return list(dict.fromkeys(int(n) for n in re.findall(r'title="source (\d+)"', html)))


def test_three_turns_come_in_order_above_the_question_box_pinned_at_page_level(at):
    for question in (DRIFT, FOLLOW_UP, IMBALANCE):
        ask(at, question)
    assert [m.name for m in at.chat_message] == ["user", "assistant"] * 3
    assert [t.value for t in at.text] == [DRIFT, FOLLOW_UP, IMBALANCE]  # each question as typed, in order
    # the box is called at page level, outside the tabs: Streamlit pins it to the bottom of the window
    (box,) = at.chat_input
    assert box.proto.is_auto_positioned_at_bottom
    assert not at.main.chat_input and not at.sidebar.chat_input and not at.tabs[0].chat_input
    # the follow-up says what it was answered as, as text
    answering = [as_shown(c.value) for c in at.caption if c.value.startswith("Answering")]
    assert answering == [f"Answering: {RESOLVED}"]


def test_citations_are_numbered_in_order_of_first_use_in_the_answer_and_its_sources(at):
    ask(at, DRIFT)  # retrieval ranks its cited passages 1, 2 and 4
    answer = at.session_state.messages[-1]["answer"]
    html = next(h.value for h in at.get("html") if "Concept Drift:" in h.value and "<mark>" not in h.value)
    numbers = shown_numbers(html)
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 3
    assert [e.label[:3] for e in at.expander] == [f"[{n}]" for n in numbers]  # the sources, 1..n
    # renumbered, not re-ranked: a citation still opens the passage it quotes
    contexts = [c["id"] for c in answer["contexts"]]
    assert any(contexts.index(c["chunk"]["id"]) + 1 != c["n"] for c in answer["citations"])
    for label, citation in zip(at.expander, answer["citations"], strict=True):
        assert citation["chunk"]["source"] in as_shown(label.label)


def test_blank_input_is_no_question(at):
    ask(at, "  \n\t ")
    assert not at.chat_message and not at.error and at.session_state.messages == []
    assert any(b.label == DRIFT for b in at.button)  # still the empty chat, with its starters


def test_a_question_whose_page_run_was_stopped_is_answered_by_the_next(at):
    at.session_state["asking"] = DRIFT  # left by a run stopped mid-answer (a tab switched, a setting changed)
    at.run()
    assert not at.exception and [m["content"] for m in at.session_state.messages][:1] == [DRIFT]
    at.run()
    assert len(at.session_state.messages) == 2  # answered once


def test_the_evaluation_tab_has_no_question_box_and_the_chat_tab_gets_it_back(at):
    ask(at, DRIFT)
    at.session_state["view"] = "Evaluation"
    at.run()
    assert not at.exception and not at.chat_input
    assert any("No evaluation runs yet" in i.value for i in at.info)
    at.session_state["view"] = "Chat"
    at.run()
    assert len(at.chat_input) == 1 and [m.name for m in at.chat_message] == ["user", "assistant"]


def test_feedback_on_a_follow_up_stores_and_exports_the_question_it_answered(at, app_env):
    ask(at, DRIFT)
    ask(at, FOLLOW_UP)
    at.get("feedback")[1].set_value(1).run()
    assert not at.exception
    path = app_env / "feedback" / "feedback.jsonl"
    record = json.loads(path.read_text().splitlines()[-1])
    assert record["question"] == RESOLVED and record["asked"] == FOLLOW_UP
    ask(at, "what hydration percentage should my sourdough loaf have?")
    at.get("feedback")[2].set_value(0).run()  # a thumbs-down on an abstention: not exported
    rows = gold_candidates(read_feedback(path))
    assert FOLLOW_UP not in [r["question"] for r in rows]
    assert RESOLVED in [r["question"] for r in rows]
    (export,) = at.sidebar.get("download_button")
    assert export.label == f"Export {len(rows)} feedback item(s) as gold candidates"
    assert len(rows) < len(read_feedback(path))  # the count is of rows exported, not of thumbs given


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
              "Domain 1: Data Preparation", "Python › 3.11 release notes"]
    assert [q.removeprefix("What do my notes say about ") for q in follow_up_questions(topics)] == [
        "Amazon SageMaker?", "TCP?", "Amazon S3?", "query-processing.txt?", "Lecture 3 – Transport layer (CN, week 3)?",
        "Domain 1: Data Preparation?", "3.11 release notes?"]  # a version number before a lower-case title stays


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


# whether chat message n is in view as a reader needs it: its start on screen, above the question box,
# and all of it above the box, or, when it is too tall for that, starting near the top of the window
SEEN = """n => {
  const answer = document.querySelectorAll("[data-testid='stChatMessage']")[n]?.getBoundingClientRect();
  const box = document.querySelector("[data-testid='stChatInput']")?.getBoundingClientRect();
  if (!answer || !box) return false;
  return answer.top >= 0 && answer.top < box.top && (answer.bottom <= box.top || answer.top <= 200);
}"""

OUT_OF_VIEW = """n => document.querySelectorAll("[data-testid='stChatMessage']")[n]?.getBoundingClientRect().top
                    > window.innerHeight"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_real_browser_three_turns_keep_the_box_at_the_bottom_and_the_new_answer_in_view(app_env, tmp_path):
    """Three questions in a 900 px window, the third asked after scrolling back up to the first answer:
    each time the question box is on screen at the bottom and the new answer is in view (element boxes,
    not timing; the page follows its own bottom unless scrolled away, then the app scrolls the new
    question into view). The Evaluation tab has no box. The screenshot after the third turn is kept."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with serving(app_env) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url)
        box = page.get_by_placeholder("Ask about your notes…")
        box.wait_for(timeout=120_000)
        messages = page.locator("[data-testid='stChatMessage']")
        for n, question in enumerate((DRIFT, FOLLOW_UP, IMBALANCE), 1):
            if n == 3:  # back up to read the first answer: the next one must still come into view
                # once the page is idle: a rerun still drawing the last answer pulls the page back to its bottom
                page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=60_000)
                page.mouse.move(700, 400)
                for _ in range(10):  # a late redraw can pull the page back to its bottom: scroll again
                    page.mouse.wheel(0, -10_000)
                    try:
                        page.wait_for_function(OUT_OF_VIEW, arg=3, timeout=3_000)
                        break
                    except PlaywrightTimeout:
                        continue
                assert messages.nth(3).bounding_box()["y"] > 900  # the last answer is out of view now
                # and read a moment, as a person does: Streamlit's own following of the page's bottom notices
                # a scroll up only then (within 0.1 s), so the new turn must be brought into view by the app
                page.wait_for_timeout(1_000)
            box.fill(question)
            box.press("Enter")
            messages.nth(2 * n - 1).locator("[data-testid='stExpander']").first.wait_for(timeout=120_000)
            page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=60_000)
            messages.nth(2 * n - 1).locator("[data-testid='stHtml']").first.wait_for(timeout=30_000)
            # in view: the whole answer above the question box, or, if too tall for that, from its start
            try:
                page.wait_for_function(SEEN, arg=2 * n - 1, timeout=30_000)
            except PlaywrightTimeout:
                page.screenshot(path=str(tmp_path / f"turn-{n}-not-in-view.png"))  # the assertion says where it is
            question_box, answer = box.bounding_box(), messages.nth(2 * n - 1).bounding_box()
            assert question_box["y"] >= 0 and question_box["y"] + question_box["height"] <= 900, question_box
            assert 0 <= answer["y"] < question_box["y"], (n, answer, question_box)  # its start is on screen
            fits = answer["y"] + answer["height"] <= question_box["y"]  # and all of it, above the box
            assert fits or answer["y"] <= 200, (n, answer, question_box)  # or as much as the window holds
            assert messages.count() == 2 * n
            assert messages.nth(2 * n - 2).locator("[data-testid='stText']").inner_text() == question
        page.screenshot(path=str(tmp_path / "three-turns.png"))
        page.get_by_role("tab", name="Evaluation").click()
        page.get_by_text("No evaluation runs yet").wait_for(timeout=30_000)
        box.wait_for(state="detached", timeout=30_000)  # no box here: its question would be answered out of sight
        page.get_by_role("tab", name="Chat").click()
        box.wait_for(timeout=30_000)
        assert messages.count() == 6
        browser.close()
    print(f"screenshot in {tmp_path}")
    assert (tmp_path / "three-turns.png").stat().st_size > 20_000


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


def test_a_page_without_headings_is_named_once_in_its_citation(tmp_path, monkeypatch):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "rome.html").write_text(
        "<html><body><p>The Colosseum was finished in 80 AD under Titus and held about 50,000 spectators.</p>"
        "<p>Aqueducts carried water into Rome from springs up to 90 km away.</p></body></html>", encoding="utf-8")
    app = page_over(tmp_path, monkeypatch)
    app.run(timeout=120)
    ask(app, "how many spectators did the colosseum hold?")
    labels = [e.label for e in app.expander if e.label.startswith("[1]")]
    assert labels and labels[0].replace("\\", "") == "[1] rome.html", labels


def test_a_pasted_practice_question_gets_the_checker_s_verdict_in_the_chat(at):
    """Routed to the checker (issue 17): a verdict with each option's cited line, not a summary of every option."""
    ask(at, "A team needs to run inference on payloads of up to 1 GB that take several minutes each, and "
            "callers do not wait for an immediate response. Which option fits?\nA. Real-time endpoints\n"
            "B. Batch transform\nC. Asynchronous inference\nD. Serverless inference")
    content = at.session_state.messages[-1]["content"]
    assert content.startswith(("**Your notes point to", "**Your notes can't decide"))
    # every option gets a line; the best supported (asynchronous inference) comes first, cited
    assert content.index("**C. Asynchronous inference:**") < min(content.index(f"**{x}") for x in "ABD")
    answer = next(h.value for h in at.get("html") if "Asynchronous inference:" in h.value)
    assert 'title="source 1"' in answer and "<script" not in answer
    assert any("practice checker" in c.value for c in at.caption)


def test_the_study_tab_checks_a_question_runs_a_domain_quiz_and_offers_the_decks(at):
    at.session_state["view"] = "Study"
    at.run()
    assert not at.exception and not at.chat_input  # no question box off the Chat tab
    at.text_area(key="study-check-text").set_value(
        "Which SageMaker feature detects bias in the training data and explains predictions?\n"
        "A. SageMaker Clarify\nB. SageMaker Debugger\nC. SageMaker Ground Truth\nD. SageMaker Neo").run()
    at.button(key="study-check").click().run()
    assert not at.exception
    verdict = next(h.value for h in at.get("html") if "SageMaker Clarify:" in h.value)
    assert ("Your notes point to" in verdict or "can&#x27;t decide" in verdict) and 'title="source 1"' in verdict
    # the student's own answer, graded by the key they give, goes into the progress
    at.radio(key="study-mine").set_value("B")
    at.radio(key="study-key").set_value("A")
    at.button[[b.label for b in at.button].index("Record my answer")].click().run()
    assert not at.exception
    assert [w.value for w in at.warning] == ["Not quite: the answer key says A. SageMaker Clarify; you answered B."]
    # a 4-question quiz on domain 4, answered: scored, each with the notes' line and where it is
    at.selectbox(key="study-domain").set_value("Domain 4: ML Solution Monitoring, Maintenance, and Security").run()
    at.number_input(key="study-count").set_value(4).run()
    at.button(key="study-new-quiz").click().run()
    quiz = at.session_state["study-quiz"]
    assert len(quiz) == 4 and all(q["domain"].startswith("Domain 4") for q in quiz)
    for n, q in enumerate(quiz, 1):
        at.radio(key=f"study-q-{n}").set_value(q["answer"] if n < 4 else next(x for x in q["options"]
                                                                               if x != q["answer"]))
    at.button[[b.label for b in at.button].index("Check my answers")].click().run()
    assert not at.exception
    assert any("3 of 4 right." in s.value for s in at.success)
    assert any(c.value.startswith("Your notes: ") and "aws-mla-c01-notes.md, line" in c.value for c in at.caption)
    labels = [b.label for b in at.get("download_button")]  # (the sidebar may offer a feedback export too)
    assert {"Download CSV", "Download Anki deck (.apkg)"} <= set(labels)
    # the answers went into the progress: its chart and numbers are drawn
    assert at.get("image")  # the chart
    numbers = next(c.value for c in at.caption if " right, " in c.value)
    assert "Domain 4: ML Solution Monitoring, Maintenance, and Security: " in numbers
    answered = [tuple(map(int, m)) for m in re.findall(r"(\d+)/(\d+) right", numbers)]
    assert sum(n for _, n in answered) == 5 and sum(r for r, _ in answered) == 3  # 4 quiz answers, 1 practice


def test_the_study_tab_brings_back_what_was_missed(app_env, monkeypatch, tmp_path):
    """A practice question answered wrong an hour ago is offered for review; a missed term leads a review quiz."""
    from datetime import UTC, datetime, timedelta

    from assistant.study.progress import Progress

    at = page_over(app_env, monkeypatch)
    monkeypatch.setenv("ASSISTANT_STUDY_DIR", str(tmp_path / "study"))  # its own progress, not the module's
    at.session_state["view"] = "Study"
    at.run()
    assert not at.exception and not [b for b in at.button if b.key == "study-review-practice"]  # nothing kept yet
    cards = at.session_state["study-cards"]
    missed = next(c for c in cards if c.domain.startswith("Domain 4"))
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    question = ("Which SageMaker feature detects bias in the training data and explains predictions?\n"
                "A. SageMaker Clarify\nB. SageMaker Debugger\nC. SageMaker Ground Truth\nD. SageMaker Neo")
    progress = Progress(tmp_path / "study")
    progress.record("check-clarify", "check", "Domain 4", "Clarify", False, hour_ago, question=question, answer="A")
    progress.record(missed.id, "quiz", missed.domain, "x", False, hour_ago)
    at.run()
    review = at.button(key="study-review-practice")
    assert review.label == "Review a practice question you answered before (1 due)"
    review.click().run()
    assert at.text_area(key="study-check-text").value == question
    at.checkbox(key="study-review").check().run()
    at.button(key="study-new-quiz").click().run()
    assert not at.exception and at.session_state["study-quiz"][0]["id"] == missed.id


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_real_browser_study_tab_checks_a_pasted_question_and_starts_a_quiz(app_env, tmp_path):
    """The Study tab in headless Chromium: no question box there, a pasted question gets its verdict with
    cited options, a quiz draws its questions; the screenshot is kept in tmp_path."""
    from playwright.sync_api import sync_playwright

    with serving(app_env) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(url)
        page.get_by_placeholder("Ask about your notes…").wait_for(timeout=120_000)
        page.get_by_role("tab", name="Study").click()
        area = page.get_by_label("Paste a question with its options (A. B. C. D.)")
        area.wait_for(timeout=60_000)
        page.get_by_placeholder("Ask about your notes…").wait_for(state="detached", timeout=30_000)  # Chat only
        area.fill("Which SageMaker feature detects bias in the training data and explains predictions?\n"
                  "A. SageMaker Clarify\nB. SageMaker Debugger\nC. SageMaker Ground Truth\nD. SageMaker Neo")
        page.keyboard.press("Control+Enter")  # the text area keeps its value before the click reruns the page
        page.get_by_role("button", name="Check against my notes").click()
        verdict = page.locator("[data-testid='stHtml']").filter(has_text="A. SageMaker Clarify:")
        verdict.first.wait_for(timeout=60_000)
        assert "Your notes" in verdict.first.inner_text()
        page.get_by_role("button", name="New quiz").click()
        page.get_by_role("button", name="Check my answers").wait_for(timeout=60_000)
        assert page.get_by_text("Which term does this describe?").count() >= 1
        page.screenshot(path=str(tmp_path / "study-tab.png"), full_page=True)
        browser.close()
    assert (tmp_path / "study-tab.png").stat().st_size > 20_000
