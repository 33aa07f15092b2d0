"""`kinora project show`: a project as a table of shots and takes, and its recent changes."""

from __future__ import annotations

import os

from kinora.timeline.project import Project


def project_table(folder: str | os.PathLike, history: int = 5) -> str:
    p = Project.load(folder)
    d = p.doc
    total = sum(s.active_take().num_frames for s in d.shots if s.active)
    fps = d.settings.get("fps", 8)
    lines = [f"{p.folder}: {len(d.shots)} shot(s), {total / fps:g} s at {fps} fps, revision {d.revision}"
             + (" (simulator in the loop)" if d.settings.get("physics") else ""), "",
             "| shot | id | prompt | active | takes (* active: edit, seed, frames) |", "|---|---|---|---|---|"]
    for n, s in enumerate(d.shots, 1):
        takes = "; ".join(f"{'*' if t.id == s.active else ''}{t.id}: {t.edit.get('kind')}"
                          f"{' from ' + t.parent if t.parent else ''}, seed {t.seed}, {t.num_frames}"
                          for t in s.takes)
        prompt = s.prompt if len(s.prompt) <= 48 else s.prompt[:45] + "..."
        lines.append(f"| {n} | {s.id} | {prompt} | {s.active} | {takes} |")
    lines += ["", "recent changes:"] + [f"  r{e['revision']}: {e['change']}" for e in d.log[-history:]]
    return "\n".join(lines)
