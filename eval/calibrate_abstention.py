"""Calibrate the shipped "do my notes cover this?" gate on the gold set and show the calibration.

Usage: .venv/bin/python eval/calibrate_abstention.py [--gold eval/gold.jsonl]
                                                     [--check eval/holdout.jsonl] [--write]

The logic is `assistant.evaluation.calibration` (the same as `assistant calibrate`, which fits a
student's own gate on their index): it fits the logistic gate on the gold set's answerable and
unanswerable questions against the index of ASSISTANT_CORPUS_DIR (default corpus/), picks the
threshold that abstains on the most unanswerable questions while answering at least
--min-answered of the answerable ones, and prints the threshold sweep, leave-one-out, every
question lower-cased and the --check set's results. --write saves the gate, with what it was
fitted on (model fingerprint, notes digest, gold file, date, counts), to
assistant/answer/abstention.json, which the assistant ships with.

--shipped fits nothing and shows how the shipped gate decides --gold and --check, as written and
lower-cased; with --corpus DIR on other notes (indexed in a temporary folder), e.g.
    eval/calibrate_abstention.py --shipped --corpus eval/corpora/docker-commands/notes \
        --gold eval/corpora/docker-commands/gold.jsonl --check ""
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant import StudyAssistant  # noqa: E402
from assistant.answer.gate import load_gate  # noqa: E402
from assistant.evaluation import calibration  # noqa: E402

GATE_FILE = Path(__file__).resolve().parents[1] / "assistant" / "answer" / "abstention.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=Path("eval/gold.jsonl"))
    parser.add_argument("--check", type=Path, default=Path("eval/holdout.jsonl"))
    parser.add_argument("--min-answered", type=float, default=0.96)
    parser.add_argument("--write", action="store_true", help=f"save the gate to {GATE_FILE}")
    parser.add_argument("--corpus", type=Path, default=None,
                        help="other notes to index (in a temporary folder) instead of ASSISTANT_CORPUS_DIR")
    parser.add_argument("--shipped", action="store_true",
                        help="fit nothing: judge the shipped gate on --gold (and --check), as written and lower-cased")
    args = parser.parse_args()

    if args.corpus is not None:
        import atexit
        import shutil
        import tempfile

        from assistant.config import Settings

        work = Path(tempfile.mkdtemp(prefix="calibrate-"))
        atexit.register(shutil.rmtree, work, ignore_errors=True)
        sa = StudyAssistant(Settings(corpus_dir=args.corpus, index_dir=work / "index", cache_dir=Path(".cache")))
    else:
        sa = StudyAssistant.from_env()
    sa.ingest(progress=False)
    if args.shipped:
        gate = load_gate()
        for path in (args.gold, args.check):
            if path and path.is_file():
                print("\n".join(calibration.judge(gate, calibration.score_file(path, sa.gate_features))))
        return 0
    check = args.check if args.check and args.check.is_file() else None
    result = calibration.calibrate(args.gold, sa.gate_features, check=check, min_answered=args.min_answered)
    print("\n".join(calibration.report(result)))
    if args.write:
        meta = calibration.fitted_on(result, sa.model_info.fingerprint, Path(sa.settings.corpus_dir).name,
                                     sa.corpus_digest())
        calibration.write_gate(GATE_FILE, result.gate, meta)
        print(f"\nwrote {GATE_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
