"""What the studio draws: HTML and table rows made from the library's own results (a job,
a plan, a project document, a label report), in the reader's language. Nothing here
decides anything; it only shows what the library returned.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from kinora.plan.messages import say, word
from kinora.studio.strings import CORNERS_ZH, S, error_text, t

e = html.escape


def progress_bar(job, lang: str, ahead: int = 0) -> str:
    """A job's state as a bar with its current step; the bar's width is the job's progress."""
    if job is None:
        return f"<div class='k-progress idle'>{e(t('idle', lang))}</div>"
    pct = 100.0 * (job.progress if job.state != "done" else 1.0)
    state = t(f"state_{job.state}", lang)
    if job.state == "queued":
        state = t("queued_ahead", lang, n=ahead)
    detail = ""
    if job.state == "running" and job.message:
        detail = job.message
    elif job.error and job.state != "cancelled":
        detail = error_text(job.error, lang)
    return (f"<div class='k-progress {job.state}' data-state='{job.state}' data-progress='{pct:.1f}' "
            f"data-job='{e(job.id)}'><div class='k-bar'><div class='k-fill' style='width:{pct:.1f}%'></div></div>"
            f"<div class='k-status'><b>{e(t('kind_' + job.kind, lang))}</b> · {e(state)} · {pct:.0f}%"
            f"{' · ' + e(detail) if detail else ''}</div></div>")


def error_box(message: str, lang: str) -> str:
    return f"<div class='k-error' role='alert'>{e(error_text(message, lang))}</div>"


def warnings_md(warnings: list[str], lang: str) -> str:
    if not warnings:
        return t("no_warnings", lang)
    return "\n".join(f"- {say(w, lang)}" for w in warnings)


def label_report(result: dict, lang: str) -> str:
    """The label check of a generated video (kinora.label.inspect) and the facts of the video."""
    lab = result["label"]
    v = lab["visible"]
    items = []
    problems = "; ".join(say(x, lang) for x in lab["problems"])
    items.append(t("label_ok", lang) if lab["ok"] else t("label_bad", lang, p=problems))
    if v.get("found"):
        corner = CORNERS_ZH.get(v["corner"], v["corner"]) if lang == "zh" else v["corner"]
        items.append(t("label_visible", lang, text=v["text"], corner=corner, pct=100 * v["text_height_fraction"],
                       sec=v["seconds_from_start"]))
    a = lab.get("aigc") or {}
    if a:
        items.append(t("label_meta", lang, label=a.get("Label"), meaning=lab.get("aigc_meaning") or "?",
                       producer=a.get("ContentProducer")))
    items.append(t("label_c2pa", lang, yes=t("yes" if lab["c2pa"] else "no", lang)))
    w, h = result["size"]
    items.append(t("video_facts", lang, frames=result["frames"], fps=result["fps"], sec=result["seconds"], w=w, h=h,
                   caption=result["canonical"]))
    cls = "ok" if lab["ok"] else "bad"
    return f"<ul class='k-label {cls}'>" + "".join(f"<li>{e(i)}</li>" for i in items) + "</ul>"


def mode_panel(decision, lang: str) -> str:
    """The detected (or chosen) truth mode, what it promises, and the cues that decided it, marked in place."""
    name = t(f"mode_{decision.mode}", lang)
    head = t("detected", lang, mode=name, conf=decision.confidence)
    if decision.overridden:
        head = t("overridden", lang, mode=name, detected=t(f"mode_{decision.detected}", lang))
    cues = "".join(f"<span class='k-cue'>{e(c['text'])}</span>" for c in decision.cues) or e(t("no_cues", lang))
    return (f"<div class='k-mode' data-mode='{decision.mode}'><b>{e(head)}</b><br>"
            f"<span class='k-small'>{e(t('mode_explain_' + decision.mode, lang))}</span><br>"
            f"{e(t('cues', lang))}: {cues}</div>")


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"<img src='data:image/png;base64,{data}' alt='' class='k-key'>"


def storyboard_grid(plan: dict, keyframes: list[list[Path]], lang: str, verification: list[dict] | None = None) -> str:
    """The storyboard as a grid of cards: keyframes, shot number, length, camera, the source
    sentence, and verified / flagged once the film is made (previs before)."""
    shots = plan["shots"]
    verification = verification or [None] * len(shots)
    cards = []
    for shot, keys, res in zip(shots, keyframes, verification):
        if res is None:
            badge, cls = t("previs_only", lang), "previs"
        elif res["passed"]:
            badge, cls = t("verified", lang), "verified"
        else:
            badge, cls = t("flagged", lang), "flagged"
        camera = word(shot["spec"]["camera"]["motion"], lang)
        cont = f" · {t('continues', lang)}" if shot.get("continues") else ""
        flag = f"<div class='k-flag'>{e(say(res['flag'], lang))}</div>" if res and res.get("flag") else ""
        cards.append(
            f"<div class='k-card {cls}' data-shot='{shot['number']}'>"
            f"<div class='k-keys'>{''.join(_img(k) for k in keys if k.exists())}</div>"
            f"<div class='k-head'><b>{e(t('shot_n', lang, n=shot['number']))}</b> · "
            f"{e(t('scene_n', lang, n=shot['scene']))} · {shot['seconds']:g} s · {e(t('camera', lang))} "
            f"{e(camera)}{e(cont)} <span class='k-badge {cls}'>{e(badge)}</span></div>"
            f"<div class='k-sentence'>{e(shot['source']['text'])}</div>{flag}</div>")
    total = t("shots_total", lang, n=len(shots), s=sum(s["seconds"] for s in shots))
    return f"<div class='k-board' data-shots='{len(shots)}'><div class='k-small'>{e(total)}</div>" \
           f"<div class='k-grid'>{''.join(cards)}</div></div>"


