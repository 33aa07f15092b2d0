"""What a job can be: each kind checks its arguments (fast, before it is queued) and runs one
library call into the job's folder, returning a JSON result with paths relative to it.

    shot        kinora.pipelines.generate.generate: a prompt to a labeled MP4, with its label report
    storyboard  kinora.pipelines.film.make_previs: a text to a storyboard folder (previs, seconds)
    film        kinora.pipelines.film.make_film: a text to a film folder (plan, takes, checks, OTIO, PDF)
    project     kinora.timeline.edits.new_project: prompts to a new film project
    edit        one kinora.timeline.edits operation on a project: every one a new take or revision
    render      kinora.timeline.render.render and kinora.timeline.otio.export_otio: the project's film

Arguments are plain JSON (the job file keeps them); `check` raises KinoraError with the
one line a user needs, and `run` may take minutes, reporting through kinora.progress.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from kinora.errors import KinoraError

SHOT_FIELDS = ("prompt", "seconds", "fps", "size", "steps", "guidance", "seed", "negative", "physics", "strict",
               "truth_mode", "precision", "model", "backend", "threads")


def _fields(args: dict, allowed: tuple[str, ...], kind: str) -> None:
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise KinoraError(f"a {kind} job does not take {', '.join(unknown)}; it takes {', '.join(allowed)}")


# --- shot ---------------------------------------------------------------------------------


def _shot_request(args: dict, out: Path | None):
    from kinora.pipelines.generate import GenerateRequest

    _fields(args, SHOT_FIELDS, "shot")
    size = tuple(args["size"]) if args.get("size") else None
    return GenerateRequest(**{**args, "size": size}, out=out)


def check_shot(args: dict) -> None:
    from kinora.pipelines.generate import check_request

    check_request(_shot_request(args, None))


def run_shot(args: dict, folder: Path) -> dict:
    from kinora.label.inspect import inspect_video
    from kinora.pipelines.generate import generate
    from kinora.progress import part, report

    with part(0, 1.1):  # the label check after the video is the last tenth
        result = generate(_shot_request(args, folder / "shot.mp4"))
    report(1 / 1.1 + 1e-9, "label check")
    out = result.output
    label = inspect_video(result.path)
    t, h, w = out.frames[0].shape[:3]
    return {"video": "shot.mp4", "warnings": list(out.warnings), "canonical": out.canonical, "task": out.task,
            "frames": t, "fps": result.fps, "seconds": round(t / result.fps, 3), "size": [w, h],
            "seed": out.seed, "settings": out.settings, "spec": out.spec.to_dict() if out.spec else None,
            "label": {"ok": label["ok"], "problems": label["problems"], "visible": label["visible_label"],
                      "aigc": label["aigc"], "aigc_meaning": label["aigc_meaning"],
                      "c2pa": bool(label["c2pa"].get("present")), "video": label["video"]}}


# --- storyboard and film ----------------------------------------------------------------------


STORY_FIELDS = ("text", "mode", "seconds_per_shot", "seed")
FILM_FIELDS = STORY_FIELDS + ("max_tries", "model", "backend", "previs_board")


def _text(args: dict) -> str:
    text = args.get("text")
    if not isinstance(text, str) or not text.strip():
        raise KinoraError("the text is empty; paste a story, a news item or an explanation")
    return text


def check_storyboard(args: dict) -> None:
    from kinora.pipelines.film import plan_text

    _fields(args, STORY_FIELDS, "storyboard")
    spp = args.get("seconds_per_shot")
    if spp is not None and not (0 < spp <= 60):
        raise KinoraError(f"seconds per shot {spp:g} is out of range; use more than 0 and at most 60")
    plan_text(_text(args), args.get("mode"), spp, int(args.get("seed") or 0))  # refuses a text with nothing to film


def run_storyboard(args: dict, folder: Path) -> dict:
    from kinora.pipelines.film import make_previs

    r = make_previs(_text(args), folder / "storyboard", mode=args.get("mode"),
                    seconds_per_shot=args.get("seconds_per_shot"), seed=int(args.get("seed") or 0))
    return {"folder": "storyboard", "plan": "storyboard/plan.json", "html": "storyboard/storyboard.html",
            "pdf": "storyboard/storyboard.pdf", "keyframes": [[f"storyboard/{k}" for k in ks] for ks in r.keyframes],
            "shots": len(r.plan.shots), "mode": r.plan.mode.mode}


def check_film(args: dict) -> None:
    _fields(args, FILM_FIELDS, "film")
    check_storyboard({k: v for k, v in args.items() if k in STORY_FIELDS})
    tries = args.get("max_tries", 3)
    if isinstance(tries, bool) or not isinstance(tries, int) or not 1 <= tries <= 10:
        raise KinoraError(f"takes per shot {tries!r} is out of range; use a whole number from 1 to 10")


def run_film(args: dict, folder: Path) -> dict:
    from kinora.pipelines.film import make_film

    r = make_film(_text(args), folder / "film", mode=args.get("mode"), seconds_per_shot=args.get("seconds_per_shot"),
                  seed=int(args.get("seed") or 0), max_tries=args.get("max_tries", 3), model=args.get("model"),
                  backend=args.get("backend") or "kinora", previs_board=bool(args.get("previs_board")))
    return {"folder": "film", "film": "film/film.mp4", "otio": "film/film.otio", "pdf": "film/storyboard.pdf",
            "html": "film/storyboard.html", "provenance": "film/provenance.json", "project": "film/project",
            "keyframes": [[f"film/{k}" for k in ks] for ks in r.keyframes], "shots": len(r.plan.shots),
            "mode": r.plan.mode.mode, "flagged": [s["shot"] for s in r.shots if not s["passed"]]}


# --- projects -------------------------------------------------------------------------------


def _project(args: dict) -> str:
    from kinora.timeline.project import Project

    folder = args.get("project")
    if not isinstance(folder, str) or not folder:
        raise KinoraError("no project is open; open a project folder or make a film first")
    Project.load(folder)  # says what is wrong with it
    return folder


def check_project(args: dict) -> None:
    from kinora.timeline.edits import _check_seconds

    _fields(args, ("folder", "prompts", "seconds", "seed", "model", "backend"), "project")
    prompts = args.get("prompts") or []
    if not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
        raise KinoraError("a project needs at least one shot: write one prompt per line")
    if Path(args.get("folder") or "").exists() and any(Path(args["folder"]).iterdir()):
        raise KinoraError(f"{args['folder']} already holds files; choose a new folder for a new project")
    _check_seconds(args.get("seconds"))


def run_project(args: dict, folder: Path) -> dict:
    from kinora.timeline.edits import new_project

    prompts = [p.strip() for p in args["prompts"]]
    p = new_project(args["folder"], prompts, seconds=args.get("seconds"), seed=int(args.get("seed") or 0),
                    model=args.get("model"), backend=args.get("backend") or "kinora")
    return {"project": str(p.folder), "shots": len(p.doc.shots), "revision": p.doc.revision}


def _seed(args: dict) -> int | None:
    return None if args.get("seed") is None else int(args["seed"])


# Each edit: the library call with the job's arguments -> (take id or None, a short summary).
EDITS: dict[str, Callable[[dict], tuple[str | None, str]]] = {}


def _edit(name: str):
    def register(fn):
        EDITS[name] = fn
        return fn
    return register


@_edit("regenerate")
def _regenerate(a):
    from kinora.timeline.edits import regenerate
    return regenerate(a["project"], a["shot"], seed=_seed(a)).id, "regenerated"


@_edit("reprompt")
def _reprompt(a):
    from kinora.timeline.edits import reprompt
    return reprompt(a["project"], a["shot"], a.get("prompt") or "", seed=_seed(a)).id, "re-prompted"


@_edit("change")
def _change(a):
    from kinora.timeline.edits import change_object
    obj = a.get("object")
    obj = int(obj) if isinstance(obj, str) and obj.isdigit() else obj
    return change_object(a["project"], a["shot"], obj, a.get("field") or "", str(a.get("value") or ""),
                         seed=_seed(a)).id, "attribute changed"


@_edit("region")
def _region(a):
    from kinora.timeline.edits import inpaint
    span = tuple(a["span"]) if a.get("span") else None
    return inpaint(a["project"], a["shot"], tuple(a["box"]), span, prompt=a.get("prompt") or None,
                   seed=_seed(a)).id, "region regenerated"


@_edit("extend")
def _extend(a):
    from kinora.timeline.edits import extend
    return extend(a["project"], a["shot"], float(a["seconds"]), backward=bool(a.get("backward")),
                  seed=_seed(a)).id, "extended"


@_edit("trim")
def _trim(a):
    from kinora.timeline.edits import trim
    return trim(a["project"], a["shot"], float(a.get("start") or 0.0),
                None if a.get("end") is None else float(a["end"])).id, "trimmed"


@_edit("bridge")
def _bridge(a):
    from kinora.timeline.edits import bridge
    shot = bridge(a["project"], a["shot"], float(a.get("seconds") or 1.0), prompt=a.get("prompt") or None,
                  seed=_seed(a))
    return shot.active, f"bridge shot {shot.id} added"


@_edit("restyle")
def _restyle(a):
    from kinora.timeline.edits import restyle
    return restyle(a["project"], a["shot"], a.get("prompt") or None, strength=float(a.get("strength", 0.6)),
                   seed=_seed(a)).id, "restyled (SDEdit)"


@_edit("loop")
def _loop(a):
    from kinora.timeline.edits import loop
    return loop(a["project"], a["shot"], float(a.get("seconds") or 1.0), seed=_seed(a)).id, "made to loop"


@_edit("split")
def _split(a):
    from kinora.timeline.edits import split
    take, rest = split(a["project"], a["shot"], float(a["at"]))
    return take.id, f"split; the rest is shot {rest.id}"


@_edit("crossfade")
def _crossfade(a):
    from kinora.timeline.edits import crossfade
    crossfade(a["project"], a["shot"], float(a["seconds"]))
    return None, "crossfade set"


def check_edit(args: dict) -> None:
    from kinora.timeline.project import Project

    op = args.get("op")
    if op not in EDITS:
        raise KinoraError(f"unknown edit {op!r}; use one of {', '.join(EDITS)}")
    p = Project.load(_project(args))
    shot = args.get("shot")
    p.shot(shot)  # "there is no shot N: ..."
    if op == "reprompt" and not str(args.get("prompt") or "").strip():
        raise KinoraError("the new prompt is empty; describe the shot, e.g. \"a blue cube slides right\"")
    if op == "region" and (not isinstance(args.get("box"), (list, tuple)) or len(args["box"]) != 4):
        raise KinoraError("draw the region on the frame (or give it as x0,y0,x1,y1 fractions, e.g. 0.5,0,1,1)")


def run_edit(args: dict, folder: Path) -> dict:
    take, summary = EDITS[args["op"]](args)
    return {"project": args["project"], "shot": args["shot"], "op": args["op"], "take": take, "summary": summary}


def check_render(args: dict) -> None:
    from kinora.timeline.project import Project

    p = Project.load(_project(args))
    if not p.doc.shots:
        raise KinoraError("the project has no shots to render")


def run_render(args: dict, folder: Path) -> dict:
    from kinora.timeline.otio import export_otio
    from kinora.timeline.render import render

    r = render(args["project"], folder / "film.mp4", resume=True)
    export_otio(args["project"], folder / "film.otio")
    return {"film": "film.mp4", "otio": "film.otio", "frames": r.frames, "fps": r.fps, "shots": len(r.shots)}


KINDS: dict[str, tuple[Callable[[dict], None], Callable[[dict, Path], dict]]] = {
    "shot": (check_shot, run_shot),
    "storyboard": (check_storyboard, run_storyboard),
    "film": (check_film, run_film),
    "project": (check_project, run_project),
    "edit": (check_edit, run_edit),
    "render": (check_render, run_render),
}


def check(kind: str, args: dict) -> None:
    if kind not in KINDS:
        raise KinoraError(f"unknown job kind {kind!r}; use one of {', '.join(KINDS)}")
    if not isinstance(args, dict):
        raise KinoraError(f"a job's arguments are a JSON object, got {type(args).__name__}")
    KINDS[kind][0](args)


def lock_key(kind: str, args: dict) -> str | None:
    """Jobs that change one project share its key: they run one at a time."""
    folder = args.get("project") if kind in ("edit", "render") else args.get("folder") if kind == "project" else None
    return str(Path(folder).resolve()) if folder else None
