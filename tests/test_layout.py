"""The package is laid out along the flow, and imports point down it (lazy imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "assistant"

# Bottom to top: a module may import its own package and anything on a lower line, nothing above.
LAYERS = [
    ("errors",),
    ("schema", "tuning", "config", "extras"),
    ("text",),
    ("sources", "embedding"),
    ("store",),
    ("ingest",),
    ("retrieval",),
    ("backends",),
    ("answer",),
    ("study",),
    ("evaluation", "ui"),
    ("core",),
    ("cli_study",),
    ("cli", "__init__"),
]
LEVEL = {name: n for n, names in enumerate(LAYERS) for name in names}


def part(module: str) -> str:
    """The top-level part of ``assistant`` a dotted module name belongs to."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(relative.parts).removesuffix(".__init__")
        found.append((name, path))
    return found


def imported(path: Path, name: str) -> list[tuple[int, str]]:
    """Every ``assistant`` module a file imports, anywhere in it, with the line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "assistant"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.split(".")[0] != "assistant":
                continue
            if target == "assistant":  # `from assistant import x`: x is a module or a name of the package
                out += [(node.lineno, f"assistant.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, target))
    return out


def test_every_part_has_a_layer():
    parts = {part(name) for name, _ in modules()}
    assert parts <= set(LEVEL), f"place these in LAYERS: {sorted(parts - set(LEVEL))}"


@pytest.mark.parametrize("name,path", modules(), ids=[n for n, _ in modules()])
def test_imports_point_down_the_flow(name, path):
    own = part(name)
    upward = [f"line {line}: {target}" for line, target in imported(path, name)
              if part(target) != own and LEVEL.get(part(target), -1) >= LEVEL[own]]
    assert not upward, f"{name} ({own}) imports from its own level or above: {upward}"


def test_every_package_says_what_it_owns():
    for init in PACKAGE.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc) > 40, f"{init.relative_to(PACKAGE.parent)} needs a docstring saying what it owns"


def test_the_check_sees_an_upward_import(tmp_path):
    """The walk finds lazy imports inside functions (the kind that slipped upward before)."""
    module = tmp_path / "chunking.py"
    module.write_text("def f():\n    from assistant.answer.chain import run\n    return run\n")
    assert imported(module, "assistant.ingest.chunking") == [(2, "assistant.answer.chain")]


def test_the_answer_path_imports_no_langchain():
    """langchain is for the ragas judge only (docs/decisions/0005-llm-clients.md): filling prompts and
    reaching any backend must not pay its ~0.5-0.9 s import."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from assistant.answer import chain, composers, compose\n"
            "from assistant.answer.prompting import build_messages, load_prompt\n"
            "import assistant.backends.bedrock, assistant.backends.openai_compat, assistant.backends.llamacpp\n"
            "build_messages(load_prompt('default'), context='[1] notes {x}', question='q?')\n"
            "print(sorted(m for m in sys.modules if m.startswith(('langchain', 'langsmith'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent)
    assert out.stdout.strip() == "[]", out.stdout
