"""Many shots or films from one JSONL file, over local worker processes or a Ray cluster,
with retries, one progress line per finished job and a summary (`kinora batch`).

    from kinora.jobs.batch import run_batch
    summary = run_batch("jobs.jsonl", "out/batch", workers=2, retries=2)       # local processes
    summary = run_batch("jobs.jsonl", "out/batch", ray="local")                # a local Ray
    summary.ok, summary.totals, [j.status for j in summary.jobs]

One line of the file is one job:

    "a red ball bounces"                                       a shot: just a prompt
    {"prompt": "a blue cube slides right", "seconds": 2, "seed": 3, "out": "cube.mp4"}
    {"film": true, "story": "stories/pip.txt", "seconds-per-shot": 2}
    {"film": true, "text": "A red ball rolls left. Then it stops.", "mode": "story"}

A shot's keys are the fields of kinora.pipelines.generate.GenerateRequest (or the
`kinora generate` option that sets one: `last-image`, `truth-mode`, `edit-region`,
`edit-time`), typed by the dataclass itself, so a field added there is a key here. A film's
are the options of `kinora film` (`story` is its text file, `weights` its model). Paths
are read relative to the JSONL file's folder; `out` is relative to the output folder
(default NNNN-slug.mp4 for a shot, NNNN-slug/ for a film). Blank lines and lines starting
with `#` are skipped. Every line is checked before anything runs: an unknown key, a bad
value, a missing input or two jobs with one output refuses the whole file in one line.

The run follows the studio's pool (kinora.jobs.pool): spawned processes (or Ray actors),
each loading the model once (kinora.pipelines.kinora.load_pipeline caches it per process),
each given one job at a time, so a worker that dies is known to have died on that job; it
is replaced and the job retried. A job that raises is retried up to `retries` times; a
KinoraError (bad input, an existing output) is not worth retrying and fails at once. A
failed job never stops the others and is never lost: DIR/batch-summary.json lists every
job (rewritten atomically after each one, so a killed batch continues with `resume`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing as mp
import os
import re
import time
import types
import typing
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kinora.errors import KinoraError

SUMMARY = "batch-summary.json"
RETRIES = 2  # a failing job runs at most 1 + RETRIES times
SLUG_WORDS = 6
SLUG_CHARS = 40
STATUSES = ("pending", "ok", "failed", "skipped", "interrupted")

# `kinora film` options a film line takes: key -> (the make_film argument it sets, its type).
FILM_KEYS: dict[str, tuple[str, object]] = {
    "story": ("text", Path),  # a UTF-8 text file; or `text` itself
    "text": ("text", str),
    "mode": ("mode", str | None),
    "seconds_per_shot": ("seconds_per_shot", float | None),
    "seed": ("seed", int),
    "previs": ("previs_board", bool),
    "max_tries": ("max_tries", int),
    "weights": ("model", Path | None),
    "model_dir": ("model", Path | None),  # the same, named as --model-dir (another backend's diffusers folder)
    "backend": ("backend", str),
    "planner": ("planner", str),
    "base_url": ("base_url", str | None),  # with planner openai
    "model": ("planner_model", str | None),  # with planner openai: the model the endpoint serves
    # The generation settings each take uses (kinora.timeline.edits.DEFAULT_SETTINGS).
    "steps": ("steps", int | None),
    "guidance": ("guidance", float | None),
    "precision": ("precision", str),
    "threads": ("threads", int | None),
    "physics": ("physics", bool | None),
}
# GenerateRequest fields a line does not set: the batch sets them (out from DIR, --force, --resume).
SHOT_BATCH_FIELDS = ("out", "force", "resume", "edit")
SHOT_EXTRA_KEYS = ("edit_region", "edit_time")  # `kinora generate`'s two options that make `edit`
SHOT_ALIASES = {"model_dir": "model"}  # `kinora generate --model-dir` sets the request's model


# ---------------------------------------------------------------------------------
# The jobs file
# ---------------------------------------------------------------------------------


@dataclass
class BatchJob:
    """One checked line of the jobs file, ready to run."""

    index: int  # 1, 2, ... in file order (the NNNN of a default output name)
    line: int  # its line number in the file
    input: object  # the line's JSON value, as written
    kind: str  # "shot" or "film"
    out: str  # the output, relative to the batch's folder
    args: object  # shot: a GenerateRequest without out; film: make_film's keyword arguments without out


def slug(text: str) -> str:
    """A file-name slug of a prompt's first words ("a red ball bounces" -> "a-red-ball-bounces")."""
    words = re.findall(r"\w+", text.lower())[:SLUG_WORDS]
    return "-".join(words)[:SLUG_CHARS].strip("-_")


