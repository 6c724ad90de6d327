"""Text stays text: nothing from the notes, an LLM or the student is read as HTML or a Streamlit directive.

Unit tests feed the pure helpers of ``assistant/ui.py`` hostile strings; an AppTest and a real headless
Chromium run the page on the real notes plus one hostile note that a question retrieves and cites.
"""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
import streamlit as st
from conftest import CHROMIUM, CHROMIUM_ARGS, NOTES_FILE, page_over, serving

from assistant.evaluation.defects import answer_defects
from assistant.ui.render import answer_html, markdown_literal, markdown_text, passage_html, problem_line, report_html

# Every payload tries something observable: a global set on the page, its title changed, a dialog, or a
# request to a remote host. The note is built so the bugs found by a user are all in it: a table row with
# an iframe whose srcdoc holds a script, a code block, and lines inside and after a mismatched fence
# (``~~~`` closed by ``~~~``, with a stray ``` inside), then a fence never closed.
DIRECTIVES = ":blue-badge[99] :red[zebrafish alarm] :material/warning: $x^2$ ![zebra](http://example.com/zebra.png)"
# the heading ends up in the citation's expander label, which Streamlit reads as markdown
HEADING = ":red[alarm] :material/warning: $x$ ![i](http://example.com/h.png) <img src=x onerror=alert(2)>"
HOSTILE_NOTE = """# Zebrafish labeling

## Zebrafish labeling pipeline {heading}

- **Zebrafish labeling:** the zebrafish labeling pipeline tags each zebrafish image {img} before training.
- **Zebrafish review:** reviewers check zebrafish labels {directives} <script>window.top.pwned=1</script>

| Stage | Zebrafish labeling step |
|---|---|
| ingest | <iframe srcdoc="<script>window.top.pwned=1</script>"></iframe> |
| label | <img src=x onerror="alert(1)"> zebrafish label |

```html
<img src=x onerror="window.top.pwned=1">
```

~~~
```
zebrafish labels stored as <b>bold</b> text
~~~
<img src=x onerror="document.title='pwned'"> zebrafish labeling after a mismatched fence
```
<script>window.top.pwned=1</script> after an unbalanced fence
""".format(img='<img src=x onerror="window.top.pwned=1">', directives=DIRECTIVES, heading=HEADING)
HOSTILE_QUESTION = "How does the zebrafish labeling pipeline work?"
# pasted into the chat: a markdown heading and a fake citation badge, on two lines
PASTED_QUESTION = "# Zebrafish labeling\n:blue-badge[99] how does the zebrafish labeling pipeline work?"

# the only markup our helpers ever build; anything else in their output came from the text
OUR_TAGS = {"div", "span", "mark", "strong", "em", "code", "pre", "p", "ul", "ol", "li", "table", "thead", "tbody",
            "tr", "th", "td", "hr", "br"}
OUR_ATTRIBUTES = {"style", "title", "start"}


