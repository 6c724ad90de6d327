"""The pure chunker (real WordPiece tokenizer) and the pure query analysis."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from assistant.evaluation.gold import load_gold
from assistant.ingest.chunking import chunk_text
from assistant.schema import Chunk
from assistant.text.markdown import plain_text, split_lines
from assistant.text.question import comparison_sides
from assistant.text.words import tokens

# -- invariant helpers -------------------------------------------------------------------------


def assert_covers_every_line(text: str, chunks: list[Chunk]) -> None:
    """Every non-blank line is in exactly one chunk's range (pieces of one long line share it)."""
    lines = split_lines(text)
    owners: dict[int, set[tuple[int, int]]] = {}
    for c in chunks:
        assert 1 <= c.start_line <= c.end_line <= len(lines), (c.start_line, c.end_line)
        for n in range(c.start_line, c.end_line + 1):
            owners.setdefault(n, set()).add((c.start_line, c.end_line))
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        ranges = owners.get(n, set())
        assert len(ranges) == 1, f"line {n} {line[:40]!r} is in ranges {sorted(ranges)}"
        (start, end), = ranges
        sharing = [c for c in chunks if (c.start_line, c.end_line) == (start, end)]
        if len(sharing) > 1:  # only pieces of one over-long line may share a range
            assert start == end, f"several chunks share the multi-line range {start}-{end}"


def assert_text_matches_lines(text: str, chunks: list[Chunk]) -> None:
    """Whole-line chunks are exactly their lines; pieces of a long line rebuild that line."""
    lines = split_lines(text)
    pieces: dict[int, list[str]] = {}
    for c in chunks:
        exact = "\n".join(lines[c.start_line - 1 : c.end_line])
        if c.text == exact:
            continue
        assert c.start_line == c.end_line, f"chunk {c.start_line}-{c.end_line} text differs from its lines"
        pieces.setdefault(c.start_line, []).append(c.text)
    for n, parts in pieces.items():
        assert len(parts) > 1, f"line {n}: a single chunk that is not the whole line"
        assert "".join(parts) == lines[n - 1], f"pieces of line {n} do not rebuild it"


def heading_and_text(chunk: Chunk) -> str:
    """What chunk_text promises to fit in max_tokens: the heading path, then the lines."""
    return f"{' › '.join(chunk.heading_path)}\n{chunk.text}" if chunk.heading_path else chunk.text


def assert_within_budget(chunks: list[Chunk], tokenizer, max_tokens: int) -> None:
    counts = tokenizer.count([heading_and_text(c) for c in chunks])
    over = [(c.start_line, n) for c, n in zip(chunks, counts, strict=True) if n > max_tokens]
    assert not over, f"chunks over {max_tokens} tokens (start_line, tokens): {over[:5]}"


def assert_ids_unique(chunks: list[Chunk]) -> None:
    ids = [c.id for c in chunks]
    assert len(ids) == len(set(ids))


def check_invariants(text: str, source: str, tokenizer, max_tokens: int, min_tokens: int = 48) -> list[Chunk]:
    chunks = chunk_text(text, source, tokenizer, max_tokens, min_tokens)
    assert chunks, "no chunks for a non-empty text"
    assert all(c.source == source for c in chunks)
    assert [c.start_line for c in chunks] == sorted(c.start_line for c in chunks), "chunks out of file order"
    assert_covers_every_line(text, chunks)
    assert_text_matches_lines(text, chunks)
    assert_within_budget(chunks, tokenizer, max_tokens)
    assert_ids_unique(chunks)
    return chunks


def words(n: int, stem: str = "word") -> str:
    return " ".join(f"{stem}{i}" for i in range(n))


def paragraph(topic: str, sentences: int) -> str:
    return " ".join(f"The {topic} sentence number {i} explains one more detail of {topic}." for i in range(sentences))


