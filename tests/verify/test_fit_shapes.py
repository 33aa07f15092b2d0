import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from kinora.verify.fit_shapes import fit_shape_weights
from kinora.verify.shapes import SHAPE_NAMES, WEIGHTS_PATH

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fit_shapes.py"


def test_fit_from_cached_features_writes_weights(tmp_path):
    # Features that separate the shapes, for clips 0..99 (15 % of them test clips).
    rng = np.random.default_rng(0)
    y = np.arange(600) % 3
    X = rng.normal(size=(600, 6)) + 3 * np.eye(3, 6)[y]
    g, o = np.arange(600) // 6, np.where(np.arange(600) % 5 == 0, 0.3, 0.0)
    cache = tmp_path / "feats.npz"
    np.savez(cache, X=X, y=y, g=g, o=o)
    out, lines = tmp_path / "w.json", []
    info = fit_shape_weights(n=100, steps=200, out=out, cache=str(cache), log=lines.append)
    w = json.loads(out.read_text())
    assert w["info"] == info and info["samples"] == 600
    assert info["command"] == "python scripts/fit_shapes.py --n 100 --steps 200"
    assert info["test_accuracy_frame"] > 0.9 and np.asarray(w["w"]).shape == (16, len(SHAPE_NAMES))
    assert len(lines) == 3 and lines[-1] == f"wrote {out}"
    assert WEIGHTS_PATH.name == "shape_weights.json" and out != WEIGHTS_PATH


def test_script_command_line():
    r = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--n N" in r.stdout and "--cache" in r.stdout
