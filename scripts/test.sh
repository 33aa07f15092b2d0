#!/usr/bin/env bash
# Install, then lint (ruff, configured in pyproject.toml) and run the whole test suite.
# pytest's exit 5 (no tests collected) is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
. .venv/bin/activate
python -m ruff check . || { echo "error: ruff found problems (run 'ruff check .' to see them)" >&2; exit 1; }
python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