def timeline(doc, lang: str) -> str:
    """A project's shots in film order, each with its takes (active first marked), as a strip."""
    if doc is None:
        return f"<div class='k-timeline empty'>{e(t('no_project', lang))}</div>"
    rows = []
    fps = doc.settings.get("fps") or 8
    for n, s in enumerate(doc.shots, 1):
        seconds = s.active_take().num_frames / fps if s.active else s.seconds  # what the film shows of it
        takes = []
        for tk in s.takes:
            mark = " k-active" if tk.id == s.active else ""
            note = " ⚠" if tk.notice else ""
            takes.append(f"<span class='k-take{mark}' data-take='{e(tk.id)}' title='{e(tk.prompt)}'>{e(tk.id)} · "
                         f"{e(tk.edit.get('kind', ''))} · seed {tk.seed} · {tk.num_frames}f{note}</span>")
        rows.append(f"<div class='k-tshot' data-shot='{n}'><b>{e(t('shot_n', lang, n=n))}</b> "
                    f"<span class='k-small'>{seconds:g} s · {len(s.takes)} {e(t('takes', lang))}</span>"
                    f"<div class='k-sentence'>{e(s.prompt)}</div><div class='k-takes'>{''.join(takes)}</div></div>")
    head = t("revision", lang, n=doc.revision)
    return f"<div class='k-timeline' data-shots='{len(doc.shots)}'><div class='k-small'>{e(head)}</div>" \
           f"{''.join(rows)}</div>"


def job_rows(jobs, lang: str) -> list[list[str]]:
    """The Jobs tab's table, newest first."""
    rows = []
    for j in reversed(jobs):
        rows.append([j.id, t("kind_" + j.kind, lang) if "kind_" + j.kind in S else j.kind, t("state_" + j.state, lang),
                     f"{100 * (1.0 if j.state == 'done' else j.progress):.0f}%",
                     error_text(j.error, lang) if j.error and j.state == "failed" else j.message,
                     j.created.replace("T", " ")[:19]])
    return rows


CSS = """
.k-progress{margin:6px 0}.k-bar{height:10px;background:#e5e7eb;border-radius:5px;overflow:hidden}
.k-fill{height:100%;background:#2563eb;transition:width .2s}.k-progress.failed .k-fill{background:#dc2626}
.k-progress.done .k-fill{background:#16a34a}.k-status{font-size:13px;margin-top:4px}
.k-error{background:#fef2f2;color:#991b1b;border:1px solid #fecaca;border-radius:6px;padding:8px 10px}
.k-label.ok li:first-child{color:#166534;font-weight:600}.k-label.bad li:first-child{color:#991b1b;font-weight:600}
.k-cue{background:#ffe27a;border-radius:3px;padding:0 4px;margin:0 2px;display:inline-block}
.k-small{color:#6b7280;font-size:12px}
.k-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:10px;margin-top:6px}
.k-card{border:1px solid #d1d5db;border-radius:8px;padding:8px;background:#fff}
.k-card.flagged{border-color:#dc2626}.k-card.verified{border-color:#16a34a}
.k-keys{display:flex;gap:4px}.k-key{display:inline-block;width:76px;height:76px;image-rendering:pixelated;margin-right:4px;border-radius:3px}
.k-head{font-size:13px;margin:4px 0}.k-sentence{font-size:13px;color:#111827}
.k-badge{font-size:11px;border-radius:9px;padding:1px 7px;background:#e5e7eb}
.k-badge.verified{background:#dcfce7;color:#166534}.k-badge.flagged{background:#fee2e2;color:#991b1b}
.k-flag{color:#991b1b;font-size:12px;margin-top:4px}
.k-tshot{border-left:4px solid #2563eb;padding:4px 8px;margin:6px 0;background:#f9fafb}
.k-take{display:inline-block;font-size:12px;border:1px solid #d1d5db;border-radius:4px;padding:1px 6px;margin:2px}
.k-take.k-active{border-color:#2563eb;background:#dbeafe;font-weight:600}
"""
