"""OpenTimelineIO out and in: the project as a timeline an editor opens, and its edits back.

Export: one video track, one clip per shot, in film order. Each clip's media reference is
its active take's labeled MP4 (an absolute file path, so Resolve and Premiere find it from
anywhere), with the take's whole length as the available range and the part the film uses
as the source range; the clip's metadata["kinora"] holds the shot and take ids, the prompt,
the seed, the model and weights hash, and the project revision. DaVinci Resolve (18.5 and
later) imports .otio itself; FCP XML and EDL go through OTIO's adapters (they need a 24,
25 or 30 fps timebase, which `rescale` gives).

Import: an .otio that an editor changed (clips reordered, trimmed, removed) becomes a new
revision: the shots take the clips' order, a shot whose clip is gone leaves the film (it
stays in earlier revisions), and a trimmed clip becomes a new take of its frames (copied bit
for bit). What cannot be mapped onto the project is refused in one line before anything
changes: a clip that is not one of this project's takes, a shot used twice, a range
outside its take, a transition other than a dissolve or an effect (Kinora renders cuts and
crossfades), a second video track. A dissolve between two clips is a crossfade.

    from kinora.timeline.otio import export_otio, import_otio
    export_otio("film", "film.otio")
    import_otio("film", "film-edited.otio")
"""

from __future__ import annotations

import os
from pathlib import Path

from kinora.errors import KinoraError
from kinora.timeline.project import Project


def _otio():
    try:
        import opentimelineio as otio
    except ImportError:
        raise KinoraError("OpenTimelineIO is not installed; pip install 'kinora[otio]' (or opentimelineio)") from None
    return otio


def timeline_of(p: Project):
    """The project's film as an otio Timeline."""
    otio = _otio()
    fps = float(p.doc.settings.get("fps", 8))
    tl = otio.schema.Timeline(name=p.folder.name)
    tl.metadata["kinora"] = {"project_revision": p.doc.revision, "fps": fps}
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    tl.tracks.append(track)
    for n, s in enumerate(p.doc.shots, 1):
        fade = (s.transition or {}).get("frames", 0) if n > 1 else 0
        if fade:  # OTIO's dissolve sits between the clips, half its length on each side
            half = otio.opentime.RationalTime(fade / 2, fps)
            track.append(otio.schema.Transition(name=f"crossfade into {s.id}", in_offset=half, out_offset=half,
                                                transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve))
        t = s.active_take()
        rt = otio.opentime.RationalTime
        whole = otio.opentime.TimeRange(rt(0, fps), rt(t.num_frames, fps))
        ref = otio.schema.ExternalReference(target_url=str(p.path(t.preview).resolve()), available_range=whole)
        clip = otio.schema.Clip(name=f"{n:02d} {s.id} {t.id}", media_reference=ref, source_range=whole)
        clip.metadata["kinora"] = {"shot": s.id, "take": t.id, "prompt": t.prompt, "seed": t.seed, "model": t.model,
                                   "checkpoint_sha256": t.checkpoint_sha256, "edit": t.edit.get("kind")}
        track.append(clip)
    return tl


def export_otio(folder: str | os.PathLike, out: str | os.PathLike, force: bool = False) -> Path:
    """Write the project's timeline to `out` (.otio), atomically; an existing file only with `force`."""
    from kinora.io.atomic import claim_output, write_text_atomic

    otio = _otio()
    out = Path(out)
    if out.suffix.lower() != ".otio":
        raise KinoraError(f"the timeline is written as OpenTimelineIO; name it *.otio, got {out.name}")
    p = Project.load(folder)
    if not p.doc.shots:
        raise KinoraError(f"{folder} has no shots to export")
    with claim_output(out, force=force):
        write_text_atomic(out, otio.adapters.write_to_string(timeline_of(p), "otio_json"))
    return out


