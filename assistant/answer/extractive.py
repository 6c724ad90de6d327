"""The default backend: no language model. It quotes the most relevant sentences of the notes.

Every sentence of the retrieved passages is scored against the question (embedding similarity plus
the share of the question's topic words it holds); the best ones are kept, without repeats, up to
~150 words, and shown in reading order under short bold lead-ins, each cited. For a comparison
("X vs Y") each side gets its own part, then the contrast if the notes state one.

Offline, deterministic and fast: sentence vectors are cached, so a warm answer costs one small
embedding call for the question.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache

import numpy as np

from assistant import tuning
from assistant.backends.base import GenerationRequest, Usage
from assistant.embedding.encoders import Embedder, content_vectors
from assistant.embedding.lines import HEADING
from assistant.schema import RetrievedChunk
from assistant.text.sentences import GENERIC_LABELS, Unit, passage_units, split_sentences
from assistant.text.words import jaccard, salient

NOTICE = ("Quoted from your notes (extractive mode: no language model; "
          "pick another backend for written prose).")
_TRADEOFF = re.compile(r"\b(?:trade-?offs?|pros|cons|limitations?|drawbacks?|downsides?|advantages?|"
                       r"disadvantages?|when to use|best for|considerations?)\b", re.I)
_CONTRAST = re.compile(r"\b(?:whereas|unlike|while|in contrast|instead|rather than|compared|differs?|"
                       r"difference|vs\.?|versus|but)\b", re.I)


@lru_cache(maxsize=50_000)
def _words(text: str) -> frozenset[str]:
    return frozenset(salient(text))


def keyword_share(query: str, unit: Unit, heading: str) -> float:
    """Share of the query's topic words found in the sentence, its lead-ins or its heading."""
    wanted = _words(query)
    if not wanted:
        return 0.0
    have = _words(heading) | _words(unit.parent) | _words(unit.label) | _words(unit.text)
    return len(wanted & have) / len(wanted)


def _shown_words(unit: Unit) -> int:
    """Words a line costs in the answer (as shown, cut by `shorten`)."""
    return len(shorten(unit.text).split())


def _said_share(words: frozenset[str], said: set[str]) -> float:
    return len(words & said) / len(words) if words else 1.0


def select(scores: np.ndarray, units: Sequence[Unit], budget: int, floor: float,
           taken: list[int] | None = None) -> list[int]:
    """Greedy pick of the best sentences: above ``floor``, not redundant, within ``budget`` words.

    Maximal marginal relevance (Carbonell & Goldstein, 1998) on words: each step takes the line
    whose score, less ``tuning.NOVELTY`` times the share of its words already said, is highest. The
    notes restate things ("Model Monitor detects drift" four ways); a line that adds new words
    (baselines, alerts) beats a fifth restatement. A line filed under the lead-in of a line
    already picked gains ``tuning.COHERENCE``: once the answer is about "Overfitting", the notes' other
    "Overfitting:" line (how to fix it) belongs in it.

    Args:
        scores: One score per unit.
        units: The candidate sentences.
        budget: Words allowed for the picked sentences together.
        floor: Lowest score worth keeping.
        taken: Units already picked elsewhere (not repeated, and redundant with).

    Returns:
        Positions of the picked units, in the order they were picked.
    """
    taken = list(taken or [])
    words = {i: _words(f"{units[i].label} {units[i].text}") for i in range(len(units))}
    said: set[str] = set().union(*(words[j] for j in taken)) if taken else set()
    candidates = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= floor and int(i) not in taken]
    picked: list[int] = []
    topics: set[str] = set()  # lead-ins of this call's picks (another comparison side's are not this part's)
    used = 0
    while candidates and used < budget:
        gains = [float(scores[i]) - tuning.NOVELTY * _said_share(words[i], said)
                 + tuning.COHERENCE * (units[i].label.lower() in topics) for i in candidates]
        best = candidates[int(np.argmax(gains))]  # first of equals: the higher-scored line
        candidates.remove(best)
        if any(jaccard(words[best], words[j]) >= tuning.REDUNDANT for j in taken + picked):
            continue
        size = _shown_words(units[best])
        if used + size > budget and picked:
            continue
        picked.append(best)
        used += size
        said |= words[best]
        if units[best].label and units[best].label.lower() not in GENERIC_LABELS:
            topics.add(units[best].label.lower())
    return picked


def _lead(unit: Unit, heading_path: Sequence[str]) -> str:
    """A line's lead-in: its bold label, qualified by its topic when the label alone says little."""
    topic = unit.parent or (heading_path[-1] if heading_path else "")
    if unit.label and topic and unit.label.lower() in GENERIC_LABELS:
        return f"{topic} — {unit.label}"
    return unit.label or topic