class _Tags(HTMLParser):
    """Every start tag and attribute name in a piece of HTML, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes |= {name for name, _ in attrs}


def live_markup(html: str) -> tuple[set[str], set[str]]:
    """Tags and attributes in ``html`` that are not ours (empty sets: only our markup is live)."""
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return set(parser.tags) - OUR_TAGS, parser.attributes - OUR_ATTRIBUTES


def assert_inert(html: str) -> None:
    tags, attributes = live_markup(html)
    assert not tags and not attributes, (tags, attributes)
    # the payloads are on screen as text, never as markup (html.escape turns every < into &lt;)
    assert not re.search(r"<(?:script|img|iframe|b)\b", html), html


# ---- the cited-passage view ---------------------------------------------------------------------------

def test_passage_view_escapes_table_rows_code_and_lines_after_mismatched_fences():
    view = passage_html(HOSTILE_NOTE, 1, range(1, 40))
    assert_inert(view)
    assert view.count("<mark>") >= 15  # every non-blank line was cited, and each is marked
    assert "&lt;iframe srcdoc=&quot;&lt;script&gt;window.top.pwned=1&lt;/script&gt;&quot;&gt;" in view
    assert "&lt;img src=x onerror=&quot;document.title=&#x27;pwned&#x27;&quot;&gt;" in view
    # directives, math and images from the note are text too (st.html reads no markdown)
    assert DIRECTIVES in view


def test_passage_view_numbers_every_line_with_its_file_line_and_marks_only_cited_lines():
    view = passage_html("## Drift\n- **Data Drift:** input <changes>\n\n- other", 10, [11, 12])
    assert re.findall(r'title="line (\d+)"', view) == ["10", "11", "12", "13"]
    assert view.count("<mark>") == 1  # a blank cited line gets no empty mark
    assert ">•</span><mark><strong>Data Drift:</strong> input &lt;changes&gt;</mark>" in view  # bullet outside


def test_passage_view_treats_a_fence_opened_with_tildes_as_open_until_tildes_close_it():
    # the fence rule only decides the font (everything is escaped whatever it decides), but it follows
    # CommonMark: a ``` line inside a ~~~ block is content
    view = passage_html("~~~\n```\n**code**\n~~~\n**prose**", 1, [])
    assert "**code**" in view and "<strong>prose</strong>" in view


# ---- answers ------------------------------------------------------------------------------------------

def test_answer_keeps_bullets_bold_code_and_our_badges():
    text = "- **Data Drift:** the input changes [1]\n  - *Detect:* use `KS test` [2, 3]\n- other [1]"
    out = answer_html(text)
    assert_inert(out)
    assert out.count("<ul") == 2 and out.count("<li") == 3
    assert "<strong>Data Drift:</strong> the input changes" in out and "<em>Detect:</em>" in out
    assert "<code" in out and "KS test</code>" in out
    assert re.findall(r'title="source (\d+)"', out) == ["1", "2", "3", "1"]
    # a marker inside code is code, not a citation
    assert 'title="source' not in answer_html("use `arr[1]` here")


@pytest.mark.parametrize("payload", [
    "<script>window.top.pwned=1</script>",
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "<img src=x onerror=alert(1)>",
    "| a | <img src=x onerror=alert(1)> |\n|---|---|\n| <script>x</script> | b |",
    "```\n<img src=x onerror=alert(1)>\n```",
    "~~~\n```\n~~~\n<img src=x onerror=alert(1)>",
    "```\n<img src=x onerror=alert(1)>",
    "- **<b onmouseover=alert(1)>bold</b>:** `<script>` and *<i>x</i>*",
])
def test_answer_shows_html_from_notes_or_an_llm_as_text(payload):
    assert_inert(answer_html(f"- **Lead:** {payload} [1]"))
    assert_inert(answer_html(payload))


@pytest.mark.parametrize("payload", [":blue-badge[99]", ":red[x]", ":material/warning:", "$x$", "$$x^2$$",
                                     "![t](http://example.com/x.png)", ":smile:", "[link](javascript:alert(1))"])
def test_answer_shows_streamlit_directives_math_and_images_as_written(payload):
    out = answer_html(f"- **Lead:** see {payload} [1]", cited={1})
    # st.html reads no markdown: the text arrives as written, next to our one badge; a marker naming no
    # citation of this answer ("[99]") stays text too
    assert payload in out
    assert len(re.findall(r'title="source \d+"', out)) == 1
    assert_inert(out)


def test_answer_tables_headings_paragraphs_and_numbered_lists():
    text = ("## Summary\nConcept drift changes the target\nrelation [1].\n\n3. first\n4. second\n\n"
            "| Kind | Changes |\n|---|---|\n| data | **inputs** [2] |")
    out = answer_html(text)
    assert_inert(out)
    assert "<strong>Summary</strong>" in out and "<h" not in out  # a heading is bold, not huge
    assert "Concept drift changes the target relation" in out
    assert '<ol start="3"' in out and out.count("<li") == 2
    assert "<th" in out and "<strong>inputs</strong>" in out and 'title="source 2"' in out


def test_a_lead_ins_table_renders_inside_its_bullet_not_after_an_empty_one():
    text = ("- **UDP vs TCP:**\n\n  | | UDP | TCP |\n  |---|---|---|\n  | header | 8 bytes | 20 bytes [1] |\n"
            "- **UDP:** no handshake [1]")
    out = answer_html(text)
    assert_inert(out)
    # the table is the first item's content: it opens after that item's label and before its </li>
    first = out.index("UDP vs TCP:")
    assert first < out.index("<table") < out.index("</li>") < out.index("no handshake")
    assert out.count("<ul") == 1  # one list: the table did not close it
    assert answer_defects(text) == {}
    # the same table after a bullet left empty is what the defect scan reports
    assert "empty_label" in answer_defects(text.replace("\n  |", "\n|"))


def test_answer_builds_its_own_markup_only_from_our_tags_even_for_broken_markdown():
    for text in ("**unclosed bold", "*a **b* c**", "`unclosed code", "- \n-\n  -", "|", "|---|", "> quote <x>",
                 "   \n\n", "***", "1) one\n- two\n  3. three"):
        assert_inert(answer_html(text))


# ---- labels and captions: still markdown in Streamlit, so text is made literal -------------------------

@pytest.mark.parametrize("text", [":blue-badge[99]", ":red[x]", ":material/warning:", ":smile:", "$x$",
                                  "![t](http://example.com/x.png)", "<img src=x onerror=alert(1)>", "[a](b)",
                                  "\\:red[x]", "# heading", "&lt;b&gt;"])
def test_markdown_literal_breaks_every_construct_that_injects(text):
    literal = markdown_literal(text)
    assert not re.search(r":[\w+-]", literal)  # no directive, icon or emoji short code starts
    assert not re.search(r"(?<!\\)[\[$<&#]", literal.replace("\\\\", ""))  # each is escaped
    assert literal.replace("\\", "").replace("\u2060", "") == text.replace("\\", "")  # reads the same


def test_markdown_literal_leaves_plain_labels_alone():
    label = "Domain 1: Data Preparation › Concept Drift — aws-mla-c01-notes.md"
    assert markdown_literal(label) == label


@pytest.mark.parametrize("text", ["1. intro.md", "- x", "+ y", "===", "---", "2) two",
                                  "see https://example.com/x", "www.example.com", "ask me@example.com"])
def test_markdown_literal_breaks_block_markers_and_bare_links(text):
    literal = markdown_literal(text)
    assert not re.match(r"\s*(?:[-+=]|\d+[.)])", literal.lstrip())  # no list, heading underline or rule
    assert not re.search(r"://|www\.|@\w", literal)  # GFM would link these
    assert literal.replace("\\", "").replace("\u2060", "") == text


def test_markdown_text_keeps_lines_and_indents_and_leaves_nothing_live():
    message = ("Cannot reach http://127.0.0.1:8080/v1 (server said:\n"
               "    <html><img src=x onerror=alert(1)> :red[down] $x$\n# 500\n1. retry)")
    shown = markdown_text(message)
    lines = shown.split("  \n")
    assert len(lines) == 4  # one line break per line
    assert lines[1].startswith("\u00a0" * 4)  # an indent, not a code block
    assert lines[2].startswith("\\#") and lines[3].startswith("1\\.")
    assert not re.search(r"(?<!\\)[<$\[]|:(?=red)|://", shown)
    assert re.sub(r"\\(.)", r"\1", shown).replace("\u2060", "").replace("\u00a0", " ").replace("  \n", "\n") == message


def test_problem_lines_drop_the_cli_advice():
    problem = "The index in /x is damaged (unreadable manifest). Run `assistant ingest` to repair it from your notes."
    assert problem_line(problem) == "The index in /x is damaged (unreadable manifest)."
    assert problem_line("notes.md: its part of the index is missing") == "notes.md: its part of the index is missing"


HOSTILE_REPORT = """# Evaluation: default, <b>x</b>

