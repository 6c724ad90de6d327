"""Start-up cost of each way of talking to a model, in fresh processes (median of N runs, interleaved).

Each process first imports what `assistant ask` has already loaded (assistant.core, assistant.answer.chain),
untimed, then times the case's import and, separately, building the client/model object. So the numbers
are what choosing that backend adds to an ask or chat process.

    /work/main/.venv/bin/python eval/lc_probe/startup.py --runs 7
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import MODEL, PY, ROOT, SAFE_ENV, median_ms  # noqa: E402

PRELUDE = "import assistant.core, assistant.answer.chain\n"

CASES = {
    # (import, build)
    "bedrock: ours (boto3 client)": (
        "from assistant.backends.bedrock import BedrockBackend",
        f"BedrockBackend({MODEL!r}, 'us-east-1').client()"),
    "bedrock: ChatBedrockConverse(client=ours)": (
        "from assistant.backends.bedrock import BedrockBackend\nfrom langchain_aws import ChatBedrockConverse",
        f"c = BedrockBackend({MODEL!r}, 'us-east-1').client()\n"
        f"ChatBedrockConverse(model={MODEL!r}, client=c, bedrock_client=c)"),
    "openai: ours (openai.OpenAI)": (
        "from assistant.backends.openai_compat import OpenAICompatibleBackend",
        "OpenAICompatibleBackend('http://127.0.0.1:9/v1', 'smollm2').client()"),
    "openai: ChatOpenAI": (
        "from langchain_openai import ChatOpenAI",
        "ChatOpenAI(base_url='http://127.0.0.1:9/v1', model='smollm2', api_key='not-needed', stream_usage=True)"),
    "llamacpp: ours (import llama_cpp, no model load)": (
        "from assistant.backends.llamacpp import LlamaCppBackend\nimport llama_cpp", "pass"),
    "llamacpp: ChatLlamaCpp (langchain_community, no model load)": (
        "import llama_cpp\nfrom langchain_community.chat_models import ChatLlamaCpp", "pass"),
    "prompts: ChatPromptTemplate (today, LLM backends only)": (
        "from langchain_core.prompts import ChatPromptTemplate",
        "ChatPromptTemplate.from_messages([('system', 's {context}'), ('human', 'u {question}')])"
        ".format_messages(context='c', question='q')"),
    "prompts: str.format": ("pass", "['s {context}'.format(context='c'), 'u {question}'.format(question='q')]"),
}

PROBE = PRELUDE + """
import time, json
t0 = time.perf_counter()
exec(compile({imp!r}, 'imp', 'exec'))
t1 = time.perf_counter()
exec(compile({build!r}, 'build', 'exec'))
t2 = time.perf_counter()
import sys
lc = sorted({{m.split('.')[0] for m in sys.modules if m.startswith(('langchain', 'langsmith'))}})
print(json.dumps({{"import": t1 - t0, "build": t2 - t1, "lc": lc}}))
"""


def ask_imports() -> dict:
    """Which model-client packages the default `assistant ask` (extractive) imports."""
    out = subprocess.run([PY, "-X", "importtime", "-m", "assistant.cli", "ask", "what is data drift?"],
                         cwd=ROOT, env=SAFE_ENV, capture_output=True, text=True, check=True)
    tops = {line.split("|")[-1].strip().split(".")[0] for line in out.stderr.splitlines() if "|" in line}
    watch = ("langchain_core", "langchain_aws", "langchain_openai", "langchain_community", "langsmith", "boto3",
             "botocore", "openai", "llama_cpp", "pydantic")
    return {name: name in tops for name in watch}


def llm_ask_imports(runs: int) -> tuple[float, list[str]]:
    """What `assistant ask -b openai` (server down: fails after building the prompt) spends importing
    langchain today, by -X importtime's cumulative column of top-level imports; median over runs."""
    from common import free_port

    env = {**SAFE_ENV, "ASSISTANT_OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
           "ASSISTANT_OPENAI_MODEL": "smollm2", "ASSISTANT_LLM_TIMEOUT": "2"}
    spent, names = [], set()
    for _ in range(runs):
        out = subprocess.run([PY, "-X", "importtime", "-m", "assistant.cli", "ask", "-b", "openai",
                              "what is data drift?"], cwd=ROOT, env=env, capture_output=True, text=True)
        total = 0
        for line in out.stderr.splitlines():
            if not line.startswith("import time:") or "|" not in line:
                continue
            _, cumulative, name = line.split("|")
            if not name.startswith("  ") and name.strip().startswith(("langchain", "langsmith")):
                total += int(cumulative)
                names.add(name.strip())
        spent.append(total / 1e6)
    return median_ms(spent), sorted(names)


def ask_wall(runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([PY, "-m", "assistant.cli", "ask", "what is data drift?"], cwd=ROOT, env=SAFE_ENV,
                       capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return median_ms(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {name: {"import": [], "build": []} for name in CASES}
    lc_loaded: dict[str, list[str]] = {}
    for _ in range(args.runs):  # interleaved: a busy moment on the shared cores hits every case alike
        for name, (imp, build) in CASES.items():
            out = subprocess.run([PY, "-c", PROBE.format(imp=imp, build=build)], cwd=ROOT, env=SAFE_ENV,
                                 capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(f"{name} failed:\n{out.stderr[-2000:]}")
            row = json.loads(out.stdout.strip().splitlines()[-1])
            results[name]["import"].append(row["import"])
            results[name]["build"].append(row["build"])
            lc_loaded[name] = row["lc"]
    print(f"runs per case: {args.runs} (fresh processes, interleaved; medians in ms)")
    print("| case | import | build | total | langchain packages loaded |")
    print("|---|---:|---:|---:|---|")
    for name, r in results.items():
        total = [a + b for a, b in zip(r["import"], r["build"], strict=True)]
        print(f"| {name} | {median_ms(r['import'])} | {median_ms(r['build'])} | {median_ms(total)} | "
              f"{', '.join(lc_loaded[name]) or '-'} |")
    print()
    print("default `assistant ask` (extractive) imports:", json.dumps(ask_imports()))
    print(f"default `assistant ask` wall time, median of {args.runs}: {ask_wall(args.runs)} ms")
    spent, names = llm_ask_imports(args.runs)
    print(f"`assistant ask -b openai` today imports {names} at top level: {spent} ms (median of {args.runs})")


if __name__ == "__main__":
    main()