def _hints(obj) -> dict:
    import kinora.pipelines.generate as g

    return typing.get_type_hints(obj, vars(g))


def _value(where: str, key: str, value, hint, base: Path):
    """`value` (from JSON) checked against the type `hint`; paths are read relative to `base`."""
    bad = KinoraError(f"{where}: {key} {json.dumps(value, ensure_ascii=False)} is not "
                      f"{_type_name(hint)}")
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if Path in options and isinstance(value, str):  # a path given as a string is a Path, not a str
            return _value(where, key, value, Path, base)
        for a in options:
            try:
                return _value(where, key, value, a, base)
            except KinoraError:
                continue
        raise bad
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise bad
    if hint is str:
        if isinstance(value, str):
            return value
        raise bad
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise bad
        path = Path(value).expanduser()
        path = path if path.is_absolute() else base / path
        if not path.exists():
            read = f" (read from {path})" if str(path) != value else ""
            raise KinoraError(f"{where}: {key} {value!r} does not exist{read}")
        return path
    if origin is tuple:
        if not isinstance(value, list) or len(value) != len(args):
            raise bad
        return tuple(_value(where, key, v, a, base) for v, a in zip(value, args))
    raise KinoraError(f"{where}: {key} cannot be given in a batch file (it takes a {_type_name(hint)})")


def _type_name(hint) -> str:
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "a string", Path: "a path"}
    if hint in names:
        return names[hint]
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple:
        return f"a list of {len(args)} ({', '.join(_type_name(a) for a in args)})"
    return " or ".join(_type_name(a) if a is not type(None) else "null" for a in args) or str(hint)


def _key(k: str) -> str:
    return k.replace("-", "_")  # `kinora generate`'s --last-image is "last-image" or "last_image"


def _shot(where: str, obj: dict, base: Path):
    """A shot line -> (a GenerateRequest without out, the out key or None)."""
    from kinora.diffusion.tasks import EditRegion
    from kinora.pipelines.generate import GenerateRequest, check_request

    hints = _hints(GenerateRequest)
    keys = [k for k in hints if k not in SHOT_BATCH_FIELDS] + list(SHOT_EXTRA_KEYS) + list(SHOT_ALIASES)
    kw, extra = {}, {}
    for k, v in obj.items():
        if k in ("out", "film"):
            continue
        if k in SHOT_ALIASES:
            if SHOT_ALIASES[k] in obj:
                raise KinoraError(f"{where}: {k} and {SHOT_ALIASES[k]} set the same thing; give one")
            k = SHOT_ALIASES[k]
        if k not in keys:
            hint = ' (a film line needs "film": true)' if k in ("story", "text") else ""
            raise KinoraError(f"{where}: a shot does not take {k!r}{hint}; it takes {', '.join(keys + ['out'])}")
        if k == "size":
            v = _size(where, v)
        if k in SHOT_EXTRA_KEYS:
            extra[k] = v
            continue
        kw[k] = _value(where, k, v, hints[k], base)
    if "prompt" not in kw and "spec" in kw:
        kw["prompt"] = ""
    if "prompt" not in kw:
        raise KinoraError(f"{where}: a shot needs a \"prompt\" (or a \"spec\" file)")
    if extra:
        kw["edit"] = _edit(where, extra.get("edit_region"), extra.get("edit_time"), EditRegion)
    req = GenerateRequest(**kw)
    check_request(req)
    return req, slug(req.prompt) or (Path(req.spec).stem if req.spec else "") or "shot"