MIXED = f"""Intro line before any heading.

# Guide

Some overview text for the guide.

## Setup

{paragraph("setup", 12)}

- item one about setup
- item two about setup
  continued under item two
- item three

```python
# a comment, not a heading
def f():
    return 1
```

## Usage

~~~
## also not a heading
~~~

{paragraph("usage", 30)}

### Details

1. first numbered step
2. second numbered step

{paragraph("details", 5)}
"""


# -- invariants on several inputs --------------------------------------------------------------


@pytest.mark.parametrize("max_tokens", [64, 128, 254])
def test_invariants_on_mixed_markdown(tokenizer, max_tokens):
    check_invariants(MIXED, "guide.md", tokenizer, max_tokens)


@pytest.mark.parametrize("max_tokens", [96, 254])
def test_invariants_on_real_notes(tokenizer, notes_text, max_tokens):
    chunks = check_invariants(notes_text, "aws-mla-c01-notes.md", tokenizer, max_tokens)
    assert len(chunks) > 100
    assert all(c.heading_path for c in chunks[1:]), "chunks after the title must have a heading path"


def test_invariants_on_plain_text_and_crlf(tokenizer):
    text = "\r\n".join(paragraph(f"topic{i}", 6) + "\r\n" for i in range(8))
    check_invariants(text, "plain.txt", tokenizer, 64)
    check_invariants(MIXED.replace("\n", "\r\n"), "guide.md", tokenizer, 64)


def test_empty_and_blank_text_gives_no_chunks(tokenizer):
    assert chunk_text("", "a.md", tokenizer, 128) == []
    assert chunk_text("\n  \n\t\n", "a.md", tokenizer, 128) == []


# -- headings ----------------------------------------------------------------------------------


def test_heading_path_lists_ancestors(tokenizer):
    chunks = chunk_text("# A\n## B\n### C\ntext", "n.md", tokenizer, 128)
    assert [c.heading_path for c in chunks] == [("A", "B", "C")]
    assert (chunks[0].start_line, chunks[0].end_line) == (1, 4)


def test_heading_path_pops_to_the_right_level(tokenizer):
    text = f"# A\n## B\n{paragraph('bee', 8)}\n### C\n{paragraph('sea', 8)}\n## D\n{paragraph('dee', 8)}\n"
    chunks = check_invariants(text, "n.md", tokenizer, 128, min_tokens=0)
    by_line = {c.start_line: c.heading_path for c in chunks}
    assert ("A", "B", "C") in by_line.values()
    d_chunk = next(c for c in chunks if "dee" in c.text)
    assert d_chunk.heading_path == ("A", "D")


def test_heading_text_is_cleaned(tokenizer):
    chunks = chunk_text("# **Bold** title:\n## `code` part ##\nbody", "n.md", tokenizer, 128)
    assert chunks[0].heading_path == ("Bold title", "code part")


@pytest.mark.parametrize("fence", ["```", "~~~", "````"])
def test_hash_lines_inside_fences_are_not_headings(tokenizer, fence):
    text = f"# Real\nintro\n{fence}bash\n# comment\n## another comment\n{fence}\nafter the fence\n"
    chunks = chunk_text(text, "n.md", tokenizer, 128)
    assert {c.heading_path for c in chunks} == {("Real",)}
    assert len(chunks) == 1


def test_txt_files_get_no_heading_parsing(tokenizer):
    text = "# Not a heading\nbody line\n## neither\nmore body"
    chunks = chunk_text(text, "notes.txt", tokenizer, 128)
    assert [c.heading_path for c in chunks] == [()]
    assert chunks[0].text == text
    # the same text as markdown does get headings
    md = chunk_text(text, "notes.md", tokenizer, 128, min_tokens=0)
    assert {c.heading_path for c in md} >= {("Not a heading",)}


