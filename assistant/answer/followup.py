"""Follow-up questions resolved against the conversation, without a model.

A question that leans on the conversation is made standalone before retrieval:

* a pronoun or "that one" takes its referent: after "what is SageMaker Model Monitor for?",
  "what does it compare the new data against?" asks about SageMaker Model Monitor; after a
  comparison, "they"/"it" is both sides, asked about together without comparing them again
  ("how do I detect it?" after "concept drift vs data drift" becomes "how do I detect concept
  drift and data drift?"), and "the other one", "the latter", "which one" pick from the sides;
* an ellipsis borrows the earlier question: "what about kafka?" after "what is kinesis used
  for?" becomes "what is kafka used for?"; "and for batch?" replaces the earlier "for ..." part;
  "any downsides?" asks for the downsides of the subject;
* a comparison left open takes the subject as its other side ("how is blue/green different from
  that?", "is Mechanical Turk the same thing?");
* a question with a subject of its own ("what is Amazon Athena?", "unrelated, but ...") is a
  topic shift and goes to retrieval as asked.

The subject of a question is its first noun phrase (after the asking words and a verb such as
"detect"), or the sides of a comparison, or, for "which X should I use for Y", Y. Noun phrases are
runs of words between function words and common verbs; when the notes are known, a phrase the
notes contain ("FSx for Lustre", "batch transform") is kept whole. The word lists here are
general English (function words, common verbs, words for a thing's properties), not taken from
any notes or question set.

LLM backends rewrite with the condense prompt; this is what the extractive backend uses, and the
fallback when an LLM's rewrite is unusable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from assistant import tuning
from assistant.text.question import comparison_sides
from assistant.text.words import salient, tokens


class Lexicon(Protocol):
    """What the notes contain (`gate.Vocabulary` is one): words, phrases, and how rare a word stem is."""

    @property
    def words(self) -> frozenset[str]:
        """Every `words.tokens` word of the notes."""
        ...

    def has_phrase(self, phrase: str) -> bool:
        """Whether the notes contain these words in a row (case and punctuation ignored)."""
        ...

    def idf(self, word: str) -> float:
        """Rarity of a word stem in the notes (unseen stems are rarest)."""
        ...

# -- word lists (general English) ---------------------------------------------------------------------
_AUX = frozenset("""is are was were be been being am do does did can could will would should shall may might must
    has have had isn't aren't doesn't don't didn't can't won't wouldn't shouldn't""".split())
_WH = frozenset("what which how why when where who whom whose what's whats how's hows where's who's".split())
_SUBJECT = frozenset("i you we me us my our your i'm i've i'd we're you're".split())
_DET = frozenset("the a an some any each every no another such".split())
_REFERRING = frozenset("it its itself they them their theirs themselves this that these those".split())
_PREP = frozenset("""for in on with without during at by from to of about into onto over under between after before
    via through against across within per like than instead besides beyond around off up out down as""".split())
_CONJ = frozenset("and or but nor if when while because so then whereas although though unless once vs versus".split())
_ADVERB = frozenset("""really actually just also even only still already usually always never ever often sometimes
    automatically completely exactly basically generally typically quickly easily properly best better more most
    much many very too not no yes there here now then again else instead anyway maybe probably please pls ok okay
    hmm super pretty quite""".split())
# Adjectives said of a subject ("is it good for", "how is X different"): never part of its name.
_JUDGEMENT = frozenset("""good great bad worse worst cheaper cheapest pricier faster slower easier harder simpler
    safer different similar same useful possible right wrong ideal fine enough better best popular common important
    necessary""".split())
# Verbs students ask with; nouns that double as verbs in tool names ("monitor", "transform", "stream",
# "test", "search", "log", "index", "cost") are left out so they stay in noun phrases.
_VERB_BASES = """use choose pick select prefer detect handle deal deploy train retrain build set get make keep stop
    start prevent avoid reduce improve implement configure compare differ mean work help need want support store
    save encrypt secure protect scale tune fix find see know tell compile expose catch track run create delete
    remove update connect call trigger react integrate apply convert split share send load ingest process read
    write happen let allow provide offer include require cause explain describe define give show list go come look
    think say ask try put take turn move check measure evaluate calculate compute visualize clean prepare label
    balance notice notify alert warn recommend suggest affect matter depend charge pay spend learn understand
    identify mitigate lower increase decrease speed slow fit overfit underfit block access mount pull push sign
    drop fill impute encode normalize standardize do say solve watch care lose break fail crash throw spin
    replace override rename tear clear kill pass return reuse"""
_IRREGULAR = """built made got gotten kept ran sent found told took taken gave given went gone chose chosen caught
    brought thought became began written wrote known seen shown done said lost broke broken thrown spun"""


def _inflections(base: str) -> set[str]:
    forms = {base, base + "s", base + "ed", base + "d"}
    if base.endswith(("s", "sh", "ch", "x", "z", "o")):
        forms.add(base + "es")
    if base.endswith("y") and base[-2:-1] not in "aeiou":
        forms |= {base[:-1] + "ies", base[:-1] + "ied"}
    if base.endswith("e"):
        forms.add(base + "d")
    return forms