def _size(where: str, v):
    """64, "128x64" (as `kinora generate --size`) or [128, 64] -> [width, height]."""
    if isinstance(v, int) and not isinstance(v, bool):
        return [v, v]
    if isinstance(v, str):
        parts = v.lower().split("x") if "x" in v.lower() else [v, v]
        if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
            return [int(p) for p in parts]
        raise KinoraError(f"{where}: size {v!r} is not WIDTHxHEIGHT or one number (e.g. 64 or 128x64)")
    return v  # a list is checked against the field's type


def _edit(where: str, region, times, EditRegion):
    def numbers(v, sep, n, key):
        if isinstance(v, str):
            v = v.split(sep)
        try:
            v = [float(x) for x in v]
        except (TypeError, ValueError):
            v = []
        if len(v) != n:
            raise KinoraError(f"{where}: {key} {json.dumps(v)} is not {n} numbers")
        return tuple(v)

    if region is None:
        raise KinoraError(f"{where}: edit_time needs edit_region (which box of the frame to regenerate)")
    return EditRegion(numbers(region, ",", 4, "edit_region"),
                      None if times is None else numbers(times, ":", 2, "edit_time"))


def _film(where: str, obj: dict, base: Path):
    """A film line -> (make_film's keyword arguments without out, a slug)."""
    from kinora.jobs.kinds import check_film
    from kinora.pipelines.film import read_text

    kw = {}
    for k, v in obj.items():
        if k in ("out", "film"):
            continue
        if k not in FILM_KEYS:
            raise KinoraError(f"{where}: a film does not take {k!r}; it takes {', '.join([*FILM_KEYS, 'out'])}")
        name, hint = FILM_KEYS[k]
        if name in kw:
            same = [o for o in obj if FILM_KEYS.get(o, ("",))[0] == name]
            raise KinoraError(f"{where}: {' and '.join(same)} set the same thing; give one")
        kw[name] = _value(where, k, v, hint, base)
    if "text" not in kw:
        raise KinoraError(f"{where}: a film needs \"story\" (a text file) or \"text\"")
    story = kw["text"] if isinstance(kw["text"], Path) else None
    if story is not None:
        kw["text"] = read_text(story)
    if kw.get("model") is not None:
        kw["model"] = str(kw["model"])  # make_film keeps it in the project's settings (JSON)
    planner = kw.get("planner", "offline")
    if planner not in ("offline", "openai"):
        raise KinoraError(f"{where}: planner {planner!r} is not offline or openai")
    if planner == "offline" and (kw.get("base_url") or kw.get("planner_model")):
        raise KinoraError(f"{where}: base_url and model are for \"planner\": \"openai\"; add it, or drop them")
    if kw.get("mode") not in (None, "news", "knowledge", "story"):
        raise KinoraError(f"{where}: mode {kw['mode']!r} is not news, knowledge or story")
    if planner == "offline":  # plans the text: refuses one with nothing to film (an LLM plans in its worker)
        check_film({"text": kw["text"], "mode": kw.get("mode"), "seconds_per_shot": kw.get("seconds_per_shot"),
                    "seed": kw.get("seed", 0), "max_tries": kw.get("max_tries", 3)})
    from kinora.pipelines.generate import GenerateRequest, check_request

    # The settings each take is generated with, checked as a shot's would be.
    check_request(GenerateRequest("x", steps=kw.get("steps"), guidance=kw.get("guidance"),
                                  precision=kw.get("precision", "auto"), threads=kw.get("threads"),
                                  seed=kw.get("seed", 0), backend=kw.get("backend", "kinora"), model=kw.get("model")))
    return kw, slug(story.stem if story is not None else kw["text"]) or "film"