def test_crlf_input_gives_clean_lines(tokenizer):
    text = "# A\r\n## B\r\nline one\r\nline two\r\n"
    chunks = chunk_text(text, "n.md", tokenizer, 128)
    assert len(chunks) == 1
    c = chunks[0]
    assert c.heading_path == ("A", "B")
    assert "\r" not in c.text
    assert c.text == "# A\n## B\nline one\nline two"
    assert (c.start_line, c.end_line) == (1, 4)
    # same chunk ids as the LF version: line endings are not content
    assert c.id == chunk_text(text.replace("\r\n", "\n"), "n.md", tokenizer, 128)[0].id


# -- fences, merging, splitting ----------------------------------------------------------------


def test_fence_that_fits_is_never_split(tokenizer):
    code = "\n".join(f"x{i} = compute_value({i})  # step {i}" for i in range(10))
    text = f"# Code\n{paragraph('before', 10)}\n\n```python\n{code}\n```\n\n{paragraph('after', 10)}\n"
    chunks = check_invariants(text, "n.md", tokenizer, 128)
    assert len(chunks) > 1, "the section should be split around the fence"
    lines = split_lines(text)
    open_line = lines.index("```python") + 1
    close_line = len(lines) - lines[::-1].index("```")
    holders = [c for c in chunks if c.start_line <= open_line <= c.end_line]
    assert len(holders) == 1
    assert holders[0].end_line >= close_line, "the fence was cut across chunks"


def test_small_sibling_sections_merge_under_parent(tokenizer):
    text = "# Parent\n## One\nshort one\n## Two\nshort two\n## Three\nshort three\n"
    chunks = check_invariants(text, "n.md", tokenizer, 254)
    assert len(chunks) == 1
    assert chunks[0].heading_path == ("Parent",)
    assert chunks[0].text == text.rstrip("\n")


def test_big_sibling_sections_are_not_merged(tokenizer):
    text = f"# P\n## One\n{paragraph('one', 6)}\n## Two\n{paragraph('two', 6)}\n"
    chunks = check_invariants(text, "n.md", tokenizer, 254)
    assert [c.heading_path for c in chunks] == [("P", "One"), ("P", "Two")]


def test_big_section_splits_and_keeps_heading_path(tokenizer):
    body = "\n\n".join(paragraph(f"part{i}", 4) for i in range(12))
    text = f"# Top\n## Big Section\n{body}\n"
    chunks = check_invariants(text, "n.md", tokenizer, 128)
    assert len(chunks) >= 3
    assert {c.heading_path for c in chunks} == {("Top", "Big Section")}


def test_long_list_splits_between_items(tokenizer):
    items = "\n".join(f"- item {i}: {paragraph(f'i{i}', 1)}" for i in range(40))
    text = f"# List\n{items}\n"
    chunks = check_invariants(text, "n.md", tokenizer, 96)
    assert len(chunks) > 2
    for c in chunks[1:]:
        assert c.text.startswith("- item"), "a split landed inside a list item"


def test_over_long_single_line_is_cut_into_pieces_within_budget(tokenizer):
    line = words(5000)
    text = f"# T\nbefore\n{line}\nafter\n"
    chunks = check_invariants(text, "n.md", tokenizer, 128)
    pieces = [c for c in chunks if c.start_line == c.end_line == 3]
    assert len(pieces) > 10
    assert "".join(p.text for p in pieces) == line
    assert all(p.heading_path == ("T",) for p in pieces)
    assert len({p.id for p in pieces}) == len(pieces)


def test_over_long_line_without_spaces_stays_within_budget(tokenizer):
    data = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(120))
    line = "![diagram](data:image/png;base64," + base64.b64encode(data).decode() + ")"
    check_invariants(f"# H\n{line}\n", "n.md", tokenizer, 128)


def test_deep_heading_path_with_smallest_allowed_budget_stays_within_budget(tokenizer):
    # 64 is the smallest ASSISTANT_CHUNK_TOKENS the settings accept
    text = ("# Domain 3: Deployment and Orchestration of ML Workflows\n"
            "## Amazon SageMaker Model Monitor\n### Data Quality Monitoring Baselines\n"
            + paragraph("monitoring", 6) + "\n")
    chunks = check_invariants(text, "n.md", tokenizer, 64)
    assert len(chunks) > 1


