"""Pure follow-up handling: spot a question that leans on the conversation, and make it standalone.

Only follow-ups are rewritten: "and how do I detect it?" after "explain concept drift vs data
drift" becomes "how do I detect concept drift vs data drift?", while a question with its own
subject goes to retrieval untouched. LLM backends rewrite with the condense prompt; this rule is
what the extractive backend uses, and the fallback when an LLM's rewrite is unusable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from assistant import tuning
from assistant.text.words import tokens

# whole words only: "one-hot" and "it-ops" are not pronouns
_PRONOUN = re.compile(r"(?<![\w-])(it|its|it's|this|that|these|those|they|them|their|theirs|the former|the latter)"
                      r"(?![\w-])", re.I)
_CONNECTOR = re.compile(r"^\s*(?:and|but|so|also|then|ok(?:ay)?,?\s+(?:and|so)?|what about|how about|and what about|"
                        r"same for|what if)\b[\s,]*", re.I)
_LEAD = re.compile(
    r"^(?:(?:can you|could you|please|pls)\s+)*(?:explain|describe|define|compare|contrast|tell me about|"
    r"what(?:'s| is| are)(?: the)?(?: difference between)?|whats|how (?:do|does|can|should) (?:i|you|we)|"
    r"when (?:do|should) i use|should i use|do i use|difference between)\s+",
    re.I,
)


def _user_turns(history: Sequence[Mapping[str, str]]) -> list[str]:
    return [m.get("content") or "" for m in history if m.get("role") == "user" and (m.get("content") or "").strip()]


def is_follow_up(question: str, history: Sequence[Mapping[str, str]] | None) -> bool:
    """Whether a question needs the conversation to be understood.

    True with history, at most two topic words of its own, and either a leading connector ("and
    ...", "what about label drift?") or a pronoun ("how do I detect it?"). A question with a
    subject of its own ("Why is XGBoost popular?") is never a follow-up.
    """
    if not history or not _user_turns(history):
        return False
    own = [w for w in tokens(question) if not _PRONOUN.fullmatch(w)]
    if len(own) > tuning.FOLLOW_UP_OWN_WORDS:
        return False
    return bool(_CONNECTOR.match(question) or _PRONOUN.search(question))


def subject(question: str) -> str:
    """The topic of a question: its words without the asking phrase or the question mark."""
    text = " ".join(question.split())
    text = _LEAD.sub("", text)
    text = re.sub(r"^(?:the|a|an)\s+", "", text, flags=re.I)
    return re.sub(r"[\s?!.]+$", "", text)


def current_topic(history: Sequence[Mapping[str, str]]) -> str:
    """The subject the conversation is on: that of the last user question that had its own."""
    topic = ""
    turns = _user_turns(history)
    for n, turn in enumerate(turns):
        earlier = [{"role": "user", "content": t} for t in turns[:n]]
        if not topic or not is_follow_up(turn, earlier):
            topic = subject(turn)
    return topic


def rewrite(question: str, history: Sequence[Mapping[str, str]] | None) -> str:
    """The question made standalone by carrying the conversation's subject (unchanged if not a follow-up).

    The subject is that of the last user question that had its own (see `current_topic`). A
    pronoun is replaced by it; otherwise ("what about label drift?") it is added as context.
    """
    if not is_follow_up(question, history):
        return question
    topic = current_topic(history or [])
    if not topic:
        return question
    body = _CONNECTOR.sub("", question).strip() or question.strip()
    if _PRONOUN.search(body):
        replaced = _PRONOUN.sub(topic, body, count=1)
        return replaced[:1].upper() + replaced[1:]
    body = re.sub(r"[\s?!.]+$", "", body)
    # "vs" in the carried topic would make the new question look like a comparison of its own
    context = re.sub(r"\s+(?:vs\.?|versus|v\.)\s+", " and ", topic, flags=re.I)
    return f"{body[:1].upper() + body[1:]} (about {context})?"