def shorten(text: str, words: int = tuning.LINE_WORDS) -> str:
    """A long line cut after its last whole sentence within ``words`` words (or at ``words``), marked " …"."""
    if len(text.split()) <= words:
        return text
    kept = ""
    for a, b in split_sentences(text):
        if len((kept + text[a:b]).split()) > words:
            break
        kept = text[: b]
    return (kept or " ".join(text.split()[:words])).rstrip() + " …"


def _render_group(units: list[Unit], lead: str | None) -> str:
    """One bullet: a bold lead-in, then its lines in reading order, each cited."""
    body = " ".join(f"{shorten(u.text)} [{u.chunk + 1}]" for u in units)
    return f"- **{lead}:** {body}" if lead else f"- {body}"


def _render_side(ordered: Sequence[Unit], lead: str) -> list[str]:
    """One comparison side: a bullet led by the side's name, each further line a sub-bullet.

    A line keeps its own lead-in inline ("*Trade-offs:* slower …", "*RMSE:* measures …"): under
    a side's name, a con read without its label passes for a pro, and a metric's definition
    loses the metric's name.

    The notes' own entry for the side (a line whose lead-in is exactly the side's name,
    "Bagging: combine weak learners ...") opens the bullet; the other lines follow in reading
    order.
    """
    out: list[str] = []
    head = ""
    entry = [u for u in ordered if _words(u.label) and _words(u.label) == _words(lead)][:1]
    for unit in entry + [u for u in ordered if u not in entry]:
        cited = f"{shorten(unit.text)} [{unit.chunk + 1}]"
        # a label names the side when it holds all the side's topic words ("The difference" has
        # none: no label names it)
        own = bool(unit.label) and bool(_words(lead)) and _words(lead) <= _words(unit.label)
        if not out:
            head = unit.label if own else lead
        said = _words(unit.label) <= _words(head) if _words(unit.label) else unit.label.lower() in head.lower()
        inline = f"*{unit.label}:* " if unit.label and not said else ""
        if not out:
            out.append(f"- **{head}:** {inline}{cited}")
        elif own and unit.label.lower() != head.lower():
            out.append(f"  - **{unit.label}:** {cited}")  # a narrower name of the side
        else:
            out.append(f"  - {inline}{cited}")
    return out


def render(units: Sequence[Unit], picked: Sequence[int], contexts: Sequence[RetrievedChunk],
           lead: str | None = None) -> list[str]:
    """Bullets for the picked lines in reading order, grouped under their lead-ins.

    Args:
        units: All candidate lines.
        picked: Which ones to show.
        contexts: The passages (for heading paths).
        lead: A comparison side's title: the side becomes one bullet, led by the side's name
            (or by a line's own lead-in that names the side: "PCA (Principal Component
            Analysis)"), its other lines sub-bullets. None: every line under its own lead-in.
    """
    ordered = sorted((units[i] for i in picked),
                     key=lambda u: (contexts[u.chunk].source, u.line, contexts[u.chunk].text.find(u.raw)))
    if lead is not None:
        return _render_side(ordered, lead)
    groups: list[tuple[str, list[Unit]]] = []
    for unit in ordered:
        unit_lead = _lead(unit, contexts[unit.chunk].heading_path)
        if groups and unit_lead == groups[-1][0] and unit.line - groups[-1][1][-1].line <= tuning.GROUP_LINE_GAP:
            groups[-1][1].append(unit)
        else:
            groups.append((unit_lead, [unit]))
    return [_render_group(group, group_lead) for group_lead, group in groups]


def _phrase(text: str) -> str:
    return " " + " ".join(salient(text)) + " "


def _names(side: str, texts: Sequence[str]) -> np.ndarray:
    """Which texts name a side: its words in a row, else (if none does) all its words anywhere."""
    phrase = _phrase(side)
    named = np.array([phrase.strip() != "" and phrase in _phrase(t) for t in texts])
    if named.any():
        return named
    words = _words(side)
    return np.array([bool(words) and words <= _words(t) for t in texts])