# -- ids ---------------------------------------------------------------------------------------


def _sections_doc(edit_b: bool = False) -> str:
    b_text = paragraph("bravo", 8) + (" An edited sentence." if edit_b else "")
    return (f"# Doc\n## Alpha\n{paragraph('alpha', 8)}\n## Bravo\n{b_text}\n"
            f"## Charlie\n{paragraph('charlie', 8)}\n")


def test_ids_stable_when_an_unrelated_section_is_edited(tokenizer):
    before = check_invariants(_sections_doc(), "n.md", tokenizer, 254)
    after = check_invariants(_sections_doc(edit_b=True), "n.md", tokenizer, 254)
    assert len(before) == len(after) == 3
    ids_b = {c.heading_path: c.id for c in before}
    ids_a = {c.heading_path: c.id for c in after}
    assert ids_b[("Doc", "Alpha")] == ids_a[("Doc", "Alpha")]
    assert ids_b[("Doc", "Charlie")] == ids_a[("Doc", "Charlie")]
    assert ids_b[("Doc", "Bravo")] != ids_a[("Doc", "Bravo")]


def test_ids_ignore_line_shifts_but_depend_on_source(tokenizer):
    text = _sections_doc()
    base = chunk_text(text, "n.md", tokenizer, 254)
    shifted = chunk_text("\n\n\n" + text, "n.md", tokenizer, 254)
    assert [c.id for c in base] == [c.id for c in shifted]
    assert [c.start_line + 3 for c in base] == [c.start_line for c in shifted]
    other = chunk_text(text, "other.md", tokenizer, 254)
    assert not {c.id for c in base} & {c.id for c in other}


def test_ids_unique_for_repeated_identical_sections(tokenizer):
    block = f"## Same\n{paragraph('repeat', 6)}\n"
    chunks = check_invariants(f"# Doc\n{paragraph('intro', 6)}\n" + block * 3, "n.md", tokenizer, 254)
    same = [c for c in chunks if c.heading_path == ("Doc", "Same")]
    assert len(same) == 3
    assert len({c.text for c in same}) == 1, "the three sections should have identical text"


# -- query analysis ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "sides"),
    [
        ("explain concept drift vs data drift", ("concept drift", "data drift")),
        ("What is the difference between L1 and L2 regularization?", ("L1 regularization", "L2 regularization")),
        ("XGBoost vs. Random Forest: which one for tabular data?", ("XGBoost", "Random Forest")),
        ("grid vs random search", ("grid search", "random search")),
        ("compare parquet and avro", ("parquet", "avro")),
        ("should I use SageMaker or Glue?", ("SageMaker", "Glue")),
        # the asking words around a side are not part of it
        ("what metrics for classification vs regression?", ("classification", "regression")),
        ("the pros of batch transform vs real-time endpoints", ("batch transform", "real-time endpoints")),
        # a choice after a colon or a dash
        ("which storage for training data: S3 or EFS?", ("S3", "EFS")),
        ("what kind of endpoint for spiky traffic - serverless or async?", ("serverless", "async")),
        ("which instance to use for training vs inference?", ("training", "inference")),
        ("Training data: is S3 or EFS better?", ("S3", "EFS")),
        # a follow-up made standalone compares in these words too (issue 15)
        ("how does blue/green differ from canary deployments?", ("blue/green deployments", "canary deployments")),
        ("how is Step Functions different from SageMaker Pipelines?", ("Step Functions", "SageMaker Pipelines")),
        ("how does S3 compare to EFS on cost?", ("S3", "EFS")),
        ("how's CDK different from CloudFormation?", ("CDK", "CloudFormation")),
        ("should I use Kinesis over Kafka?", ("Kinesis", "Kafka")),
        ("when should i use FSx over S3 or EFS?", ("FSx", "S3", "EFS")),
        # what kind of things the sides are is not part of the last one; a name with "as a" is kept
        ("what's the difference between avro and orc as file formats?", ("avro", "orc")),
        ("rabbitmq vs nats as message brokers for iot?", ("rabbitmq", "nats")),
        ("infrastructure as a service vs platform as a service", ("infrastructure as a service",
                                                                  "platform as a service")),
    ],
)
def test_comparison_sides(question, sides):
    assert comparison_sides(question) == sides


