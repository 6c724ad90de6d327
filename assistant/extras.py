"""Optional parts and the pip extras that install them.

The default path (extractive backend, the app, ``ask``/``search``/``ingest``/``status``) imports
none of these packages. Each optional part checks for its packages when it is chosen, so a missing
one is a one-line message naming the extra to install, never an ImportError traceback.

Extras (pyproject.toml) and what uses them:

- ``bedrock``: boto3, langchain-aws. The bedrock backend; ``assistant eval --judge bedrock``.
- ``openai``: openai. The openai backend (the openai judge comes with ``eval``).
- ``llamacpp``: llama-cpp-python. The llamacpp backend.
- ``eval``: ragas (pinned with langchain-community), rouge-score, rapidfuzz, matplotlib. A real
  ``assistant eval`` run; ``--dry-run`` and ``eval compare`` need none of it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from assistant.errors import MissingExtraError

# packages (import names) each extra provides, as the code imports them
BEDROCK = ("boto3", "botocore")
OPENAI = ("openai",)
LLAMACPP = ("llama_cpp",)
RAGAS = ("ragas", "langchain_community")  # ragas imports langchain-community when it is imported
NON_LLM = ("rouge_score", "rapidfuzz")  # ragas' LLM-free metrics import these on first use
CHART = ("matplotlib",)
JUDGES = {"openai": {"eval": ("langchain_openai",)},  # comes with ragas
          "bedrock": {"bedrock": ("langchain_aws", *BEDROCK)}}
# llama-cpp-python compiles llama.cpp when installed; this makes a build that runs on any x86-64 CPU
BUILD_ENV = {"llamacpp": 'CMAKE_ARGS="-DGGML_NATIVE=OFF" '}


def importable(module: str) -> bool:
    """Whether ``import module`` would find it, without importing it (cheap: no package code runs)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module in sys.modules without a spec
        return False


def missing(modules: tuple[str, ...] | list[str]) -> list[str]:
    """The modules of ``modules`` that cannot be imported."""
    return [m for m in modules if not importable(m)]


def install_command(extra: str) -> str:
    """The command that installs an extra into the environment running now, e.g. ``.venv/bin/pip install -e '.[eval]'``.

    The pip and the project folder are those of this process, shown relative to the current folder when
    they are inside it, so the command is right whichever folder the user runs it from.
    """
    here = Path.cwd()
    python = Path(sys.executable)
    pip = python.with_name("pip")
    tool = _shown(pip, here) if pip.is_file() else f"{_shown(python, here)} -m pip"
    root = Path(__file__).resolve().parent.parent
    project = "." if not (root / "pyproject.toml").is_file() or root == here.resolve() else _shown(root, here)
    build = "".join(BUILD_ENV.get(name, "") for name in extra.split(","))
    return f"{build}{tool} install -e '{project}[{extra}]'"


def _shown(path: Path, here: Path) -> str:
    """``path`` relative to ``here`` when inside it (not resolved: a venv's python is a symlink)."""
    try:
        return str(path.relative_to(here))
    except ValueError:
        return os.fspath(path)


def problem(what: str, extra: str, modules: tuple[str, ...] | list[str]) -> str | None:
    """The one-line message for a part whose packages are missing, or None when all import.

    Args:
        what: The part and what it needs, e.g. "The bedrock backend needs the AWS SDK".
        extra: The extra(s) that install them, e.g. ``bedrock`` or ``eval,bedrock``.
        modules: Import names to look for.
    """
    gone = missing(modules)
    if not gone:
        return None
    return f"{what} ({', '.join(gone)} not installed): {install_command(extra)}"


def require(what: str, extra: str, modules: tuple[str, ...] | list[str],
            error: type[MissingExtraError] = MissingExtraError) -> None:
    """Raise ``error`` naming the extra when any of ``modules`` cannot be imported (see `problem`)."""
    message = problem(what, extra, modules)
    if message:
        raise error(message, extra)


def import_error(what: str, extra: str, exc: ImportError,
                 error: type[MissingExtraError] = MissingExtraError) -> MissingExtraError:
    """An ImportError met while importing an optional part, as the error naming its extra.

    For import sites reached without a `require` first, or where the package is there but one of its
    own dependencies is not.
    """
    name = exc.name or str(exc)
    return error(f"{what} ({name} not installed): {install_command(extra)}", extra)


def require_eval(llm_free: bool, judge: str | None) -> None:
    """Check everything a real `assistant eval` run will import, before anything runs.

    A missing package found only when its metric is built, or when the chart is drawn after every
    question was answered, would waste the run; this names every extra still to install at once.

    Args:
        llm_free: ragas' LLM-free metrics will run (no ``--no-ragas``).
        judge: The ``--judge`` name, or None.

    Raises:
        MissingExtraError: Something is not installed; the message names the extra(s), e.g. ``eval,bedrock``.
    """
    needs: dict[str, list[str]] = {"eval": [*CHART]}
    if llm_free or judge:
        needs["eval"] += RAGAS
    if llm_free:
        needs["eval"] += NON_LLM
    for extra, modules in JUDGES.get(judge or "", {}).items():
        needs.setdefault(extra, []).extend(modules)
    gone = {extra: missing(modules) for extra, modules in needs.items()}
    extras = ",".join(extra for extra, names in gone.items() if names)
    if extras:
        names = ", ".join(name for names in gone.values() for name in names)
        command = "assistant eval" + (f" --judge {judge}" if judge else "")
        raise MissingExtraError(f"{command} needs the evaluation packages ({names} not installed): "
                                f"{install_command(extras)}", extras)
