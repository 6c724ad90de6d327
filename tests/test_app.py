"""The placeholder Streamlit page, run for real with streamlit's AppTest."""

from __future__ import annotations

import pytest
from conftest import CACHE_DIR, REPO, write_notes
from streamlit.testing.v1 import AppTest


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    write_notes(tmp_path / "corpus", {
        "drift.md": "# Monitoring\n\n## Drift\n\n- **Data drift:** input distributions change over time.\n"
                    "- **Concept drift:** the relation between inputs and target changes.\n",
    })
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(tmp_path / "corpus"))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(CACHE_DIR))
    monkeypatch.chdir(tmp_path)  # no developer .env is read
    return tmp_path


def test_search_page_shows_passages_with_lines(app_env):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    at.text_input[0].input("explain concept drift vs data drift").run()
    assert not at.exception
    labels = [e.label for e in at.expander]
    assert labels and "drift.md:" in labels[0] and "Monitoring › Drift" in labels[0]
    assert any("Concept drift" in m.value for m in at.markdown)