@pytest.mark.parametrize(
    "question",
    ["how does batch transform work", "what is SageMaker Clarify?", "explain early stopping", "",
     "how does batch transform work - is it slow?", "is it different from the other ones?",
     "my bucket is in a different region than my training job", "how do I fail over to another region?",
     # a pasted paragraph with a "vs" inside: its halves are no sides (they would come back as headings)
     "Here is my lab write-up. We measured throughput of the old cluster against the new one over three weeks "
     "and saw a drop vs the baseline that the vendor could not explain at all, so what went wrong here?"],
)
def test_non_comparisons_have_no_sides(question):
    assert comparison_sides(question) is None


def test_the_quick_check_before_the_comparison_patterns_changes_no_answer(monkeypatch):
    """Skipping the patterns for questions without a comparison word gives the same sides."""
    from conftest import GOLD_FILE

    import assistant.text.question as query

    questions = [g.question for name in ("gold.jsonl", "holdout.jsonl") for g in load_gold(GOLD_FILE.parent / name)]
    questions += ["parquet or avro if my schema changes?", "S3, EFS and FSx - what's the difference?",
                  "grid search, random search or bayesian optimization?", "A v. B", "how do they differ: X and Y",
                  "is it better to distinguish spam from ham with NB?", "Kinesis compared with Kafka"]
    quick = [comparison_sides(q) for q in questions]
    monkeypatch.setattr(query, "_MAY_COMPARE", re.compile(""))  # matches every question
    assert quick == [comparison_sides(q) for q in questions]
    assert sum(s is not None for s in quick) > 20


def test_tokens_drop_stopwords_and_strip_plurals():
    assert tokens("What are the models used for?") == ["model"]
    assert tokens("categories of Buckets") == ["category", "bucket"]
    assert tokens("") == []


def test_tokens_keep_compound_words_and_their_parts():
    got = tokens("F1-score on S3 with A/B testing")
    assert got[:3] == ["f1-score", "f1", "score"]
    assert "s3" in got
    assert "a/b" in got
    assert "testing" in got


# -- pieces (small-to-big dense search) -----------------------------------------------------------


def test_pieces_cover_every_line_and_stay_small(tokenizer, notes_text):
    from assistant.ingest.chunking import piece_texts

    for chunk in chunk_text(notes_text, "notes.md", tokenizer, 254):
        pieces = piece_texts(chunk, tokenizer, 64)
        head = chunk.heading_path[-1] + "\n" if chunk.heading_path else ""
        bodies = [p[len(head):] for p in pieces]
        assert all(p.startswith(head) for p in pieces)
        assert tokenizer.count(bodies) and max(tokenizer.count(bodies)) <= 64
        # pieces keep the chunk's text in order, as plain text (an over-long line is cut mid-line)
        assert "".join("".join(bodies).split()) == "".join(plain_text(chunk.text).split())
        assert "**" not in "".join(bodies)


def test_pieces_split_an_over_long_line(tokenizer):
    from assistant.ingest.chunking import piece_texts

    line = " ".join(f"word{i}" for i in range(300))
    chunk = max(chunk_text(f"# T\n{line}\n", "n.md", tokenizer, 254), key=lambda c: len(c.text))
    pieces = piece_texts(chunk, tokenizer, 64)
    assert len(pieces) > 2
    assert all(p.startswith("T\n") for p in pieces)
    assert max(tokenizer.count([p[2:] for p in pieces])) <= 64
