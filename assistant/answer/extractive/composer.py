"""The default composer: no language model. It quotes the most relevant sentences of the notes.

Every sentence of the retrieved passages is scored against the question (embedding similarity plus
the share of the question's topic words it holds, and how well retrieval ranked its passage); the
best ones are kept, without repeats, up to ~100 words as the reader counts them (lead-ins included),
and shown under short bold lead-ins, the most relevant first, each cited. For a comparison ("X vs Y")
each side gets its own part of ~150 words, then the contrast if the notes state one.

Offline, deterministic and fast: sentence vectors are cached, so a warm answer costs one small
embedding call for the question.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from assistant import tuning
from assistant.answer.compose import Draft
from assistant.answer.extractive.rendering import lead_in, render, render_table
from assistant.answer.extractive.selection import keyword_share, names_asked, select, shown_words
from assistant.answer.extractive.sides import (
    asked_about,
    header_sides,
    notes_name,
    side_lines,
    side_title,
    sides_named,
)
from assistant.answer.prompting import PromptTemplate
from assistant.embedding.encoders import Embedder, content_vectors
from assistant.embedding.lines import HEADING
from assistant.schema import RetrievedChunk
from assistant.text.question import asked_action, comparison_sides, does_action
from assistant.text.sentences import Unit, code_intent, code_lines, code_notes, passage_units

NOTICE = ("Quoted from your notes (extractive mode: no language model; "
          "pick another backend for written prose).")


_TRADEOFF = re.compile(r"\b(?:trade-?offs?|pros|cons|limitations?|drawbacks?|downsides?|advantages?|"
                       r"disadvantages?|when to use|best for|considerations?)\b", re.I)


_SHELL = frozenset({"bash", "sh", "shell", "console", "zsh", "fish", "powershell", "ps1", "cmd", "bat",
                    "shell-session"})


_CONTRAST = re.compile(r"\b(?:whereas|unlike|while|in contrast|instead|rather than|compared|differs?|"
                       r"difference|vs\.?|versus|but)\b", re.I)


class ExtractiveComposer:
    """Answers by quoting the notes: offline, deterministic, cited sentence by sentence."""

    name = "extractive"

    def __init__(self, embedder: Callable[[], Embedder], word_budget: int | None = None,
                 cache_size: int = 20_000,
                 line_vectors: Callable[[RetrievedChunk], dict[int, np.ndarray] | None] | None = None) -> None:
        """Keep a handle on the embedding model (loaded on first use).

        Args:
            embedder: Returns the loaded embedder (the index's own model).
            word_budget: An answer about one topic's core, in words (lead-ins included); None:
                `tuning.WORD_BUDGET`. Past it, only lines scoring `tuning.EXTEND_SHARE` of the best
                join, up to the template's ``max_words``. A comparison has `tuning.COMPARISON_WORDS`
                for its sides and contrast.
            cache_size: Line vectors (fallback path) kept in memory.
            line_vectors: A passage's stored token vectors per file line (see `embedding.lines`);
                without it, or where it returns None, lines are embedded (and cached) instead.
        """
        self._embedder = embedder
        self._line_vectors = line_vectors
        self.word_budget_limit = word_budget
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def standalone(self, question: str, history: Sequence[Mapping[str, str]], by_rule: str) -> str:
        """No model to rewrite with: the rule-based rewrite."""
        return by_rule

    def draft(self, question: str, hits: Sequence[RetrievedChunk], template: PromptTemplate) -> Draft:
        """Every retrieved passage (no context limit), and the notice that the answer is quoted."""
        return Draft(question, list(hits), template, notice=NOTICE)

    def usage(self, draft: Draft, text: str) -> tuple[int, int]:
        """No model, no tokens."""
        return 0, 0

    def _vectors(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            fresh = self._embedder().embed(missing)
            for text, vector in zip(missing, fresh, strict=True):
                self._cache[text] = vector / (np.linalg.norm(vector) or 1.0)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        for t in texts:
            self._cache.move_to_end(t)
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 1))

    def _similarities(self, queries: list[str], units: list[Unit], headings: list[str],
                      contexts: Sequence[RetrievedChunk]) -> np.ndarray:
        """Similarity of each query to each line (queries x units).

        Late interaction (MaxSim) on the index's stored token vectors where available, else the
        cosine of the embedded line.
        """
        embedder = self._embedder()
        query_vectors, states = embedder.embed_tokens(queries)
        query_tokens = content_vectors(states)
        out = np.zeros((len(queries), len(units)))
        stored = {}
        if self._line_vectors is not None:
            for i, chunk in enumerate(contexts):
                stored[i] = self._line_vectors(chunk)
        missing: list[int] = []
        for n, unit in enumerate(units):
            lines = stored.get(unit.chunk) or {}
            first, last = unit.span if unit.part else (unit.line, unit.last_line)
            own = [lines.get(k) for k in range(first, last + 1)]
            if all(r is None for r in own):
                missing.append(n)
                continue
            own = [r for r in own if r is not None and len(r)]
            if not own:
                continue
            rows = np.concatenate(own) if len(own) > 1 else own[0]
            if unit.part:
                # a sentence of a longer line: its share of the line's token vectors (in order)
                a, b = unit.share
                rows = rows[int(a * len(rows)): max(int(a * len(rows)) + 1, round(b * len(rows)))]
            # the line read in its context: "Trade-offs: slower" under "Random Forest", a row under
            # its table's header, a line under its own heading in a passage that merged sections
            keys = [HEADING] + [k for k in (unit.parent_line, unit.heading_line) if k and k != unit.line]
            context = [lines.get(key) for key in dict.fromkeys(keys)]
            context = [c for c in context if c is not None and len(c)]
            if context:
                rows = np.concatenate([rows, *context])
            for q, tokens in enumerate(query_tokens):
                if len(tokens):
                    out[q, n] = float((tokens @ rows.T).max(axis=1).mean())
        if missing:
            query_vectors = query_vectors / np.linalg.norm(query_vectors, axis=1, keepdims=True).clip(1e-9)
            vectors = self._vectors([units[n].embed_text(headings[n]) for n in missing])
            out[:, missing] = query_vectors @ vectors.T
        return out

    def compose(self, question: str, contexts: Sequence[RetrievedChunk], max_words: int = 150) -> str:
        """The whole answer (markdown with ``[n]`` markers), or "" when no sentence qualifies.

        Args:
            question: The standalone question.
            contexts: The passages, numbered ``[1]..[n]`` in this order.
            max_words: Longest answer the prompt template asks for.
        """
        budget = min(self.word_budget_limit or tuning.WORD_BUDGET, max_words)
        how_to = code_intent(question)
        # code is quoted only for a question that asks how to do something (or for a command); for
        # any other question a code block speaks through the lines that explain (comments, prose
        # blocks), as inline code
        sides = list(comparison_sides(question) or ())
        units = [v for i, c in enumerate(contexts) for u in passage_units(c, i)
                 for v in ([u] if how_to or sides or u.kind != "code" else code_notes(u))]
        if not units:
            return ""
        headings = [u.heading or contexts[u.chunk].heading for u in units]
        if sides:
            # a side is said in words: a code block takes part line by line (a comment or a command
            # naming the side), shown as inline code
            units = [v for u in units for v in (code_lines(u) if u.kind == "code" else [u])]
            if not units:
                return ""
            headings = [u.heading or contexts[u.chunk].heading for u in units]
        # each side is scored with what the question asks about it: "which metrics for X vs Y"
        # wants X's metrics, not everything about X
        asked = asked_about(question, sides)
        queries = [question, *(f"{side} {asked}".strip() for side in sides)]
        similarity = self._similarities(queries, units, headings, contexts)

        # how well retrieval ranked each line's passage (the passage's evidence, not just the line's)
        passage = np.array([contexts[u.chunk].score for u in units])
        # a long line costs more of the word budget: it must be worth it
        length = np.array([min(len(u.text.split()), tuning.LINE_WORDS) / tuning.LINE_WORDS for u in units])
        # a how-to question asks for an action: a shell command more than a config or code example
        code = np.array([(u.kind == "code") * (1.0 if u.lang.lower() in _SHELL or u.text.lstrip().startswith("$ ")
                                               else 0.5) for u in units]) * tuning.CODE_BONUS
        if code.any():
            # one command block answers a how-to question: the best-matching one
            blocks = [n for n, u in enumerate(units) if u.kind == "code"]
            best = max(blocks, key=lambda n: float(similarity[0, n]) + code[n])
            keep = [n for n in range(len(units)) if units[n].kind != "code" or n == best]
            units = [units[n] for n in keep]
            headings = [headings[n] for n in keep]
            similarity = similarity[:, keep]
            code, passage, length = code[keep], passage[keep], length[keep]

        def scores(q: int, passage_weight: float = tuning.COMPARISON_PASSAGE_WEIGHT) -> np.ndarray:
            keywords = np.array([keyword_share(queries[q], u, h) for u, h in zip(units, headings, strict=True)])
            return (similarity[q] + tuning.KEYWORD_WEIGHT * keywords + passage_weight * passage
                    - tuning.LENGTH_PENALTY * length + code)

        if not sides:
            # the notes' entry on what is asked ("SageMaker Canvas: a no-code ...") before the lines
            # that only sit under the same heading ("Sharing: analysts share Canvas models ...")
            entry = np.array([names_asked(question, u, u.topic or (contexts[u.chunk].heading_path or [""])[-1])
                              for u in units])
            action = asked_action(question)
            s = scores(0, tuning.PASSAGE_WEIGHT) + tuning.ENTRY_BONUS * entry
            if action:
                # "how do I detect data drift?": a line that does it ("Model Monitor ... detects drift")
                # before one that only defines the subject (which matches "data drift" as well or better)
                s = s + tuning.ACTION_BONUS * np.array([does_action(action, f"{u.label} {u.text}") for u in units])
            floor = tuning.RELATIVE_FLOOR * float(s.max())
            if code.any():
                # a how-to question is answered by a command: the best block is quoted even when a
                # prose line that shares more of the question's words scores far above it
                s[int(np.argmax(code > 0))] = max(float(s[int(np.argmax(code > 0))]), floor)
            # the budget is the words the reader reads: a lead-in's too, once per lead-in
            leads = [lead_in(u, contexts[u.chunk].heading_path) for u in units]
            # past the core budget, only lines close to the best one, up to the template's length: a
            # question the notes answer in one line stays short, one whose answer is spread over several
            # equally good lines gets them
            picked = select(s, units, max(budget, max_words), floor=floor, leads=leads, core=budget,
                            extend=tuning.EXTEND_SHARE)
            # the most relevant line leads (`select` picks by score less repetition, plus coherence)
            picked.sort(key=lambda i: -s[i])
            return "\n".join(render(units, picked, contexts))

        # a comparison: each side's best sentences under the side's name, then the contrast
        budget = min(tuning.COMPARISON_WORDS, max_words)
        parts: list[str] = []
        taken: list[int] = []
        # each line's own topic: the heading of its section, also inside a passage that merged sections
        topics = [u.topic or (contexts[u.chunk].heading_path[-1] if contexts[u.chunk].heading_path else "")
                  for u in units]
        titles = [notes_name(side_title(side), question, units, topics) for side in sides]
        mentions = side_lines(titles, units, topics)
        whole = scores(0)
        # the contrast: a line that names two sides and says how they differ; when the notes have
        # none, its share of the words goes to the sides
        # (a line naming two sides in its own words counts too: "MAC = 48 bit ... vs IP = hierarchical")
        named = sides_named(titles, units)
        contrast = np.array([(sum(m[n] for m in mentions) >= 2 or named[n] >= 2) and u.kind != "row"
                             and bool(_CONTRAST.search(u.text)) for n, u in enumerate(units)])
        # a table whose columns are the sides is the comparison itself: its best rows, quoted as a
        # small table under its header, come first
        table = np.array([u.kind == "row" and header_sides(titles, u.header) >= 2 for u in units])
        rows: list[int] = []
        if table.any():
            best = int(np.argmax(np.where(table, whole, -np.inf)))
            own = table & np.array([u.chunk == units[best].chunk and u.parent_line == units[best].parent_line
                                    for u in units])
            # rows are kept relative to the table's best row: its header already says it compares the sides
            rows = (select(np.where(own, whole, -1.0), units, budget // 2,
                           floor=max(0.0, tuning.RELATIVE_FLOOR * float(whole[best])))
                    if whole[best] >= tuning.RELATIVE_FLOOR * float(whole.max()) else [])
            if rows:
                parts.extend(render_table(units, rows, contexts, lead=" vs ".join(titles)))
        contrasted = np.where(contrast, whole, -1.0)
        has_contrast = bool(contrasted.max() >= tuning.RELATIVE_FLOOR * float(whole.max()) and contrasted.max() > 0)
        # the contrast is one line, picked first so the sides share the words it leaves
        difference = (select(contrasted, units, budget // (len(sides) + 1),
                             floor=tuning.RELATIVE_FLOOR * float(whole.max()))[:1] if has_contrast else [])
        taken.extend(difference)
        # (the table's rows are not charged to the sides: they were the sides' lines before, and
        # sides no longer pick them)
        per_side = max(tuning.MIN_SIDE_WORDS, (budget - sum(shown_words(units[i]) for i in difference)) // len(sides))
        # a comparison asks how things differ: lines filed under trade-offs, pros or cons say that
        tradeoff = np.array([bool(_TRADEOFF.search(f"{u.parent} | {u.label}")) for u in units], dtype=float)
        for q in range(1, len(sides) + 1):
            # the side's own match, and the whole question's (which carries "how do I detect ...")
            s = tuning.SIDE_WEIGHT * scores(q) + (1 - tuning.SIDE_WEIGHT) * whole + tuning.TRADEOFF_BONUS * tradeoff
            # lines about this side speak for it; one about another side must not stand in
            if mentions[q - 1].any():
                s = np.where(mentions[q - 1], s, -1.0)
            elif rows:
                continue  # no line is about this side: its column of the table speaks for it
            if rows:
                s = np.where(table, -1.0, s)  # the table's rows are said in the table
            picked = select(s, units, per_side, floor=tuning.RELATIVE_FLOOR * float(s.max()), taken=taken)
            taken.extend(picked)
            parts.extend(render(units, picked, contexts, lead=titles[q - 1]))
        parts.extend(render(units, difference, contexts, lead="The difference"))
        return "\n".join(parts)

    def stream(self, draft: Draft) -> Iterator[str]:
        """Yield the answer a bullet at a time."""
        text = self.compose(draft.question, draft.contexts, draft.template.max_words)
        for n, line in enumerate(text.split("\n")):
            yield ("\n" if n else "") + line

    def close(self) -> None:
        """Drop cached sentence vectors."""
        self._cache.clear()


def create(settings, embedder: Callable[[], Embedder] | None = None,
           line_vectors: Callable[[RetrievedChunk], dict[int, np.ndarray] | None] | None = None,
           **_: object) -> ExtractiveComposer:
    """Registry factory: needs the index's embedding model (passed by `StudyAssistant`)."""
    if embedder is None:
        from assistant.embedding.encoders import load_embedder
        from assistant.embedding.model import model_info, resolve_model_dir

        loaded: list[Embedder] = []

        def embedder() -> Embedder:
            if not loaded:
                info = model_info(resolve_model_dir(settings.embed_model))
                loaded.append(load_embedder(info, settings.embed_engine, settings.cache_dir))
            return loaded[0]

    return ExtractiveComposer(embedder, line_vectors=line_vectors)
