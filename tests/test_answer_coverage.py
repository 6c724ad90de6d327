"""What the extractive answers quote from notes that keep their explanations in unusual places:
comment lines and prose blocks inside code fences. Small inline notes for the pure parts, then
end to end through StudyAssistant on a tmp corpus (notes in a style of their own, not the eval sets)."""

from __future__ import annotations

from conftest import write_notes

from assistant.answer.extractive.rendering import render
from assistant.answer.extractive.sides import side_lines
from assistant.schema import RetrievedChunk
from assistant.text.sentences import code_lines, code_notes, is_comment, passage_units


def passage(text: str, heading=(), start: int = 1, source: str = "notes.md") -> RetrievedChunk:
    return RetrievedChunk("a", text, source, list(heading), start, start + text.count("\n"), 1.0, 0.8)


GIT = """# Undoing things in git

## Key Commands:
```bash
# reset moves the branch back (rewrites history) vs revert (adds a new commit that undoes one)
git reset --hard HEAD~1
git revert a1b2c3d

git stash push -m "wip"    # park uncommitted changes without a commit
git stash pop
```

## Gotchas
```text
- a detached HEAD is NOT an error, it only means no branch is checked out
- commits made there are lost unless you create a branch before switching away
```
"""


def test_comment_lines_are_comments_and_flags_are_not():
    assert is_comment("# stop vs kill") and is_comment("// a note") and is_comment("-- sql comment")
    assert not is_comment("--restart always") and not is_comment("#!/bin/bash") and not is_comment("#include <x>")
    assert not is_comment("git reset --hard")


def test_a_comment_line_carries_the_commands_it_annotates():
    (block,) = [u for u in passage_units(passage(GIT), 0) if u.kind == "code" and "reset" in u.text]
    lines = code_lines(block)
    comment = lines[0]
    assert comment.text.startswith("# reset moves")
    assert comment.context == "git reset --hard HEAD~1\ngit revert a1b2c3d"  # up to the blank line
    assert all(u.context == "" for u in lines[1:])  # a command is not about its comment's other commands
    # both sides are named only by the commands under the comment: it is about both, so it can be
    # "the difference" of "git reset vs git revert"
    reset, revert = side_lines(["git reset", "git revert"], lines, [""] * len(lines))
    assert reset[0] and revert[0]
    assert reset[1] and not revert[1] and revert[2] and not reset[2]


def test_a_code_block_explains_through_its_comments_and_prose_blocks_through_every_line():
    units = passage_units(passage(GIT), 0)
    code = [u for u in units if u.kind == "code"]
    notes = [n.text for u in code for n in code_notes(u)]
    assert notes == [
        "# reset moves the branch back (rewrites history) vs revert (adds a new commit that undoes one)",
        'git stash push -m "wip"    # park uncommitted changes without a commit',
        "- a detached HEAD is NOT an error, it only means no branch is checked out",
        "- commits made there are lost unless you create a branch before switching away",
    ]
    # bare commands are not explanations ("git revert a1b2c3d", "git stash pop")
    shown = render(code_notes(code[1]), [0], [passage(GIT)])
    assert shown == ["- **Gotchas:** `- a detached HEAD is NOT an error, it only means no branch is checked out` [1]"]


# -- end to end -----------------------------------------------------------------------------------


def test_answers_quote_explanations_kept_in_code_blocks(make_assistant, tmp_path):
    write_notes(tmp_path / "corpus", {"git-undo.md": GIT})
    sa = make_assistant(tmp_path)
    sa.ingest(progress=False)
    detached = sa.answer("is a detached head an error?")
    assert not detached.abstained and "NOT an error" in detached.text, detached.text
    versus = sa.answer("git reset vs git revert")
    assert "reset moves the branch back" in versus.text, versus.text
    assert "**The difference:**" in versus.text
    for answer in (detached, versus):
        assert answer.citations and "```" not in answer.text  # code lines inline, not whole blocks


def test_sides_that_share_words_are_named_by_what_sets_them_apart():
    from assistant.answer.extractive.sides import sides_named

    text = ("- MAC = 48 bit, burned into the NIC, flat vs IP = hierarchical, assigned per subnet\n"
            "- **ARP:** maps an IP to a MAC inside one subnet\n- a MAC address is printed on the card")
    units = passage_units(passage(text), 0)
    # the first line names both; ARP's line is about ARP (its own lead-in); the last names one side
    assert list(sides_named(["mac address", "ip address"], units)) == [2, 0, 1]
    # sides without shared words are only named in full
    assert list(sides_named(["mac", "router"], units)) == [1, 0, 1]


def test_a_table_header_names_the_sides_it_compares():
    from assistant.answer.extractive.sides import header_sides

    assert header_sides(["hub", "switch", "router"], ("", "hub", "switch", "router")) == 3
    # a side said with more words than the column ("distance vector routing" / "distance vector (DV)")
    assert header_sides(["link state", "distance vector routing"], ("link state (LS)", "distance vector (DV)")) == 2
    assert header_sides(["tcp", "udp"], ("term", "meaning")) == 0


