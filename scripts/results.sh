#!/usr/bin/env bash
# Regenerate docs/RESULTS.md (and docs/results/): the held-out eval of the shipped model,
# the simulator oracle and a frozen-frame floor, and the full bench, on this machine.
#   bash scripts/results.sh            # all 120 prompts, full bench (tens of minutes on 2 cores)
#   bash scripts/results.sh --quick    # 12 prompts, quick bench (a few minutes)
#   bash scripts/results.sh --bench-threads 1   # while other work shares the cores (2 threads
#                                               # on a busy 2-core machine oversubscribe it)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ]; then . .venv/bin/activate; fi
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
python -m kinora results --out docs --commit "$commit" "$@"