def side_lines(sides: Sequence[str], units: Sequence[Unit], topics: Sequence[str]) -> list[np.ndarray]:
    """For each comparison side, the lines about it.

    A line is about the sides its most specific topic names: its own bold label, else its
    enclosing lead-in, else its section heading, else its text. So "Trade-offs: more efficient
    than grid search" under "Random Search" is about random search though it names grid search,
    and "Model Parallelism: splits the model …" under a heading naming both kinds of parallelism
    is about model parallelism only. A line with a lead-in of its own is not about a side its
    text merely mentions ("Label Encoding: … used in gradient-boosting models").
    """
    # each level adds the next wider context, so a side named across them ("Parquet data
    # formats": label "Apache Parquet" under "Data Formats") is still found
    labels = [u.label for u in units]
    parents = [f"{u.label} . {u.parent}" for u in units]
    headings = [f"{p} . {t}" for p, t in zip(parents, topics, strict=True)]
    # a line's text names a side only when the line has no topic of its own: "Label Encoding:
    # ... often used in gradient-boosting models" is about label encoding, not boosting
    texts = [f"{h} . {u.text}" for h, u in zip(headings, units, strict=True)]
    topical = [h if u.label and u.label.lower() not in GENERIC_LABELS else t
               for h, t, u in zip(headings, texts, units, strict=True)]
    about = _claim(sides, [labels, parents, headings, topical])
    if not all(side.any() for side in about):
        # a side no line is about by topic: lines that name it in their text speak for it
        # (its notes may file it under a lead-in that is neither a topic nor generic: "Summary:")
        loose = _claim(sides, [labels, parents, headings, texts])
        about = [side if side.any() else wide for side, wide in zip(about, loose, strict=True)]
    return about


def _claim(sides: Sequence[str], levels: Sequence[Sequence[str]]) -> list[np.ndarray]:
    """Each line goes to the sides named at the first (most specific) level that names any side."""
    count = len(levels[0]) if levels else 0
    claimed = np.zeros(count, bool)
    about = [np.zeros(count, bool) for _ in sides]
    for texts in levels:
        named = [_names(side, texts) for side in sides]
        fresh = np.any(named, axis=0) & ~claimed if named else claimed
        for side, hits in zip(about, named, strict=True):
            side |= hits & fresh
        claimed |= fresh
    return about


def _asked(question: str, sides: Sequence[str]) -> str:
    """What the question asks about every side, or "".

    The topic words of the clause that leads into the first side: "metrics evaluate" in "which
    metrics do I use to evaluate X vs Y".
    """
    at = question.lower().find(sides[0].lower()) if sides else -1
    if at <= 0:
        return ""
    clause = re.split(r"[,;:?!.]|\s[-–—]\s|[–—]", question[:at])[-1]
    clause = re.sub(r"['’]s\b", "", clause)  # "what's" is not a topic word "s"
    named = set().union(*(_words(side) for side in sides))
    words = [w for w in re.findall(r"[A-Za-z0-9][\w-]*", clause)
             if len(w) > 1 and _words(w) and not _words(w) & named]
    return " ".join(dict.fromkeys(w.lower() for w in words))


def side_title(side: str) -> str:
    """A comparison side as a lead-in: "I detect concept drift" -> "Concept drift"."""
    text = re.sub(r"^(?:(?:how|when|why)\s+)?(?:(?:do|can|should|would)\s+)?(?:i|we|you)\s+\w+\s+(?:the\s+)?", "",
                  side.strip(), flags=re.I) or side.strip()
    return text[:1].upper() + text[1:]


