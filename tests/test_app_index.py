"""The page and its index: refresh without a second writer, repair from the sidebar, re-index and rebuild.

AppTest runs the real page on a copy of one built index per test (real notes plus a short second
note); another process's writer is a real subprocess holding the index's writer lock. Real
``streamlit run`` servers with headless Chromium: two tabs ask at the same time right after a note
changed (one server, and two servers on the same folders); a damaged index's sidebar, its repair
going on while a question stops the page run, and a rebuild with the conversation on screen.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import streamlit as st
from conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    NOTES_FILE,
    REPO,
    make_settings,
    page_over,
    serving,
    unprivileged_works,
)
from streamlit.testing.v1 import AppTest

from assistant.core import StudyAssistant
from assistant.store.manifest import read as read_manifest

DRIFT = "Explain concept drift vs data drift"
BUSY_NOTE = "Your notes are being re-indexed by another session; answering from the index as it is."
PLAN = "study-plan.md"
PLAN_TEXT = """# Study plan

## Week 1

- Read the SageMaker notes and make flashcards about endpoints.
- Practise one exam question a day.
"""
# holds the index's writer lock the way another `assistant ingest` would, until it is terminated
HOLDER = """import sys, time
from pathlib import Path
from assistant.store.lock import WriterLock
with WriterLock(Path(sys.argv[1])).hold():
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder) -> Path:
    """The real notes plus a short study plan, indexed once; each test works on its own copy."""
    tmp = tmp_path_factory.mktemp("built")
    (tmp / "corpus").mkdir()
    shutil.copy(NOTES_FILE, tmp / "corpus" / NOTES_FILE.name)
    (tmp / "corpus" / PLAN).write_text(PLAN_TEXT, encoding="utf-8")
    sa = StudyAssistant(make_settings(tmp), embedder=embedder)
    sa.ingest(progress=False)
    sa.close()
    return tmp


@pytest.fixture
def folders(built, tmp_path) -> Path:
    """A copy of the built notes and index (copying is ~0.1 s; building them again ~12 s)."""
    shutil.copytree(built / "corpus", tmp_path / "corpus")
    shutil.copytree(built / "index", tmp_path / "index")
    return tmp_path


@pytest.fixture
def page(folders, monkeypatch) -> Iterator[AppTest]:
    """The page (AppTest) on this test's folders (not run yet)."""
    yield page_over(folders, monkeypatch)
    st.cache_resource.clear()  # releases nothing on disk, but the next test must not reuse it


def as_shown(markdown: str) -> str:
    """What a string made literal by ``markdown_text`` reads as on the page (escapes and joiners gone)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "").replace("\u00a0", " ")


def toasts(app) -> list[str]:
    return [as_shown(t.value) for t in app.toast]


def summary_counts(app) -> tuple[int, int, int]:
    """(added, removed, unchanged) from this run's ingest summary toast."""
    (line,) = [t for t in toasts(app) if t.startswith("Indexed ")]
    added, removed, unchanged = re.search(r"\((\d+) added, (\d+) removed, (\d+) unchanged\)", line).groups()
    return int(added), int(removed), int(unchanged)


def click(app, label: str):
    next(b for b in app.button if b.label == label).click().run()
    assert not app.exception
    return app


def ask(app, question: str = DRIFT):
    app.chat_input[0].set_value(question).run()
    assert not app.exception
    return app


def sections(folders: Path) -> int:
    """Chunks in the live build of this test's index."""
    return read_manifest(folders / "index" / "manifest.json").chunk_count


def conversation_on_page(app) -> list[str]:
    """The chat messages the page drew, by role (the history replayed on each run)."""
    return [m.name for m in app.chat_message]