def _out(where: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise KinoraError(f"{where}: out {json.dumps(value)} is not a file name")
    p = Path(value)
    if p.is_absolute() or ".." in p.parts or value.strip() in (".", SUMMARY):
        raise KinoraError(f"{where}: out {value!r} must be a new name inside the output folder (no '..', not "
                          f"absolute, not {SUMMARY})")
    return p.as_posix()


def parse_jobs(text: str, base: str | os.PathLike = ".", name: str = "jobs") -> list[BatchJob]:
    """Check every line of a jobs file (see the module docstring) and return its jobs; the
    first bad line raises KinoraError naming `name`, its line number and the key."""
    base = Path(base)
    jobs: list[BatchJob] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"{name} line {number}"
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise KinoraError(f"{where}: not JSON ({e.msg} at column {e.colno}); write a JSON object or a "
                              f"quoted prompt") from None
        value = obj
        if isinstance(obj, str):
            obj = {"prompt": obj}
        if not isinstance(obj, dict):
            raise KinoraError(f"{where}: a job is a JSON object or a prompt string, not {type(obj).__name__}")
        obj = {_key(k): v for k, v in obj.items()}
        film = obj.get("film", False)
        if not isinstance(film, bool):
            raise KinoraError(f"{where}: film {json.dumps(film)} is not true or false")
        try:
            args, stem = _film(where, obj, base) if film else _shot(where, obj, base)
        except KinoraError as e:
            msg = str(e)
            raise KinoraError(msg if msg.startswith(where) else f"{where}: {msg}") from None
        index = len(jobs) + 1
        out = _out(where, obj["out"]) if "out" in obj else f"{index:04d}-{stem}" + ("" if film else ".mp4")
        if not film and not out.lower().endswith(".mp4"):
            raise KinoraError(f"{where}: out {out!r} must end in .mp4")
        for other, other_line in seen.items():
            if out == other or out.startswith(other + "/") or other.startswith(out + "/"):
                raise KinoraError(f"{where}: out {out!r} is also the output of line {other_line} ({other!r}); "
                                  f"give each job its own \"out\"")
        seen[out] = number
        jobs.append(BatchJob(index=index, line=number, input=value, kind="film" if film else "shot", out=out,
                             args=args))
    return jobs


def read_jobs(path: str | os.PathLike) -> list[BatchJob]:
    """parse_jobs of a file, paths in it read relative to its folder."""
    from kinora.io.text import read_text_file

    path = Path(path)
    text = read_text_file(path, "jobs file", "the JSONL file of jobs")
    jobs = parse_jobs(text, path.parent, path.name)
    if not jobs:
        raise KinoraError(f"{path} has no jobs; write one JSON object (or a quoted prompt) per line")
    return jobs


# ---------------------------------------------------------------------------------
# Running one job (in a worker)
# ---------------------------------------------------------------------------------


@dataclass
class Task:
    """One attempt at one job, as a worker gets it."""

    index: int
    kind: str
    args: object
    out: Path  # absolute
    force: bool
    resume: bool
    attempt: int = 1


def run_task(task: Task) -> dict:
    """The default runner: make the job's output and check its label; return what the summary keeps."""
    from kinora.label.inspect import inspect_video

    if task.kind == "shot":
        from kinora.pipelines.generate import generate

        req = dataclasses.replace(task.args, out=task.out, force=task.force, resume=task.resume)
        r = generate(req)
        t = r.output.frames[0].shape[0]
        result = {"frames": t, "fps": r.fps, "task": r.output.task, "warnings": list(r.output.warnings)}
        video = r.path
    else:
        from kinora.pipelines.film import make_film

        kw = dict(task.args)
        planner, base_url, name = kw.pop("planner", "offline"), kw.pop("base_url", None), kw.pop("planner_model", None)
        if planner == "openai":
            from kinora.plan.llm import llm_planner

            kw["planner"] = llm_planner(base_url, name)
        r = make_film(out=task.out, force=task.force, **kw)
        result = {"shots": len(r.plan.shots), "mode": r.plan.mode.mode,
                  "flagged": [s["shot"] for s in r.shots if not s["passed"]]}
        video = r.film
    label = inspect_video(video)
    if not label["ok"]:  # a written output without its label is not a result (retried)
        raise RuntimeError(f"{video} failed its label check: {'; '.join(label['problems'])}")
    return result


def labeled(path: Path) -> bool:
    """Whether `path` is a complete labeled output: a shot's MP4, or a film folder's film.mp4."""
    from kinora.label.inspect import inspect_video

    video = path / "film.mp4" if path.is_dir() else path
    try:
        return video.is_file() and inspect_video(video)["ok"]
    except KinoraError:
        return False


@dataclass
class Outcome:
    index: int
    ok: bool
    result: dict = field(default_factory=dict)
    error: str | None = None
    retry: bool = False  # worth another attempt
    seconds: float = 0.0
    worker: int | None = None  # the pid that ran it


def execute(task: Task, runner: Callable[[Task], dict]) -> Outcome:
    """Run one task in this process; never raises (a worker keeps taking jobs)."""
    t0 = time.perf_counter()
    try:
        result = runner(task)
        return Outcome(task.index, True, result=result, seconds=time.perf_counter() - t0, worker=os.getpid())
    except KinoraError as e:  # the input or the environment: the same next time
        return Outcome(task.index, False, error=str(e), seconds=time.perf_counter() - t0, worker=os.getpid())
    except Exception as e:
        return Outcome(task.index, False, error=" ".join(f"{type(e).__name__}: {e}".split()), retry=True,
                       seconds=time.perf_counter() - t0, worker=os.getpid())


def warm(backend: str, model, precision: str, compile: bool, threads: int) -> None:
    """What a worker does once: its torch threads, and the model loaded (cached for the process:
    kinora.pipelines.kinora.load_pipeline, or another backend's adapter); with `compile` its
    first job compiles the blocks for its shape, and the jobs after it run compiled."""
    import torch

    torch.set_num_threads(threads)
    try:
        from kinora.pipelines.base import load_generator

        load_generator(backend, model, precision=precision, compile=compile)
    except Exception:
        pass  # no weights here, or a bad model: the jobs that need it say so in their own errors


# ---------------------------------------------------------------------------------
# Pools: local processes and Ray actors, one job at a time per worker
# ---------------------------------------------------------------------------------


def _stop(signum, frame):
    raise KeyboardInterrupt  # unwinds the job: its temporary files and its output's lock are removed


def _local_worker(conn, backend, model, precision, compile, threads, runner) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the batch's to handle: it stops the workers
    signal.signal(signal.SIGTERM, _stop)
    try:
        warm(backend, model, precision, compile, threads)
        while True:
            try:
                task = conn.recv()
            except EOFError:  # the batch is over (or its process died)
                return
            if task is None:
                return
            conn.send(execute(task, runner))
    except KeyboardInterrupt:
        return


class LocalPool:
    """Spawned processes, one job each at a time. Not concurrent.futures: a ProcessPoolExecutor
    whose worker dies breaks every job in flight, and cannot say which job killed it."""

    def __init__(self, size: int, warm_args: tuple, runner):
        self.size, self.warm_args, self.runner = size, warm_args, runner
        self.ctx = mp.get_context("spawn")
        self.idle: list = [self._spawn() for _ in range(size)]
        self.busy: dict = {}  # connection -> (process, task)
        self.restarts = 0
        self.name = f"{size} local worker process{'es' if size > 1 else ''}"

    def _spawn(self):
        parent, child = self.ctx.Pipe()
        p = self.ctx.Process(target=_local_worker, args=(child, *self.warm_args, self.runner), daemon=True,
                             name="kinora-batch-worker")
        p.start()
        child.close()  # only the worker holds its end: its death reads as EOF here
        return p, parent

    @property
    def free(self) -> int:
        return len(self.idle)

    def submit(self, task: Task) -> None:
        p, conn = self.idle.pop()
        try:
            conn.send(task)
        except OSError:  # it died idle: a new one takes the task
            self._replace(p, conn)
            p, conn = self.idle.pop()
            conn.send(task)
        self.busy[conn] = (p, task)

    def _replace(self, p, conn) -> None:
        conn.close()
        p.join(5)
        self.idle.append(self._spawn())
        self.restarts += 1

    def wait(self) -> list[Outcome]:
        from multiprocessing.connection import wait

        done = []
        for conn in wait(list(self.busy)):
            p, task = self.busy.pop(conn)
            try:
                done.append(conn.recv())
                self.idle.append((p, conn))
            except (EOFError, OSError):
                p.join(5)
                code = p.exitcode
                why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                done.append(Outcome(task.index, False, error=f"the worker process died ({why})", retry=True,
                                    worker=p.pid))
                self._replace(p, conn)
        return done

    def close(self) -> None:
        workers = self.idle + [(p, conn) for conn, (p, _) in self.busy.items()]
        for _, conn in self.idle:
            try:
                conn.send(None)  # idle: finish cleanly
            except OSError:
                pass
        for p, conn in workers:
            if (p, conn) not in self.idle:
                p.terminate()  # busy when the batch stops (Ctrl-C): its job unwinds, publishing nothing
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join(5)
            conn.close()


class _Actor:
    """A Ray actor: one per worker, the model loaded once in its own process."""

    def __init__(self, backend, model, precision, compile, threads):
        warm(backend, model, precision, compile, threads)

    def run(self, task: Task, runner) -> Outcome:
        return execute(task, runner)


class RayPool:
    """Ray actors, one job each at a time: jobs go to whichever actor is free."""

    def __init__(self, address: str, workers: int | None, warm_args: tuple, runner, jobs: int):
        # Before the import: no usage reports leave the machine, and a local Ray listens on the
        # loopback only (Ray's single-machine mode; otherwise it binds every interface).
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        if address == "local" or address.split(":")[0] in ("127.0.0.1", "localhost"):
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
        try:
            import ray
        except ImportError:
            raise KinoraError("--ray needs Ray, which is not installed: pip install 'kinora[ray]'") from None
        import logging

        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            opts = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
            try:
                if address == "local":
                    ray.init(num_cpus=workers or os.cpu_count() or 1, **opts)
                else:
                    ray.init(address=address, **opts)
            except ConnectionError as e:
                raise KinoraError(f"cannot connect to the Ray cluster at {address}: {e}") from None
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if workers is not None and workers > cpus:
            self.close()
            raise KinoraError(f"--workers {workers} is more than the Ray cluster's {cpus} CPUs (one per worker)")
        self.size = max(1, min(workers or cpus, jobs))
        self.warm_args, self.runner = warm_args, runner
        self.actor_class = ray.remote(num_cpus=1, max_restarts=0)(_Actor)
        self.idle = [self.actor_class.remote(*warm_args) for _ in range(self.size)]
        self.busy: dict = {}  # ObjectRef -> (actor, task)
        self.restarts = 0
        self.name = f"{self.size} Ray actor{'s' if self.size > 1 else ''} ({address})"

    @property
    def free(self) -> int:
        return len(self.idle)

    def submit(self, task: Task) -> None:
        actor = self.idle.pop()
        self.busy[actor.run.remote(task, self.runner)] = (actor, task)

    def wait(self) -> list[Outcome]:
        ray = self.ray
        ready, _ = ray.wait(list(self.busy), num_returns=1)
        done = []
        for ref in ready:
            actor, task = self.busy.pop(ref)
            try:
                done.append(ray.get(ref))
                self.idle.append(actor)
            except ray.exceptions.RayActorError as e:  # the actor's process died: a new actor takes its place
                done.append(Outcome(task.index, False, error=f"the Ray worker died ({_first_line(e)})",
                                    retry=True))
                ray.kill(actor, no_restart=True)
                self.idle.append(self.actor_class.remote(*self.warm_args))
                self.restarts += 1
            except ray.exceptions.RayError as e:  # lost object, out of memory, ...: worth another try
                done.append(Outcome(task.index, False, error=f"Ray: {_first_line(e)}", retry=True))
                self.idle.append(actor)
        return done

    def close(self) -> None:
        for actor in self.idle + [a for a, _ in self.busy.values()]:
            self.ray.kill(actor)
        if self.started:
            self.ray.shutdown()


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return " ".join(text[0].split()) if text else type(e).__name__


# ---------------------------------------------------------------------------------
# The batch
# ---------------------------------------------------------------------------------


@dataclass
class JobRecord:
    """What the summary says about one job."""

    line: int
    input: object
    kind: str
    output: str  # relative to the batch folder
    status: str = "pending"  # one of STATUSES
    attempts: int = 0
    error: str | None = None  # the last attempt's one-line reason
    seconds: float = 0.0  # summed over its attempts
    result: dict = field(default_factory=dict)  # shot: frames, fps, task, warnings; film: shots, mode, flagged
    tries: list = field(default_factory=list)  # each attempt: the worker's pid, its seconds and its error


@dataclass
class BatchSummary:
    folder: Path
    jobs_file: str
    pool: str  # "2 local worker processes", "4 Ray actors (local)"
    retries: int
    jobs: list[JobRecord]
    seconds: float = 0.0
    restarts: int = 0  # workers replaced after dying

    @property
    def totals(self) -> dict:
        count = {s: sum(j.status == s for j in self.jobs) for s in STATUSES}
        return {"jobs": len(self.jobs), **count, "attempts": sum(j.attempts for j in self.jobs),
                "seconds": round(self.seconds, 3), "restarts": self.restarts}

    @property
    def ok(self) -> bool:
        return all(j.status in ("ok", "skipped") for j in self.jobs)

    def path(self, job: JobRecord) -> Path:
        return self.folder / job.output

    def to_dict(self) -> dict:
        return {"jobs_file": self.jobs_file, "folder": str(self.folder), "pool": self.pool, "retries": self.retries,
                "totals": self.totals, "jobs": [dataclasses.asdict(j) for j in self.jobs]}


def _previous(path: Path) -> dict[str, dict]:
    """The jobs of an earlier summary, by output."""
    try:
        jobs = json.loads(path.read_text(encoding="utf-8"))["jobs"]
        return {j["output"]: j for j in jobs}
    except (OSError, ValueError, KeyError, TypeError):
        raise KinoraError(f"cannot read the earlier summary {path}; remove it, or pass --force to start "
                          f"afresh") from None


def _exists(path: Path) -> bool:
    return path.is_file() or (path.is_dir() and any(path.iterdir()))


def run_batch(jobs_file: str | os.PathLike, out: str | os.PathLike, *, ray: str | None = None,
              workers: int | None = None, retries: int = RETRIES, force: bool = False, resume: bool = False,
              on_update: Callable[[JobRecord, BatchSummary], None] | None = None,
              runner: Callable[[Task], dict] = run_task) -> BatchSummary:
    """Run every job of `jobs_file` into the folder `out` (see the module docstring).

    `ray`: None for local spawned processes, "local" to start a Ray on this machine, or a
    cluster's address. `workers`: how many (default one per core / per cluster CPU).
    `on_update(job, summary)` is called when a job finishes and when one is retried (its
    status still "pending"). `runner` runs one Task in a worker (tests inject failures here).
    """
    from kinora.io.atomic import check_folder_path, hold_lock, write_json_atomic

    # 1. Check every line and every output before anything runs.
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise KinoraError(f"--retries {retries!r} is out of range; use a whole number from 0 to 10")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise KinoraError(f"--workers must be at least 1, got {workers!r}")
    jobs = read_jobs(jobs_file)
    folder = check_folder_path(out, f"output folder {out}")
    summary_path = folder / SUMMARY
    records = [JobRecord(j.line, j.input, j.kind, j.out) for j in jobs]
    summary = BatchSummary(folder=folder, jobs_file=str(jobs_file), pool="", retries=retries, jobs=records)
    folder.mkdir(parents=True, exist_ok=True)
    with hold_lock(folder / ".batch.lock", f"the batch in {folder}"):
        previous = _previous(summary_path) if resume and summary_path.exists() else {}
        if summary_path.exists() and not (resume or force):
            raise KinoraError(f"{summary_path} exists (an earlier batch); add --resume to continue it or --force to "
                              f"run every job again")
        todo, existing, ours = [], [], set()
        for job, rec in zip(jobs, records):
            before = previous.get(job.out)
            if before and before.get("input") == job.input:
                if before.get("status") in ("ok", "skipped") and labeled(folder / job.out):
                    rec.status, rec.result = "skipped", before.get("result") or {}
                    continue
                # The same job in the earlier run (failed, or interrupted, maybe after it wrote its
                # output): what it left is this batch's to replace.
                ours.add(job.index)
            if _exists(folder / job.out) and not force and job.index not in ours:
                existing.append(job.out)
            todo.append(job)
        if existing:
            more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
            raise KinoraError(f"{folder / existing[0]}{more} already exist{'s' if not more else ''}; add --resume to "
                              f"skip finished jobs, --force to replace them, or choose another folder")

        # 2. Start the workers, warm with the model most jobs use.
        models = [(getattr(j.args, "backend", "kinora"), j.args.model, j.args.precision, j.args.compile)
                  if j.kind == "shot" else
                  (j.args.get("backend", "kinora"), j.args.get("model"), j.args.get("precision", "auto"), False)
                  for j in todo]
        warm_with = max(set(models), key=models.count) if models else ("kinora", None, "auto", False)
        t0 = time.perf_counter()
        pool = None
        if todo and ray is not None:
            pool = RayPool(ray, workers, (*warm_with, 1), runner, len(todo))
        elif todo:
            size = max(1, min(workers or os.cpu_count() or 1, len(todo)))
            pool = LocalPool(size, (*warm_with, max(1, (os.cpu_count() or 1) // size)), runner)
        summary.pool = pool.name if pool is not None else "none (every job was done before)"
        try:
            write_json_atomic(summary_path, summary.to_dict())

            # 3. Feed jobs to free workers; retry what failed and may pass next time.
            def task(job: BatchJob, attempt: int = 1) -> Task:
                return Task(job.index, job.kind, job.args, folder / job.out, force=force or job.index in ours,
                            resume=resume, attempt=attempt)

            queue = deque(task(j) for j in todo)
            while queue or (pool is not None and pool.busy):
                while queue and pool.free:
                    pool.submit(queue.popleft())
                for o in pool.wait():
                    rec = records[o.index - 1]
                    rec.attempts += 1
                    rec.seconds = round(rec.seconds + o.seconds, 3)
                    rec.tries.append({"worker": o.worker, "seconds": round(o.seconds, 3), "error": o.error})
                    rec.error = o.error
                    if o.ok:
                        rec.status, rec.result = "ok", o.result
                    elif o.retry and rec.attempts <= retries:
                        queue.append(task(jobs[o.index - 1], rec.attempts + 1))
                    else:
                        rec.status = "failed"
                    summary.seconds = time.perf_counter() - t0
                    summary.restarts = pool.restarts
                    write_json_atomic(summary_path, summary.to_dict())
                    if on_update is not None:
                        on_update(rec, summary)
        except BaseException:
            for rec in records:
                if rec.status == "pending":
                    rec.status = "interrupted"
            write_json_atomic(summary_path, summary.to_dict())
            raise
        finally:
            if pool is not None:
                pool.close()
        # 4. The summary: every job, its status, output, attempts, error and seconds.
        summary.seconds = time.perf_counter() - t0
        write_json_atomic(summary_path, summary.to_dict())
    return summary
