"""The document model and the answer units read from it: small inline notes in several styles, then
end-to-end answers through StudyAssistant on a tmp corpus (code, tables, HTML, images, labels)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import write_notes

from assistant.answer.citations import parse_citations
from assistant.answer.extractive.rendering import render
from assistant.answer.extractive.sides import side_lines
from assistant.evaluation.defects import html_tags, without_html_tags
from assistant.schema import RetrievedChunk
from assistant.text.document import parse
from assistant.text.markdown import HTML_TAG, plain_text
from assistant.text.sentences import code_intent, is_generic, passage_units
from assistant.ui.render import cited_lines, passage_html


def passage(text: str, heading=(), start: int = 1, source: str = "notes.md") -> RetrievedChunk:
    return RetrievedChunk("a", text, source, list(heading), start, start + text.count("\n"), 1.0, 0.8)


CKA = """# etcd backup and restore

## Concept:
etcd is the key-value store that holds all cluster state.

## Key Commands:
```bash
ETCDCTL_API=3 etcdctl snapshot save /opt/backup.db
ETCDCTL_API=3 etcdctl snapshot restore /opt/backup.db --data-dir=/var/lib/etcd-new
```
"""

LECTURE = """# Lecture 7: Memory

<table><tr><td>Term</td><td>Meaning</td></tr><tr><td>MMU</td><td>translates addresses<br>using page tables</td></tr>\
</table>

![diagram](images/paging.png)

## Paging
| concept | what it does |
|---|---|
| TLB | caches recent translations |
| page fault | raised when a page is not in memory |

<hr>