def health(folders: Path, embedder) -> tuple:
    """(problems, stale, segments on disk == segments the manifest names) for a fresh assistant."""
    sa = StudyAssistant(make_settings(folders), embedder=embedder)
    try:
        status = sa.status()
    finally:
        sa.close()
    manifest = read_manifest(folders / "index" / "manifest.json")
    on_disk = {p.name for p in (folders / "index" / "segments").iterdir()}
    return status.problems, status.stale, on_disk == set(manifest.segments())


@contextmanager
def writer_elsewhere(index_dir: Path, seconds: float = 300) -> Iterator[subprocess.Popen]:
    """Another process holding the index's writer lock (as a running `assistant ingest` does)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(index_dir), str(seconds)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.terminate()  # the kernel releases the flock with the process
        proc.wait(timeout=30)
        proc.stdout.close()


def sidebar_text(app) -> str:
    """Everything the sidebar says, as the student reads it."""
    parts = [e.value for kind in ("markdown", "caption", "error", "info", "warning", "code")
             for e in app.sidebar.get(kind)]
    return "\n".join(as_shown(p) for p in parts)


# ---- damage and repair --------------------------------------------------------------------------------

def test_a_damaged_index_is_repaired_by_the_next_page_run(page, folders, embedder):
    (folders / "index" / "manifest.json").write_text("{not json", encoding="utf-8")
    page.run()
    assert not page.exception
    # a plain ingest repairs, and nobody else was writing: the page did it, and says what it repaired
    assert any(t.startswith("Repaired: ") and "unreadable manifest" in t for t in toasts(page))
    assert "Repair index" not in [b.label for b in page.sidebar.button]
    assert health(folders, embedder) == ((), False, True)
    ask(page)
    assert not page.session_state.messages[-1]["answer"]["abstained"]


def test_damaged_index_while_another_process_writes_keeps_the_sidebar_and_repair_fixes_it(page, folders, embedder):
    with writer_elsewhere(folders / "index"):
        (folders / "index" / "manifest.json").write_text("{not json", encoding="utf-8")
        page.run()
        assert not page.exception
        # the whole sidebar is drawn: settings, the notes' status with what is wrong, the buttons
        assert page.sidebar.selectbox(key="backend").value == "extractive"
        said = sidebar_text(page)
        assert "The index needs a repair:" in said and "unreadable manifest" in said
        assert "Run `assistant ingest`" not in said  # the CLI's advice: the sidebar has a button for it
        assert "Another session or process is updating the index right now." in said
        labels = [b.label for b in page.sidebar.button]
        assert {"Repair index", "Re-index notes", "Rebuild from scratch…", "New chat"} <= set(labels)
        assert BUSY_NOTE in [i.value for i in page.info]  # it did not queue behind the other writer
        ask(page)  # a damaged index cannot answer: the error says so, and where the repair is
        assert any("is damaged" in as_shown(e.value) for e in page.error)
        assert any("Repair index" in c.value for c in page.caption)
        assert page.session_state.messages == []
    click(page, "Repair index")  # the other writer is gone
    assert any(t.startswith("Repaired: ") for t in toasts(page))
    assert "Repair index" not in [b.label for b in page.sidebar.button]
    assert health(folders, embedder) == ((), False, True)
    ask(page)
    assert len(page.session_state.messages) == 2 and not page.session_state.messages[-1]["answer"]["abstained"]


def test_a_failed_ingest_still_draws_the_sidebar_with_the_repair(page, folders, embedder):
    (folders / "index" / "manifest.json").write_text("{not json", encoding="utf-8")
    shutil.move(folders / "corpus", folders / "away")  # the automatic repair fails: no notes folder
    page.run()
    assert not page.exception
    assert any("corpus" in as_shown(e.value) for e in page.error)  # the ingest's error, in the main area
    said = sidebar_text(page)
    assert "unreadable manifest" in said and str(folders / "corpus") in said
    assert "Repair index" in [b.label for b in page.sidebar.button]
    shutil.move(folders / "away", folders / "corpus")
    click(page, "Repair index")
    assert not page.error
    assert health(folders, embedder) == ((), False, True)
    ask(page)
    assert len(page.session_state.messages) == 2


# ---- re-index and rebuild ------------------------------------------------------------------------------

def test_reindex_embeds_only_what_changed_and_keeps_the_conversation(page, folders):
    total = sections(folders)
    page.run()
    ask(page)
    click(page, "Re-index notes")
    assert summary_counts(page) == (0, 0, total)  # nothing changed: nothing embedded
    chunks = read_manifest(folders / "index" / "manifest.json").files[PLAN]["chunks"]
    (folders / "corpus" / PLAN).write_text(PLAN_TEXT + "- Review concept drift on Friday.\n", encoding="utf-8")
    click(page, "Re-index notes")
    added, removed, unchanged = summary_counts(page)
    assert (added, removed) == (chunks, chunks) and unchanged == total - chunks  # only the edited note
    assert len(page.session_state.messages) == 2
    assert conversation_on_page(page) == ["user", "assistant"]


def test_rebuild_asks_first_then_embeds_everything_and_keeps_the_conversation(page, folders):
    total = sections(folders)
    page.run()
    ask(page)
    updated = read_manifest(folders / "index" / "manifest.json").updated
    click(page, "Rebuild from scratch…")
    assert not toasts(page)  # nothing happened yet: it asks first
    assert any(f"re-embeds all {total} sections" in w.value for w in page.sidebar.warning)
    click(page, "Cancel")
    assert not toasts(page) and read_manifest(folders / "index" / "manifest.json").updated == updated
    assert "Yes, rebuild" not in [b.label for b in page.button]
    click(page, "Rebuild from scratch…")
    click(page, "Yes, rebuild")
    added, _, unchanged = summary_counts(page)
    assert (added, unchanged) == (total, 0)  # every section embedded again (the old build's count as removed)
    assert read_manifest(folders / "index" / "manifest.json").updated > updated
    assert "Yes, rebuild" not in [b.label for b in page.button]  # the confirmation is used up
    assert len(page.session_state.messages) == 2
    assert conversation_on_page(page) == ["user", "assistant"]
    ask(page, "How do I handle class imbalance?")
    assert len(page.session_state.messages) == 4


# ---- another writer -------------------------------------------------------------------------------------

def test_another_process_writing_leaves_the_page_answering_from_the_current_index(page, folders, embedder):
    page.run()
    (folders / "corpus" / PLAN).write_text(PLAN_TEXT + "- Review concept drift on Friday.\n", encoding="utf-8")
    with writer_elsewhere(folders / "index"):
        started = time.monotonic()
        ask(page)
        assert time.monotonic() - started < 30  # no wait for the other writer (it holds the lock 300 s)
        assert BUSY_NOTE in [i.value for i in page.info]
        answer = page.session_state.messages[-1]["answer"]
        assert not answer["abstained"] and answer["citations"]
        assert not page.error and not toasts(page)
        assert health(folders, embedder)[1] is True  # still the index from before the edit
    page.run()  # the other writer is gone: the next page run refreshes
    assert summary_counts(page)[0] >= 1
    assert health(folders, embedder) == ((), False, True)
    assert conversation_on_page(page) == ["user", "assistant"]


def test_with_no_index_yet_the_page_waits_for_the_other_writer(page, folders, embedder):
    total = sections(folders)
    shutil.rmtree(folders / "index")  # nothing to answer from until someone builds it
    with writer_elsewhere(folders / "index", seconds=4):
        started = time.monotonic()
        page.run()
        waited = time.monotonic() - started
    assert not page.exception and not page.error
    assert waited > 3  # it waited for the writer (which built nothing), then built the index itself
    assert BUSY_NOTE not in [i.value for i in page.info]
    assert summary_counts(page)[0] == total
    assert health(folders, embedder) == ((), False, True)
    ask(page)
    assert len(page.session_state.messages) == 2


# ---- a real browser: two tabs ask at once right after a note changed ------------------------------------


def new_topics(count: int) -> str:
    """Sections no index holds yet (one chunk each). 400 keep an ingest busy long enough that the second
    tab asks while the first still writes, even on a loaded 2-core CI machine; 80 once did not."""
    words = ["quokka", "tamarind", "basalt", "zephyr", "lantern", "marimba", "obsidian", "juniper", "falcon"]
    return "".join(
        f"\n## Field note {i}\n\n- The {words[i % 9]} {words[(i * 4 + 1) % 9]} survey number {i} logged "
        f"{i * 7 + 3} samples of {words[(i * 2 + 5) % 9]} at station {i * 13 % 97}; reviewers marked "
        f"{i % 5 + 1} of them for relabeling before batch {i * 3 + 11}.\n" for i in range(count))


def idle(page) -> None:
    """Wait until the page's script run has finished (Streamlit's running indicator is gone)."""
    page.wait_for_timeout(300)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=120_000)


def errors_on(page) -> list[str]:
    return page.locator("[data-testid='stAlertContentError'], [data-testid='stException']").all_inner_texts()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
@pytest.mark.parametrize("servers", [1, 2], ids=["one-server", "two-servers"])
def test_real_browser_two_tabs_ask_at_once_after_a_note_changed(folders, embedder, tmp_path, servers):
    """Two tabs ask as soon as a note changed, on one server (two sessions of one process) or on two
    servers over the same folders (two processes): one refreshes the index (one writer), the other
    answers from the index as it is and says so; both answer, and the index is healthy after."""
    from playwright.sync_api import sync_playwright

    with ExitStack() as stack:
        urls = [stack.enter_context(serving(folders)) for _ in range(servers)]
        p = stack.enter_context(sync_playwright())
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tabs = [context.new_page(), context.new_page()]
        for tab, url in zip(tabs, urls * 2, strict=False):
            tab.goto(url)
            tab.get_by_placeholder("Ask about your notes…").wait_for(timeout=120_000)
            idle(tab)
        total = sections(folders)
        with (folders / "corpus" / PLAN).open("a", encoding="utf-8") as f:
            f.write(new_topics(400))
        boxes = [tab.get_by_placeholder("Ask about your notes…") for tab in tabs]
        for box in boxes:
            box.fill(DRIFT)
        for box in boxes:  # as close together as two keystrokes
            box.press("Enter")
        for n, tab in enumerate(tabs):
            answer = tab.locator("[data-testid='stChatMessage']").nth(1).locator("[data-testid='stHtml']")
            answer.filter(has_text="Concept Drift:").first.wait_for(timeout=120_000)
            idle(tab)
            tab.screenshot(path=str(tmp_path / f"tab-{n + 1}.png"), full_page=True)
        said = [tab.locator("[data-testid='stMainBlockContainer']").inner_text() for tab in tabs]
        problems = [errors_on(tab) for tab in tabs]
        browser.close()
    print(f"screenshots in {tmp_path}")
    assert problems == [[], []], problems
    # exactly one tab waited for nobody: the other found the writer busy and answered from the old index
    assert sum(BUSY_NOTE in text for text in said) == 1, said
    assert health(folders, embedder) == ((), False, True)
    sa = StudyAssistant(make_settings(folders), embedder=embedder)
    try:
        assert sa.status().chunks > total  # the edit is in
    finally:
        sa.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_real_browser_damaged_index_repair_survives_a_question_and_rebuild_keeps_the_conversation(
        folders, embedder, tmp_path):
    """The sidebar of a damaged index (another process holds the lock, so the page cannot repair it
    itself); Repair, with a question typed while it runs (Streamlit stops that page run: the repair must
    go on); then a confirmed rebuild, with the conversation on screen throughout."""
    from playwright.sync_api import sync_playwright

    with serving(folders) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1500})  # tall: the whole sidebar shows
        sidebar = page.locator("[data-testid='stSidebar']")
        box = page.get_by_placeholder("Ask about your notes…")
        answers = page.locator("[data-testid='stChatMessage'] [data-testid='stHtml']").filter(has_text="Concept Drift:")
        progress = page.locator("[data-testid='stProgress']").first
        with writer_elsewhere(folders / "index"):
            (folders / "index" / "manifest.json").write_text("{not json", encoding="utf-8")
            page.goto(url)
            sidebar.get_by_role("button", name="Repair index").wait_for(timeout=120_000)
            idle(page)
            damaged = sidebar.inner_text()
            page.screenshot(path=str(tmp_path / "damaged-sidebar.png"), full_page=True)
        sidebar.get_by_role("button", name="Repair index").click()
        progress.wait_for(timeout=60_000)
        box.fill(DRIFT)  # while the repair runs: this stops the page run that follows it
        box.press("Enter")
        page.screenshot(path=str(tmp_path / "asked-during-repair.png"), full_page=True)
        answers.first.wait_for(timeout=180_000)
        idle(page)
        page.screenshot(path=str(tmp_path / "repaired-and-answered.png"), full_page=True)
        repaired = health(folders, embedder)
        sidebar.get_by_role("button", name="Rebuild from scratch…").click()
        sidebar.get_by_role("button", name="Yes, rebuild").click()
        progress.wait_for(timeout=60_000)
        during = page.locator("[data-testid='stChatMessage']").count()
        page.screenshot(path=str(tmp_path / "rebuilding.png"), full_page=True)
        sidebar.get_by_role("button", name="Re-index notes").wait_for(timeout=180_000)  # drawn once it is done
        idle(page)
        after = page.locator("[data-testid='stChatMessage']").count()
        page.screenshot(path=str(tmp_path / "rebuilt.png"), full_page=True)
        problems = errors_on(page)
        browser.close()
    print(f"screenshots in {tmp_path}")
    assert "The index needs a repair:" in damaged and "unreadable manifest" in damaged, damaged
    assert "Run `assistant ingest`" not in damaged
    assert repaired == ((), False, True)  # the repair went on after the question stopped its page run
    assert during == 2 and after == 2  # the conversation stayed on screen while re-embedding, and after
    assert problems == [], problems
    assert health(folders, embedder) == ((), False, True)


@pytest.mark.skipif(not CHROMIUM.exists() or not unprivileged_works(),
                    reason="needs Debian's chromium and `unshare --user` (to drop root's permission override)")
def test_real_browser_read_only_index_with_changed_notes_still_answers(folders, tmp_path):
    """An index folder the app cannot write (a shared or mounted copy) and notes changed since: the page
    says it cannot update the index and answers from the index it has, instead of refusing."""
    import os

    from playwright.sync_api import sync_playwright

    (folders / "corpus" / "extra.md").write_text("# Extra\n\nThe quokka cluster keeps checkpoints in S3.\n")
    index = folders / "index"
    modes = {p: p.stat().st_mode for p in [index, *index.rglob("*")]}
    for path in modes:
        os.chmod(path, 0o555 if path.is_dir() else 0o444)
    try:
        with serving(folders, prefix=("unshare", "--user")) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.goto(url)
            box = tab.get_by_placeholder("Ask about your notes…")
            box.wait_for(timeout=120_000)
            idle(tab)
            box.fill(DRIFT)
            box.press("Enter")
            answer = tab.locator("[data-testid='stChatMessage']").nth(1).locator("[data-testid='stHtml']")
            answer.filter(has_text="Concept Drift:").first.wait_for(timeout=120_000)
            idle(tab)
            text = tab.locator("[data-testid='stMainBlockContainer']").inner_text()
            problems = errors_on(tab)
            tab.screenshot(path=str(tmp_path / "read-only.png"), full_page=True)
            browser.close()
    finally:
        for path, mode in modes.items():
            os.chmod(path, mode)
    assert problems == [], problems
    assert "Cannot update the index, so answering from it as it is" in text, text
