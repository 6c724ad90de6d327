"""Optional parts without their pip extra: one line naming the extra, from every entry point.

A missing package is faked with ``sys.modules[name] = None``, which makes ``import name`` raise
ImportError (and ``importlib.util.find_spec(name)`` return None) as if it were not installed.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from conftest import write_notes
from test_cli import NOTES, one_error_line, run

from assistant.answer.composers import availability
from assistant.backends import create_backend
from assistant.backends.llamacpp import LlamaCppBackend
from assistant.backends.openai_compat import OpenAICompatibleBackend
from assistant.config import Settings
from assistant.errors import BackendConfigError, BackendMissingExtraError, MissingExtraError
from assistant.extras import install_command

REPO = Path(__file__).resolve().parents[1]


def hide(monkeypatch, *modules: str) -> None:
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


def names_extra(message: str, extra: str) -> None:
    assert "install -e '" in message and f"[{extra}]'" in message, message
    assert "\n" not in message


@pytest.mark.parametrize(("backend", "module", "settings"), [
    ("bedrock", "boto3", Settings(bedrock_region="us-east-1")),
    ("openai", "openai", Settings(openai_base_url="http://127.0.0.1:9/v1", openai_model="m")),
    ("llamacpp", "llama_cpp", Settings(gguf=Path("/nonexistent/model.gguf"))),
])
def test_backend_without_its_extra_names_it_when_chosen_and_in_availability(monkeypatch, backend, module, settings):
    hide(monkeypatch, module)
    with pytest.raises(BackendMissingExtraError) as caught:
        create_backend(backend, settings)
    error = caught.value
    assert isinstance(error, BackendConfigError) and error.extra == backend and error.partial == ""
    names_extra(str(error), backend)
    assert f"The {backend} backend needs" in str(error) and f"{module} not installed" in str(error)
    assert availability(settings)[backend] == (False, str(error))
    assert availability(settings)["extractive"] == (True, "ready")


def test_backends_built_directly_report_the_extra_on_first_use(monkeypatch, tmp_path):
    from assistant.backends.base import GenerationRequest
    from assistant.backends.bedrock import BedrockBackend

    hide(monkeypatch, "boto3", "openai", "llama_cpp")
    request = GenerationRequest(messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(BackendMissingExtraError, match=r"\[bedrock\]"):
        BedrockBackend("amazon.nova-lite-v1:0", "us-east-1").complete(request)
    with pytest.raises(BackendMissingExtraError, match=r"\[openai\]"):
        list(OpenAICompatibleBackend("http://127.0.0.1:9/v1", "m").stream(request))
    with pytest.raises(BackendMissingExtraError, match=r"CMAKE_ARGS=.*\[llamacpp\]"):
        LlamaCppBackend(tmp_path / "model.gguf").model()


def test_cli_ask_with_a_backend_not_installed_is_one_line(monkeypatch, tmp_path):
    write_notes(tmp_path / "corpus", NOTES)
    assert run(tmp_path, "ingest", "--quiet").exit_code == 0
    hide(monkeypatch, "boto3")
    line = one_error_line(run(tmp_path, "ask", "what is data drift?", "--backend", "bedrock"))
    assert line.startswith("Error: The bedrock backend needs the AWS SDK (boto3 not installed): ")
    names_extra(line, "bedrock")


@pytest.mark.parametrize(("args", "hidden", "extra"), [
    ((), ("ragas",), "eval"),
    ((), ("rouge_score",), "eval"),
    (("--no-ragas",), ("matplotlib",), "eval"),
    (("--no-ragas", "--judge", "openai"), ("ragas",), "eval"),
    (("--judge", "bedrock"), ("langchain_aws",), "bedrock"),
    (("--judge", "bedrock"), ("ragas", "langchain_aws"), "eval,bedrock"),
])
def test_eval_without_its_extra_stops_before_anything_runs(monkeypatch, tmp_path, args, hidden, extra):
    hide(monkeypatch, *hidden)
    out = tmp_path / "reports"
    line = one_error_line(run(tmp_path, "eval", *args, "--out", str(out)))
    names_extra(line, extra)
    assert all(name in line for name in hidden)
    assert not out.exists()


def test_eval_help_and_dry_run_need_no_extra(monkeypatch, tmp_path):
    hide(monkeypatch, "ragas", "matplotlib", "rouge_score", "rapidfuzz", "langchain_aws")
    assert run(tmp_path, "eval", "--help").exit_code == 0
    write_notes(tmp_path / "corpus", NOTES)
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "s", "question": "what hydration should my sourdough have?", "reference": "r", '
                    '"evidence": [], "answerable": false}\n', encoding="utf-8")
    result = run(tmp_path, "eval", "--dry-run", "--gold", str(gold))
    assert result.exit_code == 0, result.output
    assert "Dry run: nothing was called." in result.output


def test_eval_parts_used_directly_name_the_extra(monkeypatch, tmp_path):
    from assistant.evaluation.ragas_metrics import JudgeScorer, NonLLMScorer, judge_model
    from assistant.evaluation.report import chart

    hide(monkeypatch, "ragas", "matplotlib", "langchain_aws")
    for build in (lambda: NonLLMScorer(lambda texts: []), lambda: JudgeScorer(object(), lambda texts: []),
                  lambda: chart([], tmp_path / "chart.png")):
        with pytest.raises(MissingExtraError) as caught:
            build()
        assert caught.value.extra == "eval"
        names_extra(str(caught.value), "eval")
    with pytest.raises(MissingExtraError, match=r"\[bedrock\]"):
        judge_model("bedrock", Settings(bedrock_region="us-east-1"))


def test_install_command_is_for_this_environment_and_this_checkout(monkeypatch, tmp_path):
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "pip").write_text("")
    monkeypatch.setattr(sys, "executable", str(tmp_path / ".venv" / "bin" / "python"))
    monkeypatch.chdir(tmp_path)
    assert install_command("eval") == f".venv/bin/pip install -e '{REPO}[eval]'"
    monkeypatch.chdir(REPO)
    assert install_command("bedrock") == f"{tmp_path}/.venv/bin/pip install -e '.[bedrock]'"
    (tmp_path / ".venv" / "bin" / "pip").unlink()  # no pip script (e.g. Windows): the same python's pip
    assert install_command("openai") == f"{tmp_path}/.venv/bin/python -m pip install -e '.[openai]'"


def test_dev_installs_every_extra():
    """dev lists every other extra's requirements itself (a self-reference made pip 23.2 backtrack for ages)."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert set(extras) == {"bedrock", "openai", "llamacpp", "eval", "dev"}
    for name, requirements in extras.items():
        assert set(requirements) <= set(extras["dev"]), name
