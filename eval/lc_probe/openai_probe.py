"""ChatOpenAI vs our OpenAICompatibleBackend against llama_cpp.server (SmolLM2-135M) on 127.0.0.1:
streaming, token counts, errors (server down, prompt over the context), time to first token.

    /work/main/.venv/bin/python eval/lc_probe/openai_probe.py --runs 10
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, __file__.rsplit("/", 1)[0])
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from common import free_port, lc_messages, median_ms, run_lc, run_ours, start_server  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402

from assistant.backends.base import GenerationRequest  # noqa: E402
from assistant.backends.openai_compat import OpenAICompatibleBackend, translate  # noqa: E402

NOTES = (ROOT := Path(__file__).resolve().parents[2]) / "corpus"
MAX_TOKENS = 16


def prompt(chars: int) -> list[dict[str, str]]:
    text = next(NOTES.glob("*.md")).read_text(encoding="utf-8")[:chars]
    return [{"role": "system", "content": "Answer only from the passages and cite them as [1]."},
            {"role": "user", "content": f"[1] notes\n<<<\n{text}\n>>>\n\nQuestion: what is data drift?"}]




def chat_openai(url: str, stream_usage: bool | None = True, cap: bool = True, **kw) -> ChatOpenAI:
    """ChatOpenAI as we would build it. ``cap``: also send ``max_tokens`` in extra_body, because ChatOpenAI
    sends only ``max_completion_tokens``, which llama_cpp.server ignores (see `payload_check`)."""
    args = {"base_url": url, "model": "smollm2", "api_key": "not-needed", "temperature": 0, "max_tokens": MAX_TOKENS,
            "timeout": 60, "max_retries": 2, **kw}
    if cap:
        args["extra_body"] = {"max_tokens": MAX_TOKENS}
    if stream_usage is not None:
        args["stream_usage"] = stream_usage
    return ChatOpenAI(**args)






def payload_check(url: str, messages) -> None:
    print("## the answer-length cap")
    payload = chat_openai(url, cap=False)._get_request_payload(lc_messages(messages))
    print(f"ChatOpenAI(max_tokens={MAX_TOKENS}) sends: {sorted(k for k in payload if 'token' in k)}")
    _, seconds, _, n, _ = run_lc(chat_openai(url, cap=False), messages)
    print(f"  against llama_cpp.server: {n} pieces in {seconds:.1f} s (the cap is ignored; generation runs on)")
    _, seconds, _, n, _ = run_lc(chat_openai(url, cap=True), messages)
    print(f"  with extra_body={{'max_tokens': {MAX_TOKENS}}}: {n} pieces in {seconds:.1f} s")
    print()


def errors(url: str) -> None:
    print("## errors")
    down = f"http://127.0.0.1:{free_port()}/v1"
    for name, call in [("ours", lambda: list(OpenAICompatibleBackend(down, "smollm2", timeout=5).stream(
            GenerationRequest(messages=prompt(100))))),
            ("ChatOpenAI", lambda: list(chat_openai(down, timeout=5).stream([("human", "hi")])))]:
        t0 = time.perf_counter()
        try:
            call()
        except Exception as exc:  # noqa: BLE001
            spent = round(time.perf_counter() - t0, 2)
            print(f"server down, {name}: {type(exc).__module__}.{type(exc).__name__}: {exc}  ({spent} s, "
                  f"max_retries=2 both)")
            if name == "ChatOpenAI":
                print(f"    our translate() on it: {translate(exc, down, 'smollm2')}")
    too_long = prompt(40000)  # well over n_ctx=2048
    for name, call in [("ours", lambda: list(OpenAICompatibleBackend(url, "smollm2").stream(
            GenerationRequest(messages=too_long, max_tokens=MAX_TOKENS)))),
            ("ChatOpenAI", lambda: list(chat_openai(url).stream(lc_messages(too_long))))]:
        try:
            call()
            print(f"prompt over n_ctx, {name}: no error")
        except Exception as exc:  # noqa: BLE001
            mro = [c.__name__ for c in type(exc).__mro__[:3]]
            print(f"prompt over n_ctx, {name}: {mro}: {str(exc)[:200]}")
            if name == "ChatOpenAI":
                print(f"    our translate() on it: {str(translate(exc, url, 'smollm2'))[:200]}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--chars", type=int, default=3000, help="notes text in the prompt (~4 chars a token)")
    args = parser.parse_args()
    log = Path(tempfile.mkdtemp()) / "server.log"
    proc, url = start_server(log, threads=1)  # 1 thread: the 2 cores are shared
    try:
        messages = prompt(args.chars)
        backend = OpenAICompatibleBackend(url, "smollm2", timeout=60)
        print(f"## streaming (llama_cpp.server on {url.split('/v1')[0]}, SmolLM2-135M, max_tokens={MAX_TOKENS})")
        _, _, text_o, n_o, usage_o = run_ours(backend, messages, MAX_TOKENS)
        print(f"ours:                         pieces={n_o} usage={usage_o}")
        print("ours, by the server's own count: none: llama_cpp.server sends no usage chunk when streaming "
              "(stream_options.include_usage is ignored); `assistant` falls back to tiktoken")
        for label, su in [("ChatOpenAI(stream_usage=True)", True), ("ChatOpenAI() default", None)]:
            _, _, text_l, n_l, usage_l = run_lc(chat_openai(url, su), messages)
            print(f"{label:29s} pieces={n_l} same_text_as_ours={text_l == text_o} usage_metadata={usage_l}")
        print()
        payload_check(url, messages)
        errors(url)
        model = chat_openai(url)
        run_lc(model, messages)  # warm both clients' connection pools
        first = {"ours": [], "ChatOpenAI": []}
        whole = {"ours": [], "ChatOpenAI": []}
        for _ in range(args.runs):
            for name in ("ours", "ChatOpenAI"):
                f, w, *_ = run_ours(backend, messages, MAX_TOKENS) if name == "ours" else run_lc(model, messages)
                first[name].append(f)
                whole[name].append(w)
        print(f"## time to first token, {args.runs} calls each, interleaved, prompt ~{args.chars // 4} tokens of notes")
        for name in first:
            print(f"{name:10s} first token {median_ms(first[name])} ms (min {min(first[name]) * 1000:.1f}), "
                  f"whole answer {median_ms(whole[name])} ms")
        backend.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
