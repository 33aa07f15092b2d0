"""Open-weight video models behind Kinora's Generator protocol (kinora.pipelines.base),
through diffusers: Wan, CogVideoX and LTX-Video.

    from kinora.pipelines.adapters import load, make_tiny
    make_tiny("wan", "models/wan-tiny")              # a random tiny model folder, offline
    gen = load("wan", "models/wan-tiny")             # or a real '-Diffusers' weights folder
    out = gen("a red ball bounces", num_frames=17)   # a GenerationOutput, like KinoraPipeline's

Each backend module holds its BackendInfo (pipelines, tasks, frame and size rules) and
`build_tiny()`; what they share is in `common`. diffusers and transformers are imported
only here, when a backend is used (pip install 'kinora[backends]').
"""

from __future__ import annotations

import importlib
from pathlib import Path

from kinora.errors import KinoraError

BACKENDS = {"wan": "kinora.pipelines.adapters.wan", "cogvideox": "kinora.pipelines.adapters.cogvideox",
            "ltx": "kinora.pipelines.adapters.ltx"}

_LOADED: dict[tuple, object] = {}  # the last adapter loaded in this process


def backend_module(name: str):
    if name not in BACKENDS:
        raise KinoraError(f"unknown backend {name!r}; use kinora or one of {', '.join(BACKENDS)}")
    return importlib.import_module(BACKENDS[name])


def load(name: str, folder: str | Path | None, precision: str = "auto"):
    """The adapter for backend `name` over the model folder, loaded once per process (like
    kinora.pipelines.kinora.load_pipeline; a folder changed on disk is loaded afresh)."""
    from kinora.pipelines.adapters.common import DiffusersGenerator

    info = backend_module(name).INFO
    if folder is None:
        raise KinoraError(f"the {name} backend needs its weights: --model-dir DIR (a diffusers folder of "
                          f"{info.title}, or 'kinora backends make-tiny {name} DIR' for a tiny random one)")
    from kinora.pipelines.adapters.common import folder_files

    folder = Path(folder).expanduser().resolve()
    key = (name, str(folder), folder_files(folder) if folder.is_dir() else (), precision)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = DiffusersGenerator(info, folder, precision)
    return _LOADED[key]


def check_folder(name: str, folder: str | Path | None) -> None:
    """Refuse a backend whose extra is missing or a folder that is not its model, without loading it."""
    from kinora.pipelines.adapters.common import need_diffusers, read_model_index

    info = backend_module(name).INFO
    if folder is None:
        raise KinoraError(f"the {name} backend needs its weights: --model-dir DIR")
    need_diffusers(name)
    read_model_index(Path(folder).expanduser().resolve(), info)


def make_tiny(name: str, folder: str | Path, force: bool = False, i2v: bool = False) -> Path:
    """Write a tiny random model folder of backend `name` (under 1 MB, no network); i2v: the
    family's image-to-video weights (Wan and CogVideoX release them separately)."""
    from kinora.pipelines.adapters.common import write_tiny

    module = backend_module(name)
    return write_tiny(folder, name, lambda: module.build_tiny(i2v=i2v), module.TINY_SETTINGS, force=force)


def describe() -> list[dict]:
    """Every backend: its name, title, pipelines and the tasks each does."""
    out = []
    for name in BACKENDS:
        info = backend_module(name).INFO
        out.append({"name": name, "title": info.title, "fps": info.fps, "languages": list(info.languages),
                    "pipelines": {k: sorted(v) for k, v in info.pipelines.items()}})
    return out
