"""The embedding model: ONNX engine vs the sentence-transformers reference, tokenizer spans."""

from __future__ import annotations

import base64
import hashlib

import numpy as np
import pytest

from assistant.embedding.encoders import SentenceTransformerEmbedder, load_embedder
from assistant.embedding.model import bundled_model_dir, model_info, resolve_model_dir
from assistant.errors import ConfigError

TEXTS = [
    "Concept drift is a change in the relationship between input features and the target.",
    "SageMaker Batch Transform scores a whole dataset in S3 without an endpoint.",
    "short",
    "XGBoost vs. Random Forest: boosting builds trees sequentially, bagging builds them in parallel. " * 12,
    "Ünïcödé text, emojis 🙂 and symbols ≥ ≤ → also embed.",
]


def test_model_info_of_bundled_model():
    info = model_info(bundled_model_dir())
    assert info.max_seq_length == 256
    assert info.window == 254
    assert info.pooling == "mean"
    assert info.normalize is True
    assert len(info.fingerprint) == 16
    assert model_info(bundled_model_dir()).fingerprint == info.fingerprint


def test_onnx_vectors_are_unit_norm_and_keep_input_order(embedder):
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # row i is text i, whatever batch/sort order was used inside
    singles = np.vstack([embedder.embed([t]) for t in TEXTS])
    np.testing.assert_allclose((vectors * singles).sum(1), 1.0, atol=1e-4)


def test_onnx_progress_counts_every_text(embedder):
    seen: list[int] = []
    embedder.embed(TEXTS * 5, progress=seen.append)
    assert sum(seen) == len(TEXTS) * 5
    assert len(seen) >= 2


def test_onnx_similarity_is_meaningful(embedder):
    a, b, c = embedder.embed(["data drift in production", "input distribution shift over time",
                              "recipe for chocolate cake"])
    assert float(a @ b) > float(a @ c) + 0.1


def test_onnx_matches_sentence_transformers():
    info = model_info(bundled_model_dir())
    from conftest import CACHE_DIR

    embedder = load_embedder(info, "onnx", CACHE_DIR)
    onnx = embedder.embed(TEXTS)
    st = SentenceTransformerEmbedder(info)
    reference = st.embed(TEXTS)
    assert reference.shape == onnx.shape
    np.testing.assert_allclose(np.linalg.norm(reference, axis=1), 1.0, atol=1e-5)
    cosine = (onnx * reference).sum(1) / (np.linalg.norm(onnx, axis=1) * np.linalg.norm(reference, axis=1))
    assert cosine.min() > 0.9999, cosine

    # token vectors (late interaction) agree too, word piece for word piece
    onnx_vectors, onnx_tokens = embedder.embed_tokens(TEXTS)
    st_vectors, st_tokens = st.embed_tokens(TEXTS)
    np.testing.assert_allclose(onnx_vectors, onnx, atol=1e-6)
    assert (onnx_vectors * st_vectors).sum(1).min() > 0.9999
    for (pieces_a, states_a), (pieces_b, states_b) in zip(onnx_tokens, st_tokens, strict=True):
        assert pieces_a == pieces_b and "[CLS]" not in pieces_a and "[SEP]" not in pieces_a
        assert (states_a * states_b).sum(1).min() > 0.999


def test_load_embedder_rejects_unknown_engine(tmp_path):
    with pytest.raises(ConfigError, match="torch"):
        load_embedder(model_info(bundled_model_dir()), "torch", tmp_path)


def test_tokenizer_count(tokenizer):
    assert tokenizer.count([]) == []
    counts = tokenizer.count(["", "hello", "hello world", "sagemaker"])
    assert counts[0] == 0
    assert counts[1] == 1
    assert counts[2] == 2
    assert counts[3] > 1  # split into word pieces, no [CLS]/[SEP]


@pytest.mark.parametrize("max_tokens", [16, 64, 254])
def test_spans_cover_long_prose_exactly_within_budget(tokenizer, notes_text, max_tokens):
    text = notes_text[:20_000]
    spans = tokenizer.spans(text, max_tokens)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a < b for a, b in spans)
    assert all(prev[1] == nxt[0] for prev, nxt in zip(spans, spans[1:], strict=False)), "gaps or overlaps"
    assert "".join(text[a:b] for a, b in spans) == text
    counts = tokenizer.count([text[a:b] for a, b in spans])
    assert max(counts) <= max_tokens
    assert len(spans) >= tokenizer.count([text])[0] / max_tokens


def test_spans_prefer_whitespace(tokenizer):
    text = " ".join(f"word{i}" for i in range(300))
    for a, _ in tokenizer.spans(text, 32)[1:]:
        assert text[a - 1] == " ", f"a span starts mid-word at {a}: {text[a - 5 : a + 5]!r}"


def test_spans_of_short_and_empty_text(tokenizer):
    assert tokenizer.spans("just a few words", 64) == [(0, 16)]
    assert tokenizer.spans("", 64) == [(0, 0)]


def test_spans_within_budget_for_text_without_spaces(tokenizer):
    data = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(60))
    text = base64.b64encode(data).decode()
    spans = tokenizer.spans(text, 64)
    assert "".join(text[a:b] for a, b in spans) == text
    assert max(tokenizer.count([text[a:b] for a, b in spans])) <= 64


def test_resolve_model_dir(tmp_path):
    assert resolve_model_dir(None) == bundled_model_dir()
    assert resolve_model_dir(bundled_model_dir()) == bundled_model_dir()
    bogus = tmp_path / "not-a-model"
    bogus.mkdir()
    (bogus / "config.json").write_text("{}")
    with pytest.raises(ConfigError) as info:
        resolve_model_dir(bogus)
    assert "ASSISTANT_EMBED_MODEL" in str(info.value)
    assert str(bogus) in str(info.value)
    with pytest.raises(ConfigError):
        resolve_model_dir(tmp_path / "missing")


def test_recent_questions_are_embedded_once_and_answer_like_the_model(embedder):
    from assistant.embedding.encoders import RecentQuestions

    cached = RecentQuestions(embedder, size=2)
    first_vectors, first_states = cached.embed_tokens(["what is data drift?"])
    # a mixed batch: the known question comes back as stored, the new one is computed; order kept
    vectors, states = cached.embed_tokens(["concept drift", "what is data drift?"])
    assert states[1][1] is first_states[0][1]
    plain_vectors, plain_states = embedder.embed_tokens(["concept drift", "what is data drift?"])
    assert np.allclose(vectors, plain_vectors, atol=1e-5)
    assert [p for p, _ in states] == [p for p, _ in plain_states]
    # the oldest text leaves when the cache is full
    cached.embed_tokens(["batch transform"])
    assert cached.embed_tokens(["what is data drift?"])[1][0][1] is not first_states[0][1]
    assert cached.embed_tokens([])[0].shape[0] == 0
