"""load_settings: explicit environ dict + a .env file in tmp_path."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import fields
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


def test_bad_value_in_env_file_says_what_is_allowed(tmp_path):
    env = tmp_path / ".env"
    env.write_text("ASSISTANT_TOP_K=5\nASSISTANT_CHUNK_TOKENS=16\n")
    with pytest.raises(ConfigError) as info:
        load_settings({}, env_file=env)
    assert str(info.value) == "ASSISTANT_CHUNK_TOKENS='16' is not allowed; use a whole number, 64 or more."


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("ASSISTANT_TOP_K", "five", "a whole number, 1 or more"),
        ("ASSISTANT_HYBRID", "maybe", "true or false"),
        ("ASSISTANT_EMBED_ENGINE", "torch", "onnx or sentence-transformers"),
        ("ASSISTANT_MAX_FILE_MB", "0", "a number greater than 0"),
        ("ASSISTANT_CHROMA_URL", "ftp://host", "a server address like http://127.0.0.1:8000"),
        ("ASSISTANT_OPENAI_BASE_URL", "127.0.0.1:11434/v1", "a server address like http://127.0.0.1:11434/v1"),
        ("ASSISTANT_TEMPERATURE", "2.5", "a number from 0 to 2"),
        ("ASSISTANT_TEMPERATURE", "-0.1", "a number from 0 to 2"),
        ("ASSISTANT_MAX_TOKENS", "8", "a whole number, 16 or more"),
        ("ASSISTANT_CONTEXT_TOKENS", "256", "a whole number, 512 or more"),
        ("ASSISTANT_LLM_TIMEOUT", "soon", "a number greater than 0"),
    ],
)
def test_error_names_the_variable_and_what_it_accepts(name, value, allowed):
    with pytest.raises(ConfigError) as info:
        load_settings({name: f" {value} "}, env_file=None)
    assert str(info.value) == f"{name}={value!r} is not allowed; use {allowed}."


def test_several_bad_values_are_each_named_on_one_line(tmp_path):
    env = tmp_path / ".env"
    env.write_text("ASSISTANT_HYBRID=perhaps\nASSISTANT_TOP_K=1\n")
    with pytest.raises(ConfigError) as info:
        load_settings({"ASSISTANT_TOP_K": "0", "ASSISTANT_MAX_FILE_MB": "big"}, env_file=env)
    message = str(info.value)
    assert "\n" not in message
    for name in ("ASSISTANT_TOP_K='0'", "ASSISTANT_HYBRID='perhaps'", "ASSISTANT_MAX_FILE_MB='big'"):
        assert message.count(name) == 1, message


def test_context_must_leave_room_for_passages():
    with pytest.raises(ConfigError) as info:
        load_settings({"ASSISTANT_CONTEXT_TOKENS": "1024", "ASSISTANT_MAX_TOKENS": "800"}, env_file=None)
    assert str(info.value) == ("ASSISTANT_CONTEXT_TOKENS=1024 leaves no room for passages after "
                               "ASSISTANT_MAX_TOKENS=800; make the context at least 1056.")
    s = load_settings({"ASSISTANT_CONTEXT_TOKENS": "1056", "ASSISTANT_MAX_TOKENS": "800"}, env_file=None)
    assert (s.context_tokens, s.max_tokens) == (1056, 800)


def test_environment_overrides_every_value_of_the_env_file(tmp_path):
    env = tmp_path / ".env"
    env.write_text("ASSISTANT_BACKEND=bedrock\nASSISTANT_TEMPERATURE=1.5\nASSISTANT_GGUF=/file/model.gguf\n"
                   "ASSISTANT_OPENAI_BASE_URL=http://file:1/v1\n")
    s = load_settings({"ASSISTANT_BACKEND": "OpenAI", "ASSISTANT_TEMPERATURE": "0.2", "ASSISTANT_GGUF": "/env/m.gguf",
                       "ASSISTANT_OPENAI_BASE_URL": "http://env:2/v1/"}, env_file=env)
    assert (s.backend, s.temperature, s.gguf, s.openai_base_url) == ("openai", 0.2, Path("/env/m.gguf"),
                                                                      "http://env:2/v1")


def test_blank_environment_value_means_the_default_even_over_the_env_file(tmp_path):
    env = tmp_path / ".env"
    env.write_text("ASSISTANT_TOP_K=7\nASSISTANT_CHROMA_URL=\n")
    s = load_settings({"ASSISTANT_TOP_K": " "}, env_file=env)
    assert s.top_k == 5
    assert s.chroma_url is None


def test_unknown_assistant_variables_are_ignored(tmp_path):
    # today's behaviour, kept: a misspelt or lower-case name sets nothing and is no error
    env = tmp_path / ".env"
    env.write_text("ASSISTANT_TOPK=9\nassistant_top_k=8\nASSISTANT_COLOR=blue\nOTHER=1\n")
    environ = {"ASSISTANT_NOT_A_SETTING": "x", "assistant_hybrid": "false", "ASSISTANT_TOP_K_MAX": "3"}
    assert load_settings(environ, env_file=env) == Settings()


def test_os_environ_is_read_when_no_mapping_is_given(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_TOP_K", "6")
    monkeypatch.delenv("ASSISTANT_HYBRID", raising=False)
    env = tmp_path / ".env"
    env.write_text("ASSISTANT_TOP_K=7\nASSISTANT_HYBRID=no\n")
    s = load_settings(env_file=env)
    assert (s.top_k, s.hybrid) == (6, False)


def test_every_setting_has_its_variable_in_env_example():
    example = (Path(__file__).parents[1] / ".env.example").read_text()
    documented = set(re.findall(r"^(ASSISTANT_[A-Z_]+)=", example, re.MULTILINE))
    assert documented == {f"ASSISTANT_{f.name.upper()}" for f in fields(Settings)}
    # and each is read: every documented value, changed, reaches its field
    s = load_settings({"ASSISTANT_CORPUS_DIR": "/n", "ASSISTANT_INDEX_DIR": "/i", "ASSISTANT_CACHE_DIR": "/c",
                       "ASSISTANT_CHROMA_URL": "http://h:1", "ASSISTANT_EMBED_MODEL": "/m",
                       "ASSISTANT_EMBED_ENGINE": "sentence-transformers", "ASSISTANT_TOP_K": "2",
                       "ASSISTANT_HYBRID": "false", "ASSISTANT_CHUNK_TOKENS": "100", "ASSISTANT_MAX_FILE_MB": "1.5",
                       "ASSISTANT_BACKEND": "bedrock", "ASSISTANT_PROMPT": "short-answers",
                       "ASSISTANT_BEDROCK_MODEL": "m1", "ASSISTANT_BEDROCK_REGION": "eu-west-1",
                       "ASSISTANT_OPENAI_BASE_URL": "http://o:2/v1", "ASSISTANT_OPENAI_MODEL": "m2",
                       "ASSISTANT_OPENAI_API_KEY": "sk-secret", "ASSISTANT_GGUF": "/g.gguf",
                       "ASSISTANT_TEMPERATURE": "0.5", "ASSISTANT_MAX_TOKENS": "100",
                       "ASSISTANT_CONTEXT_TOKENS": "1000", "ASSISTANT_LLM_TIMEOUT": "5",
                       "ASSISTANT_ANSWER_CHECKS": "fallback", "ASSISTANT_STUDY_DIR": "/s"}, env_file=None)
    changed = {name for name in (f.name for f in fields(Settings)) if getattr(s, name) != getattr(Settings(), name)}
    assert changed == {f.name for f in fields(Settings)}
    assert "sk-secret" not in repr(s)  # the API key stays out of repr


def test_load_settings_does_not_import_pydantic():
    # every command that loads settings would pay ~200 ms of CPU for it (docs/decisions/0006)
    code = ("import sys; from assistant.config import load_settings; load_settings(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_settings')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[1]).stdout.strip()
    assert out == "[]"


@pytest.mark.parametrize(("name", "value"), [("ASSISTANT_HYBRID", "y"), ("ASSISTANT_HYBRID", "t"),
                                             ("ASSISTANT_HYBRID", "n"), ("ASSISTANT_TOP_K", "5.0"),
                                             ("ASSISTANT_CHUNK_TOKENS", "128.0"), ("ASSISTANT_LLM_TIMEOUT", "nan")])
def test_only_the_long_standing_spellings_are_accepted(name, value):
    # pydantic also took y/n/t/f and "5.0"; the loader before it did not, nor does this one
    with pytest.raises(ConfigError, match=f"^{name}="):
        load_settings({name: value}, env_file=None)


def test_context_rule_is_one_more_sentence_on_the_same_line():
    with pytest.raises(ConfigError) as info:
        load_settings({"ASSISTANT_TOP_K": "0", "ASSISTANT_CONTEXT_TOKENS": "600"}, env_file=None)
    assert str(info.value) == ("ASSISTANT_TOP_K='0' is not allowed; use a whole number, 1 or more. "
                               "ASSISTANT_CONTEXT_TOKENS=600 leaves no room for passages after "
                               "ASSISTANT_MAX_TOKENS=512; make the context at least 768.")
    # a refused max_tokens is not compared with the context (the default would stand in for it)
    with pytest.raises(ConfigError) as info:
        load_settings({"ASSISTANT_MAX_TOKENS": "8", "ASSISTANT_CONTEXT_TOKENS": "600"}, env_file=None)
    assert str(info.value) == "ASSISTANT_MAX_TOKENS='8' is not allowed; use a whole number, 16 or more."


def test_answer_checks_name_their_choices():
    with pytest.raises(ConfigError, match="retry"):
        load_settings({"ASSISTANT_ANSWER_CHECKS": "sometimes"}, env_file=None)
    assert load_settings({"ASSISTANT_ANSWER_CHECKS": " OFF "}, env_file=None).answer_checks == "off"
