"""The held-out prompt suite: what `kinora eval` asks a generator to make.

    python scripts/build_suite.py               # rewrite kinora/eval/heldout.jsonl (120 prompts)
    python scripts/build_suite.py --check       # exit 1 if the committed file differs

Each line of a suite file is one JSON object:

    {"id": "h0007", "prompt": "一颗小红球从空中落下……", "language": "zh",
     "spec": {...ShotSpec, resolved...}, "seed": 11000007, "canonical": "a small red ball falls ..."}

`spec` is what the prompt says, with the simulator's exact initial conditions (so the
simulator can render the true clip and its physics continuation), `seed` is both the
held-out draw the spec came from and the generation seed, and `canonical` is the English
caption of the spec (what the planner should read the prompt as).

The committed suite `heldout.jsonl` is built by `build_suite()` from seeds
EVAL_SEED0, EVAL_SEED0 + 1, ... of `random_spec` with `SUITE_DISTRIBUTION` (1 to 3
objects, 4 s at 8 fps, 64x64): even lines English, odd lines Chinese, one natural caption
each from `kinora.world.captions.caption`. EVAL_SEED0 lies in the held-out range
(>= HELDOUT_SEED_BASE, which `kinora world sample` and `kinora train` refuse) and above
the seeds that `kinora world validate` uses to check the analyzer (HELDOUT_SEED_BASE + i),
so neither training nor the analyzer's tuning ever saw these shots.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kinora.defaults import EVAL_SEED0, HELDOUT_SEED_BASE
from kinora.errors import KinoraError
from kinora.world.spec import ShotSpec, SpecDistribution, random_spec

SUITE_PATH = Path(__file__).with_name("heldout.jsonl")
SUITE_SIZE = 120
SUITE_DISTRIBUTION = SpecDistribution(min_objects=1, max_objects=3, duration=(4.0, 4.0), fps=8, width=64, height=64)
LANGUAGES = ("en", "zh")
FIELDS = ("id", "prompt", "language", "spec", "seed", "canonical")


@dataclass
class Case:
    """One prompt of a suite."""

    id: str
    prompt: str
    language: str  # "en" or "zh"
    spec: ShotSpec  # resolved: exact initial conditions
    seed: int
    canonical: str

    def to_dict(self) -> dict:
        return {"id": self.id, "prompt": self.prompt, "language": self.language, "spec": self.spec.to_dict(),
                "seed": self.seed, "canonical": self.canonical}

    def with_size(self, width: int, height: int) -> "Case":
        """The same shot rendered at another frame size (the scene and camera are unchanged)."""
        spec = self.spec.copy()
        spec.width, spec.height = int(width), int(height)
        return dataclasses.replace(self, spec=spec)

    def with_duration(self, seconds: float) -> "Case":
        """The same shot, longer or shorter (the simulator just runs on)."""
        spec = self.spec.copy()
        spec.duration = float(seconds)
        return dataclasses.replace(self, spec=spec)


def make_case(index: int, seed: int, language: str, dist: SpecDistribution = SUITE_DISTRIBUTION) -> Case:
    """The case drawn from held-out `seed`: a random spec and one caption in `language`."""
    from kinora.world.captions import canonical_caption, caption

    if seed < HELDOUT_SEED_BASE:
        raise KinoraError(f"seed {seed} is a training seed; suite seeds must be >= {HELDOUT_SEED_BASE}")
    spec = random_spec(seed, dist)
    prompt = caption(spec, language, random.Random(seed * 31 + (language == "zh")))
    return Case(id=f"h{index:04d}", prompt=prompt, language=language, spec=spec, seed=seed,
                canonical=canonical_caption(spec))


def build_suite(n: int = SUITE_SIZE, seed0: int = EVAL_SEED0) -> list[Case]:
    """n cases from seeds seed0 .. seed0 + n - 1, alternating English and Chinese."""
    return [make_case(i, seed0 + i, LANGUAGES[i % 2]) for i in range(n)]


def write_suite(cases: list[Case], path: str | Path) -> Path:
    from kinora.io.atomic import write_text_atomic

    path = Path(path)
    write_text_atomic(path, "".join(json.dumps(c.to_dict(), ensure_ascii=False) + "\n" for c in cases))
    return path


def jsonl_records(path: Path, where: Callable[[int], str]) -> Iterator[tuple[str, Any]]:
    """(where, decoded line) for every non-empty line of a JSONL suite file; a file that cannot
    be read or a line that is not JSON is one KinoraError (`where(k)` names line k)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise KinoraError(f"suite file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise KinoraError(f"cannot read suite file {path}: {e}") from None
    for k, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise KinoraError(f"{where(k)}: malformed JSON at column {e.colno}: {e.msg}") from None
        yield where(k), d


def read_suite(path: str | Path | None = None) -> list[Case]:
    """Read a suite file (default: the committed held-out suite); bad lines are errors."""
    path = Path(path) if path else SUITE_PATH
    cases, ids = [], set()
    for where, d in jsonl_records(path, lambda k: f"{path}:{k}"):
        if not isinstance(d, dict):
            raise KinoraError(f"{where}: each line must be a JSON object with {', '.join(FIELDS)}")
        missing = [f for f in FIELDS if f not in d]
        if missing:
            raise KinoraError(f"{where}: missing field(s) {missing}; each line needs {', '.join(FIELDS)}")
        if d["language"] not in LANGUAGES:
            raise KinoraError(f"{where}: language {d['language']!r} is not one of {', '.join(LANGUAGES)}")
        if not isinstance(d["prompt"], str) or not d["prompt"].strip():
            raise KinoraError(f"{where}: prompt must be a non-empty string")
        if not isinstance(d["seed"], int) or isinstance(d["seed"], bool):
            raise KinoraError(f"{where}: seed must be a whole number")
        if d["id"] in ids:
            raise KinoraError(f"{where}: id {d['id']!r} is used twice")
        ids.add(d["id"])
        spec = ShotSpec.from_dict(d["spec"], where=f"{where} spec")
        cases.append(Case(id=str(d["id"]), prompt=d["prompt"], language=d["language"], spec=spec,
                          seed=d["seed"], canonical=str(d["canonical"])))
    if not cases:
        raise KinoraError(f"suite file {path} holds no prompts")
    return cases


def subset(cases: list[Case], n: int | None) -> list[Case]:
    """The first n cases, taking English and Chinese in turn so that both stay represented."""
    if n is None or n >= len(cases):
        return list(cases)
    if n < 1:
        raise KinoraError(f"--n must be at least 1, got {n}")
    from itertools import chain, zip_longest

    by_lang = [[c for c in cases if c.language == lang] for lang in LANGUAGES]
    turns = chain.from_iterable(zip_longest(*by_lang))
    return [c for c in turns if c is not None][:n]


def suite_is_current(n: int = SUITE_SIZE, path: str | Path = SUITE_PATH) -> bool:
    """Whether the suite file at `path` is exactly what build_suite(n) writes."""
    want = "".join(json.dumps(c.to_dict(), ensure_ascii=False) + "\n" for c in build_suite(n))
    return Path(path).read_text(encoding="utf-8") == want

