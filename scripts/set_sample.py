"""Set how a DiT checkpoint samples by default (its "sample" metadata), leaving its tensors as they are.

    python scripts/set_sample.py kinora/weights/dit-small-ema.safetensors --steps 8

A distilled student records {"sampler", "steps", "guidance"} in its checkpoint
(kinora.train.distill) and the pipeline samples with it (kinora.pipelines.kinora.sample_defaults).
This rewrites that entry only: the tensors are copied byte for byte, every other metadata
entry is kept, the change is recorded under "sample_set" (the sampling the student was made
with, kept across reruns, and the last command), and the file is replaced atomically.
docs/MODEL.md says why the shipped student samples with fewer steps than it was distilled with.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kinora.defaults import MAX_STEPS  # noqa: E402
from kinora.errors import KinoraError  # noqa: E402


def set_sample(path: Path, steps: int) -> dict:
    from safetensors import safe_open
    from safetensors.torch import save_file

    from kinora.io.atomic import atomic_path
    from kinora.models.dit import read_dit_metadata

    meta = read_dit_metadata(path)  # refuses what is not a Kinora DiT checkpoint
    if not isinstance(meta.get("sample"), dict):
        raise KinoraError(f"{path} records no sampling of its own (not a distilled student): its preset "
                          f"decides; pass --steps when generating")
    if not 1 <= steps <= MAX_STEPS:
        raise KinoraError(f"--steps {steps} is out of range; use 1 to {MAX_STEPS}")
    with safe_open(str(path), framework="pt") as f:
        raw = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    # "before" stays what the student was made with, however often this runs
    before = json.loads(raw["sample_set"])["before"] if "sample_set" in raw else json.loads(raw["sample"])
    after = {**json.loads(raw["sample"]), "steps": steps}
    raw["sample"] = json.dumps(after)
    command = f"python scripts/set_sample.py {path} --steps {steps}"
    raw["sample_set"] = json.dumps({"before": before, "command": command})
    with atomic_path(path, replace=True) as tmp:
        save_file(tensors, str(tmp), metadata=raw)
    return after


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--steps", type=int, required=True)
    args = p.parse_args()
    try:
        print(f"{args.checkpoint}: samples with {set_sample(args.checkpoint, args.steps)}")
    except KinoraError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
