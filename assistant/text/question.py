"""Pure question analysis: comparison detection ("X vs Y") and keyword tokens for BM25."""

from __future__ import annotations

import re

from assistant.text.words import tokens

_LEAD = re.compile(
    r"^(?:(?:can you|could you|please|pls|hey|so|ok|okay)\s+)*"
    r"(?:explain|describe|compare|contrast|define|tell me about|what(?:'s| is| are)|whats|"
    r"how (?:do|does|is|are)|how's|hows|when (?:do|should) i use|should i use|do i use|difference between|"
    r"differences between|the difference between)\s+",
    re.I,
)


_TAIL = re.compile(
    r"[\s,;:?!.]*(?:(?:what(?:'s| is| are)|which(?: one)?|how do they|how are they)\b.*"
    r"|(?:differ|different|compared?|the difference|the differences)\b.*)?$",
    re.I,
)


_PATTERNS = [
    re.compile(r"(?:differences?|distinguish(?:ing)?|differ(?:s|ence)?)\s+(?:between\s+)?"
               r"(?P<a>.+?)\s+(?:and|from|vs\.?|versus)\s+(?P<b>.+)", re.I),
    re.compile(r"(?P<a>.+?)\s+(?:vs\.?|versus|v\.)\s+(?P<b>.+)", re.I),
    re.compile(r"compar(?:e|ing)\s+(?P<a>.+?)\s+(?:and|with|to|against)\s+(?P<b>.+)", re.I),
    re.compile(r"(?P<a>.+?)\s+compared (?:to|with)\s+(?P<b>.+)", re.I),
    # "how does X differ from Y", "how is X different from Y", "how does X compare to Y"
    re.compile(r"(?P<a>[^?]+?)\s+(?:differs?|(?:very\s+)?different|compares?)\s+(?:from|to|with|against)\s+"
               r"(?P<b>.+)", re.I),
    # "should I use X over Y (or Z)"
    re.compile(r"(?:use|pick|choose|prefer|go with)\s+(?P<a>[^?]+?)\s+over\s+(?P<b>.+)", re.I),
    re.compile(r"(?P<a>.+?)\s+or\s+(?P<b>[^,:?]+?)\s*(?:[,:?]|\s[-–—])\s*which\b.*", re.I),
    re.compile(r"(?:which|what)\s+(?:is|one is|should i (?:use|pick|choose))\s*(?:better|best)?[\s,:]*"
               r"(?P<a>.+?)\s+or\s+(?P<b>.+)", re.I),
    re.compile(r"(?:should i (?:use|pick|choose)|do i (?:use|want|need))\s+(?P<a>.+?)\s+or\s+(?P<b>.+)", re.I),
    re.compile(r"(?P<a>.+?)\s+and\s+(?P<b>.+?)[\s,:]*"
               r"(?:what(?:'s| is) the difference|how (?:do|are) they differ).*", re.I),
    # a list ending the question: "... grid search, random search or bayesian optimization?"
    re.compile(r"(?P<a>[\w/.-]+(?:\s+[\w/.-]+){0,2}(?:,\s*[\w/.-]+(?:\s+[\w/.-]+){0,2})+),?\s+(?:or|and)\s+"
               r"(?P<b>[\w/.-]+(?:\s+[\w/.-]+){0,2})\s*[?.!]*$", re.I),
    # a choice after a colon or dash: "which storage for training data: S3 or EFS?"
    re.compile(r"(?:[:;]|\s[-–—])\s*(?:(?:is(?: it)?|are(?: they)?|should i (?:use|pick|choose)|"
               r"do i (?:use|need|want))\s+)?(?P<a>[\w/.-]+(?:\s+[\w/.-]+){0,2}?)\s+or\s+"
               r"(?P<b>[\w/.-]+(?:\s+[\w/.-]+){0,2}?)(?:\s+(?:better|best|faster|cheaper|preferred))?\s*[?.!]*$",
               re.I),
    # a question that opens with "X or Y ..." ("parquet or avro if my schema changes?")
    re.compile(r"^(?P<a>[\w/.-]+(?:\s+[\w/.-]+){0,2}?)\s+or\s+(?P<b>[\w/.-]+(?:\s+[\w/.-]+){0,2}?)"
               r"(?=\s+(?:if|for|when|to|in|on|with)\b|\s*[,:?]|\s[-–—]|$)", re.I),
]


# the question around a side: "what metrics for classification", "the pros of batch transform"
_ASKING = re.compile(
    r"^(?:(?:what|which)\s+(?:[\w'-]+\s+){0,6}(?:for|of|in|on|with|to\s+[\w-]+)\s+(?:an?\s+|the\s+)?"
    r"|(?:the\s+)?(?:pros(?:\s+and\s+cons)?|cons|advantages|disadvantages|benefits|drawbacks|trade-?offs)\s+of\s+)",
    re.I,
)