SQL = """# Joins

## Inner vs outer
| | inner join | left outer join |
|---|---|---|
| keeps | only rows with a match on both sides | every row of the left table |
| missing matches | dropped | filled with NULL |
| typical use | lookups that must exist | optional details |

## Inner join
- An inner join returns the pairs of rows whose join columns are equal.

## Left outer join
- A left outer join also returns left rows without a partner.
"""


def test_a_comparison_quotes_the_table_whose_columns_are_its_sides(make_assistant, tmp_path):
    write_notes(tmp_path / "corpus", {"sql-joins.md": SQL})
    sa = make_assistant(tmp_path)
    sa.ingest(progress=False)
    answer = sa.answer("inner join vs left outer join")
    text = answer.text
    assert "| | inner join | left outer join |" in text.replace("|  |", "| |"), text
    assert "|---|---|---|" in text and "filled with NULL" in text
    assert text.index("inner join | left outer join") < text.index("returns the pairs")  # the table first
    assert "— only rows with a match" not in text  # rows are not flattened into a side's bullets


def test_evidence_copied_with_html_tags_is_covered_by_its_words_not_its_tags():
    from assistant.evaluation.harness import evidence_covered

    evidence = "<tr><td>header</td><td>8 bytes</td><td>20 bytes min.</td></tr>"
    assert evidence_covered(evidence, "| | UDP | TCP |\n|---|---|---|\n| header | 8 bytes | 20 bytes min. [1] |")
    assert not evidence_covered(evidence, "UDP has no handshake [1]")
    # angle brackets that are not HTML are words of the notes ("<none>:<none>")
    assert not evidence_covered("(<none>:<none>) image", "an image [1]")


SPREADSHEET = """# Week 3: cleaning survey data

## Saving the result
Keep the raw export untouched. Parquet keeps parsed dates and date columns; \
CSV loses them and you parse every date column again.

## Timestamps
```python
df["sent"] = pd.to_datetime(df["sent"], format="%d/%m/%Y %H:%M", errors="coerce")
```
"""


def test_a_how_to_question_quotes_the_best_command_even_below_a_wordier_prose_line(make_assistant, tmp_path):
    write_notes(tmp_path / "corpus", {"week3.md": SPREADSHEET})
    sa = make_assistant(tmp_path)
    sa.ingest(progress=False)
    answer = sa.answer("how do i parse a date column?")
    assert "```python" in answer.text and "pd.to_datetime" in answer.text, answer.text


def test_a_how_to_ranking_puts_a_sections_command_right_above_the_prose_it_follows():
    from assistant.retrieval.commands import commands_first, is_command, section_next
    from assistant.schema import Chunk

    path = ("Lab", "2. Column names")
    chunks = [
        Chunk("p", "lab.ipynb", path, 3, 4, "## 2. Column names\n\nMessy headers: normalise them once.", "cell 2", 3),
        Chunk("c", "lab.ipynb", path, 6, 8, "```python\ndf.columns = df.columns.str.strip()\n```", "cell 3", 6),
        Chunk("o", "lab.ipynb", ("Lab", "3. Duplicates"), 10, 11, "## 3. Duplicates\n\n`duplicated()` marks.",
              "cell 4", 10),
        Chunk("x", "other.md", path, 9, 11, "```python\nprint(1)\n```"),
    ]
    assert [is_command(c) for c in chunks] == [False, True, False, True]
    following = section_next(chunks)
    assert following == {0: 1}  # same file and section only (not the next section, not another file)
    assert commands_first([0, 2, 1, 3], chunks, following, window=5) == [1, 0, 2, 3]
    # nothing enters from outside the window, nothing moves down
    assert commands_first([0, 2, 1, 3], chunks, following, window=2) == [0, 2, 1, 3]
    assert commands_first([1, 0, 2], chunks, following, window=5) == [1, 0, 2]


def _notebook(cells: list[tuple[str, str]]) -> str:
    import json

    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": kind, "metadata": {}, "source": text, **({"outputs": [], "execution_count": None}
                                                              if kind == "code" else {})}
        for kind, text in cells]})


def test_a_how_to_question_ranks_the_notebooks_code_cell_first(make_assistant, tmp_path):
    notebook = _notebook([
        ("markdown", "# Lab 2: tidy tables"),
        ("markdown", "## Column names\n\nMessy column names (spaces, capitals, trailing blanks) make every later "
                     "line annoying. Clean up the column names once, at the start."),
        ("code", 'df.columns = df.columns.str.strip().str.lower().str.replace(" ", "_")'),
        ("markdown", "## Duplicates\n\n`duplicated()` marks repeats, `drop_duplicates()` removes them."),
        ("code", "df = df.drop_duplicates()"),
    ])
    write_notes(tmp_path / "corpus", {"lab2.ipynb": notebook})
    sa = make_assistant(tmp_path)
    sa.ingest(progress=False)
    hits = sa.retrieve("how do i clean up messy column names?", k=3)
    assert "str.strip()" in hits[0].text, [h.text for h in hits]
    assert "Messy column names" in hits[1].text  # the explanation right after its command
    # a question that does not ask how leaves the ranking alone
    assert "Messy column names" in sa.retrieve("why are messy column names annoying?", k=3)[0].text