_VERB_BASE = frozenset(_VERB_BASES.split())
_VERB = frozenset(f for b in _VERB_BASE for f in _inflections(b)) | frozenset(_IRREGULAR.split())
# Words for a property of a thing: "any downsides?" asks for the subject's downsides.
_ASPECT = frozenset("""downside downsides drawback drawbacks disadvantage disadvantages advantage advantages benefit
    benefits pro pros con cons limitation limitations trade-off trade-offs tradeoff tradeoffs cost costs price
    pricing performance latency security use case cases example examples alternative alternatives best practice
    practices requirement requirements feature features risk risks catch gotcha gotchas pitfall pitfalls
    difference differences similarity similarities purpose point steps setup limit limits weakness weaknesses
    strength strengths problem problems issue issues caveat caveats default defaults syntax""".split())
# People in a question are not its topic ("why do people use xgboost", "what if a user asks ...").
_PERSON = frozenset("""people person someone somebody anyone anybody everyone everybody user users customer customers
    client clients team teams teammate teammates company companies student students developer developers engineer
    engineers scientist scientists folks guys colleague colleagues manager managers boss""".split())
_FILLER = frozenset("thing things stuff way ways kind sort lot lots bunch".split())
# An answer's lead-ins that label a part rather than name a thing ("Description:", "Use Cases:").
_LABEL = _ASPECT | frozenset("""description overview summary definition note notes key concept concepts use uses
    what how works details detail info information general basics introduction""".split())

_FUNCTION = _AUX | _WH | _SUBJECT | _DET | _REFERRING | _PREP | _CONJ
_BOUNDARY = _FUNCTION | _ADVERB | _VERB | _JUDGEMENT

# -- patterns ---------------------------------------------------------------------------------------
_WORD = re.compile(r"[A-Za-z0-9](?:[\w'’/.+#-]*[A-Za-z0-9+#])?")
_CONNECTOR = re.compile(r"^(?:(?:and|but|so|also|then|ok(?:ay)?|alright|right|cool|great|nice|thanks|thank you|"
                        r"hmm+|oh|ah|wait|well|hm)\b[\s,.!:;-]*)+", re.I)
_ELLIPSIS = re.compile(r"^(?:what|how)\s+about\b[\s,]*|^same\s+(?:question\s+)?for\b[\s,]*", re.I)
_WHAT_IF = re.compile(r"^what\s+if\b\s*", re.I)
_SHIFT = re.compile(
    r"^(?:(?:unrelated|different|new|other|separate|another|off-?topic)\s*(?:question|topic|thing|note)?"
    r"(?:\s*,?\s*but)?|by the way|btw|changing (?:the )?(?:topic|subject)|switching (?:topics?|gears)|"
    r"on (?:a|another) (?:different|separate|unrelated) (?:note|topic))\s*[,:;.!-]*\s+", re.I)
# "is it possible to index a view?", "is it worth using X?": an "it" that stands for what follows
# (but "is it hard to run?" asks about the subject: nothing follows the verb)
_DUMMY_IT = re.compile(
    r"\bit(?=(?:\s+|'s\s+)(?:(?:is|was|would be|will be)\s+)?(?:possible|worth|better|best|ok|okay|true|necessary|"
    r"a good idea|a bad idea|bad|wise|smart|hard|easy|safe|common|normal|recommended|important|enough|required|"
    r"needed)\s+(?:to\s+[\w'-]+\s+[\w'-]+|that\b|if\b|whether\b|[\w-]+ing\b))"
    r"|\bit(?=\s+(?:seems|looks like)\b)"
    # "what does it mean when ...", "what's it called when ...": the question names its own subject
    r"|\bit(?=\s+(?:means?\s+(?:when|if|that)|(?:is\s+)?(?:called|named)\b))", re.I)
_MORE = re.compile(
    r"^(?:(?:can you |could you |please |pls )?(?:tell me|explain|say|give me|show me|go into|talk about)\s+)?"
    r"(?:(?:a (?:bit|little) )?more|more (?:details?|info|information)|further|in (?:more )?detail)(?:\s+please)?"
    r"[\s?.!]*$|^(?:elaborate|go on|continue|more)[\s?.!]*$", re.I)
_OTHER = re.compile(r"\bthe\s+(?:other\s+(?:one|ones|two|option|options|kind|approach|side|choice)s?|other|others|rest|"
                    r"remaining\s+ones?)\b", re.I)
_FIRST = re.compile(r"\bthe\s+(?:former|first\s+(?:one|option|kind|approach|type|method|choice))\b", re.I)
_LAST = re.compile(r"\bthe\s+(?:latter|second\s+(?:one|option|kind|approach|type|method|choice)|last\s+one)\b", re.I)
_BOTH = re.compile(r"\b(?:both(?:\s+of\s+them)?|each\s+of\s+them|either\s+(?:of\s+them|one))\b", re.I)
_WHICH = re.compile(r"\bwhich(?:\s+one|\s+of\s+(?:them|the\s+(?:two|three|these|those)))?\b", re.I)
# "better" without "than X": the comparison's other side is the conversation's subject
_COMPARATIVE = re.compile(
    r"\b(?:(?:more|less)\s+[\w-]+|better|worse|cheaper|pricier|faster|slower|easier|harder|simpler|safer|"
    r"bigger|smaller|larger|newer|older|(?:very\s+)?different|similar|the\s+same(?:\s+thing)?)\b", re.I)
_COMPLEMENT = re.compile(r"\b(?:than|from|to|as|vs\.?|versus|compared|over|or)\b", re.I)
# "my fraud dataset is super imbalanced": a state said of the subject right after it (a problem to fix)
_STATE = re.compile(r"^\s+(?:is|are|was|were|keeps|kept|gets|got|seems|looks|has been|have been)\s+"
                    r"(?:(?:super|really|very|so|too|quite|pretty|extremely|highly|heavily|badly|way|still|always|"
                    r"constantly|kind of|kinda)\s+)*([A-Za-z][\w-]+)\b", re.I)
