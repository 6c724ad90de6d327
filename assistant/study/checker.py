"""The practice-question checker: which option the notes support for a stem's requirements, offline.

Each option is looked up in the notes together with the stem; of the lines that are about the
option (they hold most of the words that set it apart from the other options), the best one is
scored by how much of the stem's requirements it states ("large payloads, long processing",
weighted by rarity in the notes) plus its meaning's closeness to the stem. The option whose best
line scores highest is picked when it clears a floor and leads the next by a margin; otherwise the
notes can't decide, and the result says why. Every verdict cites the line it rests on.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from assistant import tuning
from assistant.schema import Citation, RetrievedChunk
from assistant.study.practice import PracticeQuestion
from assistant.text.sentences import GENERIC_LABELS, Unit, passage_units
from assistant.text.words import salient

# exam phrasing that says how a question is asked, not what it requires
_FRAMING = frozenset(salient(
    "company organization team engineer scientist developer solution requirement requirements meet meets "
    "need needs want wants option options choose select pick which should would best most following "
    "statement statements true correct answer describe describes scenario use using approach up down per via "
    "most likely each every"))


@dataclass(frozen=True)
class OptionVerdict:
    """What the notes say about one option.

    Attributes:
        letter: The option's letter.
        text: The option as written.
        score: How well its best line states the stem's requirements (0: the notes never name it).
        citation: That line, cited (None when the notes never name the option).
        matched: The stem's requirement words the line states.
    """

    letter: str
    text: str
    score: float
    citation: Citation | None = None
    matched: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return {"letter": self.letter, "text": self.text, "score": round(self.score, 4),
                "citation": self.citation.to_dict() if self.citation else None, "matched": list(self.matched)}


@dataclass(frozen=True)
class PracticeResult:
    """The checker's verdict on a practice question.

    Attributes:
        question: The question checked.
        pick: The picked letters (one, or as many as the stem asks for); empty when the notes can't decide.
        options: Each option's verdict, in letter order.
        reason: Why the notes can't decide ("" when there is a pick).
        seconds: Time taken.
        contexts: The passages the options' lines were looked for in.
        notice: For the reader, when a model was asked and its pick could not be used ("" otherwise).
    """

    question: PracticeQuestion
    pick: tuple[str, ...]
    options: tuple[OptionVerdict, ...]
    reason: str = ""
    seconds: float = 0.0
    contexts: list[RetrievedChunk] = field(default_factory=list)
    notice: str = ""

    @property
    def citations(self) -> list[Citation]:
        """The cited lines in the order `ranked` shows the options, numbered 1..n."""
        order = self.ranked()
        out: list[Citation] = []
        for verdict in order:
            if verdict.citation is not None and all(c.quote != verdict.citation.quote for c in out):
                c = verdict.citation
                out.append(Citation(len(out) + 1, c.chunk, c.quote, c.start_line, c.end_line))
        return out

    def ranked(self) -> list[OptionVerdict]:
        """The options to show: the picked ones first, then by how well the notes support them."""
        return sorted(self.options, key=lambda v: (v.letter not in self.pick, -v.score, v.letter))

    def pick_value(self) -> str | list[str] | None:
        """The pick as the ``assistant check`` output writes it: a letter, a list of letters, or null."""
        if not self.pick:
            return None
        return self.pick[0] if self.question.choose == 1 else list(self.pick)

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return {"pick": self.pick_value(), "reason": self.reason, "options": [v.to_dict() for v in self.options],
                "citations": [c.to_dict() for c in self.citations], "seconds": round(self.seconds, 3)}


# what an option asks to do is not what it names ("Apply L2 regularization" names L2 regularization); nor is
# what it says a thing does ("Runs Dijkstra's algorithm")
_ACTION_BASES = """add apply use enable disable increase decrease reduce raise lower remove implement configure
    deploy create set stop start run switch store convert choose enforce schedule attach grant send keep need
    require support provide allow offer detect measure encrypt replace suffer drop copy build give make"""
_ACTION = frozenset(w for b in _ACTION_BASES.split() for w in (b, b + "s", b + "es"))
# "... a single integer feature instead of several binary columns": what follows is not wanted
_NOT_WANTED = re.compile(r"\b(?:instead of|rather than)\b[^,.;:?!]*", re.I)
# a sentence ends at . ! ? (not an abbreviation's dot), whatever the letter case of the next one: students
# paste and type in lower case
_SENTENCE = re.compile(r"(?<=[.!?])(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\betc\.)(?<!\bvs\.)\s+(?=[\w(\"'])", re.I)


def requirement_words(stem: str) -> dict[str, float]:
    """The stem's words that say what is required, each with its weight in the stem.

    Exam framing ("company", "which", "meet") and what the stem rules out ("instead of several
    binary columns") are no requirement; the asking sentence of a longer stem ("Which deployment
    option meets these requirements?") names the kind of answer more than the requirement, so its
    words count half.
    """
    sentences = _SENTENCE.split(stem.strip())
    asking = sentences[-1] if len(sentences) > 1 else ""
    ruled_out = set(salient(" ".join(m.group(0) for m in _NOT_WANTED.finditer(stem))))
    body = set(salient(" ".join(sentences[:-1]))) if asking else set(salient(stem))
    out: dict[str, float] = {}
    for word in salient(_NOT_WANTED.sub(" ", stem)):
        if word in _FRAMING or word in out:
            continue
        out[word] = 1.0 if word in body or not asking else tuning.PRACTICE_ASKING
    for word in ruled_out - set(out):
        out.pop(word, None)
    return out


def ruled_out_words(stem: str) -> list[str]:
    """What the stem rules out: the words after "instead of" / "rather than"."""
    return list(dict.fromkeys(w for m in _NOT_WANTED.finditer(stem) for w in salient(m.group(0))
                              if w not in _FRAMING))


def _name(option: str) -> str:
    """An option without the action it asks for: "Apply L2 regularization" -> "L2 regularization"."""
    words = option.split()
    return " ".join(words[1:]) if len(words) > 1 and words[0].lower() in _ACTION else option


def option_words(options: dict[str, str]) -> dict[str, list[str]]:
    """Each option's name words without those most options share ("SageMaker" in four SageMaker options)."""
    bags = {letter: list(dict.fromkeys(salient(_name(text)))) for letter, text in options.items()}
    common = {w for w in {w for bag in bags.values() for w in bag}
              if sum(w in bag for bag in bags.values()) * 2 > len(bags) and len(bags) > 2}
    return {letter: ([w for w in bag if w not in common] or bag) for letter, bag in bags.items()}


def _weighted_share(wanted: dict[str, float], have: set[str], weight) -> tuple[float, list[str]]:
    total = sum(weight(w) * x for w, x in wanted.items())
    found = [w for w in wanted if w in have]
    return (sum(weight(w) * wanted[w] for w in found) / total if total else 0.0), found


def _unit_citation(unit: Unit, chunk: RetrievedChunk) -> Citation:
    text = f"{unit.label}: {unit.text}" if unit.label and unit.kind == "text" else unit.text
    return Citation(0, chunk, text, unit.line, unit.end_line or unit.line)


def _passages(assistant, question: PracticeQuestion) -> list[RetrievedChunk]:
    """The stem's passages and, for each option, the passages about it with the stem and alone."""
    seen: dict[str, RetrievedChunk] = {}
    queries = [question.stem] + [f"{text} {question.stem}" for text in question.options.values()] + \
        list(question.options.values())
    for query in queries:
        for hit in assistant.retrieve(query, k=tuning.PRACTICE_PASSAGES):
            seen.setdefault(hit.id, hit)
    return list(seen.values())


# a product family's name before the product's own ("Apache Avro": the notes may say just "Avro")
VENDORS = frozenset({"amazon", "aws", "apache", "azure", "google", "microsoft"})
_FAMILY = VENDORS | {"the", "a", "an"}


def _spellings(option: str, family=lambda word: False) -> list[str]:
    """The ways a line may name an option: as written, without the action it asks for, without its family name.

    A family name is a vendor's ("Amazon", "Apache") or a word at the front that the notes use in
    many passages (``family``: "SageMaker" before "Serverless Inference" in notes about SageMaker).
    """
    name = _name(option)
    words = name.split()
    out = [option, name]
    # a vendor may leave one word ("Amazon MSK": "MSK"); a frequent word must leave a name of two
    while len(words) > 1 and (words[0].lower() in _FAMILY or (len(words) > 2 and family(words[0]))):
        words = words[1:]
        out.append(" ".join(words))
    core = re.sub(r"\s*\([^)]*\)", "", out[-1]).strip()  # "A VPC endpoint (AWS PrivateLink)": "VPC endpoint"
    # what the option is, before what it is with, on or for ("CSMA/CA with RTS/CTS", "Port forwarding on the
    # NAT router"), and a name of three words or more without its last ("DNS server address")
    head = re.split(r",|\s+(?:with|on|for|in|from|using|via|and|to)\s+", core, maxsplit=1)[0].strip()
    if head and head != core:
        out.append(head)
    if len(core.split()) >= 3:
        out.append(" ".join(core.split()[:-1]))
    for aside in re.findall(r"\(([^)]+)\)", name):  # ... or what the parentheses call it
        out.append(aside.strip())
    if core:
        out.append(core)
    return [o for o in dict.fromkeys(out) if o.strip()]


# an option that is code: a flag, a port mapping, a tag, a file name ("-p 127.0.0.1:8080:80", "--restart no")
_CODE = re.compile(r"(?:^|\s)--?\w|[:@=<>$]|\w\.\w")


def _says_code(option: str, where: str) -> bool:
    """Whether a line holds a code option as written: the whole command, not a longer one.

    "--restart no" is not in "--restart always"; "docker image prune" is not "docker image prune -a"
    (after the match: the line's end, a comment, or a column gap). A placeholder ("<digest>")
    stands for any word.
    """
    parts = re.split(r"(<[^<>\s]+>)", " ".join(option.split()))
    pattern = "".join(r"\S+" if p.startswith("<") and p.endswith(">") else
                      r"\s+".join(map(re.escape, p.split(" "))) if p.strip() else r"\s+" for p in parts)
    after = r"(?=$|\s*#|\s{2,}|\s*[,;)]|\s+(?:->|→|[-–])\s)"
    return re.search(rf"(?<![\w-]){pattern}{after}", where, re.I | re.M) is not None


def _statement(option: str) -> bool:
    """An option that says what to do ("Reduce the regularization strength") rather than names a thing."""
    words = option.split()
    return len(words) > 4 or (len(words) > 1 and words[0].lower() in _ACTION)


def _naming(options: dict[str, str], words: dict[str, list[str]], places: Sequence[str],
            family=lambda word: False) -> tuple[set[str], int]:
    """The options a line is about, and at which of its places they are named.

    ``places`` run from the most specific: the line's own lead-in, its parent's (followed by the
    line's: a name may run across both), its heading, its text. The first that names any option
    decides ("Model Parallelism: ..." under "Distributed training: data or model parallel" is about
    model parallelism; "Batch Transform: ... when
    real-time responses aren't needed" about batch transform). A name must stand in a row, in one
    of its spellings (`_spellings`: "... concept drift can occur" names concept drift, not "data
    drift" for its "training data"); an option that says what to do needs most of its words
    ("Apply L2 regularization" in "Use regularization (L1, L2)"). Of several, the ones named in
    the most words.
    """
    from assistant.answer.extractive.sides import says

    # the words only one option has ("asynchronous" among "Asynchronous inference" and "Serverless inference")
    unique = {k: [w for w in bag if not any(w in other for j, other in words.items() if j != k)]
              for k, bag in words.items()}
    for at, where in enumerate(places):
        if not where.strip():
            continue
        found: dict[str, int] = {}
        bag = set(salient(where))
        for k, option in options.items():
            if _CODE.search(option) and " " not in option.strip() or _CODE.search(option) and not _statement(option):
                if _says_code(option, where):
                    found[k] = len(option.split())
                continue
            hits = [len(v.split()) for v in _spellings(option, family) if says(v, where)]
            if hits:
                found[k] = max(hits)
            elif at < 3 and words[k] and all(w in bag for w in words[k]) and not _statement(option):
                # a lead-in holding every word that sets the option apart ("Asynchronous Endpoints:"
                # for "Asynchronous inference" among other kinds of inference)
                found[k] = len(words[k])
            elif at < 2 and unique[k] and all(w in bag for w in unique[k]) and \
                    not _statement(option):
                # a lead-in holding what only this option has ("Asynchronous Endpoints:" for
                # "Asynchronous inference" when another option is also an inference)
                found[k] = len(unique[k])
            elif _statement(option) and words[k] and \
                    sum(w in bag for w in words[k]) / len(words[k]) >= tuning.PRACTICE_NAMED:
                found[k] = 1
        if found:
            top = max(found.values())
            return {k for k, v in found.items() if v == top}, at
    return set(), -1


def _clause(text: str, option: str, family) -> str:
    """The part of a line that speaks of one option, when the line lists several.

    "real-time inference" in "Use endpoints for real-time inference, Batch Transform for bulk predictions".
    """
    from assistant.answer.extractive.sides import says

    parts = re.split(r"[,;]\s*(?:and\s+|or\s+|while\s+|whereas\s+)?|\s+(?:while|whereas|but)\s+", text)
    spellings = _spellings(option, family)
    return next((p for p in parts if any(says(v, p) for v in spellings)), text)


def _lines(unit: Unit) -> list[Unit]:
    """A code block as its command lines, each with the comment lines just above it; other units as they are.

    A block of commands names several options ("--restart no", "--restart unless-stopped"), each on
    its own line with its own comment: the line is what speaks of one.
    """
    if unit.kind != "code":
        return [unit]
    fenced = unit.raw.lstrip().startswith(("```", "~~~"))
    out, comments = [], []
    for n, line in enumerate(unit.text.split("\n")):
        if not line.strip():
            comments = []
            continue
        if line.lstrip().startswith(("#", "//")) and not line.lstrip().startswith("#!"):
            comments.append(line.strip())
            continue
        number = unit.line + n + (1 if fenced else 0)
        out.append(replace(unit, text="\n".join([*comments, line.rstrip()]), raw=line, line=number - len(comments),
                           end_line=number))
        comments = []
    return out or [unit]


def _closeness(embedder, stem: str, texts: Sequence[str]) -> np.ndarray:
    """How close each line is in meaning to the stem: the cosine of their vectors."""
    if not texts:
        return np.zeros(0)
    vectors = np.asarray(embedder.embed([stem, *texts]))
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-9)
    return vectors[1:] @ vectors[0]


