"""A practice-question verdict as a cited answer (markdown with ``[n]`` markers), for chat and the CLI."""

from __future__ import annotations

from assistant.study.checker import PracticeResult


def _quote(text: str, limit: int = 40) -> str:
    words = " ".join(text.split()).split(" ")
    return " ".join(words[:limit]) + (" …" if len(words) > limit else "")


def practice_text(result: PracticeResult) -> str:
    """The verdict: the pick (or why the notes can't decide), then each option with the line it rests on.

    Markers follow `PracticeResult.citations` (the picked options' lines first).
    """
    numbers = {c.quote: c.n for c in result.citations}
    options = result.question.options
    if result.pick:
        picked = " and ".join(f"{letter}. {options[letter]}" for letter in result.pick)
        lines = [f"**Your notes point to {picked}.**", ""]
    else:
        lines = [f"**Your notes can't decide this one:** {result.reason}.", ""]
    for verdict in result.ranked():
        head = f"- **{verdict.letter}. {verdict.text}:**"
        if verdict.citation is None:
            lines.append(f"{head} your notes don't name it.")
            continue
        marker = f" [{numbers[verdict.citation.quote]}]" if verdict.citation.quote in numbers else ""
        states = f" (states: {', '.join(verdict.matched)})" if verdict.matched else ""
        if verdict.letter in result.pick:
            lines.append(f"{head} {_quote(verdict.citation.quote)}{marker}{states}")
        else:
            why = "weaker" if result.pick else "closest line"
            lines.append(f"{head} {why}: {_quote(verdict.citation.quote)}{marker}{states}")
    return "\n".join(lines)