# "is there a way to fix it?": what the pronoun after these verbs stands for is the problem, not the thing
_REMEDY = re.compile(r"\b(?:fix(?:ing)?|solv(?:e|ing)|handl(?:e|ing)|deal(?:ing)? with|prevent(?:ing)?|"
                     r"avoid(?:ing)?|reduc(?:e|ing)|mitigat(?:e|ing)|address(?:ing)?|correct(?:ing)?|counter(?:ing)?|"
                     r"combat(?:ing)?|tackl(?:e|ing)|overcom(?:e|ing)|remedy(?:ing)?|get(?:ting)? rid of|"
                     r"work(?:ing)? around)\s+$", re.I)
_GENERIC_NOUN = frozenset("one ones service services tool tools thing things approach option options method methods "
                          "technique techniques feature features setting settings strategy strategies kind type stuff "
                          "idea product solution".split())


@dataclass(frozen=True)
class Span:
    """A phrase of a question: its text as typed and where it sits."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Topic:
    """What a question is about.

    Attributes:
        entities: One subject, or the sides a comparison contrasts.
        span: Where the subject (or the sides, first to last) sits in the question, when known.
        phrases: Every noun phrase of the question (a plural pronoun may mean another one).
    """

    entities: tuple[str, ...] = ()
    span: tuple[int, int] | None = None
    phrases: tuple[Span, ...] = ()


@dataclass(frozen=True)
class Resolution:
    """A question resolved against the conversation.

    Attributes:
        question: As asked.
        standalone: What to retrieve and answer (``question`` unless it leaned on the conversation).
        follow_up: Whether the conversation was needed to understand it.
        topic: What the conversation is about after this question (its subject, or compared sides).
    """

    question: str
    standalone: str
    follow_up: bool
    topic: tuple[str, ...] = ()


@dataclass(frozen=True)
class _State:
    text: str = ""  # the last question, resolved
    topic: Topic = field(default_factory=Topic)
    pool: tuple[str, ...] = ()  # the last things compared or talked about in turn ("the other one" picks from them)
    named: str = ""  # what the answer to "which X ...?" named: "it" is that


class _Notes:
    """A lexicon's lookups, remembered for one resolution (the history's turns ask the same phrases again)."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._phrases: dict[str, bool] = {}

    def knows(self, phrase: str) -> bool:
        """Whether the notes contain the phrase (a word they never use rules it out without a search)."""
        key = phrase.lower()
        if key not in self._phrases:
            words = self.lexicon.words
            self._phrases[key] = all(t in words for t in tokens(key)) and self.lexicon.has_phrase(key)
        return self._phrases[key]

    def rarity(self, phrase: str) -> float:
        """How specific a phrase is: its rarest word's rarity in the notes (0 for none)."""
        return max((self.lexicon.idf(w) for w in salient(phrase)), default=0.0)


