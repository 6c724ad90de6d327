"""PDF, HTML and notebook notes: their markdown views, page/cell citations, and files that cannot be read.

Readers are checked as pure functions on small inline inputs; a folder holding a markdown note, a PDF
made here from HTML by headless Chromium (with its outline), an HTML export and a notebook is then
indexed and asked, and every answer must be cited to the right file and page or cell.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CACHE_DIR, CHROMIUM, CHROMIUM_ARGS, make_settings, page_over, write_notes

from assistant.cli import main
from assistant.core import StudyAssistant
from assistant.errors import CorpusError
from assistant.ingest.regions import split_by_region
from assistant.schema import Chunk, RetrievedChunk, place, shown_place
from assistant.sources.html_reader import read_html
from assistant.sources.notebook_reader import read_notebook
from assistant.sources.notes import NoteFile, load_corpus
from assistant.sources.pdf_reader import read_pdf
from assistant.sources.views import Region, UnreadableError, escape_line, fence, table
from assistant.ui.render import chunk_passage_html

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason="Debian's chromium is not installed (.ci/run installs it)")

BIOLOGY_HTML = """<html><head><style>body { font-family: serif; } th, td { text-align: left; padding: 3px 8px; }
</style></head><body>
<h1>Cell biology</h1>
<table><tr><th>Organelle</th><th>Main job</th></tr><tr><td>Chloroplast</td><td>photosynthesis</td></tr>
<tr><td>Mitochondrion</td><td>ATP production by oxidative phosphorylation</td></tr></table>
<h2>Photosynthesis</h2>
<p>Photosynthesis in the chloroplast turns light energy, water and carbon dioxide into glucose and
oxygen. The light reactions happen in the thylakoid membranes and the Calvin cycle fixes carbon in the stroma.</p>
<div style="page-break-after: always"></div>
<h2>Mitochondria</h2>
<p>Mitochondria produce most of the cell's ATP through oxidative phosphorylation. The electron transport
chain in the inner membrane pumps protons, and ATP synthase uses the proton gradient to make ATP.</p>
<p>Mitochondria have their own circular DNA and are inherited from the mother. Inline code such as
<code>atp_synthase()</code> changes the font inside a sentence, and a second line with <code>nadh</code> in it
must stay prose rather than become a table; the sentence is long enough to wrap onto a second line here.</p>
<div style="page-break-after: always"></div>
<h2>Ribosomes</h2>
<p>Ribosomes translate messenger RNA into proteins; free ribosomes make cytosolic proteins while ribosomes
bound to the rough endoplasmic reticulum make secreted and membrane proteins.</p>
<ul><li>Free ribosomes float in the cytosol.</li><li>Bound ribosomes sit on the rough ER.</li></ul>
<pre><code>transcribe(dna) -> mrna
translate(mrna) -> protein</code></pre>
</body></html>"""

ROME_HTML = """<!doctype html><html><head><title>Rome</title><script>var tracking = "quokkascript";</script>
<style>.x { color: red }</style></head>
<body><nav><a href="/">Home</a> <a href="/login">Login quokkanav</a></nav>
<main>
<h1>Roman emperors</h1>
<p>Augustus became the first Roman emperor in 27 BC after defeating Mark Antony at Actium.</p>
<table><tr><th>Emperor</th><th>Reign</th></tr>
<tr><td>Trajan</td><td>98 to 117 AD<br>largest extent of the empire</td></tr>
<tr><td>Hadrian</td><td>117 to 138 AD</td></tr></table>
</main><footer>Copyright quokkafooter</footer></body></html>"""

PANDAS_NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "language": "python"}},
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Pandas tips\n"]},
        {"cell_type": "markdown", "metadata": {}, "source": [
            "## Grouping\n", "Use `groupby` to split a DataFrame by the values of key columns and sum each group."]},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": [
            "totals = sales.groupby('city')['amount'].sum()\n", "print(totals)"],
         "outputs": [{"output_type": "stream", "name": "stdout", "text": ["quokkaoutput\n"]}]},
        {"cell_type": "markdown", "metadata": {}, "source": [
            "## Merging\n", "Use `merge` to join two DataFrames on a key column, like a SQL join."]},
    ],
}

PROBES_MD = """# Kubernetes probes