def check_practice(assistant, question: PracticeQuestion) -> PracticeResult:
    """Pick the option the notes support for the stem, or say why they can't decide.

    Args:
        assistant: A `core.StudyAssistant` (its retrieval, vocabulary and embedding model).
        question: The parsed practice question.

    Returns:
        The verdict, with each option's best line cited.
    """
    started = time.perf_counter()
    contexts = _passages(assistant, question)
    units = [(line, contexts[u.chunk]) for i, chunk in enumerate(contexts) for u in passage_units(chunk, i)
             for line in _lines(u)]
    vocab = assistant.vocabulary
    weight = vocab.idf

    def family(word: str) -> bool:
        stem = salient(word)
        return bool(stem) and vocab.doc_freq.get(stem[0], 0) >= tuning.PRACTICE_FAMILY * vocab.n_docs

    required, ruled_out = requirement_words(question.stem), ruled_out_words(question.stem)
    # the stem's words as the student wrote them, for saying which requirements a line states
    surface: dict[str, str] = {}
    for word in re.findall(r"[A-Za-z0-9][\w'-]*", question.stem):
        for stem in salient(word):
            surface.setdefault(stem, word.lower())
    words = option_words(question.options)
    # where a line names what it is about, most specific first: its lead-in, its parent's, its
    # heading (for a lead-in that only says what kind of line it is, "Description:", "Example:"), its text
    about = []
    for u, c in units:
        label = "" if u.label.lower() in GENERIC_LABELS else u.label
        # a name may run from the parent's lead-in into the line's ("Amazon Titan" > "Embeddings Model" is
        # "Titan Embeddings")
        parent = f"{u.parent} {label}" if u.parent and label else u.parent
        about.append(_naming(question.options, words, [label, parent, " ".join(c.heading_path[-2:]), u.text],
                             family))
    closeness = _closeness(assistant.embedder, question.stem, [f"{u.label} {u.text}" for u, _ in units])
    # each option's lines: what each says of it (a listing line: the clause next to the option)
    lines: dict[str, list[tuple[int, set[str], float]]] = {k: [] for k in question.options}
    for n, (unit, _) in enumerate(units):
        named, at = about[n]
        for letter in named:
            body, dense = f"{unit.label} {unit.text}", float(closeness[n])
            if at == 3 and len(named) > 1:
                # a line that lists several options: what it says next to this one, and its meaning
                # shared by all of them
                body, dense = _clause(unit.text, question.options[letter], family), dense / len(named)
            lines[letter].append((n, set(salient(body)), dense))
    verdicts = []
    for letter, text in question.options.items():
        own = set(words[letter])
        wanted = {w: x for w, x in required.items() if w not in own}
        best, best_n, matched = 0.0, -1, []
        for n, have, dense in lines[letter]:
            states, found = _weighted_share(wanted, have, weight)
            # a line saying what the stem rules out ("instead of several binary columns") is that option
            rejected = _weighted_share({w: 1.0 for w in ruled_out}, have, weight)[0] if ruled_out else 0.0
            score = states + tuning.PRACTICE_DENSE * dense - rejected
            if score > best:
                best, best_n, matched = score, n, found
        citation = _unit_citation(*units[best_n]) if best_n >= 0 else None
        verdicts.append(OptionVerdict(letter, text, best, citation, tuple(surface.get(w, w) for w in matched)))
    ranked = sorted(verdicts, key=lambda v: -v.score)
    k = question.choose
    chosen, rest = ranked[:k], ranked[k:]
    runner = rest[0].score if rest else 0.0
    reason = ""
    if not any(v.citation for v in verdicts):
        reason = "your notes name none of the options"
    elif chosen[-1].score < tuning.PRACTICE_FLOOR:
        reason = "no option's lines in your notes state what the question requires"
    elif chosen[-1].score - runner < tuning.PRACTICE_MARGIN:
        tied = [v.letter for v in ranked if chosen[-1].score - v.score < tuning.PRACTICE_MARGIN]
        reason = f"your notes support {' and '.join(tied)} about equally"
    pick = () if reason else tuple(sorted(v.letter for v in chosen))
    return PracticeResult(question, pick, tuple(verdicts), reason, time.perf_counter() - started, contexts)