Gold set `eval/gold.jsonl`: 2 questions; 4 answers in 1.0 s.

- **default**: <img src=x onerror="window.top.pwned=1"> :red[alarm]

## Side by side

| measure | default |
|---|---|
| hit@k | 1.000 (n=2) |

![chart](chart.png)

## Questions that differ

| question | default | change |
|---|---|---|
| q1: <iframe srcdoc="<script>window.top.pwned=1</script>"></iframe> ![z](http://example.com/z.png) | 1.000 | -0.500 |
| q2: :blue-badge[99] $x$ \\| pipe | 0.000 | +0.500 |
"""


def test_report_renders_tables_and_headings_with_nothing_live():
    before, _, after = HOSTILE_REPORT.partition("![chart](chart.png)")
    for part in (before, after):
        assert_inert(report_html(part))
    shown = report_html(before) + report_html(after)
    assert shown.count("<table") == 2 and shown.count("<td") == 8  # the tables stay tables
    assert 'font-size:1.6em"><strong>Evaluation: default, &lt;b&gt;x&lt;/b&gt;</strong>' in shown  # a title
    assert "![z](http://example.com/z.png)" in shown and ":blue-badge[99] $x$ | pipe" in shown
    assert 'title="source' not in shown  # no citation badges in a report


# ---- the page: AppTest on the real notes plus the hostile note ---------------------------------------

@pytest.fixture(scope="module")
def hostile_env(tmp_path_factory):
    """The real notes plus the hostile note; the app runs from this folder."""
    tmp = tmp_path_factory.mktemp("hostile")
    (tmp / "corpus").mkdir()
    shutil.copy(NOTES_FILE, tmp / "corpus" / NOTES_FILE.name)
    (tmp / "corpus" / "zebrafish-labeling.md").write_text(HOSTILE_NOTE, encoding="utf-8")
    _write_report(tmp)
    return tmp


def _write_report(root: Path) -> Path:
    """A saved evaluation run under ``root`` (the app's folder): the hostile report and a real chart."""
    from assistant.evaluation.report import chart

    run = root / "eval" / "reports" / "2026-01-01T00-00-00"
    run.mkdir(parents=True)
    (run / "report.md").write_text(HOSTILE_REPORT, encoding="utf-8")
    chart([{"variant": "default", "evidence_recall": 0.9, "reciprocal_rank": 0.8}], run / "chart.png")
    return run


@pytest.fixture
def hostile_at(hostile_env, monkeypatch):
    app = page_over(hostile_env, monkeypatch)
    app.run()
    assert not app.exception
    yield app
    st.cache_resource.clear()


def _markdown(app) -> list[str]:
    """Every string the page sends the browser to read as Streamlit markdown (labels and messages included)."""
    values = [e.value for kind in ("markdown", "caption", "warning", "error", "info", "success", "toast")
              for e in app.get(kind)]
    return values + [e.label for e in app.expander] + [b.label for b in app.button]


def test_app_delivers_the_hostile_note_as_text(hostile_at):
    hostile_at.chat_input[0].set_value(HOSTILE_QUESTION).run()
    assert not hostile_at.exception
    answer = hostile_at.session_state.messages[-1]["answer"]
    assert not answer["abstained"] and answer["citations"]
    assert any(c["chunk"]["source"] == "zebrafish-labeling.md" for c in answer["citations"])
    htmls = [e.value for e in hostile_at.get("html")]
    shown = next(h for h in htmls if "Zebrafish labeling:" in h and 'title="source 1"' in h)  # the answer
    passage = next(h for h in htmls if "<mark>" in h and "mismatched fence" in h)  # the cited source
    for html in htmls:
        assert_inert(html)
    assert "&lt;iframe srcdoc=" in passage and "&lt;img src=x onerror=&quot;document.title" in passage
    # the answer quotes the notes' words only: their HTML tags and image links are not text to quote
    assert "&lt;img" not in shown and "zebra.png" not in shown and "&lt;script" not in shown, shown
    label = next(e.label for e in hostile_at.expander if "zebrafish-labeling.md" in e.label)
    as_read = label.replace("\\", "").replace("\u2060", "")  # what the label says once rendered
    assert as_read.startswith(f"[1] Zebrafish labeling › Zebrafish labeling pipeline {HEADING}")
    for value in _markdown(hostile_at):
        # what still goes through Streamlit markdown (labels, captions) carries nothing from the note live
        assert not re.search(r"(?<!\\)<\w|:(?:blue-badge|red|material)|(?<!\\)!\[|(?<!\\)\$", value), value


def test_app_delivers_a_pasted_question_as_text_with_its_line_breaks(hostile_at):
    hostile_at.chat_input[0].set_value(PASTED_QUESTION).run()
    assert not hostile_at.exception
    assert [t.value for t in hostile_at.text] == [PASTED_QUESTION]  # no markdown: no heading, no badge
    assert not any("blue-badge[99]" in v for v in _markdown(hostile_at))
    for html in (e.value for e in hostile_at.get("html")):
        assert_inert(html)


# ---- the page's own lines: file names, folders, index problems, ingest warnings, toasts, reports ----------

# a folder and note names that are markup; Linux allows every character but "/" in a name
HOSTILE_FOLDER = "notes <img src=x onerror=alert(1)> :red[x] $y$ `z`"
BAD_NAME = "1. <img src=x onerror=alert(3)> :red[bad] www.example.com.md"  # not UTF-8: skipped with a warning
LOST_NAME = "- :blue-badge[99] <b>lost $x$ ![i](https:example.com).md"  # its part of the index goes missing
# what must never reach the browser as markdown: HTML, a directive/icon, an image, math, a bare link,
# a list item (each unescaped)
LIVE = re.compile(r"(?<!\\)<\w|:(?:blue-badge|red|material)|(?<!\\)!\[|(?<!\\)\$|://|www\.|^\s*(?:[-+]|\d+\.)\s", re.M)


@pytest.fixture
def chrome_env(tmp_path):
    """A small notes folder at a hostile path, with hostile file names, and a hostile evaluation report."""
    root = tmp_path / HOSTILE_FOLDER
    (root / "corpus").mkdir(parents=True)
    (root / "corpus" / "drift.md").write_text(
        "# Drift\n\n- **Data drift:** the inputs change over time; retrain when monitoring says so.\n",
        encoding="utf-8")
    (root / "corpus" / LOST_NAME).write_text(
        "# Labels\n\n- **Labeling:** Ground Truth labels images with human reviewers.\n", encoding="utf-8")
    (root / "corpus" / BAD_NAME).write_bytes(b"# Bad\n\xff\xfe not text\n")
    _write_report(root)
    return root


def test_app_shows_names_paths_problems_and_reports_as_text(chrome_env, monkeypatch):
    from assistant.store.lock import WriterLock
    from assistant.store.manifest import read as read_manifest

    app = page_over(chrome_env, monkeypatch)
    try:
        app.run()  # the first run builds the index: a toast, and a warning naming the skipped file
        assert not app.exception
        assert any("not valid" in w.value and "alert(3)" in w.value for w in app.warning)
        assert [c.value for c in app.sidebar.code] == [str(chrome_env / "corpus")]  # the folder, in a code block
        screens = [_markdown(app)]
        # the report: our HTML around escaped text, its tables and chart kept
        reports = [h.value for h in app.get("html")]
        assert len(reports) == 2 and "<table" in reports[0] and "&lt;iframe srcdoc=" in reports[1]
        for html in reports:
            assert_inert(html)
        assert len(app.get("image")) == 1  # the chart
        # the part of one note goes missing while another process writes: the sidebar names the note
        index = chrome_env / "index"
        segment = read_manifest(index / "manifest.json").files[LOST_NAME]["segment"]
        shutil.rmtree(index / "segments" / segment)
        with WriterLock(index).hold():  # in this process, but not this page's: busy all the same
            app.run()
        assert not app.exception
        problems = [e.value for e in app.sidebar.error]
        assert len(problems) == 1 and "its part of the index is missing" in problems[0]
        assert "<b\\>lost" in problems[0]  # the file name, escaped
        screens.append(_markdown(app))
        next(b for b in app.sidebar.button if b.label == "Repair index").click().run()
        assert not app.exception and not app.sidebar.error
        repaired = [t.value for t in app.toast if t.value.startswith("Repaired")]
        assert len(repaired) == 1 and "lost" in repaired[0]
        screens.append(_markdown(app))
    finally:
        st.cache_resource.clear()
    for values in screens:
        for value in values:
            assert not LIVE.search(value), value


# ---- a real browser ------------------------------------------------------------------------------------


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_real_browser_runs_nothing_from_a_hostile_note(hostile_env, tmp_path):
    """`streamlit run` + headless Chromium: paste a question with a heading and a fake badge, open the cited
    hostile note; no script ran, no dialog opened, no remote host was asked for anything."""
    from playwright.sync_api import sync_playwright

    dialogs: list[str] = []
    remote: list[str] = []
    with serving(hostile_env) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: None if r.url.startswith((url, "data:", "blob:", "about:"))
                else remote.append(r.url))
        page.goto(url)
        box = page.get_by_placeholder("Ask about your notes…")
        box.wait_for(timeout=120_000)
        box.fill(PASTED_QUESTION)
        box.press("Enter")
        page.locator("[data-testid='stExpander']").first.wait_for(timeout=120_000)
        page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=60_000)
        question = page.locator("[data-testid='stChatMessage']").first
        # as typed, on its two lines (inner_text follows the rendering, so a lost line break would show)
        assert question.locator("[data-testid='stText']").inner_text() == PASTED_QUESTION
        assert question.locator("h1, h2, [data-testid='stMarkdownBadge'], .stMarkdownBadge").count() == 0
        answer = page.locator("[data-testid='stChatMessage']").last
        # st.html's component loads on first use: the answer can show a moment after its expanders
        answer.locator("[data-testid='stHtml']").filter(has_text="Zebrafish labeling:").first.wait_for(
            timeout=30_000)
        assert answer.locator("li strong").count() >= 1  # the answer's own bullets and bold still work
        expander = page.locator("[data-testid='stExpander']").filter(has_text="zebrafish-labeling.md").first
        for _ in range(5):
            expander.locator("summary").click()
            try:
                expander.locator("mark").first.wait_for(timeout=4_000)
                break
            except Exception:  # noqa: BLE001 - redrawn under the click; open it again
                continue
        expander.locator("mark").first.wait_for(timeout=10_000)
        assert "after a mismatched fence" in expander.inner_text()
        # the heading in the label reads as written: no colour, icon, formula or image
        assert HEADING in expander.locator("summary").inner_text().replace("\u2060", "")
        assert expander.locator("summary img, summary .katex").count() == 0
        icons = expander.locator("summary [data-testid='stIconMaterial']").all_inner_texts()
        assert "warning" not in icons, icons  # (the expander's own arrow is one)
        expander.scroll_into_view_if_needed()
        page.wait_for_timeout(1_500)  # time for any onerror or srcdoc script to have run
        expander.screenshot(path=str(tmp_path / "hostile-passage-expander.png"))
        # the saved evaluation report quotes questions from the notes: tables and chart, nothing live
        page.get_by_role("tab", name="Evaluation").click()
        report = page.locator("[data-testid='stHtml']").filter(has_text="Questions that differ").first
        report.locator("table").first.wait_for(timeout=30_000)
        page.locator("[data-testid='stImage'] img").first.wait_for(timeout=30_000)  # the chart
        page.wait_for_timeout(1_500)
        report_cells = report.locator("td").all_inner_texts()
        page.screenshot(path=str(tmp_path / "hostile-report.png"), full_page=True)
        ran = page.evaluate("() => ({pwned: window.pwned, title: document.title, "
                            "frames: document.querySelectorAll('iframe').length, "
                            "scripts: document.querySelectorAll('.stHtml script, .stMarkdown script').length, "
                            "images: Array.from(document.images).map(i => i.src)})")
        page.screenshot(path=str(tmp_path / "hostile-passage.png"), full_page=True)
        browser.close()
    print(f"screenshots in {tmp_path}")
    assert ran["pwned"] is None and ran["title"] != "pwned", ran
    assert ran["frames"] == 0 and ran["scripts"] == 0, ran
    assert not [src for src in ran["images"] if "example.com" in src or src.endswith("/x")], ran
    assert not dialogs and not remote, (dialogs, remote)
    assert (tmp_path / "hostile-passage.png").stat().st_size > 20_000
    assert any("<iframe srcdoc=" in cell for cell in report_cells), report_cells  # shown as written
