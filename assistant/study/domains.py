"""Exam domains: which of the exam guide's domains each part of the notes belongs to, and why.

The guide (``study/guides/mla-c01.json``: domains, weights, task statements with a short scope) is
data. A chunk belongs to a domain by the first rule that applies, and says which:

1. **Its headings name it**: a heading holds the words of a domain's name or of a task statement
   ("Monitor Model Inference" is task 4.1).
2. **Closest task statement**: else the task whose title and scope are closest in meaning to the
   chunk (the bundled embedding model), when they are close enough (`tuning.DOMAIN_SIMILARITY`).
3. Else the notes' own top-level section.

Notes for another exam or course are not forced into these domains: when fewer than
`tuning.DOMAIN_HEADINGS_SHARE` of their chunks are placed by rule 1, every chunk falls back to its
own top-level section (rule 3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

from assistant import tuning
from assistant.text.words import salient


@dataclass(frozen=True)
class Task:
    """A task statement of the guide."""

    id: str
    title: str
    about: str
    domain: str


@dataclass(frozen=True)
class Placement:
    """Where a chunk belongs, and the rule that put it there."""

    domain: str
    why: str


def load_guide(name: str = "mla-c01") -> tuple[list[str], list[Task]]:
    """The guide's domain labels ("Domain 4: ML Solution Monitoring, ...") and its task statements."""
    data = json.loads(resources.files("assistant.study").joinpath("guides", f"{name}.json").read_text("utf-8"))
    labels, tasks = [], []
    for domain in data["domains"]:
        label = f"Domain {domain['number']}: {domain['name']}"
        labels.append(label)
        tasks += [Task(t["id"], t["title"], t["about"], label) for t in domain["tasks"]]
    return labels, tasks


def _named_in(heading: str, name: str) -> bool:
    """Whether a heading holds the words of a name (in any order, ignoring filler)."""
    wanted = set(salient(name))
    return bool(wanted) and len(wanted & set(salient(heading))) >= tuning.DOMAIN_HEADING_WORDS * len(wanted)


def by_headings(heading_path, labels: list[str], tasks: list[Task]) -> Placement | None:
    """Rule 1: the most specific heading that names a task statement or a domain."""
    for heading in reversed(list(heading_path)):
        for task in tasks:
            if _named_in(heading, task.title):
                return Placement(task.domain, f'its heading "{heading}" is task {task.id} ({task.title})')
        for label in labels:
            if _named_in(heading, label.split(": ", 1)[1]):
                return Placement(label, f'its heading "{heading}" names {label.split(":")[0]}')
    return None


def follows_guide(placements: dict[str, Placement]) -> bool:
    """Whether the notes were placed in the guide's domains (not in their own sections)."""
    return any(p.domain.startswith("Domain ") and not p.why.startswith("the notes' own") for p in placements.values())


def place_chunks(chunks, vectors: np.ndarray, embedder, guide: str = "mla-c01") -> dict[str, Placement]:
    """Each chunk's domain (by id) and why.

    Args:
        chunks: The indexed chunks.
        vectors: Their stored vectors, row-aligned with ``chunks`` (unit length).
        embedder: The embedding model (for the task statements).
        guide: The exam guide's name.
    """
    from assistant.study.cards import section_of
    from assistant.text.sentences import passage_units

    labels, tasks = load_guide(guide)

    def headed_by(chunk) -> Placement | None:
        # the chunk's headings, then those of the sections merged into it
        found = by_headings(chunk.heading_path, labels, tasks)
        for path in dict.fromkeys(tuple(u.heading_path) for u in passage_units(chunk, 0) if u.heading_path):
            found = found or by_headings(path, labels, tasks)
        return found

    headed = {c.id: headed_by(c) for c in chunks}
    sections = section_of(chunks)
    if sum(p is not None for p in headed.values()) < tuning.DOMAIN_HEADINGS_SHARE * max(len(chunks), 1):
        return {c.id: Placement(sections[c.id], "the notes' own top-level section (they don't follow the "
                                                "exam guide's headings)") for c in chunks}
    statements = np.asarray(embedder.embed([f"{t.title}: {t.about}" for t in tasks]))
    statements = statements / np.linalg.norm(statements, axis=1, keepdims=True).clip(1e-9)
    out = {}
    for n, chunk in enumerate(chunks):
        if headed[chunk.id] is not None:
            out[chunk.id] = headed[chunk.id]
            continue
        cosines = statements @ vectors[n] if len(vectors) > n else np.zeros(len(tasks))
        best = int(np.argmax(cosines))
        if float(cosines[best]) >= tuning.DOMAIN_SIMILARITY:
            task = tasks[best]
            out[chunk.id] = Placement(task.domain, f"closest to task {task.id} ({task.title}), "
                                                   f"similarity {float(cosines[best]):.2f}")
        else:
            out[chunk.id] = Placement(sections[chunk.id], "the notes' own top-level section (no task statement "
                                                          "is close)")
    return out
