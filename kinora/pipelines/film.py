"""Story in, storyboard and film out: the whole path of `kinora film`, one step after another.

    result = make_film("story.txt" text, "out/pip")     # plan, generate, verify, render, label
    result.storyboard_pdf, result.film, result.otio, result.provenance

1. Plan: the text into scenes, shots and entities under a truth mode (kinora.plan.story;
   or an LLM planner behind the same interface, kinora.plan.llm).
2. Previs (`previs=True`, or the storyboard alone): every shot run by the simulator, a
   shot that continues its scene starting where the things of the shot before came to rest.
3. Generate: each shot as a take of a film project (kinora.timeline), with the simulator
   in the loop where the model has a physics companion; a shot that continues its scene
   starts from the last frame of the one before (image-to-video).
4. Verify: the analyzer checks each take against its ShotSpec (kinora.verify). What must
   pass depends on the mode: news, everything the spec says; knowledge, that and the
   motion against the simulator's own rollout of the spec (trajectory error); story, the
   consistency of its things (none missing, none extra, each the colour and shape the
   registry gave it, none appearing or vanishing without cause). A failing take is kept
   and the shot regenerated with a new seed, up to `max_tries`; a shot that never passes
   uses its best take and is flagged: the storyboard marks it, provenance.json says why,
   and in news and knowledge the film shows "未通过核实 / NOT VERIFIED" over it.
5. Render: the active takes joined into film.mp4 (labeled), film.otio for editors.
6. Storyboard (HTML and PDF) and provenance.json: every element with its source span or
   its invented / filled-in / unstated mark, the mode and its cues, every take's
   verification, the regenerations and the flags.

Everything is written into a folder beside DIR and moved to DIR when complete, so a
failure never leaves half a film where the user looks for one.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kinora.errors import KinoraError
from kinora.progress import part, report

BUNDLED_STORY = Path(__file__).resolve().parents[1] / "stories" / "pip.txt"  # the README's story (kinora/stories)
MAX_TRIES = 3
PHYSICS_TOLERANCE_PX = 8.0  # knowledge: mean centroid distance to the simulator's rollout, in 64-px units
SEED_STRIDE = 1000  # try k of a shot uses seed + k * SEED_STRIDE
CONSISTENCY_ISSUES = ("missing", "extra", "wrong_color", "wrong_shape", "unexplained")


@dataclass
class FilmResult:
    folder: Path
    plan: object  # kinora.plan.story.StoryPlan
    storyboard_html: Path
    storyboard_pdf: Path
    provenance: Path
    film: Path | None = None
    otio: Path | None = None
    project: Path | None = None
    shots: list[dict] = field(default_factory=list)  # per shot: tries, passed, flag
    timings: dict = field(default_factory=dict)  # seconds per step
    keyframes: list[list[str]] = field(default_factory=list)  # per shot, its keyframe PNGs relative to the folder


# ---------------------------------------------------------------------------------
# 2. Previs
# ---------------------------------------------------------------------------------


def carry_state(spec, before) -> object:
    """`spec` with the things it shares with the clip `before` (kinora.world.sim.Clip) where
    they came to rest: the same place and pose, so the next shot starts where this one ended."""
    spec = spec.copy()
    last = before.truth["frames"][-1]["objects"]
    ends = {o.id: last[j] for j, o in enumerate(before.spec.objects)}
    supports = {o.on for o in spec.objects if o.on}
    for o in spec.objects:
        end = ends.get(o.id)
        if end is None or o.on or o.id in supports or o.motion in ("fall", "topple"):
            continue
        x, y, z = end["position"]
        if abs(x) > 3.0 or abs(y) > 3.0:  # it left the stage: it enters afresh
            continue
        o.position, o.orientation = [float(x), float(y), float(z)], [float(v) for v in end["orientation"]]
    return spec


def previs(plan) -> list[np.ndarray]:
    """Every shot rendered by the simulator, continuing shots from where the last one ended; (T, H, W, 3) each."""
    from kinora.world.sim import simulate

    clips, prev = [], None
    for shot in plan.shots:
        spec = carry_state(shot.spec, prev) if shot.continues and prev is not None else shot.spec
        try:
            prev = simulate(spec)
        except KinoraError:  # a carried pose that cannot be placed: the shot starts afresh
            prev = simulate(shot.spec)
        clips.append(prev.frames)
    return clips


def keyframes(frames: np.ndarray, n: int = 3) -> list[np.ndarray]:
    """First, middle and last frame (or n spread evenly)."""
    idx = sorted({int(round(i)) for i in np.linspace(0, len(frames) - 1, n)})
    return [frames[i] for i in idx]


# ---------------------------------------------------------------------------------
# 4. Verification
# ---------------------------------------------------------------------------------


def verify(frames: np.ndarray, spec, mode: str, fps: int, physics_spec=None) -> dict:
    """One take against its plan, by the mode's standard (module docstring, step 4)."""
    from kinora.verify.analyzer import analyze
    from kinora.verify.compare import compare

    analysis = analyze(frames, fps=fps)
    report = compare(analysis, spec)
    issues = [{"kind": i.kind, "message": i.message, "object": i.object} for i in report.issues]
    if mode == "story":
        failing = [i for i in issues if i["kind"] in CONSISTENCY_ISSUES]
    else:
        failing = list(issues)
    tracks = {tr.id: tr for tr in analysis.tracks}
    seen = {oid: ({"color": tracks[tid].color, "shape": tracks[tid].shape} if tid in tracks else None)
            for oid, tid in report.matches.items()}  # what the analyzer saw of each thing: story consistency
    out = {"passed": not failing, "standard": mode, "scores": {k: round(v, 3) for k, v in report.scores.items()},
           "issues": issues, "failing": [i["message"] for i in failing], "objects": seen}
    if mode == "knowledge":
        from kinora.eval.physics import compare_continuations
        from kinora.world.sim import simulate
        from kinora.world.spec import resolve

        sim = simulate(physics_spec if physics_spec is not None else resolve(spec))
        truth = analyze(sim.frames, fps=fps)
        err = compare_continuations(analysis, truth, 1, sorted({o.color for o in spec.objects}))[
            "trajectory_error_px"]
        out["physics"] = {"trajectory_error_px": round(err, 2), "tolerance_px": PHYSICS_TOLERANCE_PX,
                          "passed": err <= PHYSICS_TOLERANCE_PX}
        if err > PHYSICS_TOLERANCE_PX:
            out["passed"] = False
            out["failing"].append(f"the motion departs from the simulator's rollout of the shot by {err:.1f} px "
                                  f"on average (tolerance {PHYSICS_TOLERANCE_PX:g})")
    return out


