"""load_settings: explicit environ dict + a .env file in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings, load_settings
from assistant.errors import ConfigError


def test_defaults_without_env_or_file(tmp_path):
    s = load_settings({}, env_file=tmp_path / "missing.env")
    assert s == Settings()
    assert s.corpus_dir == Path("corpus")
    assert s.index_dir == Path(".index")
    assert s.cache_dir == Path(".cache")
    assert s.embed_model is None
    assert s.embed_engine == "onnx"
    assert s.top_k == 5
    assert s.hybrid is True
    assert s.chunk_tokens == 256
    assert s.max_file_mb == 2.0
    assert load_settings({}, env_file=None) == Settings()


def test_env_file_is_read(tmp_path):
    env = tmp_path / ".env"
    env.write_text("ASSISTANT_TOP_K=7\nASSISTANT_HYBRID=off\nASSISTANT_CORPUS_DIR=/data/notes\n"
                   "ASSISTANT_EMBED_ENGINE=sentence-transformers\nASSISTANT_MAX_FILE_MB=0.5\n"
                   "ASSISTANT_CHUNK_TOKENS=128\n")
    s = load_settings({}, env_file=env)
    assert s.top_k == 7
    assert s.hybrid is False
    assert s.corpus_dir == Path("/data/notes")
    assert s.embed_engine == "sentence-transformers"
    assert s.max_file_mb == 0.5
    assert s.chunk_tokens == 128


def test_environment_wins_over_env_file(tmp_path):
    env = tmp_path / ".env"
    env.write_text("ASSISTANT_TOP_K=7\nASSISTANT_INDEX_DIR=/from/file\nASSISTANT_HYBRID=false\n")
    s = load_settings({"ASSISTANT_TOP_K": "3", "ASSISTANT_HYBRID": " Yes "}, env_file=env)
    assert s.top_k == 3
    assert s.hybrid is True
    assert s.index_dir == Path("/from/file")  # not overridden: the file's value stays


def test_blank_values_fall_back_to_defaults(tmp_path):
    s = load_settings({"ASSISTANT_TOP_K": "  ", "ASSISTANT_CORPUS_DIR": ""}, env_file=None)
    assert s.top_k == 5
    assert s.corpus_dir == Path("corpus")


def test_unrelated_variables_are_ignored():
    assert load_settings({"PATH": "/usr/bin", "TOP_K": "9"}, env_file=None) == Settings()


def test_paths_expand_user_and_are_stripped(tmp_path):
    home = str(Path("~").expanduser())
    s = load_settings({"ASSISTANT_CORPUS_DIR": "~/my notes ", "ASSISTANT_INDEX_DIR": "~/idx",
                       "ASSISTANT_CACHE_DIR": "rel/cache", "ASSISTANT_EMBED_MODEL": "~/models/m"},
                      env_file=None)
    assert s.corpus_dir == Path(home) / "my notes"
    assert s.index_dir == Path(home) / "idx"
    assert s.cache_dir == Path("rel/cache")
    assert s.embed_model == Path(home) / "models" / "m"
    assert "~" not in str(s.corpus_dir)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ASSISTANT_TOP_K", "five"),
        ("ASSISTANT_TOP_K", "2.5"),
        ("ASSISTANT_TOP_K", "0"),
        ("ASSISTANT_CHUNK_TOKENS", "abc"),
        ("ASSISTANT_CHUNK_TOKENS", "16"),
        ("ASSISTANT_HYBRID", "maybe"),
        ("ASSISTANT_HYBRID", "2"),
        ("ASSISTANT_EMBED_ENGINE", "torch"),
        ("ASSISTANT_MAX_FILE_MB", "big"),
        ("ASSISTANT_MAX_FILE_MB", "0"),
        ("ASSISTANT_MAX_FILE_MB", "-1"),
    ],
)
def test_bad_values_raise_config_error_naming_the_variable(name, value):
    with pytest.raises(ConfigError) as info:
        load_settings({name: value}, env_file=None)
    assert name in str(info.value)


def test_bad_value_in_env_file_names_the_variable(tmp_path):
    env = tmp_path / ".env"
    env.write_text("ASSISTANT_HYBRID=perhaps\n")
    with pytest.raises(ConfigError, match="ASSISTANT_HYBRID"):
        load_settings({}, env_file=env)


def test_bad_env_file_value_is_ignored_when_environment_overrides(tmp_path):
    env = tmp_path / ".env"
    env.write_text("ASSISTANT_TOP_K=nope\n")
    assert load_settings({"ASSISTANT_TOP_K": "4"}, env_file=env).top_k == 4


def test_engine_is_case_insensitive_and_bool_spellings():
    assert load_settings({"ASSISTANT_EMBED_ENGINE": "ONNX"}, env_file=None).embed_engine == "onnx"
    for raw, want in [("1", True), ("TRUE", True), ("on", True), ("0", False), ("No", False), ("off", False)]:
        assert load_settings({"ASSISTANT_HYBRID": raw}, env_file=None).hybrid is want


def test_settings_are_frozen_and_overrides_skip_none():
    s = Settings()
    with pytest.raises(AttributeError):
        s.top_k = 3  # type: ignore[misc]
    t = s.with_overrides(top_k=9, hybrid=None)
    assert t.top_k == 9 and t.hybrid is True
    assert s.top_k == 5


def test_chroma_url_is_validated():
    assert load_settings({}, None).chroma_url is None
    assert load_settings({"ASSISTANT_CHROMA_URL": "http://127.0.0.1:8000/"}, None).chroma_url == "http://127.0.0.1:8000"
    for bad in ("127.0.0.1:8000", "ftp://host", "http://host:port"):
        with pytest.raises(ConfigError, match="ASSISTANT_CHROMA_URL"):
            load_settings({"ASSISTANT_CHROMA_URL": bad}, None)
