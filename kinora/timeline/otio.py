"""OpenTimelineIO out and in: the project as a timeline an editor opens, and its edits back.

Export: one video track, one clip per shot, in film order. Each clip's media reference is
its active take's labeled MP4 (an absolute file path, so Resolve and Premiere find it from
anywhere), with the take's whole length as the available range and the part the film uses
as the source range; the clip's metadata["kinora"] holds the shot and take ids, the prompt,
the seed, the model and weights hash, and the project revision. DaVinci Resolve (18.5 and
later) imports .otio itself; FCP 7 XML (Premiere) and CMX 3600 EDL go through OTIO's
adapters, at an editor timebase of 24, 25 or 30 fps (`rescaled`: 8 fps becomes 24, three
editor frames per film frame, exactly).

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
    # A dissolve of k frames into a shot sits on the cut between the two clips: each clip gives
    # up k/2 frames to it (the film is k frames shorter, as rendered), which stay in the
    # media as the handles OTIO's transition reads.
    rt = otio.opentime.RationalTime
    spans = [[0, s.active_take().num_frames] for s in p.doc.shots]
    for n, s in enumerate(p.doc.shots[1:], 1):
        half = (s.transition or {}).get("frames", 0) // 2
        spans[n - 1][1] -= half
        spans[n][0] += half
    for n, (s, (a, b)) in enumerate(zip(p.doc.shots, spans), 1):
        half = (s.transition or {}).get("frames", 0) // 2 if n > 1 else 0
        if half:
            track.append(otio.schema.Transition(name=f"crossfade into {s.id}", in_offset=rt(half, fps),
                                                out_offset=rt(half, fps),
                                                transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve))
        t = s.active_take()
        whole = otio.opentime.TimeRange(rt(0, fps), rt(t.num_frames, fps))
        ref = otio.schema.ExternalReference(target_url=str(p.path(t.preview).resolve()), available_range=whole)
        clip = otio.schema.Clip(name=f"{n:02d} {s.id} {t.id}", media_reference=ref,
                                source_range=otio.opentime.TimeRange(rt(a, fps), rt(b - a, fps)))
        clip.metadata["kinora"] = {"shot": s.id, "take": t.id, "prompt": t.prompt, "seed": t.seed, "model": t.model,
                                   "checkpoint_sha256": t.checkpoint_sha256, "edit": t.edit.get("kind")}
        track.append(clip)
    return tl


# Output suffix -> OTIO adapter. FCP 7 XML opens in Premiere Pro (and Resolve); CMX 3600 EDL anywhere.
ADAPTERS = {".otio": "otio_json", ".xml": "fcp_xml", ".edl": "cmx_3600"}
EDITOR_RATES = (24, 25, 30)  # the timebases the XML and EDL adapters (and the editors reading them) take


def rescaled(tl, rate: float):
    """A copy of the timeline with every time at `rate` fps (frame counts scale exactly when
    the project's fps divides it: 8 fps -> 24 fps is three editor frames per film frame)."""
    otio = _otio()
    tl = tl.deepcopy()
    for item in tl.find_children():
        if isinstance(item, otio.schema.Transition):
            item.in_offset, item.out_offset = item.in_offset.rescaled_to(rate), item.out_offset.rescaled_to(rate)
        elif isinstance(item, otio.schema.Clip):
            sr = item.source_range
            item.source_range = otio.opentime.TimeRange(sr.start_time.rescaled_to(rate), sr.duration.rescaled_to(rate))
            ar = item.media_reference.available_range
            item.media_reference.available_range = otio.opentime.TimeRange(ar.start_time.rescaled_to(rate),
                                                                           ar.duration.rescaled_to(rate))
    return tl


def export_otio(folder: str | os.PathLike, out: str | os.PathLike, force: bool = False) -> Path:
    """Write the project's timeline to `out`, atomically, in the format its suffix names
    (.otio, or .xml / .edl through OTIO's adapters at an editor timebase); an existing file
    is replaced only with `force`."""
    from kinora.io.atomic import claim_output, write_text_atomic

    otio = _otio()
    out = Path(out)
    adapter = ADAPTERS.get(out.suffix.lower())
    if adapter is None:
        raise KinoraError(f"cannot write a timeline as {out.suffix or 'a file without a suffix'}; use "
                          f"{', '.join(ADAPTERS)} (OpenTimelineIO, FCP 7 XML for Premiere, CMX 3600 EDL)")
    if adapter not in otio.adapters.available_adapter_names():
        raise KinoraError(f"OpenTimelineIO has no {adapter} adapter here; pip install 'kinora[otio]'")
    p = Project.load(folder)
    if not p.doc.shots:
        raise KinoraError(f"{folder} has no shots to export")
    tl = timeline_of(p)
    if adapter != "otio_json":
        fps = int(p.doc.settings.get("fps", 8))
        rate = next((r for r in EDITOR_RATES if r % fps == 0), None)
        if rate is None:
            raise KinoraError(f"a {fps} fps film has no exact editor timebase ({', '.join(map(str, EDITOR_RATES))} "
                              "fps); export .otio instead")
        tl = rescaled(tl, rate)
    with claim_output(out, force=force):
        write_text_atomic(out, otio.adapters.write_to_string(tl, adapter))
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
        plan, seen, fade, handle = [], set(), 0, 0
        for item in video[0]:
            if isinstance(item, otio.schema.Transition) and plan and \
                    item.transition_type == otio.schema.TransitionTypes.SMPTE_Dissolve:
                # The dissolve reads the outgoing clip's media past its end and the incoming one's
                # before its start: those handles are still the shots' own frames.
                before = _frames(item.in_offset, fps, f"transition {item.name!r}")
                handle = _frames(item.out_offset, fps, f"transition {item.name!r}")
                fade = before + handle
                prev = plan[-1]
                plan[-1] = (*prev[:3], prev[3] + before, prev[4])
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
            a = _frames(rng.start_time, fps, f"clip {item.name!r}'s start") - handle
            n = _frames(rng.duration, fps, f"clip {item.name!r}'s length") + handle
            plan.append((shot, take, a, a + n, fade))
            fade = handle = 0
        if not plan:
            raise KinoraError(f"{path} has no clips; a film keeps at least one shot")
        for shot, take, a, b, _ in plan:
            if a < 0 or b <= a or b > take.num_frames:
                raise KinoraError(f"the clip of shot {shot.id} uses frames {a}..{b - 1} (with the handles its "
                                  f"dissolves read), outside its take (0..{take.num_frames - 1})")
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
