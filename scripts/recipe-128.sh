#!/usr/bin/env bash
# The 128x128 recipe: twice the side, so a latent cell covers a quarter of what it does at
# 64x64 and a small cube spans 2x2 cells instead of one (the shape ceiling's cause at 64).
# The VAE is the shipped one (it was trained with 128x128 clips in its buckets); the DiT
# sees 4x the tokens (576 for 4 s). docs/MODEL.md has what each step measured.
#
#   bash scripts/recipe-128.sh cpu   # CPU scale: shows it trains (about 20 minutes on 2 cores)
#   bash scripts/recipe-128.sh gpu   # one GPU: the same data, preset base, about 10 minutes
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ]; then . .venv/bin/activate; fi
mode="${1:-cpu}"
data=data/world-128

# 1. Data: 128x128 clips of 17 frames (training seeds 20000.., apart from data/world's 0..17299).
if [ ! -f "$data/index.json" ]; then
    if [ "$mode" = gpu ]; then n=8000; else n=1200; fi
    kinora world sample --n "$n" --seed 20000 --duration 2.125 --size 128 --out "$data" --no-clips
fi

# 2. What the latent space allows at 128x128: the simulator's clips through the VAE.
kinora eval --backend vae --size 128 --no-physics --out "out/eval/vae-128"

# 3. The DiT at 128x128: on the CPU the shipped small model, warm-started from its 64x64
#    weights (3D RoPE takes any size); on a GPU the base preset (768 wide), from scratch.
if [ "$mode" = gpu ]; then
    python -m kinora.train --preset base --data "$data" --out runs/dit-128-gpu --device cuda \
        --width 128 --height 128 --max-frames 17 --batch-size 64 --steps 3000 --warmup-steps 200 \
        --ckpt-every 500 --log-every 50
else
    mkdir -p runs/init-128
    cp kinora/weights/dit-small-ema.safetensors runs/init-128/dit-small-ema.safetensors
    cp kinora/weights/dit-small-ema.safetensors runs/init-128/dit-small.safetensors
    start=$(python -c 'from kinora.models.dit import read_dit_metadata as m
print(m("kinora/weights/dit-small-ema.safetensors").get("step", 0))')
    python -m kinora.train --preset small --data "$data" --out runs/dit-128-cpu --init runs/init-128 \
        --width 128 --height 128 --max-frames 17 --batch-size 8 --steps $((start + 300)) --lr 2e-4 \
        --ckpt-every 100 --log-every 25 --threads 2
fi
