"""How well the reader understands prompts: the paraphrase suite, scored field by field.

    run = run_understanding(UnderstandingSettings(split="heldout"))
    run.summary["en"]["exact"]     # share of English prompts read exactly right
    run.report                     # the markdown table `kinora eval --understanding` prints

For every prompt of `kinora.eval.paraphrase` the reader's ShotSpec is compared with the
prompt's labels (docs/UNDERSTANDING.md):

* per field: every labelled field of every object (shape, colour, size, material,
  motion, direction, speed, target, on, start order), the number of objects, the camera's
  motion and speed and the duration. Objects are matched to the labels by the assignment
  that gets the most fields right, so reading "a red and a blue ball" in the other order
  is not two errors;
* warnings: every `warn` word must be named in a warning (else it is a *silent
  substitution*), every `unrendered` thing reported, a prompt labelled `error` refused and
  one in a language Kinora does not read told so;
* spec-exact: all of the above right at once;
* simulator pass: the parsed spec is simulated and `kinora.verify` checks the clip
  against the labelled spec (the parsed spec with the labels written over it). A prompt
  passes when that check finds no problem that the labelled spec's own clip does not
  also show, so the analyzer's own misreadings of true clips (its ceiling is reported
  beside) do not count against the reader.

The numbers are per language and per construction class. Held-out failures are listed by
id and field only, never by text, so tuning cannot peek at them.
"""

from __future__ import annotations

import copy
import itertools
import re
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from kinora.errors import KinoraError
from kinora.eval.paraphrase import CLASSES, Item, load_suite
from kinora.plan.parse import NOT_READ, parse
from kinora.world.spec import ShotSpec, validate

ATTRS = ("shape", "color", "size", "material", "motion", "direction", "speed")
FIELDS = ATTRS + ("target", "on", "order", "count", "camera.motion", "camera.speed", "duration")
TARGETS = {"exact": 0.95, "field": 0.98, "sim_pass": 0.95, "silent": 0}


def warned(word: str, warnings: list[str]) -> bool:
    """Is `word` named in some warning? The reader quotes the words it warns about ('orange'),
    so only quoted words count (not the fixed wording around them); lenient about
    inflection ("rolls" / "roll") and about the phrase quoted around it ("several balls")."""
    w = word.lower()
    quoted = [q.lower() for msg in warnings  # a "nearest known word" hint is not a word of the prompt
              for q in re.findall(r"'([^']+)'", re.sub(r"nearest known word is '[^']*'", "", msg))]
    stems = [w] + [w[:-k] for k in (1, 2, 3) if len(w) > 4 and len(w) - k >= 4]
    return any(s in q or (q in w and len(q) >= 2) for q in quoted for s in stems)


# ---------------------------------------------------------------------------------
# One prompt
# ---------------------------------------------------------------------------------


