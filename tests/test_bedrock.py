"""The Bedrock backend through an injected bedrock-runtime client.

botocore's Stubber serves Converse and its errors; a before-send hook returns real event-stream
bytes for ConverseStream (`bedrock_stream`). Nothing reaches AWS.
"""

from __future__ import annotations

import boto3
import pytest
from bedrock_stream import serve_converse, serve_stream
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError, ReadTimeoutError
from botocore.stub import Stubber
from test_answers import DRIFT, BackendContract, split_stream

from assistant.backends.base import GenerationRequest
from assistant.backends.bedrock import BedrockBackend, translate
from assistant.core import StudyAssistant
from assistant.errors import BackendConfigError, BackendError

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


def make_client():
    return boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")


ANSWER = ["**Concept drift:** the relationship between inputs and the target changes [1]. ",
          "**Data drift:** the input distribution changes over time [2][9]."]


class TestBedrockContract(BackendContract):
    backend = "bedrock"

    @pytest.fixture
    def sa(self, notes_assistant):
        client = make_client()
        serve_stream(client, ANSWER)
        sa = StudyAssistant(notes_assistant.settings, embedder=notes_assistant.embedder, client=client)
        yield sa
        sa.close()


def test_streamed_answer_is_parsed_into_checked_citations(notes_assistant):
    client, calls = make_client(), []
    serve_stream(client, ANSWER, calls=calls)
    sa = StudyAssistant(notes_assistant.settings, embedder=notes_assistant.embedder, client=client)
    events = list(sa.stream(DRIFT, backend="bedrock"))
    pieces, (answer,) = split_stream(events)
    assert "".join(pieces) == "".join(ANSWER)
    assert [c.n for c in answer.citations] == [1, 2] and answer.dropped_markers == [9]
    assert "[9]" not in answer.text
    assert (answer.tokens_in, answer.tokens_out) == (321, 45)  # as Bedrock reported them
    body = calls[0]
    assert body["inferenceConfig"] == {"maxTokens": 512, "temperature": 0.0}
    assert "[1] " in body["messages"][0]["content"][0]["text"] and body["system"][0]["text"]
    sa.close()


def test_error_midway_keeps_partial_text():
    client = make_client()
    serve_stream(client, ["Concept drift is "], error="throttlingException")
    backend = BedrockBackend(MODEL, "us-east-1", client=client)
    received = []
    with pytest.raises(BackendError, match="throttling"):
        for piece in backend.stream(GenerationRequest(messages=[{"role": "user", "content": "q"}])):
            received.append(piece)
    assert received == ["Concept drift is "]


def test_chain_error_midway_carries_partial_and_history_is_callers(notes_assistant):
    client = make_client()
    serve_stream(client, ["Concept drift is "], error="modelStreamErrorException")
    sa = StudyAssistant(notes_assistant.settings, embedder=notes_assistant.embedder, client=client)
    history = [{"role": "user", "content": "what is drift?"}, {"role": "assistant", "content": "..."}]
    before = list(history)
    with pytest.raises(BackendError) as info:
        list(sa.stream(DRIFT, history=history, backend="bedrock"))
    assert info.value.partial == "Concept drift is " and history == before
    sa.close()


