#!/usr/bin/env bash
# Install everything Kinora needs into ./.venv (idempotent; offline-capable where the
# packages are cached). torch==2.13.0 goes first: it is the CPU build on this machine's
# disk, and installing it before anything else stops pip pulling a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
python -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" 2>/dev/null \
  || python -m pip install --quiet "torch==2.13.0"
python -m pip install --quiet -e ".[text,test,bench,studio]"
# The storyboard PDF embeds Noto Sans CJK (Debian fonts-noto-cjk) so Chinese renders; the HTML needs no font.
if [ ! -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] && command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -q fonts-noto-cjk >/dev/null 2>&1 || echo "warning: could not install fonts-noto-cjk; the storyboard PDF needs it" >&2
  else
    echo "warning: the storyboard PDF needs fonts-noto-cjk (sudo apt-get install fonts-noto-cjk)" >&2
  fi
fi
