"""The note sets in other students' styles (eval/corpora/): well-formed gold files, and the answer defect scan."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import CHROMIUM, REPO

from assistant.evaluation.defects import KINDS, answer_defects
from assistant.evaluation.gold import load_gold

CORPORA = sorted(p for p in (REPO / "eval" / "corpora").iterdir() if (p / "gold.jsonl").is_file())
COMPARISON = re.compile(r"\b(vs\.?|versus|or|difference between)\b", re.IGNORECASE)
HOW_DO_I = re.compile(r"^(how (do|can|should) i|how to)\b", re.IGNORECASE)


class _Text(HTMLParser):
    """The text of an HTML page as a reader sees it (the PDF's source)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("style", "script", "title")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "script", "title")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def normalized(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def readable_text(corpus: Path) -> str:
    """Everything a student reads in the set: markdown/text as written, the PDF's HTML source as rendered,
    a notebook's cell sources."""
    texts = []
    for path in sorted((corpus / "notes").rglob("*")):
        if path.suffix in (".md", ".markdown", ".txt"):
            texts.append(path.read_text(encoding="utf-8"))
        elif path.suffix == ".ipynb":
            texts += ["".join(cell["source"]) for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]]
        elif path.suffix == ".pdf":
            parser = _Text()
            parser.feed((corpus / "source" / f"{path.stem}.html").read_text(encoding="utf-8"))
            texts.append(" ".join(parser.parts))
    return normalized("\n".join(texts))


@pytest.mark.parametrize("corpus", CORPORA, ids=lambda p: p.name)
def test_gold_file_is_well_formed_with_enough_questions_of_each_kind(corpus):
    items = load_gold(corpus / "gold.jsonl")
    answerable = [i for i in items if i.answerable]
    unanswerable = [i for i in items if not i.answerable]
    assert len(answerable) >= 20 and len(unanswerable) >= 5
    assert all(i.reference.strip() for i in answerable)
    assert all(not i.evidence for i in unanswerable)
    assert sum(bool(COMPARISON.search(i.question)) for i in answerable) >= 3, "X vs Y questions"
    assert sum(bool(HOW_DO_I.search(i.question)) for i in answerable) >= 3, "how do I questions"
    typed = [i for i in items if i.question == i.question.lower()]
    assert len(typed) >= len(items) / 2, "most questions typed the way students type: lower case"
    assert len({i.question.lower() for i in items}) == len(items)


@pytest.mark.parametrize("corpus", CORPORA, ids=lambda p: p.name)
def test_every_evidence_string_is_in_the_notes_text(corpus):
    text = readable_text(corpus)
    missing = [(i.id, e) for i in load_gold(corpus / "gold.jsonl") for e in i.evidence if normalized(e) not in text]
    assert not missing


def test_every_set_is_a_different_kind_of_notes():
    kinds = {p.name: {f.suffix for f in (p / "notes").rglob("*") if f.is_file()} for p in CORPORA}
    assert len(CORPORA) >= 5
    assert any(".pdf" in k for k in kinds.values()) and any(".ipynb" in k for k in kinds.values())
    assert sum(".md" in k for k in kinds.values()) >= 3


def test_notebook_is_nbformat_4_with_markdown_and_code_cells():
    (notebook,) = [f for p in CORPORA for f in (p / "notes").glob("*.ipynb")]
    data = json.loads(notebook.read_text(encoding="utf-8"))
    assert data["nbformat"] == 4
    assert {c["cell_type"] for c in data["cells"]} == {"markdown", "code"}
    assert all(isinstance(c["source"], list) and c["source"] for c in data["cells"])
    assert all("outputs" in c and "execution_count" in c for c in data["cells"] if c["cell_type"] == "code")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_the_pdf_is_small_and_its_script_makes_it_again(tmp_path):
    sys.path.insert(0, str(REPO / "eval" / "corpora"))
    from make_pdf import make_pdf

    (committed,) = [f for p in CORPORA for f in (p / "notes").glob("*.pdf")]
    assert committed.stat().st_size < 200_000 and committed.read_bytes()[:5] == b"%PDF-"
    again = tmp_path / "again.pdf"
    make_pdf(CHROMIUM, committed.parent.parent / "source" / f"{committed.stem}.html", again)
    data = again.read_bytes()
    assert data[:5] == b"%PDF-" and b"/Outlines" in data  # h1/h2 became the document outline
    assert abs(len(data) - committed.stat().st_size) < committed.stat().st_size / 5


def test_the_benchmark_reports_a_set_it_cannot_read_instead_of_failing(tmp_path):
    """On code that reads no PDF or notebook the row says "0 indexed, 1 skipped"; on code that does, it scores."""
    out = tmp_path / "rows.json"
    subprocess.run([sys.executable, str(REPO / "eval" / "bench_corpora.py"), "--only", "crypto-pdf",
                    "pandas-notebook", "--json", str(out)], check=True, capture_output=True, timeout=600,
                   env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "ASSISTANT_CACHE_DIR": str(REPO / ".cache"),
                        "PYTHONPATH": str(REPO)})
    rows = json.loads(out.read_text())
    assert [r["corpus"] for r in rows] == ["crypto-pdf", "pandas-notebook"]
    for row in rows:
        assert row["files_indexed"] + row["files_skipped"] == 1
        assert ("ingest_error" in row) == (row["files_indexed"] == 0)