class ExtractiveBackend:
    """Answers by quoting the notes: offline, deterministic, cited sentence by sentence."""

    name = "extractive"
    writes_prose = False
    context_tokens = 0

    def __init__(self, embedder: Callable[[], Embedder], word_budget: int = tuning.WORD_BUDGET,
                 cache_size: int = 20_000,
                 line_vectors: Callable[[RetrievedChunk], dict[int, np.ndarray] | None] | None = None) -> None:
        """Keep a handle on the embedding model (loaded on first use).

        Args:
            embedder: Returns the loaded embedder (the index's own model).
            word_budget: Longest answer, in words.
            cache_size: Line vectors (fallback path) kept in memory.
            line_vectors: A passage's stored token vectors per file line (see `embedding.lines`);
                without it, or where it returns None, lines are embedded (and cached) instead.
        """
        self._embedder = embedder
        self._line_vectors = line_vectors
        self.word_budget_limit = word_budget
        self.last_usage = Usage(0, 0)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

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
        missing = [n for n, u in enumerate(units) if not (stored.get(u.chunk) or {}).get(u.line) is not None]
        for n, unit in enumerate(units):
            rows = (stored.get(unit.chunk) or {}).get(unit.line)
            if rows is None or not len(rows):
                continue
            # the line read in its context: "Trade-offs: slower" under "Random Forest"
            lines = stored.get(unit.chunk) or {}
            context = [lines.get(key) for key in (HEADING, unit.parent_line) if key != unit.line]
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

    @staticmethod
    def _side_name(title: str, question: str, units: Sequence[Unit], topics: Sequence[str]) -> str:
        """The side as the notes name it.

        A word borrowed from another side ("xgboost vs random forest" read as "xgboost forest") is
        dropped again when the notes never say it that way.
        """
        words = title.split()
        if len(words) < 2 or _phrase(title) in _phrase(question):
            return title
        texts = [f"{t} . {u.parent} . {u.label} {u.text}" for u, t in zip(units, topics, strict=True)]
        if any(_phrase(title) in _phrase(t) for t in texts):
            return title
        return " ".join(words[:-1])

    def compose(self, request: GenerationRequest) -> str:
        """The whole answer (markdown with ``[n]`` markers), or "" when no sentence qualifies."""
        contexts = request.contexts
        budget = min(self.word_budget_limit, request.max_words)
        units = [u for i, c in enumerate(contexts) for u in passage_units(c, i)]
        if not units:
            return ""
        headings = [contexts[u.chunk].heading for u in units]
        sides = list(request.sides or ())
        # each side is scored with what the question asks about it: "which metrics for X vs Y"
        # wants X's metrics, not everything about X
        asked = _asked(request.question, sides)
        queries = [request.question, *(f"{side} {asked}".strip() for side in sides)]
        similarity = self._similarities(queries, units, headings, contexts)

        # how well retrieval ranked each line's passage (the passage's evidence, not just the line's)
        passage = np.array([contexts[u.chunk].score for u in units])
        # a long line costs more of the word budget: it must be worth it
        length = np.array([min(len(u.text.split()), tuning.LINE_WORDS) / tuning.LINE_WORDS for u in units])

        def scores(q: int) -> np.ndarray:
            keywords = np.array([keyword_share(queries[q], u, h) for u, h in zip(units, headings, strict=True)])
            return similarity[q] + tuning.KEYWORD_WEIGHT * keywords + tuning.PASSAGE_WEIGHT * passage - tuning.LENGTH_PENALTY * length

        if not sides:
            s = scores(0)
            picked = select(s, units, budget, floor=tuning.RELATIVE_FLOOR * float(s.max()))
            return "\n".join(render(units, picked, contexts))

        # a comparison: each side's best sentences under the side's name, then the contrast
        parts: list[str] = []
        taken: list[int] = []
        topics = [contexts[u.chunk].heading_path[-1] if contexts[u.chunk].heading_path else "" for u in units]
        titles = [self._side_name(side_title(side), request.question, units, topics) for side in sides]
        mentions = side_lines(titles, units, topics)
        whole = scores(0)
        # the contrast: a line that names two sides and says how they differ; when the notes have
        # none, its share of the words goes to the sides
        contrast = np.array([sum(m[n] for m in mentions) >= 2 and bool(_CONTRAST.search(u.text))
                             for n, u in enumerate(units)])
        contrasted = np.where(contrast, whole, -1.0)
        has_contrast = bool(contrasted.max() >= tuning.RELATIVE_FLOOR * float(whole.max()) and contrasted.max() > 0)
        # the contrast is one line, picked first so the sides share the words it leaves
        difference = (select(contrasted, units, budget // (len(sides) + 1),
                             floor=tuning.RELATIVE_FLOOR * float(whole.max()))[:1] if has_contrast else [])
        taken.extend(difference)
        per_side = max(tuning.MIN_SIDE_WORDS, (budget - sum(_shown_words(units[i]) for i in difference)) // len(sides))
        # a comparison asks how things differ: lines filed under trade-offs, pros or cons say that
        tradeoff = np.array([bool(_TRADEOFF.search(f"{u.parent} | {u.label}")) for u in units], dtype=float)
        for q in range(1, len(sides) + 1):
            # the side's own match, and the whole question's (which carries "how do I detect ...")
            s = tuning.SIDE_WEIGHT * scores(q) + (1 - tuning.SIDE_WEIGHT) * whole + tuning.TRADEOFF_BONUS * tradeoff
            # lines about this side speak for it; one about another side must not stand in
            if mentions[q - 1].any():
                s = np.where(mentions[q - 1], s, -1.0)
            picked = select(s, units, per_side, floor=tuning.RELATIVE_FLOOR * float(s.max()), taken=taken)
            taken.extend(picked)
            parts.extend(render(units, picked, contexts, lead=titles[q - 1]))
        parts.extend(render(units, difference, contexts, lead="The difference"))
        return "\n".join(parts)

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """Yield the answer a bullet at a time."""
        text = self.compose(request)
        for n, line in enumerate(text.split("\n")):
            yield ("\n" if n else "") + line

    def close(self) -> None:
        """Drop cached sentence vectors."""
        self._cache.clear()


def create(settings, embedder: Callable[[], Embedder] | None = None,
           line_vectors: Callable[[RetrievedChunk], dict[int, np.ndarray] | None] | None = None,
           **_: object) -> ExtractiveBackend:
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

    return ExtractiveBackend(embedder, line_vectors=line_vectors)