def _clean_side(text: str) -> str:
    text = _LEAD.sub("", text.strip())
    text = _ASKING.sub("", text) or text
    text = re.sub(r"^[\s\-–—,;:]+", "", text)
    text = re.sub(r"^(?:the|a|an|using|use)\s+", "", text.strip(), flags=re.I)
    text = re.sub(r"[\s,;:?!.()\"'\-–—]+$", "", text)
    return text.strip()


# Every pattern above needs one of these; most questions have none, and the patterns' lazy
# groups cost ~0.7 ms a question to try in turn.
_MAY_COMPARE = re.compile(r"differ|distinguish|compar|\b(?:vs|versus|v\.)|\sor\s|\sover\s|,", re.I)


_MORE_SIDES = re.compile(r"\s+(?:vs\.?|versus|v\.)\s+|,\s*(?:and\s+|or\s+)?|\s+or\s+", re.I)


_CLAUSE = re.compile(r"\s*[,;:]\s+|\s+[-–—]\s*|\s+(?:for|when|if|in|on|to|with)\s+"
                     # "... and Parquet as data formats": what kind of thing the sides are, not a side
                     # (but "platform as a service" is a name)
                     r"|\s+as\s+(?!an?\s)(?=(?:[\w-]+\s+){0,2}[\w-]+s\b(?:[\s?.!]*$|[\s,;:]+(?:for|when|if|in|on|to|with)?))",
                     re.I)


#: a comparison side longer than this is a piece of pasted text, not a thing compared
MAX_SIDE_WORDS = 12


def comparison_sides(question: str) -> tuple[str, ...] | None:
    """The things a comparison question contrasts, or None for other questions.

    Handles "X vs Y (vs Z)", "difference between X and Y", "compare X and Y", "X compared to
    Y", "how does X differ from Y", "how is X different from Y", "how does X compare to Y", "use X
    over Y", "X or Y: which ...", "should I use X or Y", "X, Y and Z - what's the difference",
    "..., X, Y or Z?". A one-word side borrows the others' common-noun tail ("grid vs random
    search" -> "grid search", "random search").

    Args:
        question: The student's question.

    Returns:
        Two to four non-empty sides, or None.
    """
    text = " ".join(question.split())
    if not _MAY_COMPARE.search(text):
        return None
    for pattern in _PATTERNS:
        match = pattern.search(text)
        if not match:
            continue
        head = [p for p in re.split(r",\s*", _LEAD.sub("", match.group("a"))) if p.strip()]
        tail = [p for p in _MORE_SIDES.split(_TAIL.sub("", match.group("b"))) if p and p.strip()]
        if not head or not tail:
            continue
        # "which is better for X: A or B" leaves a clause before the first side; cut it off
        head[0] = re.split(r"[:;]\s*|\s[-–—]\s*", head[0])[-1]
        sides = [_clean_side(p) for p in head] + [_clean_side(p) for p in tail]
        sides[-1] = _clean_side(_CLAUSE.split(sides[-1])[0]) or sides[-1]
        # a side of only function words ("is it" in "is it different from X?") is no side
        sides = [x for x in sides if x and tokens(x)]
        if len(sides) < 2 or len({x.lower() for x in sides}) < len(sides):
            continue
        if any(len(x.split()) > MAX_SIDE_WORDS for x in sides):
            # a pasted paragraph with a "vs" in it is not "X vs Y": its pieces would come back as headings
            return None
        sides = sides[:4]
        longest = max(sides, key=lambda x: len(x.split())).split()
        # borrow only common-noun tails ("search"), never a name's second word ("Random Forest")
        if len(longest) == 2 and longest[1].islower():
            sides = [" ".join([x, *longest[1:]]) if len(x.split()) == 1 else x for x in sides]
        return tuple(sides)
    return None


# "how do I detect data drift?": the verb after the how-to opener is the action asked for
_ACTION = re.compile(r"\bhow (?:do|can|should|would|could) (?:i|we|you|one) ([a-z]+)|\bhow to ([a-z]+)", re.I)
# verbs that carry no action of their own ("how do I use ...", "how can I get ...")
_LIGHT_VERBS = frozenset({"use", "get", "make", "do", "have", "be", "go", "know", "tell", "see", "find", "work",
                          "handle", "deal", "approach", "choose", "pick", "decide"})


def asked_action(question: str) -> str:
    """The action a how-to question asks for ("detect" in "how do I detect data drift?"), or "".

    A line that says how to do it uses the verb or one of its forms ("detects", "detection"); a
    line that only defines the subject ("Data drift: occurs when ...") does not.
    """
    found = _ACTION.search(question)
    if not found:
        return ""
    verb = (found.group(1) or found.group(2)).lower()
    return "" if verb in _LIGHT_VERBS else verb


def does_action(action: str, text: str) -> bool:
    """Whether a text uses the action as a verb: "detect", "detects", "detected", "detecting".

    The noun ("fraud detection") names a kind of thing more often than it says how to do it.
    """
    if not action:
        return False
    base = action[:-1] if action.endswith("e") else action
    forms = rf"(?:{re.escape(action)}(?:s|es|d)?|{re.escape(base)}(?:ed|ing))"
    return re.search(rf"\b{forms}\b", text, re.I) is not None
