#!/usr/bin/env bash
# Regenerate docs/RESULTS.md (and docs/results/): the held-out eval of the shipped model,
# the simulator oracle and a frozen-frame floor, and the full bench, on this machine.
#   bash scripts/results.sh            # all 120 prompts, full bench (tens of minutes on 2 cores)
#   bash scripts/results.sh --quick    # 12 prompts, quick bench (a few minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ]; then . .venv/bin/activate; fi
python -m kinora.eval.results "$@"
