#!/usr/bin/env bash
# The main job on a fresh machine: install, then make a video with the shipped default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
kinora demo "$@"