@dataclass
class Scored:
    item: Item
    fields: list[tuple[str, bool]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # field names or checks that failed
    silent: list[str] = field(default_factory=list)  # warn words no warning named
    exact: bool = False
    sim_pass: bool | None = None  # None: nothing to simulate
    sim_reference: bool | None = None  # the labelled spec's own clip passes its check
    ms: float = 0.0
    warnings: list[str] = field(default_factory=list)


def _camera_ok(want: str, got: str) -> bool:
    return got == want or (want in ("pan", "orbit") and got.startswith(want + "_"))


def _object_fields(exp: list[dict], spec: ShotSpec, m: tuple[int | None, ...]) -> list[tuple[str, bool]]:
    """(field, right?) for every labelled field under the matching m (label i -> parsed m[i])."""
    objs = spec.objects
    out = []
    for i, e in enumerate(exp):
        p = objs[m[i]] if m[i] is not None else None
        for k, v in e.items():
            if k in ATTRS:
                out.append((k, p is not None and getattr(p, k) == v))
            elif k in ("target", "on"):
                j = m[v]
                out.append((k, p is not None and j is not None and getattr(p, k) == objs[j].id))
    ranked = [i for i, e in enumerate(exp) if "order" in e]
    if ranked:
        starts = sorted({objs[m[i]].start for i in ranked if m[i] is not None})
        for i in ranked:
            got = starts.index(objs[m[i]].start) if m[i] is not None else None
            out.append(("order", got == exp[i]["order"]))
    return out


def match_objects(exp: list[dict], spec: ShotSpec) -> tuple[tuple[int | None, ...], list[tuple[str, bool]]]:
    """The matching of labelled to parsed objects that gets the most fields right
    (ties: the one closest to the written order)."""
    n, k = len(exp), len(spec.objects)
    best, best_key, best_fields = None, None, []
    slots = list(range(k)) + [None] * max(0, n - k)
    for perm in itertools.permutations(slots, n) if n else [()]:
        if len({p for p in perm if p is not None}) != sum(p is not None for p in perm):
            continue
        fields = _object_fields(exp, spec, perm)
        key = (sum(ok for _, ok in fields), -sum(abs((p if p is not None else 99) - i) for i, p in enumerate(perm)))
        if best_key is None or key > best_key:
            best, best_key, best_fields = perm, key, fields
        if n > 4 and best_key[0] == len(fields) and best_key[1] == 0:
            break
    return best, best_fields


def labelled_spec(item: Item, spec: ShotSpec, m: tuple[int | None, ...]) -> ShotSpec | None:
    """The parsed spec with the labels written over it: what the prompt asked for, with
    the fields it leaves open as the reader chose them. None when the labels cannot be
    laid over it (a different number of objects)."""
    if item.objects is None or len(item.objects) != len(spec.objects) or None in m:
        return None
    want = _unresolved(spec)
    objs = want.objects
    for i, e in enumerate(item.objects):
        o = objs[m[i]]
        for k, v in e.items():
            if k in ATTRS:
                setattr(o, k, v)
            elif k in ("target", "on"):
                setattr(o, k, objs[m[v]].id)
        if o.motion != "push":
            o.target = None  # the spec allows a target only on a push
        if o.motion in ("roll", "slide") and o.direction is None:
            o.direction = "right"  # a label that changes the motion but gives no side: any side will do
        if o.motion not in ("roll", "slide", "push"):
            o.direction = None
    cam = item.camera.get("motion")
    if cam is not None and not _camera_ok(cam, want.camera.motion):
        want.camera.motion = cam + "_left" if cam in ("pan", "orbit") else cam
    if "speed" in item.camera:
        want.camera.speed = item.camera["speed"]
    try:
        validate(want, "labelled spec")
    except KinoraError:
        return None
    return want


def _issues(spec: ShotSpec, against: ShotSpec) -> set[tuple[str, str | None]] | None:
    from kinora.eval.metrics import analyze_clip
    from kinora.verify.compare import compare
    from kinora.world.sim import simulate

    clip = simulate(spec)
    analysis, unreadable = analyze_clip(clip.frames, spec.fps)
    if unreadable is not None:
        return None
    return {(i.kind, i.object) for i in compare(analysis, against).issues}


def score_item(item: Item, simulate: bool = True) -> Scored:
    s = Scored(item=item)
    t0 = time.perf_counter()
    try:
        r = parse(item.text, duration=None, seed=0)
    except KinoraError as e:
        s.ms = (time.perf_counter() - t0) * 1000
        s.warnings = [str(e)]
        s.exact = item.error
        if not item.error:
            s.problems.append(f"refused: {e}")
        s.fields = [("count", item.error)] if item.objects is not None else []
        return s
    s.ms = (time.perf_counter() - t0) * 1000
    s.warnings = list(r.warnings)
    if item.error:
        s.problems.append("error: the prompt was not refused")
    s.silent = [w for w in item.warn if not warned(w, r.warnings)]
    s.problems += [f"warn: {w}" for w in s.silent]
    reported = [u.get("text", "").lower() for u in r.spec.unrendered]
    for w in item.unrendered:
        if not any(w.lower() in u or u in w.lower() for u in reported if u):
            s.problems.append(f"unrendered: {w}")
    if item.not_read and NOT_READ not in r.warnings:
        s.problems.append("not_read: no warning that the language is not read")
    m: tuple[int | None, ...] = ()
    if item.objects is not None:
        m, s.fields = match_objects(item.objects, r.spec)
        s.fields.append(("count", len(r.spec.objects) == len(item.objects)))
    if "motion" in item.camera:
        s.fields.append(("camera.motion", _camera_ok(item.camera["motion"], r.spec.camera.motion)))
    if "speed" in item.camera:
        s.fields.append(("camera.speed", r.spec.camera.speed == item.camera["speed"]))
    if item.duration is not None:
        s.fields.append(("duration", abs(r.spec.duration - item.duration) < 1e-6))
    s.problems += [name for name, ok in s.fields if not ok]
    s.exact = not s.problems
    if simulate and item.objects and not item.error:
        want = labelled_spec(item, r.spec, m)
        if want is None:
            s.sim_pass = False
        else:
            ref = _issues(want, want)
            s.sim_reference = ref == set()
            same = want.to_json(indent=None) == _unresolved(r.spec).to_json(indent=None)
            if same:
                s.sim_pass = True
            else:
                got = _issues(r.spec, want)
                s.sim_pass = got is not None and ref is not None and got <= ref
        if not s.sim_pass:
            s.problems.append("sim")
    return s


def _unresolved(spec: ShotSpec) -> ShotSpec:
    """A copy without the poses resolve() fills in, so a changed field lays the shot out anew."""
    out = copy.deepcopy(spec)
    for o in out.objects:
        o.position = o.orientation = o.velocity = o.angular_velocity = None
    return out


# ---------------------------------------------------------------------------------
# The suite
# ---------------------------------------------------------------------------------


def _rate(xs: list[bool]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None


def summarize(scored: list[Scored]) -> dict:
    """Per language: exact, per-field accuracy, silent substitutions, simulator pass, and
    the same per construction class."""
    out: dict = {}
    both = len({s.item.lang for s in scored}) > 1
    for lang in ("en", "zh", "all") if both else ("en", "zh"):
        rows = [s for s in scored if lang == "all" or s.item.lang == lang]
        if not rows:
            continue
        per_field: dict[str, list[bool]] = defaultdict(list)
        for s in rows:
            for name, ok in s.fields:
                per_field[name].append(ok)
        all_fields = [ok for s in rows for _, ok in s.fields]
        sims = [s.sim_pass for s in rows if s.sim_pass is not None]
        refs = [s.sim_reference for s in rows if s.sim_reference is not None]
        classes = {}
        for c in CLASSES:
            cr = [s for s in rows if c in s.item.classes]
            if cr:
                classes[c] = {"n": len(cr), "exact": _rate([s.exact for s in cr]),
                              "field": _rate([ok for s in cr for _, ok in s.fields]),
                              "sim_pass": _rate([s.sim_pass for s in cr if s.sim_pass is not None]),
                              "silent": sum(len(s.silent) for s in cr)}
        out[lang] = {
            "n": len(rows), "exact": _rate([s.exact for s in rows]), "field": _rate(all_fields),
            "fields": {k: {"n": len(v), "acc": _rate(v)} for k, v in sorted(per_field.items(),
                                                                         key=lambda kv: FIELDS.index(kv[0]))},
            "silent": sum(len(s.silent) for s in rows), "sim_pass": _rate(sims), "sim_n": len(sims),
            "sim_reference": _rate(refs), "median_ms": round(statistics.median(s.ms for s in rows), 3),
            "classes": classes,
        }
    return out


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


def report_markdown(summary: dict, split: str, failures: list[dict]) -> str:
    lines = [f"## Understanding ({split} part of the paraphrase suite)", "",
             "| | " + " | ".join(k for k in ("en", "zh", "all") if k in summary) + " | target |",
             "|---|" + "---|" * (len([k for k in ("en", "zh", "all") if k in summary]) + 1)]
    langs = [k for k in ("en", "zh", "all") if k in summary]

    def row(name, fn, target=""):
        lines.append(f"| {name} | " + " | ".join(fn(summary[k]) for k in langs) + f" | {target} |")

    row("prompts", lambda s: str(s["n"]))
    row("spec-exact", lambda s: _pct(s["exact"]), ">= 95 %")
    row("per-field accuracy", lambda s: _pct(s["field"]), ">= 98 %")
    row("silent substitutions", lambda s: str(s["silent"]), "0")
    row("simulator pass", lambda s: f"{_pct(s['sim_pass'])} of {s['sim_n']}", ">= 95 %")
    row("analyzer ceiling (labelled spec's own clip passes)", lambda s: _pct(s["sim_reference"]))
    row("reader time, median", lambda s: f"{s['median_ms']:.2f} ms", "< 5 ms")
    for f in FIELDS:
        if any(f in summary[k]["fields"] for k in langs):
            row(f"field: {f}", lambda s, f=f: (f"{_pct(s['fields'][f]['acc'])} ({s['fields'][f]['n']})"
                                               if f in s["fields"] else ""))
    lines += ["", "| class | " + " | ".join(f"{k} exact" for k in langs[:2]) + " | " +
              " | ".join(f"{k} field" for k in langs[:2]) + " | " + " | ".join(f"{k} sim" for k in langs[:2]) + " |",
              "|---|" + "---|" * (3 * len(langs[:2]))]
    for c in CLASSES:
        cells = []
        for key in ("exact", "field", "sim_pass"):
            for k in langs[:2]:
                cs = summary[k]["classes"].get(c)
                cells.append(f"{_pct(cs[key])} ({cs['n']})" if cs and key == "exact" else _pct(cs[key]) if cs else "")
        if any(cells):
            lines.append(f"| {c} | " + " | ".join(cells) + " |")
    if failures:
        lines += ["", f"{len(failures)} prompts not read exactly; the first ones:", ""]
        for f in failures[:40]:
            text = f" `{f['text']}`" if "text" in f else ""
            lines.append(f"- {f['id']}{text}: {', '.join(f['problems'])}")
    return "\n".join(lines) + "\n"


@dataclass
class UnderstandingSettings:
    split: str = "heldout"  # dev | heldout | all
    simulate: bool = True
    lang: str | None = None  # en | zh | None (both)
    out: str | None = None  # folder for report.md and understanding.json


@dataclass
class UnderstandingRun:
    summary: dict
    report: str
    failures: list[dict]
    folder: Path | None


def run_understanding(s: UnderstandingSettings) -> UnderstandingRun:
    if s.lang not in (None, "en", "zh"):
        raise KinoraError(f"unknown language {s.lang!r}; use en or zh")
    items = load_suite(s.split)
    if s.lang:
        items = [it for it in items if it.lang == s.lang]
    if not items:
        raise KinoraError(f"the paraphrase suite has no {s.split} prompts"
                          f"{' in ' + s.lang if s.lang else ''} (kinora/eval/paraphrase/)")
    scored = [score_item(it, simulate=s.simulate) for it in items]
    summary = summarize(scored)
    # Held-out prompts are never shown: only their ids and which checks failed, without the words.
    failures = [{"id": x.item.id, **({"problems": x.problems, "text": x.item.text, "warnings": x.warnings}
                                     if x.item.split == "dev" else
                                     {"problems": sorted({p.split(":")[0] for p in x.problems})})}
                for x in scored if not x.exact or x.sim_pass is False]
    report = report_markdown(summary, s.split, failures)
    folder = None
    if s.out is not None:
        import json

        from kinora.io.atomic import make_folders, write_text_atomic

        make_folders(s.out)
        folder = Path(s.out)
        write_text_atomic(folder / "understanding.json", json.dumps(
            {"split": s.split, "summary": summary, "failures": failures}, ensure_ascii=False, indent=1))
        write_text_atomic(folder / "report.md", report)
    return UnderstandingRun(summary=summary, report=report, failures=failures, folder=folder)
