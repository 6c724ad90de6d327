"""Text stays text: nothing from the notes, an LLM or the student is read as HTML or a Streamlit directive.

Unit tests feed the pure helpers of ``assistant/ui.py`` hostile strings; an AppTest and a real headless
Chromium run the page on the real notes plus one hostile note that a question retrieves and cites.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import streamlit as st
from conftest import CACHE_DIR, NOTES_FILE, REPO, free_port, wait_until_serving
from streamlit.testing.v1 import AppTest

from assistant.ui import answer_html, markdown_literal, passage_html

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


# ---- the page: AppTest on the real notes plus the hostile note ---------------------------------------

@pytest.fixture(scope="module")
def hostile_env(tmp_path_factory):
    """The real notes plus the hostile note; the app runs from this folder."""
    tmp = tmp_path_factory.mktemp("hostile")
    (tmp / "corpus").mkdir()
    shutil.copy(NOTES_FILE, tmp / "corpus" / NOTES_FILE.name)
    (tmp / "corpus" / "zebrafish-labeling.md").write_text(HOSTILE_NOTE, encoding="utf-8")
    return tmp


def _environment(env: Path) -> dict[str, str]:
    return {"ASSISTANT_CORPUS_DIR": str(env / "corpus"), "ASSISTANT_INDEX_DIR": str(env / "index"),
            "ASSISTANT_CACHE_DIR": str(CACHE_DIR)}


@pytest.fixture
def hostile_at(hostile_env, monkeypatch):
    for name, value in _environment(hostile_env).items():
        monkeypatch.setenv(name, value)
    for name in ("ASSISTANT_BACKEND", "ASSISTANT_PROMPT", "ASSISTANT_OPENAI_BASE_URL", "ASSISTANT_OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(hostile_env)
    # the page's assistant is an st.cache_resource, shared by every AppTest in this process: without
    # this, the page would answer from whichever corpus an earlier test module opened (and the next
    # module from this one)
    st.cache_resource.clear()
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    app.run()
    assert not app.exception
    yield app
    st.cache_resource.clear()


def _markdown(app) -> list[str]:
    """Every string the page sends the browser to read as Streamlit markdown (labels included)."""
    values = [e.value for e in app.markdown] + [e.value for e in app.caption] + [e.value for e in app.warning]
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
    assert "&lt;img src=x onerror=" in shown and "![zebra](http://example.com/zebra.png)" in shown
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


# ---- a real browser ------------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_real_browser_runs_nothing_from_a_hostile_note(hostile_env, tmp_path):
    """`streamlit run` + headless Chromium: paste a question with a heading and a fake badge, open the cited
    hostile note; no script ran, no dialog opened, no remote host was asked for anything."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {**os.environ, **_environment(hostile_env), "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=hostile_env, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    dialogs: list[str] = []
    remote: list[str] = []
    try:
        wait_until_serving(f"{url}/_stcore/health", server, 60, "streamlit run")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"])
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
            ran = page.evaluate("() => ({pwned: window.pwned, title: document.title, "
                                "frames: document.querySelectorAll('iframe').length, "
                                "scripts: document.querySelectorAll('.stHtml script, .stMarkdown script').length, "
                                "images: Array.from(document.images).map(i => i.src)})")
            page.screenshot(path=str(tmp_path / "hostile-passage.png"), full_page=True)
            expander.screenshot(path=str(tmp_path / "hostile-passage-expander.png"))
            browser.close()
        print(f"screenshots in {tmp_path}")
        assert ran["pwned"] is None and ran["title"] != "pwned", ran
        assert ran["frames"] == 0 and ran["scripts"] == 0, ran
        assert not [src for src in ran["images"] if "example.com" in src or src.endswith("/x")], ran
        assert not dialogs and not remote, (dialogs, remote)
        assert (tmp_path / "hostile-passage.png").stat().st_size > 20_000
    finally:
        server.terminate()
        server.wait(timeout=30)
