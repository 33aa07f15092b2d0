"""The storyboard sheet (分镜): one row per shot, as HTML and as PDF.

Per shot: its number and scene, 2-3 keyframes (from the simulator's previs or from the
generated takes), its duration, the camera, the source sentence with the words each
element came from highlighted, the mode, every element with where it came from (a span
of the text, or invented / filled in / not stated), the verification of its takes and
any flag. Before the shots: the mode and the cues that decided it, the registry of
entities with their fixed looks, the sentences that made no shot and why, and what the
micro-world cannot show.

HTML is one self-contained file (keyframes inlined as PNG). The PDF embeds a subset of
Noto Sans CJK from the Debian package fonts-noto-cjk (SIL Open Font License), so Chinese
text renders; `scripts/setup.sh` installs it, and without it the PDF is refused with a
line that says so (the HTML needs no font).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
from PIL import Image

from kinora.errors import KinoraError

CJK_FONTS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
             "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
             "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")
CJK_INDEX = 2  # the collection's Simplified Chinese face
KEY_PX = 128  # a keyframe's side on the sheet (64-px frames drawn at 2x, nearest neighbour)


def _mark_of(src: dict) -> str:
    if not isinstance(src, dict) or not src:
        return "—"
    if "start" in src and not src.get("carried"):
        via = f" via '{src['via']['text']}'" if src.get("via") else ""
        return f"'{src.get('text', '')}'{via}"
    if src.get("unstated"):
        return "not stated (news convention)"
    if src.get("filled"):
        return "filled in"
    if src.get("invented"):
        return "invented"
    if src.get("carried"):
        return "carried from earlier in the scene"
    if src.get("derived"):
        return "follows from the layout"
    return "—"


def element_rows(spec) -> list[tuple[str, str]]:
    """(element, where it came from) for every object field and the camera of a ShotSpec."""
    rows = []
    for o in spec.objects:
        f = o.source.get("fields", {})
        desc = f"{o.id} {o.size} {o.color} {o.material} {o.shape}"
        rows.append((desc, ", ".join(f"{k} {_mark_of(f.get(k, {}))}" for k in ("shape", "color", "size",
                                                                                  "material"))))
        motion = o.motion + (f" {o.direction}" if o.direction and o.motion in ("roll", "slide", "push") else "")
        motion += f" into {o.target}" if o.target else ""
        motion += f" off {o.on}" if o.on and o.motion == "topple" else (f" on {o.on}" if o.on else "")
        rows.append((f"{o.id} {motion}", _mark_of(f.get("motion", {}))))
    cam = spec.camera
    rows.append((f"camera {cam.motion}", _mark_of(cam.source.get("fields", {}).get("motion", cam.source))))
    return rows


def invented_list(spec) -> list[str]:
    """The shot's elements not taken from the text: what the storyboard's 'invented' column lists."""
    def kind(src) -> str | None:
        if not isinstance(src, dict):
            return None
        return "invented" if src.get("invented") else "filled in" if src.get("filled") else \
            "not stated" if src.get("unstated") else None

    out = [f"{o.id}.{k}={getattr(o, k, '')} ({kind(src)})" for o in spec.objects
           for k, src in o.source.get("fields", {}).items() if kind(src)]
    if kind(spec.camera.source):
        out.append(f"camera={spec.camera.motion} ({kind(spec.camera.source)})")
    return out


def highlights(shot) -> list[tuple[int, int]]:
    """Spans of the sentence the shot's elements came from, merged, relative to the sentence."""
    s0, s1 = shot.source["start"], shot.source["end"]
    spans = []
    for o in shot.spec.objects:
        if o.source.get("carried"):
            continue
        for src in [o.source, *o.source.get("fields", {}).values()]:
            if isinstance(src, dict) and "start" in src and s0 <= src["start"] < src["end"] <= s1:
                spans.append((src["start"] - s0, src["end"] - s0))
    cam = shot.spec.camera.source
    if "start" in cam and s0 <= cam["start"] < cam["end"] <= s1:
        spans.append((cam["start"] - s0, cam["end"] - s0))
    merged: list[list[int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _png(frame: np.ndarray) -> Image.Image:
    h, w = frame.shape[:2]
    k = max(1, KEY_PX // max(h, w))
    return Image.fromarray(frame).resize((w * k, h * k), Image.NEAREST)


def _check(res: dict | None) -> str:
    if not res:
        return "not generated yet (previs)"
    tries = len(res["tries"])
    if res["passed"]:
        return f"verified ({res['tries'][-1]['standard']} standard), take {res['active']}" + \
            (f" after {tries - 1} regeneration(s)" if tries > 1 else "")
    return f"FLAGGED: {res['flag']}" + (" — the film shows a NOT VERIFIED notice" if res.get("notice_in_film") else "")


class Storyboard:
    """A plan (kinora.plan.story.StoryPlan) with keyframes per shot and, after generation, the checks."""

    def __init__(self, plan, keys: list[list[np.ndarray]], source: str, verification: list[dict] | None = None):
        if len(keys) != len(plan.shots):
            raise KinoraError(f"{len(keys)} keyframe sets for {len(plan.shots)} shots")
        self.plan, self.keys, self.source = plan, keys, source
        self.verification = verification or [None] * len(plan.shots)

    def write(self, path: str | Path, replace: bool = False) -> Path:
        from kinora.io.atomic import atomic_path

        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".html", ".pdf"):
            raise KinoraError(f"a storyboard is *.html or *.pdf, got {path.name}")
        data = self.html().encode("utf-8") if suffix == ".html" else self.pdf()
        with atomic_path(path, replace=replace) as tmp:
            tmp.write_bytes(data)
        return path

    # --- HTML ----------------------------------------------------------------------------
    def html(self) -> str:
        p = self.plan
        e = html.escape
        m = p.mode
        parts = [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Kinora storyboard</title><style>",
            "body{font-family:'Noto Sans CJK SC','Noto Sans',sans-serif;margin:24px;color:#222}"
            "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:6px;vertical-align:top;"
            "font-size:13px}th{background:#f3f3f3}img{image-rendering:pixelated;margin-right:4px}"
            "mark{background:#ffe27a}.flag{color:#b00;font-weight:bold}.ok{color:#070}.small{color:#666;"
            "font-size:12px}</style></head><body>",
            f"<h1>Storyboard 分镜</h1><p><b>Mode:</b> {e(m.mode)} (detected {e(m.detected)}, confidence "
            f"{m.confidence:.2f}{', overridden' if m.overridden else ''}) — {e(m.why)}</p>",
            f"<p class='small'>{len(p.shots)} shot(s), {p.seconds:g} s; keyframes: {e(self.source)}; planner: "
            f"{e(p.planner)}. Every AI-generated frame carries the visible label AI生成.</p>",
            "<h2>Entities</h2><table><tr><th>id</th><th>name</th><th>look</th><th>where it comes from</th>"
            "<th>mentions</th></tr>"]
        for ent in p.entities:
            src = ", ".join(f"{k} {_mark_of(ent.fields.get(k, {}))}" for k in ("shape", "color", "size", "material"))
            parts.append(f"<tr><td>{e(ent.id)}</td><td>{e(ent.name or '')}</td><td>{e(ent.size)} {e(ent.color)} "
                         f"{e(ent.material)} {e(ent.shape)}</td><td>{e(src)}</td><td>"
                         f"{e(', '.join(mm['text'] for mm in ent.mentions))}</td></tr>")
        parts.append("</table><h2>Shots</h2><table><tr><th>#</th><th>keyframes</th><th>shot</th><th>elements</th>"
                     "<th>verification</th></tr>")
        for shot, keys, res in zip(p.shots, self.keys, self.verification):
            imgs = "".join(f"<img src='data:image/png;base64,{self._b64(k)}' width='{KEY_PX}'>" for k in keys)
            sent = shot.source["text"]
            marked, pos = [], 0
            for a, b in highlights(shot):
                marked.append(e(sent[pos:a]) + f"<mark>{e(sent[a:b])}</mark>")
                pos = b
            marked.append(e(sent[pos:]))
            elements = "<br>".join(f"{e(a)}: <span class='small'>{e(b)}</span>" for a, b in element_rows(shot.spec))
            inv = invented_list(shot.spec)
            cls = "ok" if res and res["passed"] else "flag" if res else "small"
            caps = "".join(f"<br><span class='small'>caption: “{e(c['text'])}” ({e(c['why'])})</span>"
                           for c in shot.captions)
            flags = "".join(f"<br><span class='flag'>{e(f)}</span>" for f in shot.flags)
            cont = " · continues from the shot before" if shot.continues else ""
            parts.append(
                f"<tr><td><b>{shot.number}</b><br>scene {shot.scene}</td><td>{imgs}</td><td>{''.join(marked)}"
                f"<br><span class='small'>{shot.seconds:g} s · camera {e(shot.spec.camera.motion)} · mode "
                f"{e(m.mode)}{cont}</span>{caps}</td><td>{elements}<br><span class='small'>not from the text: "
                f"{e(', '.join(inv) or 'nothing')}</span>{flags}</td><td class='{cls}'>{e(_check(res))}</td></tr>")
        parts.append("</table>")
        if p.captions:
            parts.append("<h2>Sentences without a shot</h2><ul>" + "".join(
                f"<li>“{e(c['text'])}” — {e(c['why'])}</li>" for c in p.captions) + "</ul>")
        if p.unrendered:
            parts.append("<h2>Not renderable</h2><ul>" + "".join(
                f"<li>{e(u['text'])} (in “{e(u['sentence']['text'])}”): {e(u['why'])}</li>"
                for u in p.unrendered) + "</ul>")
        parts.append("</body></html>")
        return "\n".join(parts)

    @staticmethod
    def _b64(frame: np.ndarray) -> str:
        buf = io.BytesIO()
        _png(frame).save(buf, format="PNG")
        return base64.b64encode(buf.getvalue()).decode("ascii")

    # --- PDF -----------------------------------------------------------------------------
    def pdf(self) -> bytes:
        from fpdf import FPDF

        font = next((f for f in CJK_FONTS if Path(f).exists()), None)
        if font is None:
            raise KinoraError("the PDF storyboard needs the Noto CJK font: apt-get install fonts-noto-cjk "
                              "(or write the storyboard as .html)")
        p, m = self.plan, self.plan.mode
        pdf = FPDF(orientation="L", unit="mm", format="A4")
        pdf.set_auto_page_break(True, margin=12)
        pdf.add_font("cjk", fname=font, collection_font_number=CJK_INDEX)
        bold = font.replace("Regular", "Bold")
        pdf.add_font("cjk", style="B", fname=bold if Path(bold).exists() else font, collection_font_number=CJK_INDEX)
        pdf.set_title("Kinora storyboard")
        pdf.set_creator("Kinora")
        pdf.add_page()
        pdf.set_font("cjk", size=18)
        pdf.cell(0, 10, "Storyboard 分镜", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=10)
        pdf.multi_cell(0, 5, f"Mode: {m.mode} (detected {m.detected}, confidence {m.confidence:.2f}"
                             f"{', overridden' if m.overridden else ''}) — {m.why}", new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 5, f"{len(p.shots)} shot(s), {p.seconds:g} s; keyframes: {self.source}. Entities: " +
                       "; ".join(f"{ent.id}{' ' + ent.name if ent.name else ''} = {ent.size} {ent.color} "
                                 f"{ent.material} {ent.shape}" for ent in p.entities),
                       new_x="LMARGIN", new_y="NEXT")
        row_h = 44
        for shot, keys, res in zip(p.shots, self.keys, self.verification):
            if pdf.get_y() + row_h > pdf.h - 12:
                pdf.add_page()
            y = pdf.get_y() + 2
            pdf.set_draw_color(180, 180, 180)
            pdf.line(pdf.l_margin, y - 1, pdf.w - pdf.r_margin, y - 1)
            pdf.set_xy(pdf.l_margin, y)
            pdf.set_font("cjk", size=16)
            pdf.cell(12, 8, str(shot.number))
            for i, k in enumerate(keys[:3]):
                pdf.image(_png(k), x=pdf.l_margin + 12 + i * 36, y=y, w=34, h=34)
            x = pdf.l_margin + 12 + 3 * 36 + 2
            pdf.set_xy(x, y)
            pdf.set_font("cjk", size=10)
            w = pdf.w - pdf.r_margin - x
            sent = shot.source["text"]
            markup = not any(m in sent for m in ("**", "__", "--", "~~"))  # fpdf2's markdown markers
            marked, pos = [], 0
            for a, b in highlights(shot) if markup else []:  # the words the shot comes from, in bold
                marked += [sent[pos:a], f"**{sent[a:b]}**"]
                pos = b
            marked.append(sent[pos:])
            pdf.multi_cell(w, 5, "".join(marked), markdown=markup, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
            pdf.set_font("cjk", size=8)
            lines = [f"scene {shot.scene} · {shot.seconds:g} s · camera {shot.spec.camera.motion} · mode {m.mode}"
                     + (" · continues from the shot before" if shot.continues else "")]
            lines += [f"{a}: {b}" for a, b in element_rows(shot.spec)]
            inv = invented_list(shot.spec)
            lines.append("not from the text: " + (", ".join(inv) or "nothing"))
            lines += [f"caption: “{c['text']}” ({c['why']})" for c in shot.captions]
            lines += [f"FLAG: {f}" for f in shot.flags]
            for line in lines:
                pdf.set_x(x)
                pdf.multi_cell(w, 3.6, line, new_x="LMARGIN", new_y="NEXT")
            pdf.set_x(x)
            if res and not res["passed"]:
                pdf.set_text_color(180, 0, 0)
            elif res:
                pdf.set_text_color(0, 110, 0)
            pdf.multi_cell(w, 4, _check(res), new_x="LMARGIN", new_y="NEXT")
            pdf.set_text_color(30, 30, 30)
            pdf.set_y(max(pdf.get_y(), y + 36))
        if p.captions or p.unrendered:
            pdf.ln(3)
            pdf.set_font("cjk", size=9)
            for c in p.captions:
                pdf.multi_cell(0, 4.5, f"no shot: “{c['text']}” — {c['why']}", new_x="LMARGIN", new_y="NEXT")
            for u in p.unrendered:
                pdf.multi_cell(0, 4.5, f"not renderable: {u['text']} — {u['why']}", new_x="LMARGIN", new_y="NEXT")
        return bytes(pdf.output())
