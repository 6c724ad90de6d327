"""Pure prompt building: templates from files, numbered passages, chat messages, context budget.

Templates live in ``assistant/answer/prompts/<name>.md``: a ``description:`` line, optionally
``max_words:``, then ``=== system ===`` and ``=== user ===`` sections with ``{context}``,
``{question}`` and, for condensing, ``{history}``. The evaluation compares them by name.

Filling them is ``str.format``: the same messages as langchain_core's ChatPromptTemplate on every
shipped template (``eval/lc_probe/prompt_equivalence.py``: 309 fills, none differ) without its
~0.5 s import on every question to an LLM (docs/decisions/0005-llm-clients.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources

from assistant.errors import ConfigError
from assistant.schema import RetrievedChunk

CONDENSE = "condense"
#: what a template's ``passages:`` line accepts (see `PromptTemplate.passages`)
PASSAGE_MODES = ("whole", "lines")
_SECTION = re.compile(r"^=== (system|user) ===\s*$", re.M)


@dataclass(frozen=True)
class PromptTemplate:
    """A named prompt: system and user message templates.

    Attributes:
        name: File stem (``default``, ``short-answers``).
        description: One line saying what the template is for.
        system: System message template.
        user: User message template.
        max_words: Longest answer the template asks for (a ``max_words:`` line); the extractive
            backend, which writes no prose, keeps its quotes within it.
        passages: What an LLM is shown of each passage (a ``passages:`` line): ``whole`` passages,
            or only the ``lines`` the extractive selection picks for the question (with their
            heading and place): a short prompt a small model follows and answers sooner.
    """

    name: str
    description: str
    system: str
    user: str
    max_words: int = 150
    passages: str = "whole"


def parse_prompt(name: str, text: str) -> PromptTemplate:
    """Read a template file's text.

    Raises:
        ConfigError: The file lacks a system or user section.
    """
    parts = _SECTION.split(text)
    head, sections = parts[0], dict(zip(parts[1::2], (p.strip() for p in parts[2::2]), strict=True))
    if set(sections) != {"system", "user"}:
        raise ConfigError(f"Prompt {name!r} needs '=== system ===' and '=== user ===' sections.")
    match = re.search(r"^description:\s*(.+)$", head, re.M)
    words = re.search(r"^max_words:\s*(\d+)\s*$", head, re.M)
    shown = re.search(r"^passages:\s*(\S+)\s*$", head, re.M)
    passages = shown.group(1).lower() if shown else "whole"
    if passages not in PASSAGE_MODES:
        raise ConfigError(f"Prompt {name!r}: 'passages: {passages}' is not one of {', '.join(PASSAGE_MODES)}.")
    return PromptTemplate(name, match.group(1).strip() if match else "", sections["system"], sections["user"],
                          int(words.group(1)) if words else 150, passages)


def available_prompts() -> list[str]:
    """Names of the answer templates shipped in ``assistant/prompts`` (the condense one excluded)."""
    folder = resources.files("assistant.answer").joinpath("prompts")
    return sorted(p.name[:-3] for p in folder.iterdir() if p.name.endswith(".md") and p.name[:-3] != CONDENSE)


def load_prompt(name: str) -> PromptTemplate:
    """Load a template by name.

    Raises:
        ConfigError: No such template; the message lists the available ones.
    """
    key = (name or "").strip().lower()
    path = resources.files("assistant.answer").joinpath("prompts").joinpath(f"{key}.md")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", key) or not path.is_file():
        raise ConfigError(f"Unknown prompt {name!r}; available: {', '.join(available_prompts())}.")
    return parse_prompt(key, path.read_text(encoding="utf-8"))


def format_passage(n: int, chunk: RetrievedChunk, text: str | None = None) -> str:
    """One numbered passage: ``[n] heading path (file, lines a-b)`` then its text, fenced as data.

    A PDF's or notebook's passage names its page or cell: ``(slides.pdf, page 3, lines 4-9)``.
    """
    label = chunk.heading or chunk.source
    body = chunk.text if text is None else text
    return f"[{n}] {label} ({chunk.place()})\n<<<\n{body.strip()}\n>>>"


def format_context(contexts: Sequence[RetrievedChunk], texts: Sequence[str] | None = None) -> str:
    """The numbered passages ``[1]..[n]`` joined for a prompt (``texts``: what to show of each)."""
    return "\n\n".join(format_passage(n, c, texts[n - 1] if texts else None) for n, c in enumerate(contexts, 1))


def format_history(history: Sequence[dict[str, str]], turns: int = 3) -> str:
    """The last ``turns`` exchanges as ``Student:`` / ``Assistant:`` lines (citations stripped)."""
    lines = []
    for message in list(history)[-2 * turns:]:
        who = "Student" if message.get("role") == "user" else "Assistant"
        content = re.sub(r"\s*\[\d+(?:[,\s\-–]+\d+)*\]", "", message.get("content", ""))
        lines.append(f"{who}: {' '.join(content.split())[:600]}")
    return "\n".join(lines)


def build_messages(template: PromptTemplate, **values: str) -> list[dict[str, str]]:
    """Fill a template into chat messages (``role``/``content`` dicts).

    Values are inserted as data: braces inside them (code in the notes) are not template syntax
    (``str.format`` parses only the template); ``{{`` and ``}}`` in a template are literal braces.
    """
    return [{"role": "system", "content": template.system.format(**values)},
            {"role": "user", "content": template.user.format(**values)}]


def fit_contexts(
    contexts: Sequence[RetrievedChunk], template: PromptTemplate, question: str,
    budget: int, count: Callable[[list[dict[str, str]]], int],
) -> tuple[list[RetrievedChunk], list[dict[str, str]]]:
    """Drop the lowest-ranked passages until the prompt fits in ``budget`` tokens.

    The best passage is kept even alone, cut to fit if it must be.

    Args:
        contexts: Passages, best first.
        template: The answer template.
        question: The standalone question.
        budget: Tokens the prompt may use (context window minus the answer's allowance).
        count: Token counter for chat messages.

    Returns:
        The passages kept (still numbered from 1 in this order) and the filled messages.
    """
    kept = list(contexts)
    while True:
        messages = build_messages(template, context=format_context(kept), question=question)
        if budget <= 0 or count(messages) <= budget or len(kept) <= 1:
            break
        kept.pop()
    if kept and budget > 0 and count(messages) > budget:
        text = kept[0].text
        while len(text) > 200 and count(messages) > budget:
            text = text[: int(len(text) * 0.8)]
            context = format_passage(1, kept[0], text + " …")
            messages = build_messages(template, context=context, question=question)
    return kept, messages