# -- words and noun phrases ---------------------------------------------------------------------------
def _words(text: str) -> list[Span]:
    return [Span(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]


def _low(word: str) -> str:
    return word.lower().replace("’", "'")


def _is_boundary(word: str) -> bool:
    low = _low(word)
    if low in _BOUNDARY:
        return True
    # contractions ("what's", "don't") are function words; a possessive ("sagemaker's") is not
    return "'" in low and not low.endswith("'s")


def _chunk_text(text: str, words: list[Span]) -> Span:
    start, end = words[0].start, words[-1].end
    phrase = text[start:end]
    if phrase.lower().endswith(("'s", "’s")):
        phrase, end = phrase[:-2], end - 2
    return Span(phrase, start, end)


def _noun_phrases(text: str, notes: _Notes | None = None) -> list[Span]:
    """The noun phrases of a question, in order: runs of words between function words and common verbs.

    A verb-like word is a noun where a verb cannot stand: after a determiner and before the end
    ("what's a dirty read?"), or at the start of a phrase the notes contain when no subject
    precedes it ("what's label drift?", but not "can I label data").

    Args:
        text: The question.
        notes: What the notes contain: a phrase they contain is kept whole even across a function
            word or verb ("FSx for Lustre", "S3 Transfer Acceleration").
    """
    words = _words(text)
    out: list[Span] = []
    i = 0
    while i < len(words):
        known = _known_phrase(words, i, notes)
        if not known and _is_boundary(words[i].text):
            i += 1
            continue
        j = max(known, i + 1)
        while j < len(words) and (not _is_boundary(words[j].text) or _noun_use(words, j)):
            j += 1
        out.append(_chunk_text(text, words[i:j]))
        i = j
    return out


def _known_phrase(words: Sequence[Span], i: int, notes: _Notes | None) -> int:
    """The end of the longest phrase of 2-5 words starting at ``i`` that the notes contain (0 for none)."""
    if notes is None or _low(words[i].text) in _FUNCTION | _ADVERB | _JUDGEMENT:
        return 0
    before = _low(words[i - 1].text) if i else ""
    if _low(words[i].text) in _VERB and (before in _SUBJECT | {"to", "please", "pls"} or before in _AUX and i > 1
                                         and _low(words[i - 2].text) in _SUBJECT):
        return 0  # "can I train custom models": a verb where a verb stands
    for j in range(min(len(words), i + 5), i + 1, -1):
        if _low(words[j - 1].text) not in _FUNCTION and notes.knows(" ".join(w.text for w in words[i:j])):
            return j
    return 0


def _noun_use(words: Sequence[Span], j: int) -> bool:
    """A verb-like word ending a determiner's phrase after "is" or a preposition.

    "what's a dirty read?", "what about a lost update?"; but "what does the strict version fix?"
    ends with its verb.
    """
    low = _low(words[j].text)
    if low not in _VERB or j == 0:
        return False
    after = _low(words[j + 1].text) if j + 1 < len(words) else ""
    if after and after not in _AUX | _JUDGEMENT:
        return False
    k = j - 1
    while k >= 0 and not _is_boundary(words[k].text):
        k -= 1
    if k < 0 or k == j - 1 or _low(words[k].text) not in _DET | {"this", "that", "my", "our", "your"}:
        return False
    lead = _low(words[k - 1].text) if k else ""
    return not lead or lead in _PREP | {"is", "are", "was", "were", "what's", "whats", "what", "'s"}


def _content(phrase: str) -> set[str]:
    return {_low(w.text) for w in _words(phrase)} - _FILLER


def _is_topic_phrase(phrase: Span) -> bool:
    """Not only people, properties or filler ("people", "downsides", "stuff")."""
    words = _content(phrase.text)
    return bool(words - _PERSON - _ASPECT)


def _sides(text: str) -> tuple[Span, ...] | None:
    sides = comparison_sides(text)
    if not sides:
        return None
    out = []
    for side in sides:
        m = re.search(rf"(?<![\w-]){re.escape(side)}(?![\w-])", text, re.I)
        out.append(Span(text[m.start():m.end()], m.start(), m.end()) if m else Span(side, -1, -1))
    return tuple(out)


def _topic(question: str, notes: _Notes | None = None) -> Topic:
    """What a question is about: the sides it compares, else its subject (see the module docstring).

    Args:
        question: A standalone question.
        notes: What the notes contain: keeps names like "FSx for Lustre" whole, and a first phrase
            the notes use everywhere is passed over ("does SageMaker support federated learning?"
            is about federated learning; `tuning.FOLLOW_UP_GENERIC_IDF`).
    """
    phrases = tuple(_noun_phrases(question, notes))
    sides = _sides(question)
    if sides:
        found = [s for s in sides if s.start >= 0]
        span = (min(s.start for s in found), max(s.end for s in found)) if len(found) == len(sides) else None
        return Topic(tuple(s.text for s in sides), span, phrases)
    topical = [p for p in phrases if _is_topic_phrase(p)]
    if not topical:
        return Topic((), None, phrases)
    words = _words(question)
    candidates = topical
    # "which storage should I use for training data": what is asked about is the "for ..." part
    if len(words) > 1 and _low(words[0].text) in {"which", "what"} and not _is_boundary(words[1].text):
        candidates = [p for p in topical[1:] if _preceded_by_preposition(question, p)] or topical
    # "the max payload size for async inference" is about async inference
    candidates = [p for p in candidates if not _attribute(question, p, topical)] or candidates
    chosen = candidates[0]
    if notes is not None:
        specific = [p for p in candidates if notes.rarity(p.text) > tuning.FOLLOW_UP_GENERIC_IDF]
        chosen = specific[0] if specific else max(candidates, key=lambda p: notes.rarity(p.text))
    return Topic((chosen.text,), (chosen.start, chosen.end), phrases)


def _attribute(text: str, phrase: Span, phrases: Sequence[Span]) -> bool:
    """"the size of X", "the max payload size for X": a phrase that names a property of the next one."""
    before = _words(text[: phrase.start])
    if not before or _low(before[-1].text) != "the":
        return False
    link = re.match(r"\s+(?:of|for)\s+(?:(?:the|an?|my|our|your)\s+)?", text[phrase.end:], re.I)
    return bool(link) and any(p.start == phrase.end + link.end() for p in phrases)


def _preceded_by_preposition(text: str, phrase: Span) -> bool:
    before = _words(text[: phrase.start])
    return bool(before) and _low(before[-1].text) in _PREP | {"when", "if"}


def noun_phrases(text: str, notes: Lexicon | None = None) -> list[Span]:
    """The noun phrases of a question, in order (see `_noun_phrases`); ``notes`` keeps their names whole."""
    return _noun_phrases(text, _Notes(notes) if notes is not None else None)


def topic(question: str, notes: Lexicon | None = None) -> Topic:
    """What a question is about: the sides it compares, else its subject (see `_topic`)."""
    return _topic(question, _Notes(notes) if notes is not None else None)


# -- references ------------------------------------------------------------------------------------
def _join(entities: Sequence[str], word: str = "and") -> str:
    # "A and B and C", not "A, B and C": a comma list reads as a comparison ("A, B or C?")
    return f" {word} ".join(entities)


def _plural(phrase: str) -> bool:
    last = _low(phrase.split()[-1]) if phrase.split() else ""
    return len(last) > 3 and last.endswith("s") and not last.endswith(("ss", "us", "is"))


def _pronouns(text: str) -> list[Span]:
    """The referring pronouns of a question: not a dummy "it", not "that" joining a clause, not a determiner."""
    dummy = {m.start() for m in _DUMMY_IT.finditer(text)}
    words = _words(text)
    out: list[Span] = []
    for n, word in enumerate(words):
        low = _low(word.text)
        if low not in _REFERRING or word.start in dummy:
            continue
        after = _low(words[n + 1].text) if n + 1 < len(words) else ""
        before = _low(words[n - 1].text) if n else ""
        if low in {"this", "that", "these", "those"}:
            ends = not after or text[word.end:word.end + 2].lstrip()[:1] in {",", "?", ".", "!", ";", ":"}
            if after == "one" or after == "ones":
                out.append(Span(text[word.start:words[n + 1].end], word.start, words[n + 1].end))
                continue
            if ends or after in _PREP or after in _ADVERB or after in _JUDGEMENT or (
                    before in _AUX and after in _DET):  # "is that the one ...?", "is that a problem?"
                out.append(word)
            elif after in _AUX or after in _VERB:
                # "does that work", "how is that different" - but not "models that work" (a clause)
                if not before or before in _AUX | _WH | _PREP | _VERB | _CONJ:
                    out.append(word)
            continue
        out.append(word)
    return out


def _internal(text: str, pronoun: Span) -> bool:
    """A pronoun that refers inside its own question: "a user asks to have their data deleted"."""
    before = [_low(w.text) for w in _words(text[: pronoun.start])]
    if _low(pronoun.text) in {"they", "them", "their", "theirs", "themselves"} and set(before) & _PERSON:
        return True
    # "what is X and why is it popular?": the pronoun is X, named in the same question
    m = re.search(r"\band\s+(?:why|how|when|what|where|is|are|does|do|can|should)\b", text[: pronoun.start], re.I)
    return bool(m) and any(_is_topic_phrase(p) for p in _noun_phrases(text[: m.start()]))


def _determiners(text: str) -> list[tuple[Span, Span]]:
    """"this approach", "where do I see that breakdown?": a determiner and its noun referring to the conversation.

    A generic noun ("this approach", "that service") anywhere; another noun only ending the question
    ("that breakdown?"), since "this pipeline thing" mid-question may name something new.
    """
    words = _words(text)
    out = []
    for n, word in enumerate(words[:-1]):
        nxt = words[n + 1]
        if _low(word.text) in {"this", "that", "these", "those"} and not _is_boundary(nxt.text):
            prev = _low(words[n - 1].text) if n else ""
            if n and prev not in _AUX | _WH | _PREP | _VERB | _CONJ:
                continue  # "models that overfit" (a clause), not "that model"
            if _low(nxt.text) in _GENERIC_NOUN or n + 2 == len(words):
                out.append((word, nxt))
    return out


def _referent(pronoun: str, topic_: Topic, pool: Sequence[str], others: bool,
              notes: _Notes | None = None) -> str | None:
    entities = topic_.entities
    low = pronoun.lower()
    if not entities:
        return None
    if others and pool:  # "is it expensive compared to the others": "it" is one of the compared things
        return entities[0] if len(entities) == 1 else pool[0]
    if len(entities) > 1:
        return _join(entities)
    if low in {"they", "them", "their", "theirs", "themselves", "these", "those"}:
        # "how do databases detect deadlocks?" - "can they be prevented?": the most specific plural thing
        # (without the notes, the last one: a question's object is its newer, more specific thing)
        plural = [p for p in topic_.phrases if _plural(p.text) and _is_topic_phrase(p)]
        if plural:
            return (max(plural, key=lambda p: notes.rarity(p.text)) if notes is not None else plural[-1]).text
    return entities[0]


def _rest(topic_: Topic, pool: Sequence[str]) -> list[str]:
    """"The other one": the pool without the one in focus (without the first when all are)."""
    if len(topic_.entities) == 1 and topic_.entities[0].lower() in {p.lower() for p in pool}:
        return [p for p in pool if p.lower() != topic_.entities[0].lower()]
    return list(pool[1:])


def _problem(state: _State) -> str:
    """The problem the last question stated about its subject ("imbalanced fraud dataset"), or "".

    "my fraud dataset is super imbalanced, what can I do?" - "is there a way to fix it without
    resampling?": what is fixed is the imbalance, and the notes file fixes under it, not under
    the dataset. The state word must not be a function word, a judgement or a common verb ("is
    good", "is a tool", "is used").
    """
    if len(state.topic.entities) != 1 or state.topic.span is None:
        return ""
    found = _STATE.match(state.text[state.topic.span[1]:])
    if not found:
        return ""
    word, low = found.group(1), _low(found.group(1))
    # a verb's base form is a state ("slow", "down"); its other forms are a passive ("is used")
    verb_base = low in _VERB_BASE
    if (_is_boundary(word) and not verb_base) or low in _FUNCTION | _JUDGEMENT or low.endswith("ly"):
        return ""
    return f"{word} {state.topic.entities[0]}"


def _substitute(text: str, state: _State, notes: _Notes | None = None) -> tuple[str, bool, tuple[str, ...]]:
    """Replace the question's references to the conversation; whether any was, and what they meant."""
    pool = state.pool or (state.topic.entities if len(state.topic.entities) > 1 else ())
    meant: list[str] = []
    replacements: list[tuple[int, int, str]] = []
    others = bool(_OTHER.search(text))
    single = ""  # "does the latter scale down when nobody calls it?": "it" is the one just picked
    for pattern, pick in ((_FIRST, "first"), (_LAST, "last"), (_BOTH, "both"), (_OTHER, "rest")):
        for m in pattern.finditer(text) if pool else ():
            if pick == "rest":  # "is the last one cheaper than the others?": the others are the rest
                rest = [p for p in pool if p != single] if single else _rest(state.topic, pool)
                if not rest:
                    continue
                value = _join(rest)
                meant += rest
            elif pick == "both":
                value = _join(pool)
                meant += pool
            else:
                value = pool[0] if pick == "first" else pool[-1]
                meant.append(value)
                single = single or value
            replacements.append((m.start(), m.end(), value))
    taken = [(s, e) for s, e, _ in replacements]

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    for word in _pronouns(text):
        if not free(word.start, word.end) or _internal(text, word):
            continue
        named = state.named if _low(word.text.split()[0]) in {"it", "its", "itself", "this", "that"} else ""
        # "how do I fix it?" after "my dataset is imbalanced": the imbalance is what gets fixed
        problem = _problem(state) if _REMEDY.search(text[: word.start]) else ""
        value = single or problem or named or _referent(word.text.split()[0], state.topic, pool, others, notes)
        if value and any(v == value and s < word.start for s, _, v in replacements):
            continue  # "does serverless inference scale down when nobody calls it?": named once is enough
        if value:
            replacements.append((word.start, word.end, value))
            meant.append(value)
    for det, noun in _determiners(text):
        if not free(det.start, noun.end) or not state.topic.entities:
            continue
        value = _referent(det.text, state.topic, pool, False) or ""
        if _low(noun.text) in _GENERIC_NOUN:  # "that service" is the subject itself
            replacements.append((det.start, noun.end, value))
        else:  # "that breakdown" is the subject's breakdown
            replacements.append((det.start, noun.end, f"the {noun.text} of {value}"))
        meant.append(value)
    if not replacements:
        return text, False, ()
    out = text
    for start, end, value in sorted(replacements, reverse=True):
        out = out[:start] + value + out[end:]
    return out, True, tuple(dict.fromkeys(meant))


def _which(text: str, state: _State) -> tuple[str, bool, tuple[str, ...]]:
    """"which one is cheaper?" after two things: the question asks to choose between them."""
    pool = state.pool or state.topic.entities
    m = _WHICH.search(text)
    if len(pool) < 2 or not m or comparison_sides(text) or _mentions_any(text, pool):
        return text, False, ()
    body = re.sub(r"[\s?!.]+$", "", text)
    return f"{body}: {_join(pool, 'or')}?", True, tuple(pool)


def _mentions_any(text: str, entities: Sequence[str]) -> bool:
    return any(re.search(rf"(?<![\w-]){re.escape(e)}(?![\w-])", text, re.I) for e in entities)


def _predicative(text: str, match: re.Match) -> bool:
    """"better when ...", "different?", "easier to tune": said of the subject, not of a noun ("same network")."""
    after = _words(text[match.end():])
    return not after or _is_boundary(after[0].text)


def _complete_comparison(text: str, state: _State, notes: _Notes | None) -> tuple[str, bool]:
    """"is avro better when ...?" -> "is avro better than parquet when ...?" (the subject is the other side)."""
    entities = state.topic.entities
    if not entities or comparison_sides(text) or _mentions_any(text, entities):
        return text, False
    m = next((c for c in _COMPARATIVE.finditer(text) if _predicative(text, c)), None)
    if not m:
        return text, False
    at = m.end()
    after = text[at:].lstrip()
    to_verb = re.match(r"to\s+([\w-]+)", after, re.I)
    if to_verb and _low(to_verb.group(1)) in _VERB:  # "easier to tune": the other side goes after the verb
        at = text.index(to_verb.group(0), at) + len(to_verb.group(0))
    elif _COMPLEMENT.match(after):  # "better than X" names its other side
        return text, False
    own = [p for p in _noun_phrases(text[: m.start()], notes) if _is_topic_phrase(p)]
    if not own:  # "is it cheaper?" compares the subject with nothing named
        return text, False
    word = m.group(0).lower()
    link = "from" if "different" in word else "to" if "similar" in word else "as" if "same" in word else "than"
    value = _join(entities, "or") if link == "than" and len(entities) > 1 else _join(entities)
    return f"{text[:at]} {link} {value}{text[at:]}", True


# -- ellipsis ---------------------------------------------------------------------------------------
def _is_clause(text: str, notes: _Notes | None = None) -> bool:
    """Whether a question has a predicate of its own.

    It starts with a question word, an auxiliary or an imperative ("explain ..."), or holds a verb
    that is not part of a noun phrase ("a phantom read" has none).
    """
    words = _words(text)
    if not words:
        return False
    first = _low(words[0].text)
    if first in _WH | _AUX or first in {"explain", "describe", "define", "compare", "tell", "give", "list", "show"}:
        return True
    inside = [(p.start, p.end) for p in _noun_phrases(text, notes)]
    return any(_low(w.text) in _VERB | _AUX and not any(s <= w.start < e for s, e in inside) for w in words[1:])


def _is_condition(words: Sequence[Span]) -> bool:
    """"if it fails", "when traffic spikes": a condition, not a question ("when would I ...?")."""
    first = _low(words[0].text) if words else ""
    second = _low(words[1].text) if len(words) > 1 else ""
    return first in {"if", "unless"} or (first in {"when", "while", "once"} and second not in _AUX)


def _strip_end(text: str) -> str:
    return re.sub(r"[\s?!.]+$", "", text)


def _ellipsis(fragment: str, state: _State, notes: _Notes | None) -> tuple[str, Topic | None]:
    """A fragment ("and for batch?", "what about kafka?", "any downsides?") completed from the last question.

    Returns the standalone question and, when the fragment named a new subject, its topic.
    """
    prior = _strip_end(state.text)
    body = _strip_end(fragment.strip())
    words = _words(body)
    if not words or not prior:
        return fragment, None
    first = _low(words[0].text)
    if _is_condition(words):  # a condition added to the question
        return f"{prior} {body}?", None
    if _bare_question_word(words):  # "why?" after "is X good for Y?" -> "why is X good for Y?"
        if _low(_words(prior)[0].text) in _AUX:
            return f"{body} {prior[:1].lower()}{prior[1:]}?", None
        return (f"{body} {_join(state.topic.entities)}?" if state.topic.entities else fragment), None
    if first in _PREP:
        # "and for batch?" after "which option for real-time inference?": the "for ..." part is replaced
        spans = [m for m in re.finditer(rf"(?<![\w-]){re.escape(first)}(?![\w-])", prior, re.I)]
        if spans:
            start = spans[-1].start()
            stop = re.search(r"[,;:?!]|\s(?:and|but|or|if|when|so)\s", prior[start:])
            end = start + stop.start() if stop else len(prior)
            return f"{prior[:start]}{body}{prior[end:]}?", None
        return f"{prior} {body}?", None
    if len(words) > 1 and first.endswith("ing") and first not in _ASPECT:
        return f"{body}?", None  # "what about pulling an image by digest?": an activity, asked on its own
    content = _content(body) - _DET - {"any", "some", "the", "what", "are", "there", "is", "about"}
    subject = state.topic.entities
    if content and content <= _ASPECT | _PREP | _DET:  # "any downsides?": the subject's downsides
        return f"{body} of {_join(subject)}?" if subject else fragment, None
    span = state.topic.span
    if span is not None:  # "what about kafka?": the last question, about kafka
        before = _words(prior[: span[0]])
        if before and _low(before[-1].text) in _DET and first in _DET:  # "a dirty read" -> "a phantom read"
            body = body[len(words[0].text):].lstrip()
        new = f"{prior[: span[0]]}{body}{prior[span[1]:]}?"
        return new, Topic((body,), (span[0], span[0] + len(body)), tuple(_noun_phrases(body, notes)))
    if subject:
        return f"{body} ({_join(subject)})?", Topic((body,), None, ())
    return fragment, None


# -- resolving a turn -----------------------------------------------------------------------------------
def _dislocated(body: str, notes: _Notes | None) -> str | None:
    """"data wrangler, is it no-code?" -> "is data wrangler no-code?" (the pronoun is the fronted phrase)."""
    m = re.match(r"^(?P<front>[^,;:?]+?)\s*[,;:]\s*(?P<clause>.+)$", body)
    if not m:
        return None
    front, clause = m.group("front").strip(), m.group("clause")
    if _is_clause(front) and _low(_words(front)[0].text) not in _WH:
        return None
    if not any(_is_topic_phrase(p) for p in _noun_phrases(front, notes)):
        return None
    refs = [p for p in _pronouns(clause) if not _internal(clause, p)]
    if not refs:
        return None
    ref = refs[0]
    if _low(_words(front)[0].text) in _WH:  # "who called X, where do I find that?" -> "... find who called X?"
        front = front[:1].lower() + front[1:]
    return clause[: ref.start] + front + clause[ref.end:]


def _next_state(standalone: str, state: _State, notes: _Notes | None, meant: tuple[str, ...] = (),
                new: Topic | None = None) -> _State:
    if new is not None:  # "what about kafka?": kafka now, and kafka is "the other one" to the old subject
        old = state.topic.entities
        pool = (*old, *new.entities) if len(old) == 1 else state.pool
        return _State(standalone, new, tuple(dict.fromkeys(pool)))
    found = _topic(standalone, notes)
    if len(found.entities) > 1:
        return _State(standalone, found, found.entities)
    if meant:
        own = [e for e in found.entities if e.lower() not in {m.lower() for m in meant}
               and not any(e.lower() in m.lower() for m in meant)]
        if own and (_COMPARATIVE.search(standalone) or re.search(r"\b(?:than|differ\w*|compar\w*)\b", standalone)):
            # "is avro better than parquet?": avro now, and parquet the other side
            return _State(standalone, found, tuple(dict.fromkeys((*own, *meant))))
        # "how do I detect data drift and concept drift?": still the same things
        span = found.span if found.entities and found.entities[0] in meant else None
        return _State(standalone, Topic(meant, span, found.phrases), state.pool if len(meant) == 1 else meant)
    pool = state.pool
    if found.entities and len(state.topic.entities) == 1 and found.entities != state.topic.entities:
        pool = pool if any(found.entities[0].lower() == p.lower() for p in pool) else ()
    return _State(standalone, found if found.entities else state.topic, pool)


def _lead(text: str) -> tuple[str, bool, bool]:
    """The question without its opening words, whether it had any, and whether they made it an ellipsis.

    "and", "ok so" are dropped; "what about ...", "same for ..." make an ellipsis, and "what if ..."
    a condition on the last question.
    """
    connector = _CONNECTOR.match(text)
    body = text[connector.end():] if connector else text
    marker = _ELLIPSIS.match(body)
    if marker:
        return body[marker.end():], bool(connector), True
    what_if = _WHAT_IF.match(body)
    if what_if:
        return "if " + body[what_if.end():], bool(connector), True
    return body, bool(connector), False


def _bare_question_word(words: Sequence[Span]) -> bool:
    """"why?", "how come?", "how exactly?": a question word asking about the last question."""
    return len(words) <= 2 and all(_low(w.text) in _WH | {"come", "so", "not", "exactly"} for w in words)


def _elliptic(body: str, words: Sequence[Span], connector: bool, marker: bool, notes: _Notes | None) -> bool:
    """Whether a question is a fragment to complete from the last one.

    It opened with "what about", is a condition or a bare phrase after a preposition ("and for
    batch?"), or has no predicate of its own and opened with "and" or is a few words long ("any
    downsides?").
    """
    if marker or _is_condition(words) or _low(words[0].text) in _PREP:
        return True
    if _bare_question_word(words):
        return True
    return (connector or len(words) <= 3) and not _is_clause(body, notes)


def _resolve_turn(question: str, state: _State | None, notes: _Notes | None) -> tuple[Resolution, _State]:
    """One question resolved against the state the earlier turns left; and the state after it."""
    text = " ".join(question.split())
    if state is None:
        found = _topic(text, notes)
        return Resolution(question, text, False, found.entities), _State(
            text, found, found.entities if len(found.entities) > 1 else ())
    shift = _SHIFT.match(text)
    if shift and _is_clause(text[shift.end():], notes):  # "unrelated, but what does X do?": a new subject
        body = text[shift.end():]
        nxt = _next_state(body, _State(), notes)
        return Resolution(question, body, False, nxt.topic.entities), nxt
    body, connector, marker = _lead(text)
    dislocated = _dislocated(body, notes)
    if dislocated:  # "data wrangler, is it no-code?" is "is data wrangler no-code?"
        body, marker = dislocated, False
    words = _words(body)
    if not words:
        return Resolution(question, text, False, state.topic.entities), state
    if _MORE.match(body) and state.topic.entities:  # "tell me more" -> "tell me more about X"
        standalone = f"{_strip_end(body)} about {_join(state.topic.entities)}?"
        return Resolution(question, standalone, True, state.topic.entities), replace(state, text=standalone)
    if _elliptic(body, words, connector, marker, notes):
        meant: tuple[str, ...] = ()
        if not _is_condition(words):  # a condition keeps its pronoun: it follows the question it refers to
            body, _, meant = _substitute(body, state, notes)
        if _is_condition(words) or _bare_question_word(words) or not _is_clause(body, notes):
            standalone, new = _ellipsis(body, state, notes)
            nxt = _next_state(standalone, state, notes, new=new)
        else:  # "and bayesian optimization, how does that one work?" needed only its reference
            standalone, nxt = body, _next_state(body, state, notes, meant)
        return Resolution(question, standalone, True, nxt.topic.entities), nxt
    standalone, substituted, meant = _substitute(body, state, notes)
    if not substituted:
        standalone, substituted, meant = _which(body, state)
    completed = False
    if not substituted:
        standalone, completed = _complete_comparison(body, state, notes)
    if not (substituted or completed or dislocated):  # a question of its own: a topic shift, or a new one
        nxt = _next_state(body, state, notes)
        return Resolution(question, text, False, nxt.topic.entities), nxt
    nxt = _next_state(standalone, state, notes, meant)
    return Resolution(question, standalone, True, nxt.topic.entities), nxt


def _turns(history: Sequence[Mapping[str, str]] | None) -> list[tuple[str, str]]:
    """The history's questions, each with the answer that followed it ("" when none did)."""
    out: list[list[str]] = []
    for message in history or []:
        content = message.get("content") or ""
        if message.get("role") == "user" and content.strip():
            out.append([content, ""])
        elif message.get("role") == "assistant" and out and not out[-1][1]:
            out[-1][1] = content
    return [(q, a) for q, a in out]


def _asks_which(question: str) -> bool:
    """"which service should I use for X?", "what tool does Y?", "what should I use for Z?": asks for a thing."""
    words = [_low(w.text) for w in _words(question)]
    if len(words) < 2:
        return False
    return words[0] == "which" or (words[0] == "what" and (not _is_boundary(words[1]) or (
        words[1] in {"should", "do", "can", "could", "would"} and "use" in words[2:5])))


def _named(answer: str) -> str:
    """The first thing a (cited) answer is led by: "- **Amazon Kinesis:** ... [2]" names Amazon Kinesis.

    A label ("Description", "Use Cases") is passed over; an answer without citations (the "not
    covered" message, a model's refusal) names nothing.
    """
    for line in answer.splitlines():
        lead = re.search(r"\*\*(.+?)\*\*", line)
        if not lead or not re.search(r"\[\d+", line):
            continue
        name = re.sub(r"^\d+\.\s*", "", lead.group(1).strip(" :")).split(" — ")[0].strip(" :")
        if name and {_low(w.text) for w in _words(name)} - _LABEL:
            return name
    return ""


def resolve(question: str, history: Sequence[Mapping[str, str]] | None, notes: Lexicon | None = None) -> Resolution:
    """A question made standalone against the conversation (see the module docstring).

    The earlier user turns are resolved in order first, so "and the other one?" two turns after a
    comparison still knows its sides.

    Args:
        question: As the student typed it.
        history: Earlier messages (``role``/``content``), oldest first.
        notes: What the notes contain (`gate.Vocabulary`): keeps names whole and picks the most
            specific phrase as a question's subject. Without it the rules still apply, a little cruder.
    """
    lookups = _Notes(notes) if notes is not None else None
    state: _State | None = None
    for asked, answered in _turns(history):
        resolution, state = _resolve_turn(asked, state, lookups)
        # "which service for streaming?" - "is it expensive?": "it" is what the answer named
        state = replace(state, named=_named(answered) if _asks_which(resolution.standalone) else "")
    return _resolve_turn(question, state, lookups)[0]


def is_follow_up(question: str, history: Sequence[Mapping[str, str]] | None, notes: Lexicon | None = None) -> bool:
    """Whether a question needs the conversation to be understood."""
    return resolve(question, history, notes).follow_up


def rewrite(question: str, history: Sequence[Mapping[str, str]] | None, notes: Lexicon | None = None) -> str:
    """The question made standalone (unchanged if it is not a follow-up)."""
    return resolve(question, history, notes).standalone