# -- the defect scan on small inline answers ---------------------------------------------------------------

def test_scan_finds_html_images_and_headerless_rows():
    found = answer_defects("- **UDP vs TCP:** <tr><td>header</td><td>8 bytes</td></tr> [1]\n"
                           "- **Setup:** client → ACK <br> may carry data ![handshake](images/3way.png) [1]\n"
                           "- **Go-back-n:** | | Go-Back-N | Selective Repeat | [2]")
    assert found["html"] == ["<tr>", "<td>", "</td>", "<td>", "</td>", "</tr>", "<br>"]
    assert found["image"] == ["![handshake](images/3way.png)"]
    assert found["table_row"] == ["| | Go-Back-N |"]
    assert answer_defects("| TLB | caches translations |\n| page fault | the OS loads the page |")["table_row"]
    assert answer_defects("|---|---|") == {"table_row": ["|---|---|"]}


def test_scan_finds_empty_labels_and_lone_symbols():
    found = answer_defects("- **:** the header is 8 bytes [1]\n- **Key Commands:** [2]\n"
                           "- **\\-:** no congestion control [1]\n- *+:* small header [1]\n- \\- no ordering [1]")
    assert found["empty_label"] == ["**:**", "- **Key Commands:** [2]"]
    assert found["lone_symbol"] == ["**\\-:**", "*+:*", "\\-"]


def test_scan_passes_well_formed_answers():
    assert answer_defects("- **Avro:** row-based, supports schema evolution [1]\n- use **COPY** unless [2]") == {}
    table = "Rows of your table [1]:\n\n| concept | what it does |\n|---|---|\n| TLB | caches translations |\n"
    assert answer_defects(table) == {}
    label_with_items = "- **Key Commands:** [1]\n  - restore a snapshot with the command below [1]\n"
    assert answer_defects(label_with_items) == {}
    code = ("```bash\ndocker ps -a | grep web | wc -l\necho '<br>' \\\n```\n"
            "Run `a | b | c`; an untagged image is <none>:<none>.")
    assert answer_defects(code) == {}


def test_every_kind_is_described():
    assert set(KINDS) == {"html", "image", "table_row", "empty_label", "lone_symbol"}


# -- issue 14's target: no answer on any set quotes the notes' markup ------------------------------------

# the target's kinds; eval/bench_corpora.py also counts lone symbols
SCANNED = ("html", "image", "table_row", "empty_label")
SETS = [("ours", REPO / "corpus", [REPO / "eval" / "gold.jsonl", REPO / "eval" / "holdout.jsonl"])] + [
    (p.name, p / "notes", [p / "gold.jsonl"]) for p in CORPORA]


@pytest.mark.parametrize(("name", "notes", "golds"), SETS, ids=[s[0] for s in SETS])
def test_no_answer_quotes_raw_html_images_headerless_rows_or_empty_labels(name, notes, golds, make_assistant,
                                                                          tmp_path):
    """Every gold question through the default (extractive) assistant; a set the code cannot read is skipped."""
    from assistant.errors import CorpusError

    sa = make_assistant(tmp_path, corpus_dir=notes)
    try:
        sa.ingest(progress=False)
    except CorpusError:
        pytest.skip(f"{name}: this code reads none of its files yet")
    bad = []
    for gold in golds:
        for item in load_gold(gold):
            answer = sa.answer(item.question)
            found = {k: v[:3] for k, v in answer_defects(answer.text).items() if k in SCANNED}
            if found:
                bad.append(f"{item.id} ({item.question!r}): {found}")
    assert not bad, f"{len(bad)} answers with defects:\n" + "\n".join(bad)


@pytest.mark.parametrize(("name", "region"), [("crypto-pdf", "page"), ("pandas-notebook", "cell")])
def test_flashcards_from_a_pdf_and_a_notebook_cite_their_page_or_cell(name, region, make_assistant, tmp_path):
    from assistant.schema import place

    sa = make_assistant(tmp_path, corpus_dir=REPO / "eval" / "corpora" / name / "notes")
    sa.ingest(progress=False)
    cards = sa.cards()
    assert len(cards) >= 8
    for card in cards:
        assert re.search(rf", {region} \d+, lines? \d+", card.place), card.place
        # the card's first line is where its definition's first words are, as an answer would cite it
        chunk = next(c for c in sa.chunks() if c.source == card.source and c.start_line <= card.start_line
                     <= c.end_line)
        line = chunk.text.split("\n")[card.start_line - chunk.start_line]
        assert card.definition.split()[0].strip("*`:") in line or card.term.split()[0].strip("*`") in line, card
        assert card.place == place(card.source, card.start_line, card.end_line, chunk.region, chunk.region_start,
                                   chunk.region_end)