def _frames(rt, fps: float, what: str) -> int:
    k = rt.rescaled_to(fps).value
    if abs(k - round(k)) > 1e-6:
        raise KinoraError(f"{what} falls between frames at the project's {fps:g} fps; snap the edit to frames")
    return int(round(k))


def import_otio(folder: str | os.PathLike, path: str | os.PathLike) -> int:
    """Apply an edited .otio to the project as a new revision; returns it."""
    from kinora.timeline.edits import cut_take

    otio = _otio()
    path = Path(path)
    if not path.is_file():
        raise KinoraError(f"no timeline at {path}")
    try:
        tl = otio.adapters.read_from_file(str(path))
    except Exception as e:  # OTIO raises several error types for a file it cannot parse
        raise KinoraError(f"{path} is not a timeline OpenTimelineIO can read ({str(e).splitlines()[0][:120]})") \
            from None
    if not isinstance(tl, otio.schema.Timeline):
        raise KinoraError(f"{path} holds a {type(tl).__name__}, not a timeline")
    video = [t for t in tl.tracks if t.kind == otio.schema.TrackKind.Video]
    if len(video) != 1:
        raise KinoraError(f"{path} has {len(video)} video tracks; a Kinora film is one track (flatten it first)")
    with Project.open(folder, write=True) as p:
        fps = float(p.doc.settings.get("fps", 8))
        by_id = {s.id: s for s in p.doc.shots}
        plan, seen, fade = [], set(), 0
        for item in video[0]:
            if isinstance(item, otio.schema.Transition) and plan and \
                    item.transition_type == otio.schema.TransitionTypes.SMPTE_Dissolve:
                fade = _frames(item.in_offset + item.out_offset, fps, f"transition {item.name!r}")
                continue
            if isinstance(item, otio.schema.Gap):
                raise KinoraError(f"{path} has a gap at {item.range_in_parent().start_time.to_seconds():g} s; "
                                  "a Kinora film has no gaps (close it, or add a shot there)")
            if not isinstance(item, otio.schema.Clip):
                raise KinoraError(f"{path} has a {type(item).__name__} ({item.name!r}) Kinora cannot render (it "
                                  "renders cuts and dissolves): remove it before importing")
            if item.effects:
                raise KinoraError(f"clip {item.name!r} has effects Kinora cannot render; remove them before importing")
            k = item.metadata.get("kinora") or {}
            shot = by_id.get(k.get("shot"))
            if shot is None:
                raise KinoraError(f"clip {item.name!r} is not a shot of this project (its Kinora shot id is "
                                  f"{k.get('shot')!r}); only the exported clips can be rearranged")
            if shot.id in seen:
                raise KinoraError(f"shot {shot.id} appears twice in {path}; a shot is used once (split it first)")
            seen.add(shot.id)
            take = shot.take(k.get("take", ""))
            rng = item.source_range or item.available_range()
            a = _frames(rng.start_time, fps, f"clip {item.name!r}'s start")
            n = _frames(rng.duration, fps, f"clip {item.name!r}'s length")
            if a < 0 or n < 1 or a + n > take.num_frames:
                raise KinoraError(f"clip {item.name!r} uses frames {a}..{a + n - 1}, outside its take "
                                  f"(0..{take.num_frames - 1})")
            plan.append((shot, take, a, a + n, fade))
            fade = 0
        if not plan:
            raise KinoraError(f"{path} has no clips; a film keeps at least one shot")
        shots = []
        for shot, take, a, b, fade in plan:
            shot.transition = {"kind": "crossfade", "frames": fade} if fade and shots else None
            if (a, b) != (0, take.num_frames):
                cut_take(p, shot, take, a, b, {"kind": "trim", "frames": [a, b], "from": "otio", "file": path.name})
                shot.seconds = (b - a) / fps
            elif shot.active != take.id:
                shot.active = take.id
            shots.append(shot)
        removed = [s.id for s in p.doc.shots if s not in shots]
        p.doc.shots = shots
        return p.save(f"imported {path.name}", order=[s.id for s in shots], removed=removed)