A liveness probe tells the kubelet when to restart a container that is stuck.

A readiness probe tells the service when a pod may receive traffic.
"""


def print_pdf(html: str, folder: Path, name: str, outline: bool = True) -> Path:
    """A PDF of ``html`` printed by headless Chromium (with an outline from the headings if asked)."""
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"{name}.source.html"
    source.write_text(html, encoding="utf-8")
    out = folder / name
    args = [str(CHROMIUM), *CHROMIUM_ARGS, "--no-pdf-header-footer", f"--user-data-dir={folder / '.profile'}",
            f"--print-to-pdf={out}", *(["--generate-pdf-document-outline"] if outline else []), source.as_uri()]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    source.unlink()
    return out


def blank_pdf(password: str | None = None) -> bytes:
    """A one-page PDF with no text at all (as a scan without OCR has none), optionally encrypted."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    if password is not None:
        writer.encrypt(password, algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


# -- shared view helpers ------------------------------------------------------------------------------
def test_escape_line_keeps_text_from_becoming_markup():
    assert escape_line("#1 rule: test first") == "\\#1 rule: test first"
    assert escape_line("---") == "\\---"
    assert escape_line("> not a quote") == "\\> not a quote"
    assert escape_line("plain # text") == "plain # text"


def test_fence_outgrows_backticks_inside_and_table_pads_rows():
    assert fence("a\n```\nb", "md") == ["````md", "a", "```", "b", "````"]
    assert table([["A", "B"], ["x|y"]]) == ["| A | B |", "|---|---|", "| x\\|y |   |"]


def test_place_counts_lines_on_the_page():
    assert place("a.md", 3, 5) == "a.md, lines 3-5"
    assert place("a.pdf", 9, 9, "page 2", 7) == "a.pdf, page 2, line 3"
    hit = RetrievedChunk("i", "t", "nb.ipynb", [], 11, 13, 1.0, 0.5, "cell 4", 11)
    assert hit.place() == "nb.ipynb, cell 4, lines 1-3"
    assert hit.to_dict()["region"] == "cell 4"


def test_a_web_page_is_cited_by_its_section_and_its_text_lines_only_where_shown():
    # a browser shows no lines, and lines of the HTML source are not those of its text: the heading
    # path shown beside the place names the section
    assert place("rome.html", 3, 5) == "rome.html" and place("Site/Rome.HTM", 7, 7) == "Site/Rome.HTM"
    hit = RetrievedChunk("i", "t", "rome.html", ["Roman emperors"], 3, 5, 1.0, 0.5)
    assert hit.place() == hit.place(4, 4) == "rome.html"
    # under the app's passage view, the numbers beside the text shown are named as lines of its text
    assert shown_place("rome.html", 3, 5) == "rome.html, text lines 3-5"
    assert shown_place("a.md", 3, 5) == place("a.md", 3, 5) == "a.md, lines 3-5"
    assert shown_place("nb.ipynb", 11, 12, "cell 4", 11, 12) == "nb.ipynb, cell 4, lines 1-2"


# -- HTML ---------------------------------------------------------------------------------------------
def test_html_keeps_main_text_headings_tables_code_and_lists():
    view = read_html(ROME_HTML.replace("</table>", "</table><pre><code class=\"language-bash\">ls -l\n</code></pre>"
                                       "<ul><li>one<ul><li>inner</li></ul></li><li>two</li></ul>"))
    text = view.text
    assert view.regions == ()
    assert "# Roman emperors" in text.splitlines()
    assert "| Emperor | Reign |\n|---|---|\n| Trajan | 98 to 117 AD; largest extent of the empire |" in text
    assert "```bash\nls -l\n```" in text
    assert "- one\n  - inner\n- two" in text
    for dropped in ("quokkascript", "quokkanav", "quokkafooter", "color: red", "<", "Rome\n"):
        assert dropped not in text


def test_html_without_main_drops_navigation_and_keeps_inline_marks():
    text = read_html("<header>Site</header><h2>Topic</h2><p>A <b>bold</b> term<br>next line</p>"
                     "<aside>ad</aside><p># hash</p>").text
    assert text == "## Topic\n\nA **bold** term\nnext line\n\n\\# hash\n"


def test_html_open_head_cell_blocks_and_declared_charset(tmp_path):
    text = read_html("<html><head><title>T</title><body><table><tr><th>Step</th></tr>"
                     "<tr><td><p>one</p><p>two</p></td></tr></table>").text
    assert text == "| Step |\n|---|\n| one; two |\n"
    (tmp_path / "corpus").mkdir()
    page = '<meta charset="windows-1252"><p>caf\u00e9 cr\u00e8me</p>'.encode("cp1252")
    (tmp_path / "corpus" / "menu.html").write_bytes(page)
    notes, warnings = load_corpus(tmp_path / "corpus", 2_000_000)
    assert warnings == [] and notes[0].view().text == "café crème\n"


def test_html_with_no_text_is_unreadable():
    with pytest.raises(UnreadableError, match="no text"):
        read_html("<html><head><script>x()</script></head><body><nav>menu</nav></body></html>")


# -- notebooks ----------------------------------------------------------------------------------------
def test_notebook_cells_are_regions_code_is_fenced_outputs_dropped():
    view = read_notebook(json.dumps(PANDAS_NOTEBOOK))
    assert [r.label for r in view.regions] == ["cell 1", "cell 2", "cell 3", "cell 4"]
    lines = view.text.split("\n")
    code = view.regions[2]
    assert lines[code.start - 1 : code.start + 3] == [
        "```python", "totals = sales.groupby('city')['amount'].sum()", "print(totals)", "```"]
    assert "quokkaoutput" not in view.text


def test_notebook_lines_are_cited_as_jupyter_numbers_them():
    nb = {"cells": [{"cell_type": "markdown", "source": "\n\n## Setup\ninstall first"},
                    {"cell_type": "code", "source": "import pandas as pd\ndf = pd.read_csv('a.csv')"}]}
    view = read_notebook(json.dumps(nb))
    chunks = [Chunk("x", "nb.ipynb", (), n, n, line) for n, line in enumerate(view.text.split("\n"), start=1)
              if line.strip()]
    cited = {c.text: c for c in split_by_region(chunks, view.regions)}
    # the code cell's line 2 (the view's fence line is not the cell's); the markdown cell's blank
    # first lines count, as in Jupyter
    code = cited["df = pd.read_csv('a.csv')"]
    assert place(code.source, code.start_line, code.end_line, code.region, code.region_start) == (
        "nb.ipynb, cell 2, line 2")
    heading = cited["## Setup"]
    assert place(heading.source, heading.start_line, heading.end_line, heading.region, heading.region_start) == (
        "nb.ipynb, cell 1, line 3")
    fence_line = cited["```python"]  # a passage starting on the fence is cited from the cell's line 1
    assert place("nb.ipynb", fence_line.start_line, code.end_line, "cell 2", code.region_start) == (
        "nb.ipynb, cell 2, lines 1-2")


@pytest.mark.parametrize("source", ["x = 1", "import pandas as pd\ndf = pd.read_csv('a.csv')\ndf.head()",
                                    'doc = """\n```\n"""'])  # backticks inside: a longer fence
def test_a_code_cell_passage_is_cited_within_the_cell_not_on_its_fences(source):
    nb = {"cells": [{"cell_type": "markdown", "source": "## Load"}, {"cell_type": "code", "source": source}]}
    view = read_notebook(json.dumps(nb))
    cell = view.regions[1]
    n = source.count("\n") + 1
    lines = view.text.split("\n")
    assert lines[cell.last_counted - 1] == source.split("\n")[-1]  # the cell's last line, before the fence
    # the chunker keeps a code block whole: one passage from the opening fence to the closing one
    whole = Chunk("x", "nb.ipynb", ("Load",), cell.start, cell.end - 1, "\n".join(lines[cell.start - 1 : cell.end - 1]))
    [chunk] = split_by_region([whole], view.regions)
    opening = chunk.text.split("\n")[0]
    assert opening.startswith("```") and chunk.text.endswith("\n" + opening.removesuffix("python"))
    expected = f"nb.ipynb, cell 2, {'line 1' if n == 1 else f'lines 1-{n}'}"
    assert place(chunk.source, chunk.start_line, chunk.end_line, chunk.region, chunk.region_start,
                 chunk.region_end) == expected
    hit = RetrievedChunk(chunk.id, chunk.text, chunk.source, [], chunk.start_line, chunk.end_line, 1.0, 0.5,
                         chunk.region, chunk.region_start, chunk.region_end)
    assert hit.place() == expected
    assert hit.place(chunk.end_line, chunk.end_line) == f"nb.ipynb, cell 2, line {n}"  # not line n+1
    # shown as the cell: its lines numbered 1..n, the fences with no number and never marked
    shown = chunk_passage_html(hit.to_dict(), [chunk.start_line, chunk.end_line])
    assert re.findall(r'<span title="line (\d+)"', shown) == [str(k) for k in range(1, n + 1)]
    assert "<mark>" not in shown


def test_notebook_markdown_cell_with_an_open_fence_is_closed():
    nb = {"cells": [{"cell_type": "markdown", "source": "## Setup\n```bash\npip install x"},
                    {"cell_type": "markdown", "source": "## Next\ntext"}]}
    assert read_notebook(json.dumps(nb)).text == "## Setup\n```bash\npip install x\n```\n\n## Next\ntext\n"


def test_notebook_language_and_empty_cells():
    nb = {"metadata": {"language_info": {"name": "R"}},
          "cells": [{"cell_type": "code", "source": ""}, {"cell_type": "code", "source": "x <- 1"}]}
    view = read_notebook(json.dumps(nb))
    assert view.text.startswith("```r\nx <- 1\n```")
    assert [r.label for r in view.regions] == ["cell 2"]  # cells keep their place in the notebook


@pytest.mark.parametrize("text,reason", [
    ('{"cells": [', "not valid JSON"),
    ("[1, 2]", "not a Jupyter notebook"),
    ('{"worksheets": []}', "nbformat 3"),
    ('{"cells": [{"cell_type": "code", "source": "  "}]}', "no text"),
])
def test_broken_notebooks_are_unreadable(text, reason):
    with pytest.raises(UnreadableError, match=reason):
        read_notebook(text)


# -- PDF ----------------------------------------------------------------------------------------------
def test_pdf_without_text_layer_encrypted_or_corrupt_is_unreadable():
    with pytest.raises(UnreadableError, match="no text layer"):
        read_pdf(blank_pdf())
    with pytest.raises(UnreadableError, match="encrypted"):
        read_pdf(blank_pdf(password="secret"))
    with pytest.raises(UnreadableError, match="not a readable PDF"):
        read_pdf(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\nthis is not a PDF body")
    # only an owner password (print/copy limits): opens with the empty user password like any reader
    with pytest.raises(UnreadableError, match="no text layer"):
        read_pdf(blank_pdf(password=""))


@needs_chromium
def test_pdf_pages_become_regions_with_headings_from_the_outline(tmp_path):
    view = read_pdf(print_pdf(BIOLOGY_HTML, tmp_path, "bio.pdf").read_bytes())
    assert [r.label for r in view.regions] == ["page 1", "page 2", "page 3"]
    lines = view.text.split("\n")
    page = {r.label: lines[r.start - 1 : r.end] for r in view.regions}
    assert page["page 1"][:7] == ["# Cell biology", "", "| Organelle | Main job |", "|---|---|",
                                  "| Chloroplast | photosynthesis |",
                                  "| Mitochondrion | ATP production by oxidative phosphorylation |", ""]
    assert "## Photosynthesis" in page["page 1"]
    assert not any(line.startswith("|") for line in page["page 2"])  # a font change in prose is no table
    assert page["page 2"][0] == "## Mitochondria"
    # one paragraph is one line, its line breaks joined
    assert ("Mitochondria produce most of the cell's ATP through oxidative phosphorylation. The electron "
            "transport chain in the inner membrane pumps protons, and ATP synthase uses the proton gradient "
            "to make ATP.") in page["page 2"]
    assert "```text\ntranscribe(dna) -> mrna\ntranslate(mrna) -> protein\n```" in "\n".join(page["page 3"])
    # bullets Chromium draws as shapes: the items are set in from the margin
    assert "- Free ribosomes float in the cytosol.\n- Bound ribosomes sit on the rough ER." in "\n".join(page["page 3"])


@needs_chromium
def test_pdf_without_outline_takes_headings_from_font_sizes(tmp_path):
    view = read_pdf(print_pdf(BIOLOGY_HTML, tmp_path, "bio.pdf", outline=False).read_bytes())
    headings = [line for line in view.text.split("\n") if line.startswith("#")]
    assert headings == ["# Cell biology", "## Photosynthesis", "## Mitochondria", "## Ribosomes"]


CIPHERS = [("Algorithm", "Key size (bits)", "Block size (bits)", "Rounds"), ("AES-128", "128", "128", "10"),
           ("AES-256", "256", "128", "14"), ("DES", "56", "64", "16"), ("Blowfish", "32 to 448", "64", "16")]
LAB = ("A block cipher encrypts fixed-size blocks of plaintext under a secret key, and a mode of operation chains "
       "the blocks of a longer message. The ciphers below were compared in the week 2 lab, where we timed each "
       "of them on the same input and noted the key and block sizes from the standards. ")


def cipher_page(cells: str, prose: str = LAB * 3) -> str:
    """A page with the cipher table, its cells aligned by the ``cells`` CSS, between paragraphs of prose."""
    rows = "".join("<tr>" + "".join(f"<t{'h' if n == 0 else 'd'}>{c}</t{'h' if n == 0 else 'd'}>" for c in row)
                   + "</tr>" for n, row in enumerate(CIPHERS))
    return (f"<html><head><style>table {{ border-collapse: collapse }} th, td {{ border: 1px solid #777; "
            f"padding: 3px 8px }} {cells}</style></head><body><h1>Block ciphers</h1><p>{prose}</p>"
            f"<table>{rows}</table><p>AES replaced DES as the standard in 2001. {prose}</p></body></html>")


@needs_chromium
@pytest.mark.parametrize("cells, prose, as_table", [
    ("th, td { text-align: left }", LAB * 3, True),
    ("", LAB * 3, True),  # Chromium centres th: the header is the widest text of each column, so it lines up
    ("td + td { text-align: right }", LAB * 3, False),  # numbers set right: their starts do not line up
    ("th, td { text-align: center }", LAB * 3, False),
    ("th, td { text-align: left }", "", False),  # rows at the page's usual line spacing: no row is told apart
])
def test_pdf_table_columns_are_read_when_cells_start_at_one_x(tmp_path, cells, prose, as_table):
    # docs/decisions/0007: a table is read from where its cells' text starts; cells set right or centred
    # (or rows spaced like the page's lines) come out as lines of text, every cell kept in reading order
    text = read_pdf(print_pdf(cipher_page(cells, prose), tmp_path, "ciphers.pdf").read_bytes()).text
    rows = ["| " + " | ".join(row) + " |" for row in CIPHERS]
    assert (rows[0] + "\n|---|---|---|---|\n" + "\n".join(rows[1:]) in text) is as_table
    words = " ".join(text.replace("|", " ").replace("---", " ").split())
    assert " ".join(cell for row in CIPHERS for cell in row) in words


def test_pdf_line_breaks_are_joined_sensibly():
    from assistant.sources.pdf_reader import _join

    words = {"implementation", "state-of-the-art", "state", "art"}
    assert _join("the implemen-", "tation works", words) == "the implementation works"
    assert _join("a state-of-the-", "art model", words) == "a state-of-the-art model"
    assert _join("a well-", "known fact", words) == "a well-known fact"  # neither form elsewhere: keep it
    assert _join("first line", "second line", words) == "first line second line"
    assert _join("hyphen\u00ad", "ation", words) == "hyphenation"


# -- regions ------------------------------------------------------------------------------------------
def test_chunks_are_cut_at_region_boundaries_and_keep_their_heading_path():
    regions = (Region("page 1", 1, 4), Region("page 2", 5, 8))
    chunk = Chunk("x", "a.pdf", ("Cells",), 2, 7, "body one\n\n\nfirst of two\n\nsecond of two")
    first, second = split_by_region([chunk], regions)
    assert (first.start_line, first.end_line, first.text, first.region, first.region_start) == (
        2, 2, "body one", "page 1", 1)
    assert (second.start_line, second.end_line, second.region, second.region_start) == (5, 7, "page 2", 5)
    assert second.text == "first of two\n\nsecond of two"
    assert first.heading_path == second.heading_path == ("Cells",)
    assert first.id != second.id
    assert split_by_region([chunk], ()) == [chunk]


def test_pieces_of_one_long_line_stay_on_their_page():
    regions = (Region("cell 1", 1, 2), Region("cell 2", 3, 4))
    pieces = [Chunk("a", "n.ipynb", (), 3, 3, "long line part one "), Chunk("b", "n.ipynb", (), 3, 3, "part two")]
    out = split_by_region(pieces, regions)
    assert [(c.text, c.region, c.start_line) for c in out] == [
        ("long line part one ", "cell 2", 3), ("part two", "cell 2", 3)]


# -- finding files --------------------------------------------------------------------------------------
def test_new_formats_are_found_and_read_only_when_chunked(tmp_path):
    corpus = tmp_path / "corpus"
    write_notes(corpus, {"a.md": "# A\nalpha\n", "page.html": "<p>hello</p>", "nb.ipynb": "{",
                         "fake.pdf": "just text, not a PDF"})
    (corpus / "empty.pdf").write_bytes(b"")
    (corpus / "scan.pdf").write_bytes(blank_pdf())
    notes, warnings = load_corpus(corpus, 2_000_000)
    assert sorted(n.source for n in notes) == ["a.md", "nb.ipynb", "page.html", "scan.pdf"]
    assert sorted(warnings) == ["empty.pdf: skipped, it is empty.",
                                "fake.pdf: skipped, it is not a PDF (no %PDF header); rename or re-export it."]
    by_name = {n.source: n for n in notes}
    assert by_name["page.html"].view().text == "hello\n"
    with pytest.raises(UnreadableError):
        by_name["nb.ipynb"].view()
    assert NoteFile("x.md", "text", "d").view().text == "text"


def test_pdf_and_notebook_get_a_larger_size_limit(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    big = b"%PDF-1.4\n" + b"0" * 3000
    (corpus / "big.pdf").write_bytes(big)
    (corpus / "big.md").write_bytes(b"x" * 3000)
    notes, warnings = load_corpus(corpus, 2000)
    assert [n.source for n in notes] == ["big.pdf"]
    assert warnings == ["big.md: skipped, 0.0 MB is over the 0.0 MB limit (raise ASSISTANT_MAX_FILE_MB to index it)."]


def test_unreadable_files_are_skipped_with_a_reason_and_not_read_again(tmp_path, make_assistant):
    write_notes(tmp_path / "corpus", {"probes.md": PROBES_MD, "broken.ipynb": '{"cells": ['})
    (tmp_path / "corpus" / "scan.pdf").write_bytes(blank_pdf())
    (tmp_path / "corpus" / "locked.pdf").write_bytes(blank_pdf(password="secret"))
    sa = make_assistant(tmp_path)
    report = sa.ingest(progress=False)
    assert report.files == 1
    reasons = sorted(report.warnings)
    assert [r.split(":")[0] for r in reasons] == ["broken.ipynb", "locked.pdf", "scan.pdf"]
    assert "not valid JSON" in reasons[0] and "encrypted" in reasons[1] and "no text layer" in reasons[2]
    assert {c.source for c in sa.chunks()} == {"probes.md"}
    assert not sa.status().stale
    assert sorted(sa.status().skipped) == reasons
    again = sa.ingest(progress=False)  # nothing changed: nothing read again, the reasons still said
    assert (again.added, again.removed, sorted(again.warnings)) == (0, 0, reasons)
    fixed = dict(PANDAS_NOTEBOOK)
    (tmp_path / "corpus" / "broken.ipynb").write_text(json.dumps(fixed), encoding="utf-8")
    assert sa.status().stale
    third = sa.ingest(progress=False)
    assert third.files == 2 and third.added > 0 and len(third.warnings) == 2
    assert any(c.source == "broken.ipynb" and c.region == "cell 3" for c in sa.chunks())


def cli_env(folder: Path) -> dict[str, str]:
    """The CLI's environment for notes in ``folder/corpus`` indexed into ``folder/index``."""
    return {"ASSISTANT_CORPUS_DIR": str(folder / "corpus"), "ASSISTANT_INDEX_DIR": str(folder / "index"),
            "ASSISTANT_CACHE_DIR": str(CACHE_DIR), "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


def test_status_and_sidebar_name_the_skipped_files(tmp_path, monkeypatch):
    write_notes(tmp_path / "corpus", {"probes.md": PROBES_MD})
    (tmp_path / "corpus" / "scan.pdf").write_bytes(blank_pdf())
    env = cli_env(tmp_path)
    runner = CliRunner()
    ingested = runner.invoke(main, ["--env-file", str(tmp_path / "none.env"), "ingest", "-q"], env=env)
    assert ingested.exit_code == 0, ingested.output
    assert "warning: scan.pdf: skipped, it has no text layer" in ingested.stderr
    shown = runner.invoke(main, ["--env-file", str(tmp_path / "none.env"), "status"], env=env)
    assert "not indexed    scan.pdf: skipped, it has no text layer" in shown.stdout
    app = page_over(tmp_path, monkeypatch)
    app.run()
    assert not app.exception
    captions = [c.value.replace("\\", "") for c in app.sidebar.caption]
    assert any("1 file(s) not indexed" in c and "scan.pdf" in c and "no text layer" in c for c in captions), captions


def test_a_folder_of_only_unreadable_files_says_so(tmp_path, make_assistant):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "scan.pdf").write_bytes(blank_pdf())
    with pytest.raises(CorpusError, match="every file was skipped.*no text layer"):
        make_assistant(tmp_path).ingest(progress=False)


# -- end to end: one folder of four formats --------------------------------------------------------------
@pytest.fixture(scope="module")
def mixed(tmp_path_factory, embedder):
    """A folder with a markdown note, a Chromium-printed PDF, an HTML export and a notebook, indexed."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    tmp = tmp_path_factory.mktemp("formats")
    corpus = tmp / "corpus"
    write_notes(corpus, {"probes.md": PROBES_MD, "rome.html": ROME_HTML,
                         "pandas.ipynb": json.dumps(PANDAS_NOTEBOOK, indent=1)})
    print_pdf(BIOLOGY_HTML, tmp / "print", "biology.pdf").rename(corpus / "biology.pdf")
    sa = StudyAssistant(make_settings(tmp), embedder=embedder)
    report = sa.ingest(progress=False)
    assert report.files == 4 and report.warnings == []
    yield tmp, sa
    sa.close()


@pytest.mark.parametrize("question,where", [
    ("what do mitochondria produce?", "biology.pdf, page 2, line"),
    ("how do ribosomes make proteins?", "biology.pdf, page 3, line"),
    ("when did Trajan reign?", "rome.html"),
    ("how do I group a DataFrame by key columns?", "pandas.ipynb, cell 2, line"),
    ("what does a readiness probe do?", "probes.md, line"),
])
def test_answers_from_each_format_are_cited_to_page_cell_or_lines(mixed, question, where):
    _, sa = mixed
    answer = sa.answer(question)
    assert not answer.abstained
    places = [c.chunk.place(c.start_line, c.end_line) for c in answer.citations]
    assert places and places[0].startswith(where), places
    if where.endswith(".html"):  # a web page by its section: no lines
        assert places[0] == where and answer.citations[0].chunk.heading == "Roman emperors"


def test_chunks_never_cross_a_page_and_the_page_text_comes_back(mixed):
    _, sa = mixed
    pdf = [c for c in sa.chunks() if c.source == "biology.pdf"]
    assert {c.region for c in pdf} == {"page 1", "page 2", "page 3"}
    page_two = next(c for c in pdf if c.region == "page 2")
    assert page_two.heading_path == ("Cell biology", "Mitochondria")  # the h1 of page 1 carries over
    text, number, last = sa.region_text("biology.pdf", "page 2")
    assert number == 1 and last == text.count("\n") + 1  # the page's text from its line 1, to its last
    code, number, last = sa.region_text("pandas.ipynb", "cell 3")
    # the view's fences before the cell's line 1 and after its last line
    assert number == 0 and last == 2 and code.startswith("```python\n") and code.endswith("\n```")
    assert text.split("\n")[0] == "## Mitochondria" and "circular DNA" in text
    html_chunks = [c for c in sa.chunks() if c.source == "rome.html"]
    assert all(c.region == "" for c in html_chunks)
    assert not any(word in c.text for c in sa.chunks() for word in ("quokkanav", "quokkaoutput", "quokkascript"))


def test_changed_pdf_is_read_again_and_unchanged_files_kept(mixed):
    tmp, sa = mixed
    changed = BIOLOGY_HTML.replace("circular DNA", "circular DNA of about 16,569 base pairs")
    print_pdf(changed, tmp / "print", "biology.pdf").replace(tmp / "corpus" / "biology.pdf")
    report = sa.ingest(progress=False)
    assert report.added >= 1 and report.unchanged >= 5
    text, _, _ = sa.region_text("biology.pdf", "page 2")
    assert "16,569 base pairs" in text


def test_cli_ask_and_search_cite_pages_and_cells(mixed):
    tmp, _ = mixed
    env = cli_env(tmp)
    runner = CliRunner()
    asked = runner.invoke(main, ["--env-file", str(tmp / "none.env"), "ask", "what do mitochondria produce?"], env=env)
    assert asked.exit_code == 0, asked.output
    assert "biology.pdf, page 2, line" in asked.stdout
    found = runner.invoke(main, ["--env-file", str(tmp / "none.env"), "search", "groupby city amount"], env=env)
    assert found.exit_code == 0, found.output
    assert "pandas.ipynb, cell 3, line" in found.stdout
    # a web page: its section's heading, then the file alone (no lines of a text the user never sees)
    asked = runner.invoke(main, ["--env-file", str(tmp / "none.env"), "ask", "when did Trajan reign?"], env=env)
    assert "[1] Roman emperors\n      rome.html\n" in asked.stdout, asked.stdout
    found = runner.invoke(main, ["--env-file", str(tmp / "none.env"), "search", "Trajan reign"], env=env)
    assert "[1] Roman emperors\n    rome.html  score" in found.stdout and "rome.html:" not in found.stdout


def asked_in_app(folder: Path, monkeypatch, question: str):
    """The app over ``folder``'s notes after one question: its citation labels (unescaped) and the page."""
    app = page_over(folder, monkeypatch)
    app.run()
    app.chat_input[0].set_value(question).run()
    assert not app.exception
    return [e.label.replace("\\", "") for e in app.expander], app


def test_app_shows_the_cited_page_with_the_quote_marked(mixed, monkeypatch):
    labels, app = asked_in_app(mixed[0], monkeypatch, "what do mitochondria produce?")
    assert labels and "biology.pdf, page 2, line" in labels[0]
    shown = [h.value for h in app.get("html") if "<mark>" in h.value]
    assert shown and "Mitochondria have their own circular DNA" in shown[0]  # the whole page, not the passage
    assert 'title="line 1"' in shown[0]  # numbered as on the page


def test_app_cites_a_web_page_by_section_and_names_the_text_lines_it_shows(mixed, monkeypatch):
    labels, app = asked_in_app(mixed[0], monkeypatch, "when did Trajan reign?")
    assert labels[0].endswith("Roman emperors — rome.html"), labels
    captions = [c.value.replace("\\", "") for c in app.caption]
    assert any(c.startswith("rome.html, text line") for c in captions), captions
    shown = [h.value for h in app.get("html") if "<mark>" in h.value]
    assert shown and "Trajan" in shown[0] and 'title="line ' in shown[0]


def test_app_shows_a_cited_code_cell_numbered_as_jupyter_without_its_fences(mixed, monkeypatch):
    labels, app = asked_in_app(mixed[0], monkeypatch, "how do I sum the amount per city with groupby?")
    assert any("pandas.ipynb, cell 3, line" in label for label in labels), labels
    cells = [h.value for h in app.get("html") if "groupby(&#x27;city&#x27;)" in h.value and "```" in h.value]
    assert cells, "the code cell is shown with its fences"
    for cell in cells:  # the cell's two lines numbered 1 and 2, its fences not at all
        assert re.findall(r'title="line (\d+)"', cell) == ["1", "2"]
    assert not any("cell 3, lines 1-3" in label or "cell 3, line 3" in label for label in labels)