# ---------------------------------------------------------------------------------
# The whole film
# ---------------------------------------------------------------------------------


def _claim(out: Path, force: bool) -> Path:
    from kinora.io.atomic import check_folder_path

    out = check_folder_path(out, f"output folder {out}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise KinoraError(f"{out} already exists and is not empty; choose a new folder, or pass --force to "
                          f"replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp


def _publish(tmp: Path, out: Path) -> None:
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()
    else:
        os.replace(tmp, out)


def read_text(path: str | os.PathLike) -> str:
    """The text file a film is made from (UTF-8), refused in one line when it cannot be."""
    from kinora.io.text import read_text_file

    path = Path(path)
    text = read_text_file(path, "text file", "the text file (UTF-8) to plan")
    if not text.strip():
        raise KinoraError(f"{path} is empty; write a story, a news item or an explanation to film")
    return text


def plan_text(text: str, mode: str | None = None, seconds_per_shot: float | None = None, seed: int = 0,
              planner=None, fps: int = 8, width: int = 64, height: int = 64):
    """Step 1: the offline planner, or `planner` (a callable with plan_story's signature: kinora.plan.llm)."""
    from kinora.plan.story import plan_story

    plan = (planner or plan_story)(text, mode=mode, seconds_per_shot=seconds_per_shot, seed=seed, fps=fps,
                                   width=width, height=height)
    if not plan.shots:
        raise KinoraError("the text shows nothing the micro-world can film (no ball, cube or cylinder that "
                          "appears, moves or is looked at); write what the camera should see")
    return plan


def make_storyboard(text: str, out: str | os.PathLike, mode: str | None = None,
                    seconds_per_shot: float | None = None, seed: int = 0, planner=None, force: bool = False) -> Path:
    """`kinora storyboard`: plan and previs only, one PDF (or HTML, by the name's suffix) at `out`."""
    from kinora.io.atomic import claim_output
    from kinora.plan.storyboard import Storyboard

    out = Path(out)
    if out.suffix.lower() not in (".pdf", ".html"):
        raise KinoraError(f"the storyboard is written as PDF or HTML; name it *.pdf or *.html, got {out.name}")
    with claim_output(out, force=force):
        plan = plan_text(text, mode, seconds_per_shot, seed, planner)
        board = Storyboard(plan, [keyframes(f) for f in previs(plan)], source="previs (simulator)")
        board.write(out, replace=force)
    return out


@dataclass
class PrevisResult:
    folder: Path
    plan: object  # kinora.plan.story.StoryPlan
    storyboard_html: Path
    storyboard_pdf: Path
    plan_json: Path
    keyframes: list[list[str]]  # per shot, its keyframe PNGs relative to the folder


def write_keyframes(folder: Path, keys: list[list[np.ndarray]]) -> list[list[str]]:
    """Each shot's keyframes as keyframes/shot-NN-K.png (the model's size, lossless); their relative paths."""
    from PIL import Image

    (folder / "keyframes").mkdir(exist_ok=True)
    names = []
    for n, frames in enumerate(keys, 1):
        names.append([])
        for k, frame in enumerate(frames, 1):
            rel = f"keyframes/shot-{n:02d}-{k}.png"
            Image.fromarray(frame).save(folder / rel)
            names[-1].append(rel)
    return names


def make_previs(text: str, out: str | os.PathLike, mode: str | None = None, seconds_per_shot: float | None = None,
                seed: int = 0, planner=None, force: bool = False) -> PrevisResult:
    """Plan and previs as a folder (storyboard.html and .pdf, plan.json, keyframes/): the draft a
    director looks at within seconds, before any generation. Written beside `out`, then moved there."""
    from kinora.io.atomic import write_json_atomic
    from kinora.plan.storyboard import Storyboard

    plan = plan_text(text, mode, seconds_per_shot, seed, planner)  # bad text fails before anything is written
    out = Path(out)
    tmp = _claim(out, force)
    try:
        report(0.1, "previs")
        keys = [keyframes(f) for f in previs(plan)]
        report(0.7, "storyboard")
        board = Storyboard(plan, keys, source="previs (simulator)")
        board.write(tmp / "storyboard.html")
        board.write(tmp / "storyboard.pdf")
        write_json_atomic(tmp / "plan.json", plan.to_dict())
        names = write_keyframes(tmp, keys)
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return PrevisResult(folder=out, plan=plan, storyboard_html=out / "storyboard.html",
                        storyboard_pdf=out / "storyboard.pdf", plan_json=out / "plan.json", keyframes=names)


def make_film(text: str, out: str | os.PathLike, mode: str | None = None, seconds_per_shot: float | None = None,
              previs_board: bool = False, seed: int = 0, max_tries: int = MAX_TRIES, model: str | None = None,
              planner=None, force: bool = False, progress=None, **settings) -> FilmResult:
    """`kinora film`: all six steps of the module docstring into the folder `out`."""
    from kinora.io.atomic import write_json_atomic
    from kinora.plan.storyboard import Storyboard
    from kinora.timeline.edits import DEFAULT_SETTINGS, Generator
    from kinora.timeline.otio import export_otio
    from kinora.timeline.project import Project
    from kinora.timeline.render import render

    if isinstance(max_tries, bool) or not isinstance(max_tries, int) or not 1 <= max_tries <= 10:
        raise KinoraError(f"--max-tries {max_tries!r} is out of range; use a whole number from 1 to 10")
    say = progress or (lambda msg: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    gen = Generator({**DEFAULT_SETTINGS, "model": model, **settings})
    pipe = gen.pipe  # a bad --model fails before anything is written
    plan = plan_text(text, mode, seconds_per_shot, seed, planner, pipe.default_fps, pipe.default_width,
                     pipe.default_height)
    timings["plan_s"] = time.perf_counter() - t0
    mode = plan.mode.mode
    _check_generator(pipe, plan)  # what the generator cannot make is refused before the folder is claimed
    # Weights without image-to-video (an open-weight t2v model) start every shot afresh.
    continues = "i2v" in pipe.supported_tasks
    if not continues and any(ps.continues for ps in plan.shots):
        say(f"{pipe.model_name} does not do image-to-video: shots that continue the one before start afresh")
    out = Path(out)
    tmp = _claim(out, force)
    try:
        board_frames = None
        if previs_board:
            t = time.perf_counter()
            board_frames = [keyframes(f) for f in previs(plan)]
            timings["previs_s"] = time.perf_counter() - t
        physics = bool(settings.get("physics", pipe.has_physics))
        gen.settings.update(physics=physics, truth_mode=mode)
        project_dir = tmp / "project"
        Project.create(project_dir, {**gen.settings, "fps": pipe.default_fps, "width": pipe.default_width,
                                     "height": pipe.default_height})
        t = time.perf_counter()
        results, actives = [], []  # per shot: its check, and the frames of its active take
        with Project.open(project_dir, write=True) as p:
            for ps in plan.shots:
                image = actives[-1][-1] if ps.continues and actives and continues else None
                with part(ps.number - 1, len(plan.shots) + 1, f"shot {ps.number}/{len(plan.shots)}"):
                    shot, result, frames = _film_shot(p, gen, ps, len(plan.shots), mode, max_tries, image, say)
                p.doc.shots.append(shot)
                actives.append(frames)
                results.append(result)
            p.save(f"film of {len(plan.shots)} shot(s) from the text ({mode} mode)",
                   shots=[s.id for s in p.doc.shots])
        timings["generate_and_verify_s"] = time.perf_counter() - t
        report(len(plan.shots) / (len(plan.shots) + 1), "render")
        t = time.perf_counter()
        film = render(project_dir, tmp / "film.mp4").path
        otio = export_otio(project_dir, tmp / "film.otio")
        timings["render_s"] = time.perf_counter() - t
        t = time.perf_counter()
        keys = board_frames or [keyframes(f) for f in actives]
        board = Storyboard(plan, keys, source="previs (simulator)" if board_frames else "generated takes",
                           verification=results)
        key_names = write_keyframes(tmp, keys)
        board.write(tmp / "storyboard.html")
        board.write(tmp / "storyboard.pdf")
        timings["storyboard_s"] = time.perf_counter() - t
        timings["total_s"] = time.perf_counter() - t0
        prov = provenance(plan, results, gen, timings)
        write_json_atomic(tmp / "provenance.json", prov)
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FilmResult(folder=out, plan=plan, storyboard_html=out / "storyboard.html",
                      storyboard_pdf=out / "storyboard.pdf", provenance=out / "provenance.json", film=out / film.name,
                      otio=out / Path(otio).name, project=out / "project", shots=results, timings=timings,
                      keyframes=key_names)


def _check_generator(pipe, plan) -> None:
    """Refuse a plan with a shot longer than the generator makes, where it cannot continue a clip."""
    limit = getattr(pipe, "max_frames", None)  # an adapter's one-call length (Kinora's own has windows)
    if limit is None or "extend" in pipe.supported_tasks:
        return
    for ps in plan.shots:
        n = max(1, int(round(ps.seconds * pipe.default_fps)))
        if n > limit:
            raise KinoraError(f"shot {ps.number} lasts {ps.seconds:g} s, but {pipe.model_name} makes at most "
                              f"{limit / pipe.default_fps:.1f} s in one call and cannot continue a clip; use "
                              f"--seconds-per-shot {limit / pipe.default_fps:.1f} or less, or weights that do "
                              f"image-to-video")


def _film_shot(p, gen, ps, count: int, mode: str, max_tries: int, image, say):
    """Steps 3 and 4 for one planned shot: takes until one passes (or `max_tries`), the best
    one active; (the project's Shot, its verification result, the active take's frames)."""
    from kinora.timeline.edits import write_take
    from kinora.timeline.project import Shot

    fps = gen.pipe.default_fps
    n = max(1, int(round(ps.seconds * fps)))
    shot = Shot(id=p.new_shot_id(), prompt=ps.source["text"], seconds=n / fps, spec=ps.spec.to_dict(),
                source={**ps.source, "scene": ps.scene, "shot": ps.number}, seed=ps.spec.seed)
    tries, made = [], {}  # made: take id -> its frames, kept so nothing is read back from disk
    for k in range(max_tries):
        s = ps.spec.seed + k * SEED_STRIDE
        say(f"shot {ps.number}/{count}: take {k + 1}" + (f" (seed {s})" if k else ""))
        with part(k, max_tries, f"take {k + 1}"):
            output = gen(ps.source["text"], s, spec=ps.spec, num_frames=n, image=image)
        check = verify(output.frames[0], ps.spec, mode, fps, output.physics_spec)
        take = write_take(p, shot, output, gen, {"kind": "film", "try": k + 1, "verified": check["passed"]},
                          parent=shot.takes[-1].id if shot.takes else None)
        if not check["passed"] and mode in ("news", "knowledge"):  # the notice goes with the take
            take.notice = "not verified: " + "; ".join(check["failing"][:3])
        tries.append({"take": take.id, "seed": s, **check})
        made[take.id] = output.frames[0]
        if check["passed"]:
            break
    best = next((x for x in tries if x["passed"]), None)
    if best is None:
        best = max(tries, key=lambda x: x["scores"].get("overall", 0.0))
    shot.active = best["take"]
    result = {"shot": ps.number, "project_shot": shot.id, "active": best["take"], "passed": best["passed"],
              "tries": tries, "regenerations": len(tries) - 1,
              "flag": None if best["passed"] else
              f"failed verification after {len(tries)} take(s): " + "; ".join(best["failing"][:3]),
              "notice_in_film": bool(shot.active_take().notice)}
    return shot, result, made[best["take"]]


def provenance(plan, results: list[dict], gen, timings: dict) -> dict:
    """provenance.json: the plan (every element's source or mark), the mode and why, every take's check."""
    from kinora import __version__
    from kinora.plan.truth import count_invented

    d = plan.to_dict()
    for shot, res in zip(d["shots"], results):
        shot["verification"] = res
        shot["invented"] = count_invented(shot["spec"])
    return {"format": "kinora-film-provenance", "version": 1, "kinora": __version__, "text": plan.text,
            "mode": d.pop("mode"), "model": gen.pipe.model_name, "checkpoint_sha256": gen.pipe.checkpoint_sha256,
            "physics": bool(gen.settings.get("physics")), "timings_s": {k: round(v, 3) for k, v in timings.items()},
            "flagged": [r["shot"] for r in results if not r["passed"]], **d}