def test_converse_and_throttling_retried_with_backoff():
    client = make_client()
    waits = []
    backend = BedrockBackend(MODEL, "us-east-1", client=client, sleep=waits.append)
    with Stubber(client) as stub:
        for _ in range(2):
            stub.add_client_error("converse", "ThrottlingException", "Rate exceeded", 429)
        stub.add_response("converse", {
            "output": {"message": {"role": "assistant", "content": [{"text": "Drift [1]."}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 10, "outputTokens": 3, "totalTokens": 13},
            "metrics": {"latencyMs": 5}})
        text = backend.complete(GenerationRequest(messages=[{"role": "user", "content": "q"}]))
        stub.assert_no_pending_responses()
    assert text == "Drift [1]." and waits == [0.5, 1.0]


@pytest.mark.parametrize("code, status, kind, words", [
    ("AccessDeniedException", 403, BackendConfigError, "enable model access"),
    ("ResourceNotFoundException", 404, BackendConfigError, "ASSISTANT_BEDROCK_MODEL"),
    ("ValidationException", 400, BackendError, "rejected the request"),
    ("UnrecognizedClientException", 403, BackendConfigError, "credentials were rejected"),
    ("ThrottlingException", 429, BackendError, "throttling"),
    ("ModelTimeoutException", 408, BackendError, "timed out"),
])
def test_client_errors_become_messages_that_say_what_to_do(code, status, kind, words):
    client = make_client()
    backend = BedrockBackend(MODEL, "us-east-1", client=client, sleep=lambda s: None)
    with Stubber(client) as stub:
        for _ in range(4 if code == "ThrottlingException" else 1):
            stub.add_client_error("converse", code, "AWS says no", status)
        with pytest.raises(kind, match=words) as info:
            backend.complete(GenerationRequest(messages=[{"role": "user", "content": "q"}]))
    assert "Traceback" not in str(info.value)


def test_no_credentials_region_network_and_timeouts_are_translated():
    assert "aws configure" in str(translate(NoCredentialsError(), MODEL, None))
    assert "ASSISTANT_BEDROCK_REGION" in str(translate(NoRegionError(), MODEL, None))
    unreachable = translate(EndpointConnectionError(endpoint_url="https://bedrock-runtime.xx-nowhere-1"), MODEL,
                            "xx-nowhere-1")
    assert "region name is right" in str(unreachable)
    timeout = translate(ReadTimeoutError(endpoint_url="https://bedrock"), MODEL, "us-east-1")
    assert "ASSISTANT_LLM_TIMEOUT" in str(timeout)


def test_real_chain_without_credentials_says_how_to_fix(notes_assistant):
    """No injected client: boto3's chain finds no credentials (autouse fixture) -> a clear message."""
    settings = notes_assistant.settings.with_overrides(bedrock_region="us-east-1")
    sa = StudyAssistant(settings, embedder=notes_assistant.embedder)
    with pytest.raises(BackendConfigError, match="No AWS credentials"):
        sa.answer(DRIFT, backend="bedrock")
    sa.close()


def test_an_unstubbed_call_never_leaves_the_machine():
    client = make_client()  # has (fake) credentials, so only the autouse guard stops it
    backend = BedrockBackend(MODEL, "us-east-1", client=client)
    with pytest.raises(BackendError, match="unstubbed AWS call"):
        backend.complete(GenerationRequest(messages=[{"role": "user", "content": "q"}]))


@pytest.mark.parametrize("reply, abstained", [
    (["Your notes don't cover this."], True),
    (["Your notes don't cover SHAP in depth, but Clarify detects bias before and after training [1]."], False),
])
def test_llm_abstains_only_when_it_says_so_and_cites_nothing(notes_assistant, reply, abstained):
    client = make_client()
    serve_stream(client, reply)
    sa = StudyAssistant(notes_assistant.settings, embedder=notes_assistant.embedder, client=client)
    events = list(sa.stream("what does SageMaker Clarify do?", backend="bedrock"))
    pieces, (answer,) = split_stream(events)
    assert answer.abstained is abstained
    shown = "".join(pieces)
    assert shown.count("Your notes don't cover") == 1  # never said twice
    if abstained:
        assert answer.closest_topics and "closest topics" in shown
    sa.close()


@pytest.mark.parametrize("reply, standalone", [
    ("How do I detect data drift and concept drift in production?",
     "How do I detect data drift and concept drift in production?"),  # the model's rewrite
    ("Sure! Here is some background first. " * 12, "how do I detect concept drift and data drift?"),  # rambles
    (None, "how do I detect concept drift and data drift?"),  # fails: the rule's resolution
])
def test_an_llm_condenses_a_follow_up_with_its_prompt_and_falls_back_to_the_rule(notes_assistant, reply, standalone):
    client, calls = make_client(), []
    serve_converse(client, reply, calls)
    serve_stream(client, ANSWER)
    sa = StudyAssistant(notes_assistant.settings, embedder=notes_assistant.embedder, client=client)
    history = [{"role": "user", "content": DRIFT}, {"role": "assistant", "content": "Concept drift ... [1]"}]
    answer = sa.answer("and how do I detect it?", history=history, backend="bedrock")
    assert answer.standalone_question == standalone
    prompt = calls[0]["messages"][0]["content"][0]["text"]  # the condense prompt, with the conversation
    assert DRIFT in prompt and "Follow-up question: and how do I detect it?" in prompt
    sa.close()
