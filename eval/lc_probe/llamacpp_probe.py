"""langchain_community's ChatLlamaCpp vs our LlamaCppBackend, in process, SmolLM2-135M: streaming, usage,
errors, time to first token. The two share nothing: each loads its own Llama (ChatLlamaCpp cannot take one).

    /work/main/.venv/bin/python eval/lc_probe/llamacpp_probe.py --runs 10
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, __file__.rsplit("/", 1)[0])
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from common import gguf, median_ms, run_lc, run_ours  # noqa: E402

from assistant.backends.llamacpp import LlamaCppBackend  # noqa: E402

MAX_TOKENS = 16
N_CTX = 2048
NOTES = Path(__file__).resolve().parents[2] / "corpus"


def prompt(chars: int) -> list[dict[str, str]]:
    text = next(NOTES.glob("*.md")).read_text(encoding="utf-8")[:chars]
    return [{"role": "system", "content": "Answer only from the passages and cite them as [1]."},
            {"role": "user", "content": f"[1] notes\n<<<\n{text}\n>>>\n\nQuestion: what is data drift?"}]








def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--chars", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain_community.chat_models import ChatLlamaCpp
    print(f"import langchain_community.chat_models.ChatLlamaCpp in this process: {time.perf_counter() - t:.2f} s")
    path = gguf()
    backend = LlamaCppBackend(path, context_tokens=N_CTX, threads=args.threads)
    t = time.perf_counter()
    backend.model()
    print(f"load, ours: {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    # n_ctx must be given: ChatLlamaCpp's default is 512 (and n_batch 8, see the timing below)
    model = ChatLlamaCpp(model_path=str(path), n_ctx=N_CTX, n_threads=args.threads, max_tokens=MAX_TOKENS,
                         temperature=0.0, repeat_penalty=1.0, verbose=False)
    # repeat_penalty: ChatLlamaCpp's default is 1.1, llama-cpp-python's own (what ours gets) is 1.0
    print(f"load, ChatLlamaCpp: {time.perf_counter() - t:.2f} s (a second copy of the weights)")
    print()
    messages = prompt(args.chars)
    _, _, text_o, n_o, usage_o = run_ours(backend, messages, MAX_TOKENS)
    _, _, text_l, n_l, usage_l = run_lc(model, messages)
    print("## streaming")
    print(f"ours:         pieces={n_o} last_usage={usage_o} (llama-cpp's stream carries no usage)")
    print(f"ChatLlamaCpp: pieces={n_l} usage_metadata={usage_l} same_text_as_ours={text_l == text_o}")
    default = ChatLlamaCpp(model_path=str(path), n_ctx=N_CTX, n_threads=args.threads, max_tokens=MAX_TOKENS,
                           temperature=0.0, verbose=False)
    print(f"ChatLlamaCpp with its default repeat_penalty={default.repeat_penalty}: same_text_as_ours="
          f"{run_lc(default, messages)[2] == text_o}")
    del default
    same = model.client.create_chat_completion(messages=messages, max_tokens=MAX_TOKENS, temperature=0.0)
    print(f"ChatLlamaCpp's own Llama called directly: same_text_as_ours="
          f"{same['choices'][0]['message']['content'] == text_o} (so the difference is its load settings, "
          f"e.g. n_batch=8, not the wrapper)")
    print()
    print("## errors")
    too_long = prompt(40000)
    for name, call in [("ours", lambda: run_ours(backend, too_long, MAX_TOKENS)),
                       ("ChatLlamaCpp", lambda: run_lc(model, too_long))]:
        try:
            call()
            print(f"prompt over n_ctx, {name}: no error")
        except Exception as exc:  # noqa: BLE001
            print(f"prompt over n_ctx, {name}: {type(exc).__module__}.{type(exc).__name__}: {str(exc)[:160]}")
    try:
        ChatLlamaCpp(model_path="/nonexistent/model.gguf", verbose=False)
    except Exception as exc:  # noqa: BLE001
        print(f"missing model file, ChatLlamaCpp: {type(exc).__name__}: {str(exc)[:160]}")
    try:
        LlamaCppBackend(Path("/nonexistent/model.gguf")).model()
    except Exception as exc:  # noqa: BLE001
        print(f"missing model file, ours: {type(exc).__name__}: {str(exc)[:160]}")
    print()
    models = {"ours": backend, "ChatLlamaCpp(n_batch=8, its default)": model,
              "ChatLlamaCpp(n_batch=512)": ChatLlamaCpp(
                  model_path=str(path), n_ctx=N_CTX, n_threads=args.threads, n_batch=512, max_tokens=MAX_TOKENS,
                  temperature=0.0, repeat_penalty=1.0, verbose=False)}
    for name, m in models.items():  # each model has evaluated the prompt once before the warm calls
        run_ours(m, messages, MAX_TOKENS) if name == "ours" else run_lc(m, messages)
    for mode in ("warm", "cold"):
        first = {name: [] for name in models}
        whole = {name: [] for name in models}
        for i in range(args.runs):
            for name, m in models.items():
                # warm: the same prompt again (llama.cpp reuses the cached prefix, so this is the wrapper's cost);
                # cold: a different first line each call, so the whole prompt is evaluated
                msgs = messages if mode == "warm" else [
                    {"role": "system", "content": f"Call {i} of {name}. " + messages[0]["content"]}, *messages[1:]]
                f, w, *_ = run_ours(m, msgs, MAX_TOKENS) if name == "ours" else run_lc(m, msgs)
                first[name].append(f)
                whole[name].append(w)
        print(f"## time to first token, {mode} prompt, {args.runs} calls each, interleaved, {args.threads} thread(s), "
              f"prompt ~{args.chars // 4} tokens, max_tokens={MAX_TOKENS}")
        for name in first:
            print(f"{name:36s} first token {median_ms(first[name])} ms (min {min(first[name]) * 1000:.1f}), "
                  f"whole answer {median_ms(whole[name])} ms")
        print()
    backend.close()


if __name__ == "__main__":
    main()
