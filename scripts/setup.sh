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
# Debian packages: Noto Sans CJK (fonts-noto-cjk) for the storyboard PDF and the studio's Chinese, and
# Chromium for the studio's browser tests (driven by pip's playwright through its executable path: no
# browser download). Installed when missing and this runs as root; otherwise it says what to install.
need=""
[ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need="$need fonts-noto-cjk"
command -v chromium >/dev/null 2>&1 || need="$need chromium"
if [ -n "$need" ] && command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -q $need >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $need >/dev/null 2>&1; } \
      || echo "warning: could not install$need (the storyboard PDF needs fonts-noto-cjk, the studio's tests chromium)" >&2
  else
    echo "warning: install$need with: sudo apt-get install$need (the PDF's Chinese, the studio's browser tests)" >&2
  fi
fi