### Segmentation
Segments are variable-sized regions; external fragmentation is the main drawback.
"""


# -- the model ------------------------------------------------------------------------------------


def test_blocks_have_kinds_exact_lines_and_heading_paths():
    doc = parse(CKA + "\n> quoted line\n\n- **Term:** text\n  - nested\n")
    kinds = [(b.kind, b.start, b.end) for b in doc.blocks]
    assert kinds == [("heading", 1, 1), ("heading", 3, 3), ("paragraph", 4, 4), ("heading", 6, 6),
                     ("code", 7, 10), ("quote", 12, 12), ("item", 14, 14), ("item", 15, 15)]
    code = doc.blocks[4]
    assert code.lang == "bash" and code.text.startswith("ETCDCTL_API=3") and code.heading_path[-1] == "Key Commands"
    assert doc.blocks[6].label == "Term" and doc.blocks[6].depth == 1 and doc.blocks[7].depth == 2


def test_tables_keep_header_and_row_lines_and_html_tables_are_read_too():
    doc = parse(LECTURE)
    tables = [b for b in doc.blocks if b.kind == "table"]
    assert [t.header.cells for t in tables] == [("Term", "Meaning"), ("concept", "what it does")]
    assert tables[0].rows[0].cells == ("MMU", "translates addresses using page tables")  # <br> is a space
    assert [(r.line, r.cells[0]) for r in tables[1].rows] == [(10, "TLB"), (11, "page fault")]


def test_one_fence_rule_for_chunks_units_and_the_passage_view():
    # a ``` inside a ~~~ block does not close it (CommonMark); the heading-like line is code
    text = "~~~\n```\n# not a heading\n~~~\nAfter the block, prose."
    doc = parse(text)
    assert [(b.kind, b.start, b.end) for b in doc.blocks] == [("code", 1, 4), ("paragraph", 5, 5)]
    assert doc.line_kinds() == ["fence", "code", "code", "fence", "prose"]
    units = passage_units(passage(text), 0)
    assert [(u.kind, u.line) for u in units] == [("code", 2), ("text", 5)]
    html = passage_html(text, 1, [5])
    assert html.count("<mark>") == 1 and "font-family" in html.split("After the block")[0]


# -- units ----------------------------------------------------------------------------------------


def test_html_images_and_escaped_symbols_never_reach_a_unit():
    text = ("- **\\-** removes the last item\n"
            "- Pages <br> are fixed-size ![x](img/x.png) blocks\n"
            "- <b>Bold</b> frames hold pages")
    units = passage_units(passage(text), 0)
    assert [(u.label, u.text) for u in units] == [
        ("", "removes the last item"), ("", "Pages are fixed-size blocks"), ("", "Bold frames hold pages")]
    for u in units:
        assert not re.search(r"<[a-z/]|!\[|\\", u.text)



def test_one_html_tag_definition_serves_markup_removal_html_blocks_and_the_defect_scan():
    line = 'Step <td class="x">one</td><br/> on <none> and <pod-name>'
    # embedding text drops every tag-like run; the defect scan and gold evidence only real elements
    assert plain_text(line).split() == ["Step", "one", "on", "and"]
    assert html_tags(line) == ['<td class="x">', "</td>", "<br/>"]
    assert without_html_tags(line).split() == ["Step", "one", "on", "<none>", "and", "<pod-name>"]
    # an HTML block's text: tags, over lines too, comments and a doctype dropped; inline tags that
    # end a line part the words around them, others join them
    doc = parse('<div\n  class="note">\nkept <b>bold</b><!-- no -->\n</div>\n\n<!DOCTYPE html>\n\n'
                "one<br>two, three<span>four</span>\n")
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("html", "kept bold"), ("html", ""), ("paragraph", "one two, threefour")]
    assert all(HTML_TAG.fullmatch(tag) for tag in ("<br>", "</td>", "<td\n class=x>", "<br/>", "<TR>"))
    assert not any(HTML_TAG.fullmatch(text) for text in ("<!-- c -->", "<!doctype html>", "< b>", "<>", "<1>"))

def test_plain_lead_ins_are_labels_and_a_title_alone_leads_its_lines():
    text = "- Common formats: Parquet, Avro and CSV.\n- Data Privacy:**\n- Bedrock keeps tuning data private."
    units = passage_units(passage(text), 0)
    assert [(u.label, u.parent, u.text) for u in units] == [
        ("Common formats", "", "Parquet, Avro and CSV."), ("", "Data Privacy", "Bedrock keeps tuning data private.")]


def test_a_definition_list_term_leads_its_definition():
    units = passage_units(passage("Overfitting\n: the model memorises its training data.\n\nA plain line."), 0)
    assert [(u.label, u.text, u.line, u.last_line) for u in units] == [
        ("Overfitting", "the model memorises its training data.", 1, 2), ("", "A plain line.", 4, 4)]


def test_a_merged_chunk_keeps_each_lines_own_heading():
    body = LECTURE.split("## Paging\n", 1)[1]
    text = "## Paging\n" + body.rstrip("\n")
    units = passage_units(passage(text, heading=("Lecture 7: Memory", "Paging"), start=7), 0)
    seg = next(u for u in units if "fragmentation" in u.text)
    assert seg.heading_path == ("Lecture 7: Memory", "Paging", "Segmentation") and seg.heading_line == 15
    rows = [u for u in units if u.kind == "row"]
    assert [u.heading_path[-1] for u in rows] == ["Paging", "Paging"] and rows[0].parent_line == 8
    # the answer labels the line with its own heading, not the chunk's
    assert render(units, [units.index(seg)], [passage(text, ("Lecture 7: Memory", "Paging"), 7)])[0].startswith(
        "- **Segmentation:**")


def test_sentences_of_a_long_paragraph_are_units_with_their_lines():
    text = ("Gradient boosting fits shallow trees to residual errors. Because every tree corrects the\n"
            "previous ones, it reaches high accuracy. It overfits when the learning rate is high.\n"
            "\n"
            "Random forests average deep trees.")
    units = passage_units(passage(text, source="notes.txt"), 0)
    assert [(u.line, u.last_line, u.part) for u in units] == [(1, 1, True), (1, 2, True), (2, 2, True), (4, 4, False)]
    assert units[2].text == "It overfits when the learning rate is high."
    assert units[0].share[0] == 0.0 and units[0].share[1] == pytest.approx(units[1].share[0])
    # the UI marks the line holding a quoted sentence
    assert cited_lines(units[2].raw, text, 1) == [2]


# -- answers that fit the block ---------------------------------------------------------------------


def test_table_rows_render_as_a_small_table_with_header_and_separator():
    ctx = [passage(LECTURE)]
    units = passage_units(ctx[0], 0)
    rows = [n for n, u in enumerate(units) if u.kind == "row"]
    text = "\n".join(render(units, rows, ctx))
    # every table row in the answer sits under its header and separator
    lines = text.split("\n")
    for n, line in enumerate(lines):
        if line.startswith("|") and not re.match(r"^\|(-+\|)+$", line):
            block = lines[:n + 1]
            first = max(i for i, x in enumerate(block) if not x.startswith("|")) + 1
            assert re.match(r"^\|(-+\|)+$", lines[first + 1]), text
    assert "| Term | Meaning |" in text and "| MMU | translates addresses using page tables [1] |" in text
    assert "<" not in text and "![" not in text
    cited = parse_citations(text, ctx).citations[0]
    assert "| TLB | caches recent translations |" in cited.quote.split("\n")


def test_code_renders_fenced_under_a_topic_heading_and_is_cited():
    ctx = [passage(CKA, heading=("etcd backup and restore",))]
    units = passage_units(ctx[0], 0)
    picked = [n for n, u in enumerate(units) if u.kind == "code" or "key-value" in u.text]
    text = "\n".join(render(units, picked, ctx))
    assert "```bash\n" in text and "etcdctl snapshot restore" in text
    assert "Key Commands" not in text and "Concept" not in text  # template section names are no labels
    assert text.startswith("- **etcd backup and restore:**")
    cited = parse_citations(text, ctx).citations[0]
    assert "ETCDCTL_API=3 etcdctl snapshot restore /opt/backup.db --data-dir=/var/lib/etcd-new" in cited.quote
    assert (cited.start_line, cited.end_line) == (4, 9)


def test_question_kinds_and_generic_labels():
    assert code_intent("how do i restore etcd from a snapshot?") and code_intent("the command to drain a node")
    assert not code_intent("what does the MMU do?")
    assert is_generic("Key Commands") and is_generic("YAML example") and is_generic("Concept")
    assert not is_generic("Key Metrics") and not is_generic("Random Forest")
    # a question about the section's own topic is a slot of the template; a question naming a topic is not
    assert all(is_generic(x) for x in ("What it is", "How it works", "When to use it", "Why it matters",
                                       "What it's for", "Strengths", "Best practices"))
    assert not is_generic("What is SageMaker?") and not is_generic("How DNS resolves names")


@pytest.mark.parametrize("sides", [("livenessprobe", "readinessprobe"), ("livenessProbe", "readiness_probe"),
                                   ("liveness probe", "readiness-probe")])
def test_comparison_sides_match_any_spelling_of_an_identifier(sides):
    text = ("- A livenessProbe restarts a container that hangs.\n"
            "- The readiness probe keeps traffic away until the app is ready.")
    units = passage_units(passage(text), 0)
    liveness, readiness = side_lines(list(sides), units, ["Probes"] * len(units))
    assert list(liveness) == [True, False] and list(readiness) == [False, True]


def test_headings_without_bold_keep_each_definition_under_its_own_side():
    text = ("## Grid search\nGrid search tries every combination of the values you list.\n\n"
            "## Random search\nRandom search samples combinations at random from the ranges.")
    units = passage_units(passage(text, heading=("Tuning",)), 0)
    grid, rand = side_lines(["grid search", "random search"], units, [u.topic for u in units])
    assert list(grid) == [True, False] and list(rand) == [False, True]


# -- end to end -----------------------------------------------------------------------------------


def test_answers_on_other_styles_quote_commands_tables_and_no_markup(make_assistant, tmp_path):
    write_notes(tmp_path / "corpus", {"cka-etcd.md": CKA, "lecture-07.md": LECTURE})
    sa = make_assistant(tmp_path)
    sa.ingest(progress=False)
    how = sa.answer("how do i restore etcd from a snapshot?")
    assert not how.abstained and "```" in how.text and "etcdctl snapshot restore" in how.text
    assert any("snapshot restore" in c.quote for c in how.citations)
    table = sa.answer("what is a TLB for?")
    assert "| concept | what it does |" in table.text and "|---|---|" in table.text
    for answer in (how, table, sa.answer("what does the MMU do?")):
        assert not re.search(r"<(?:br|td|tr|hr|table|b)\b|!\[", answer.text), answer.text
        assert "**:**" not in answer.text and "- **-" not in answer.text
    assert np.all([c.start_line <= c.end_line for c in how.citations])


def test_rows_cut_off_from_their_header_read_as_cells_not_bare_rows():
    units = passage_units(passage("| TLB | caches translations |\n| page fault | raised when \\| missing |"), 0)
    assert [u.text for u in units] == ["TLB — caches translations", "page fault — raised when | missing"]
    assert "| a | b |" in passage_html("- x\n| a | b |", 1, [])  # shown as written in the source view


def test_a_long_code_block_is_quoted_in_runs_cut_at_blank_lines():
    commands = "\n\n".join(f"# step {n}\ncmd{n} --flag\ncmd{n} --other" for n in range(5))
    units = passage_units(passage(f"```sh\n{commands}\n```"), 0)
    assert all(u.kind == "code" and len(u.text.split("\n")) <= 12 for u in units) and len(units) == 2
    assert [u.text.split("\n")[0] for u in units] == ["# step 0", "# step 3"]  # never a blank first line
    assert code_intent("what does -p 8080:80 mean") and not code_intent("one-hot or label encoding - which?")


def test_a_comparison_reads_code_line_by_line_as_inline_code():
    from assistant.text.sentences import code_lines

    text = "```dockerfile\n# ENTRYPOINT = the executable that always runs\n# CMD = default arguments\n```"
    (block,) = passage_units(passage(text), 0)
    lines = code_lines(block)
    assert [(u.kind, u.line) for u in lines] == [("codeline", 2), ("codeline", 3)]
    entry, cmd = side_lines(["entrypoint", "cmd"], lines, [""] * 2)
    assert list(entry) == [True, False] and list(cmd) == [False, True]
    assert render(lines, [1], [passage(text)], lead="CMD") == ["- **CMD:** `# CMD = default arguments` [1]"]
