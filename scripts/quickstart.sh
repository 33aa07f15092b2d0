#!/usr/bin/env bash
# The main job on a fresh machine: install, then turn the bundled story (kinora/stories/pip.txt)
# into a storyboard and a labeled film with the shipped model, in out/pip (replaced on a rerun).
# Extra arguments go to `kinora film` (e.g. --mode news, --previs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
kinora film kinora/stories/pip.txt -o out/pip --seconds-per-shot 6 --force "$@"
