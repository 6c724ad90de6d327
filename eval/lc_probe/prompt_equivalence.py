"""Does `prompting.build_messages` (plain str.format) fill our templates exactly as ChatPromptTemplate does?

Every shipped template, filled with windows of the real notes (and values full of braces, which must stay
data), through both; prints how many message lists differ and the per-fill cost of each.

    /work/main/.venv/bin/python eval/lc_probe/prompt_equivalence.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from assistant.answer.prompting import CONDENSE, available_prompts, build_messages, load_prompt  # noqa: E402


def with_langchain(template, **values: str) -> list[dict[str, str]]:
    """How the assistant filled templates before (langchain_core's ChatPromptTemplate)."""
    from langchain_core.prompts import ChatPromptTemplate

    prompt = ChatPromptTemplate.from_messages([("system", template.system), ("human", template.user)])
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    return [{"role": roles[m.type], "content": str(m.content)} for m in prompt.format_messages(**values)]


def main() -> None:
    notes = next((Path(__file__).resolve().parents[2] / "corpus").glob("*.md")).read_text(encoding="utf-8")
    windows = [notes[i:i + 2000] for i in range(0, len(notes), 997)]
    tricky = ["{context}", "{{question}}", "{0} {} {!r}", "def f(x): return {'a': x}", "${HOME} %s {{{", "}"]
    values = windows + tricky
    fills = differ = 0
    t_lc = t_plain = 0.0
    for name in [*available_prompts(), CONDENSE]:
        template = load_prompt(name)
        for i, value in enumerate(values):
            other = values[(i + 7) % len(values)]
            kwargs = {"history": value, "question": other} if name == CONDENSE else {"context": value,
                                                                                      "question": other}
            t0 = time.perf_counter()
            a = with_langchain(template, **kwargs)
            t1 = time.perf_counter()
            b = build_messages(template, **kwargs)
            t2 = time.perf_counter()
            if fills:  # the first call pays langchain_core's import
                t_lc += t1 - t0
                t_plain += t2 - t1
            fills += 1
            differ += a != b
    print(f"templates: {[*available_prompts(), CONDENSE]}; fills: {fills}; differing message lists: {differ}")
    n = fills - 1
    print(f"per fill: ChatPromptTemplate {t_lc / n * 1e6:.1f} us, str.format {t_plain / n * 1e6:.1f} us")


if __name__ == "__main__":
    main()
