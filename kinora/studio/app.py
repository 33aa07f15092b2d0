"""Kinora Studio: the whole tool in a browser, a thin Gradio layer over the library.

Four tabs, each a view of library calls (no model, planning or editing logic here):

    Shot      a prompt to a labeled video          jobs kind "shot"        (kinora.pipelines.generate)
    Story     a text to its mode, storyboard, film "storyboard", "film"    (kinora.pipelines.film)
    Timeline  a project's shots and takes, edits   "project", "edit",      (kinora.timeline)
                                                   "render"
    Jobs      every job of every tab, cancellable  (kinora.jobs)

Long work is a job in the durable queue (kinora.jobs.store) run by warm worker processes
(kinora.jobs.pool), never in the web server's threads: the page polls the job files a few
times a second, so a reload, a second tab or a closed window loses nothing. What a page
is following (its jobs, its project, its language) is kept in the browser (localStorage),
so a refresh shows the same running job and, once it is done, its result.

The studio is served on 127.0.0.1 by default, with Gradio's analytics off, no share
link, the system's fonts (no web fonts) and no request outside the loopback.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from kinora.errors import KinoraError

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no analytics, no version check
try:
    import gradio as gr
except ImportError:
    raise KinoraError("the studio needs Gradio; install it with: pip install -e '.[studio]'") from None

from kinora.studio import views  # noqa: E402
from kinora.studio.strings import language_of, t  # noqa: E402

POLL_S = 0.4  # how often a page reads its jobs
# Gradio keeps its own words in its front end's i18n store; its `changeLocale` lives in the
# module the page has already loaded (assets/core-*.js), which an import of the same URL shares.
# Words Gradio's own Chinese lacks (it shows the English, or the key itself): the status
# tracker's and the image editor's, which the region edit draws in.
_EDITOR_ZH = {"add_layer": "添加图层", "brush": "画笔", "brush_size": "画笔大小", "clear_canvas": "清空画布",
              "color": "颜色", "confirm_crop": "确认裁剪", "crop": "裁剪", "erase": "橡皮擦",
              "eraser_size": "橡皮擦大小", "fit_to_screen": "适应屏幕", "layer": "图层", "layers": "图层",
              "pan": "平移", "paste": "粘贴", "redo": "重做", "resize": "调整大小", "save_changes": "保存更改",
              "select_draw_tool": "选择画笔工具后开始绘制", "show_layers": "显示图层", "upload": "上传",
              "upload_image": "上传图片", "webcam": "摄像头", "zoom_in": "放大", "zoom_out": "缩小"}
GRADIO_WORDS = {"zh-CN": {"common.complete": "完成", **{f"image_editor.{k}": v for k, v in _EDITOR_ZH.items()}}}
GRADIO_LOCALE_JS = """async (lg) => {
  if (!lg) return;
  const src = performance.getEntriesByType("resource").map((r) => r.name)
    .find((n) => /\\/assets\\/core-[\\w-]+\\.js$/.test(n));
  if (!src) return;
  try { const m = await import(src); if (m.changeLocale) m.changeLocale(lg === "zh" ? "zh-CN" : "en"); }
  catch (e) { console.warn("Kinora: Gradio's locale stays", e); }
}"""
SIZES = ("64x64", "128x64", "64x128", "128x128")
STORIES = Path(__file__).resolve().parents[1] / "stories"
EXAMPLES = {"example_pip": "pip.txt", "example_doudou": "豆豆.txt", "example_news": "news.txt"}
OPS = ("regenerate", "reprompt", "change", "region", "extend", "trim", "bridge", "restyle", "loop", "split",
       "crossfade")
# Which edit fields each edit uses (the rest of the edit panel is hidden for it).
OP_FIELDS = {"regenerate": ("seed",), "reprompt": ("prompt", "seed"), "change": ("object", "field", "value", "seed"),
             "region": ("region", "box", "start", "end", "prompt", "seed"), "extend": ("seconds", "backward", "seed"),
             "trim": ("start", "end"), "bridge": ("seconds", "prompt", "seed"),
             "restyle": ("prompt", "strength", "seed"), "loop": ("seconds", "seed"), "split": ("at",),
             "crossfade": ("seconds",)}
EDIT_FIELDS = ("prompt", "seed", "object", "field", "value", "region", "box", "start", "end", "seconds", "backward",
               "strength", "at")


def new_session() -> dict:
    """What one browser follows; kept in its localStorage (gr.BrowserState)."""
    return {"owner": None, "lang": None, "shot": None, "story": None, "timeline": None,
            "project": None}


@dataclass
class Studio:
    workdir: Path
    store: object  # kinora.jobs.JobStore
    project: str | None = None  # the project the Timeline opens first
    model: str | None = None
    backend: str = "kinora"  # the generator every job uses (kinora.pipelines.base)
    workers: int = 1
    pool: object = None  # kinora.jobs.pool.WorkerPool, when this process runs the workers
    labels: list = field(default_factory=list)  # (component, key, attribute, more): redrawn per language

    # --- small helpers ----------------------------------------------------------------------
    def job(self, job_id: str | None):
        if not job_id:
            return None
        try:
            return self.store.get(job_id)
        except KinoraError:
            return None

    def queue(self, kind: str, make_args, session: dict, which: str) -> tuple[dict, str]:
        """Queue a job from `make_args()` as what this page follows under `which`; (session, the
        bar to show). Bad input (from the arguments or the job's check) is the bar's one-line error."""
        from kinora.jobs import submit

        lg = _lang(session)
        try:
            job = submit(self.store, kind, make_args(), owner=session.get("owner"))
        except KinoraError as err:
            return session, views.error_box(str(err), lg)
        return {**session, which: job.id}, views.progress_bar(job, lg, self.store.position(job))

    def out(self, job, rel: str) -> str:
        return str(self.store.output(job.id) / rel)

    def L(self, component, key: str, attr: str = "label", **more: str):
        """Register `component` to be redrawn in the reader's language: its `attr` from string
        `key`, and each further property (info=, placeholder=) from its own key."""
        self.labels.append((component, key, attr, more))
        return component


def _lang(session: dict) -> str:
    return session.get("lang") or "en"


# ---------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------


def build(studio: Studio):
    """The Blocks app (not yet launched)."""
    from kinora.defaults import MAX_GUIDANCE, MAX_SECONDS, MAX_STEPS

    st = studio
    L = st.L
    with gr.Blocks(title="Kinora Studio", analytics_enabled=False) as demo:
        session = gr.BrowserState(new_session(), storage_key="kinora-studio")
        shown = gr.State({})  # what this page has drawn already, so the poll redraws only what changed
        with gr.Row():
            L(gr.Markdown("## Kinora Studio", elem_id="k-title"), "title", "md_title")
            # No value until the page's load has read the browser's language: a checked radio means
            # the page is ready in the reader's language (the browser tests wait for it).
            lang = gr.Radio([("English", "en"), ("中文", "zh")], value=None, label="Language · 语言",
                            show_label=False, elem_id="k-lang",
                            scale=0, min_width=180)
        L(gr.Markdown(t("subtitle", "en")), "subtitle", "md")

        tabs = gr.Tabs(elem_id="k-tabs")
        tabs.__enter__()
        # --- Shot ---
        with L(gr.Tab("Shot", id="shot", elem_id="tab-shot"), "tab_shot"):
            prompt = L(gr.Textbox(label=t("prompt", "en"), placeholder=t("prompt_ph", "en"), lines=2,
                                  elem_id="shot-prompt"), "prompt", placeholder="prompt_ph")
            with gr.Row():
                seconds = L(gr.Slider(0.5, min(60.0, MAX_SECONDS), value=4.0, step=0.5, label=t("seconds", "en"),
                                      elem_id="shot-seconds"), "seconds")
                seed = L(gr.Number(0, precision=0, minimum=0, label=t("seed", "en"), elem_id="shot-seed"), "seed")
                size = L(gr.Dropdown(list(SIZES), value="64x64", label=t("size", "en"), elem_id="shot-size"), "size")
            with gr.Row():
                steps = L(gr.Number(None, precision=0, minimum=0, maximum=MAX_STEPS, label=t("steps", "en"),
                                    elem_id="shot-steps"), "steps")
                guidance = L(gr.Number(None, minimum=0, maximum=MAX_GUIDANCE, label=t("guidance", "en"),
                                       elem_id="shot-guidance"), "guidance")
                physics = L(gr.Checkbox(False, label=t("physics", "en"), info=t("physics_info", "en"),
                                        elem_id="shot-physics"), "physics", info="physics_info")
                strict = L(gr.Checkbox(False, label=t("strict", "en"), elem_id="shot-strict"), "strict")
            with gr.Row():
                go = L(gr.Button(t("generate", "en"), variant="primary", elem_id="shot-go"), "generate", "value")
                shot_cancel = L(gr.Button(t("cancel", "en"), elem_id="shot-cancel", scale=0), "cancel", "value")
            shot_progress = gr.HTML(views.progress_bar(None, "en"), elem_id="shot-progress")
            with gr.Row():
                shot_video = L(gr.Video(label=t("video", "en"), elem_id="shot-video", interactive=False,
                                        autoplay=True, loop=True, height=320), "video")
                with gr.Column():
                    L(gr.Markdown(f"**{t('warnings', 'en')}**"), "warnings", "md_bold")
                    shot_warn = gr.Markdown("", elem_id="shot-warnings")
                    L(gr.Markdown(f"**{t('label_report', 'en')}**"), "label_report", "md_bold")
                    shot_label = gr.HTML("", elem_id="shot-label")

        # --- Story ---
        with L(gr.Tab("Story", id="story", elem_id="tab-story"), "tab_story"):
            story = L(gr.Textbox(label=t("story_text", "en"), placeholder=t("story_ph", "en"), lines=8,
                                 elem_id="story-text"), "story_text", placeholder="story_ph")
            with gr.Row():
                ex_buttons = [L(gr.Button(t(k, "en"), size="sm", elem_id=f"story-{k}"), k, "value") for k in EXAMPLES]
            mode_panel = gr.HTML("", elem_id="story-mode")
            with gr.Row():
                mode = L(gr.Radio(_mode_choices("en"), value="auto", label=t("mode", "en"), elem_id="story-mode-pick"),
                         "mode", "mode_choices")
                spp = L(gr.Number(4.0, minimum=0.5, maximum=60, label=t("seconds_per_shot", "en"),
                                  elem_id="story-spp"), "seconds_per_shot")
                tries = L(gr.Number(3, precision=0, minimum=1, maximum=10, label=t("max_tries", "en"),
                                    elem_id="story-tries"), "max_tries")
            with gr.Row():
                board_go = L(gr.Button(t("storyboard", "en"), elem_id="story-board"), "storyboard", "value")
                film_go = L(gr.Button(t("film", "en"), variant="primary", elem_id="story-film"), "film", "value")
                story_cancel = L(gr.Button(t("cancel", "en"), elem_id="story-cancel", scale=0), "cancel", "value")
            story_progress = gr.HTML(views.progress_bar(None, "en"), elem_id="story-progress")
            story_grid = gr.HTML("", elem_id="story-grid")
            with gr.Row():
                story_video = L(gr.Video(label=t("video", "en"), elem_id="story-video", interactive=False,
                                         height=320), "video")
                story_files = L(gr.File(label=t("downloads", "en"), file_count="multiple", interactive=False,
                                        elem_id="story-files"), "downloads")
            to_timeline = L(gr.Button(t("open_in_timeline", "en"), elem_id="story-to-timeline", visible=False),
                            "open_in_timeline", "value")

        # --- Timeline ---
        with L(gr.Tab("Timeline", id="timeline", elem_id="tab-timeline"), "tab_timeline"):
            with gr.Row():
                project = L(gr.Textbox(st.project or "", label=t("project", "en"), elem_id="tl-project", scale=4),
                            "project")
                open_go = L(gr.Button(t("open", "en"), elem_id="tl-open", scale=0), "open", "value")
            with L(gr.Accordion(t("new_project", "en"), open=False, elem_id="tl-new"), "new_project"):
                new_prompts = L(gr.Textbox(label=t("prompts", "en"), lines=3, elem_id="tl-new-prompts"), "prompts")
                with gr.Row():
                    new_seconds = L(gr.Number(2.0, minimum=0.5, maximum=60, label=t("seconds", "en"),
                                              elem_id="tl-new-seconds"), "seconds")
                    new_go = L(gr.Button(t("create", "en"), elem_id="tl-new-go"), "create", "value")
            tl_html = gr.HTML(views.timeline(None, "en"), elem_id="tl-strip")
            with gr.Row():
                with gr.Column(scale=1):
                    tl_shot = L(gr.Dropdown([], label=t("shot", "en"), elem_id="tl-shot"), "shot")
                    tl_take = L(gr.Dropdown([], label=t("take", "en"), elem_id="tl-take"), "take")
                    with gr.Row():
                        use_go = L(gr.Button(t("use_take", "en"), elem_id="tl-use"), "use_take", "value")
                        undo_go = L(gr.Button(t("undo", "en"), elem_id="tl-undo"), "undo", "value")
                    tl_video = L(gr.Video(label=t("video", "en"), elem_id="tl-video", interactive=False,
                                          loop=True, height=300), "video")
                with gr.Column(scale=1):
                    L(gr.Markdown(f"**{t('edit', 'en')}**"), "edit", "md_bold")
                    op = L(gr.Dropdown(_op_choices("en"), value="regenerate", label=t("edit_kind", "en"),
                                       elem_id="tl-op"), "edit_kind", "op_choices")
                    f = {}
                    f["prompt"] = L(gr.Textbox(label=t("new_prompt", "en"), elem_id="tl-f-prompt", visible=False),
                                    "new_prompt")
                    f["seed"] = L(gr.Textbox("", label=t("edit_seed", "en"), placeholder=t("edit_seed_ph", "en"),
                                             elem_id="tl-f-seed"), "edit_seed", placeholder="edit_seed_ph")
                    with gr.Row():
                        f["object"] = L(gr.Textbox("1", label=t("object", "en"), elem_id="tl-f-object",
                                                   visible=False), "object")
                        f["field"] = L(gr.Dropdown(_field_choices("en"), value="color", label=t("field", "en"),
                                                   elem_id="tl-f-field", visible=False), "field", "field_choices")
                        f["value"] = L(gr.Dropdown(_value_choices("color", "en"), value="green",
                                                   label=t("value", "en"), elem_id="tl-f-value", visible=False),
                                       "value")
                    f["region"] = L(gr.ImageEditor(label=t("region", "en"), type="numpy", sources=(),
                                                   elem_id="tl-f-region", visible=False, height=300,
                                                   brush=gr.Brush(colors=["#ff00ff"], default_size=8)), "region")
                    f["box"] = L(gr.Textbox("", label=t("box", "en"), elem_id="tl-f-box", visible=False), "box")
                    with gr.Row():
                        f["start"] = L(gr.Number(None, minimum=0, label=t("start", "en"), elem_id="tl-f-start",
                                                 visible=False), "start")
                        f["end"] = L(gr.Number(None, minimum=0, label=t("end", "en"), elem_id="tl-f-end",
                                               visible=False), "end")
                    with gr.Row():
                        f["seconds"] = L(gr.Number(1.0, minimum=0, maximum=60, label=t("edit_seconds", "en"),
                                                   elem_id="tl-f-seconds", visible=False), "edit_seconds")
                        f["backward"] = L(gr.Checkbox(False, label=t("backward", "en"), elem_id="tl-f-backward",
                                                      visible=False), "backward")
                        f["strength"] = L(gr.Slider(0.05, 1.0, value=0.6, step=0.05, label=t("strength", "en"),
                                                    elem_id="tl-f-strength", visible=False), "strength")
                        f["at"] = L(gr.Number(1.0, minimum=0, label=t("at", "en"), elem_id="tl-f-at", visible=False),
                                    "at")
                    with gr.Row():
                        apply_go = L(gr.Button(t("apply", "en"), variant="primary", elem_id="tl-apply"), "apply",
                                     "value")
                        render_go = L(gr.Button(t("render", "en"), elem_id="tl-render"), "render", "value")
                        tl_cancel = L(gr.Button(t("cancel", "en"), elem_id="tl-cancel", scale=0), "cancel", "value")
            tl_progress = gr.HTML(views.progress_bar(None, "en"), elem_id="tl-progress")
            with gr.Row():
                film_video = L(gr.Video(label=t("video", "en"), elem_id="tl-film", interactive=False, height=300),
                               "video")
                film_files = L(gr.File(label=t("downloads", "en"), file_count="multiple", interactive=False,
                                       elem_id="tl-files"), "downloads")

        # --- Jobs ---
        with L(gr.Tab("Jobs", id="jobs", elem_id="tab-jobs"), "tab_jobs"):
            workers_md = gr.Markdown(t("workers", "en", n=st.workers), elem_id="jobs-workers")
            L(gr.Markdown(f"**{t('jobs_all', 'en')}**"), "jobs_all", "md_bold")
            jobs_table = gr.Dataframe(headers=_job_headers("en"), value=[], interactive=False, wrap=True,
                                      elem_id="jobs-table")
            with gr.Row():
                job_pick = L(gr.Dropdown([], label=t("job_id", "en"), elem_id="jobs-pick", allow_custom_value=True),
                             "job_id")
                job_cancel = L(gr.Button(t("cancel_job", "en"), elem_id="jobs-cancel", scale=0), "cancel_job",
                               "value")

        tabs.__exit__(None, None, None)
        edit_inputs = [f[k] for k in EDIT_FIELDS]

        # --- handlers: each parses, calls the library (or queues a job), and draws ---
        def shot_submit(sess, p, secs, sd, sz, stp, g, phys, strc):
            w, h = (int(v) for v in sz.split("x"))
            args = {"prompt": p or "", "seconds": float(secs), "seed": int(sd or 0), "size": [w, h],
                    "steps": int(stp) if stp else None, "guidance": float(g) if g else None,  # 0: the model's
                    "physics": bool(phys), "strict": bool(strc), "model": st.model}
            if st.backend != "kinora":  # the size list is Kinora's: another model makes its own size
                args.update(backend=st.backend, size=None)
            return *st.queue("shot", lambda: args, sess, "shot"), None, "", ""

        go.click(shot_submit, [session, prompt, seconds, seed, size, steps, guidance, physics, strict],
                 [session, shot_progress, shot_video, shot_warn, shot_label], concurrency_limit=None)

        def cancel(which):
            def fn(sess):
                job = st.job(sess.get(which))
                if job is not None and not job.is_finished:
                    st.store.cancel(job.id)
            return fn

        shot_cancel.click(cancel("shot"), [session], None, concurrency_limit=None)
        story_cancel.click(cancel("story"), [session], None, concurrency_limit=None)
        tl_cancel.click(cancel("timeline"), [session], None, concurrency_limit=None)

        def show_mode(sess, text, m):
            from kinora.plan.modes import detect_mode

            if not (text or "").strip():
                return ""
            return views.mode_panel(detect_mode(text, None if m == "auto" else m), _lang(sess))

        story.change(show_mode, [session, story, mode], mode_panel, concurrency_limit=None, show_progress="hidden")
        mode.change(show_mode, [session, story, mode], mode_panel, concurrency_limit=None, show_progress="hidden")
        for k, b in zip(EXAMPLES, ex_buttons):
            b.click(lambda k=k: (STORIES / EXAMPLES[k]).read_text(encoding="utf-8"), None, story,
                    concurrency_limit=None)

        def story_submit(kind):
            def fn(sess, text, m, secs, n):
                args = {"text": text or "", "mode": None if m == "auto" else m,
                        "seconds_per_shot": None if secs is None else float(secs), "seed": 0}
                if kind == "film":
                    args.update(max_tries=int(n or 3), model=st.model, backend=st.backend)
                new, bar = st.queue(kind, lambda: args, sess, "story")
                grid = "" if new is not sess else gr.skip()  # a refused text keeps the grid it had
                return new, bar, grid, None, None, gr.update(visible=False)
            return fn

        story_outs = [session, story_progress, story_grid, story_video, story_files, to_timeline]
        board_go.click(story_submit("storyboard"), [session, story, mode, spp, tries], story_outs,
                       concurrency_limit=None)
        film_go.click(story_submit("film"), [session, story, mode, spp, tries], story_outs, concurrency_limit=None)

        # Timeline
        def open_project(sess, folder):
            lg = _lang(sess)
            from kinora.timeline.project import Project

            folder = (folder or "").strip()
            try:
                doc = Project.load(folder).doc
            except KinoraError as err:
                return sess, views.error_box(str(err), lg), gr.update(choices=[], value=None), \
                    gr.update(choices=[], value=None), None
            sess = {**sess, "project": folder}
            _allow(demo, folder)
            return (sess, views.timeline(doc, lg), gr.update(choices=_shot_choices(doc, lg), value=1),
                    *_takes_of(folder, doc, 1))

        tl_outs = [session, tl_html, tl_shot, tl_take, tl_video]
        open_go.click(open_project, [session, project], tl_outs, concurrency_limit=None)

        def pick_shot(sess, n):
            from kinora.timeline.project import Project

            folder = sess.get("project")
            if not folder or n is None:
                return gr.skip(), gr.skip(), gr.skip()
            try:
                doc = Project.load(folder).doc
            except KinoraError:
                return gr.skip(), gr.skip(), gr.skip()
            take, video = _takes_of(folder, doc, int(n))
            return take, video, _frame_for_region(folder, doc, int(n))

        tl_shot.change(pick_shot, [session, tl_shot], [tl_take, tl_video, f["region"]], concurrency_limit=None)

        def pick_take(sess, n, tk):
            from kinora.timeline.project import Project

            folder = sess.get("project")
            if not folder or n is None or not tk:
                return gr.skip()
            try:
                shot = Project.load(folder).shot(int(n))
                return str(Path(folder) / shot.take(tk).preview)
            except KinoraError:
                return gr.skip()

        tl_take.change(pick_take, [session, tl_shot, tl_take], tl_video, concurrency_limit=None)

        def use_take(sess, n, tk):
            from kinora.timeline import edits
            from kinora.timeline.project import Project

            lg = _lang(sess)
            folder = sess.get("project")
            try:
                if not folder:
                    raise KinoraError("no project is open; open a project folder or make a film first")
                if n is None or not tk:
                    raise KinoraError(t("pick_shot", "en"))
                edits.use(folder, int(n), tk)
                return views.timeline(Project.load(folder).doc, lg)
            except KinoraError as err:
                return views.error_box(str(err), lg)

        use_go.click(use_take, [session, tl_shot, tl_take], tl_html, concurrency_limit=None)

        def undo(sess):
            from kinora.timeline import edits
            from kinora.timeline.project import Project

            lg = _lang(sess)
            folder = sess.get("project")
            try:
                if not folder:
                    raise KinoraError("no project is open; open a project folder or make a film first")
                edits.undo(folder)
                doc = Project.load(folder).doc
                return (views.timeline(doc, lg), gr.update(choices=_shot_choices(doc, lg), value=1),
                        *_takes_of(folder, doc, 1))
            except KinoraError as err:
                return views.error_box(str(err), lg), gr.skip(), gr.skip(), gr.skip()

        undo_go.click(undo, [session], [tl_html, tl_shot, tl_take, tl_video], concurrency_limit=None)

        def choose_op(o):
            return [gr.update(visible=k in OP_FIELDS[o]) for k in EDIT_FIELDS]

        op.change(choose_op, op, edit_inputs, concurrency_limit=None, show_progress="hidden")

        def values_of(sess, field):  # the values an attribute can take, in the page's language
            choices = _value_choices(field, _lang(sess))
            return gr.update(choices=choices, value=choices[0][1]) if choices else gr.skip()

        f["field"].input(values_of, [session, f["field"]], f["value"], concurrency_limit=None)

        def apply_edit(sess, n, o, *vals):
            v = dict(zip(EDIT_FIELDS, vals))
            return st.queue("edit", lambda: _edit_args(sess.get("project"), n, o, v), sess, "timeline")

        apply_go.click(apply_edit, [session, tl_shot, op, *edit_inputs], [session, tl_progress],
                       concurrency_limit=None)

        def render_film(sess):
            return st.queue("render", lambda: {"project": sess.get("project") or ""}, sess, "timeline")

        render_go.click(render_film, [session], [session, tl_progress], concurrency_limit=None)

        def new_project(sess, prompts, secs):
            from kinora.io.atomic import next_free

            lines = [x.strip() for x in (prompts or "").splitlines() if x.strip()]
            folder = str(next_free(st.workdir / "projects" / "project"))
            return st.queue("project", lambda: {"folder": folder, "prompts": lines, "seconds": secs,
                                                "model": st.model, "backend": st.backend}, sess, "timeline")

        new_go.click(new_project, [session, new_prompts, new_seconds], [session, tl_progress], concurrency_limit=None)

        def cancel_picked(j):
            if j:
                try:
                    st.store.cancel(j)
                except KinoraError:
                    pass

        job_cancel.click(cancel_picked, job_pick, None, concurrency_limit=None)

        # --- the poll: redraw what changed in the jobs this page follows ---
        def poll(sess, seen):
            lg = _lang(sess)
            seen = dict(seen or {})
            jobs = st.store.jobs()  # one read of the queue per tick serves every part of the page
            by_id = {j.id: j for j in jobs}
            out = []

            def follow(which: str, n: int, draw):
                """The bar of the job this page follows as `which`, and once it is done (or the
                language changed) its `n` result outputs from `draw(job)`; the job."""
                job = by_id.get(sess.get(which) or "")
                html_ = None
                if job is not None:
                    html_ = views.progress_bar(job, lg, st.store.position(job, jobs))
                    if job.state == "queued" and st.pool is not None and st.pool.broken:
                        html_ = views.error_box("the studio's workers could not start; see the terminal where "
                                                "'kinora studio' runs", lg)
                if html_ is None or seen.get(which + "_bar") == html_:
                    out.append(gr.skip())
                else:
                    seen[which + "_bar"] = html_
                    out.append(html_)
                if job is not None and job.state == "done" and seen.get(which + "_done") != (job.id, lg):
                    seen[which + "_done"] = (job.id, lg)
                    out.extend(draw(job))
                else:
                    out.extend([gr.skip()] * n)
                return job

            follow("shot", 3, lambda j: [st.out(j, j.result["video"]), views.warnings_md(j.result["warnings"], lg),
                                         views.label_report(j.result, lg)])
            follow("story", 4, lambda j: _story_result(st, j, lg))
            tl_job = follow("timeline", 6, lambda j: _timeline_result(st, j, lg))
            # Jobs
            rows = views.job_rows(jobs, lg)
            if seen.get("jobs") != rows:
                seen["jobs"] = rows
                out.append(rows)
                out.append(gr.update(choices=[r[0] for r in rows if r[2] in (t("state_queued", lg),
                                                                             t("state_running", lg))]))
            else:
                out += [gr.skip(), gr.skip()]
            # a project made by a job of this page is the one it now follows
            if tl_job is not None and tl_job.state == "done" and tl_job.kind == "project" and \
                    sess.get("project") != tl_job.result["project"]:
                sess = {**sess, "project": tl_job.result["project"]}
                out.append(sess)
                out.append(tl_job.result["project"])
            else:
                out += [gr.skip(), gr.skip()]
            return [seen, *out]

        timer = gr.Timer(POLL_S)
        timer.tick(poll, [session, shown],
                   [shown, shot_progress, shot_video, shot_warn, shot_label,
                    story_progress, story_grid, story_video, story_files, to_timeline,
                    tl_progress, tl_html, tl_shot, tl_take, tl_video, film_video, film_files,
                    jobs_table, job_pick, session, project],
                   concurrency_limit=None, show_progress="hidden")

        # --- language ---
        components = [c for c, _, _, _ in st.labels]

        def relabel(lg):
            ups = []
            for _, key, attr, more in st.labels:
                text = t(key, lg)
                if attr == "label":
                    ups.append(gr.update(label=text, **{prop: t(k, lg) for prop, k in more.items()}))
                elif attr == "value":
                    ups.append(gr.update(value=text))
                elif attr == "md":
                    ups.append(gr.update(value=text))
                elif attr == "md_bold":
                    ups.append(gr.update(value=f"**{text}**"))
                elif attr == "md_title":
                    ups.append(gr.update(value=f"## {text}"))
                elif attr == "mode_choices":
                    ups.append(gr.update(label=text, choices=_mode_choices(lg)))
                elif attr == "field_choices":
                    ups.append(gr.update(label=text, choices=_field_choices(lg)))
                elif attr == "op_choices":
                    ups.append(gr.update(label=text, choices=_op_choices(lg)))
            return ups

        def set_lang(sess, lg, seen):
            from kinora.timeline.project import Project

            sess = {**sess, "lang": lg}
            try:
                strip = views.timeline(Project.load(sess["project"]).doc if sess.get("project") else None, lg)
            except KinoraError:
                strip = gr.skip()  # the project's own error stays where it is
            jobs = gr.update(headers=_job_headers(lg), value=views.job_rows(st.store.jobs(), lg))
            # a bar with no job behind it says "Nothing running." in the new language; the poll
            # redraws the others (`shown` is emptied)
            idle = [gr.skip() if sess.get(which) else views.progress_bar(None, lg)
                    for which in ("shot", "story", "timeline")]
            return [sess, {}, jobs, t("workers", lg, n=st.workers), strip, *idle, *relabel(lg)]

        def value_names(sess, field, value):  # the attribute's values named in the page's language
            return gr.update(choices=_value_choices(field, _lang(sess)), value=value)

        lang.input(set_lang, [session, lang, shown], [session, shown, jobs_table, workers_md, tl_html, shot_progress,
                                                      story_progress, tl_progress, *components],
                   concurrency_limit=None).then(value_names, [session, f["field"], f["value"]], f["value"],
                                                concurrency_limit=None)
        # Gradio's own words (upload hints, status words) follow its locale: set it with ours.
        lang.change(None, [lang], None, js=GRADIO_LOCALE_JS, queue=False)

        def on_load(sess, request: gr.Request):
            sess = {**new_session(), **(sess or {})}
            sess["owner"] = sess.get("owner") or secrets.token_hex(6)  # this browser, from its first visit
            if not sess.get("lang"):
                sess["lang"] = language_of(request.headers.get("accept-language") if request else None)
            lg = sess["lang"]
            folder = sess.get("project") or st.project or ""
            opened = open_project(sess, folder) if folder else (sess, views.timeline(None, lg), gr.skip(), gr.skip(),
                                                                gr.skip())
            return [opened[0], {}, lg, folder, gr.update(headers=_job_headers(lg)), t("workers", lg, n=st.workers),
                    *opened[1:], *relabel(lg)]

        demo.load(on_load, [session], [session, shown, lang, project, jobs_table, workers_md, tl_html, tl_shot,
                                       tl_take, tl_video, *components], concurrency_limit=None).then(
            value_names, [session, f["field"], f["value"]], f["value"], concurrency_limit=None)
        to_timeline.click(_open_film_project(st, open_project), [session],
                          [project, session, tl_html, tl_shot, tl_take, tl_video, tabs], concurrency_limit=None)
    return demo


# ---------------------------------------------------------------------------------
# Drawing the results of finished jobs
# ---------------------------------------------------------------------------------


def _story_result(st: Studio, job, lg: str) -> list:
    import json

    r = job.result
    folder = st.store.output(job.id)
    if job.kind == "storyboard":
        plan = json.loads((folder / r["plan"]).read_text(encoding="utf-8"))
        grid = views.storyboard_grid(plan, [[folder / k for k in ks] for ks in r["keyframes"]], lg)
        files = [str(folder / r[k]) for k in ("pdf", "html", "plan")]
        return [grid, None, files, gr.update(visible=False)]
    prov = json.loads((folder / r["provenance"]).read_text(encoding="utf-8"))
    grid = views.storyboard_grid(prov, [[folder / k for k in ks] for ks in r["keyframes"]], lg,
                                 verification=[s["verification"] for s in prov["shots"]])
    files = [str(folder / r[k]) for k in ("film", "otio", "pdf", "provenance")]
    return [grid, str(folder / r["film"]), files, gr.update(visible=True)]


def _timeline_result(st: Studio, job, lg: str) -> list:
    """After an edit, a render or a new project: the strip, the shot and its takes, the film."""
    from kinora.timeline.project import Project

    r = job.result
    if job.kind == "render":
        folder = st.store.output(job.id)
        return [gr.skip()] * 4 + [str(folder / r["film"]), [str(folder / r["film"]), str(folder / r["otio"])]]
    project = r["project"]
    try:
        doc = Project.load(project).doc
    except KinoraError:
        return [gr.skip()] * 6
    n = int(r.get("shot") or 1)
    take, video = _takes_of(project, doc, n)
    return [views.timeline(doc, lg), gr.update(choices=_shot_choices(doc, lg), value=n), take, video, gr.skip(),
            gr.skip()]


def _open_film_project(st: Studio, open_project):
    def fn(sess):
        job = st.job(sess.get("story"))
        if job is None or job.state != "done" or job.kind != "film":
            return [gr.skip()] * 7
        folder = str(st.store.output(job.id) / job.result["project"])
        return [folder, *open_project(sess, folder), gr.Tabs(selected="timeline")]
    return fn


# ---------------------------------------------------------------------------------
# Small pieces
# ---------------------------------------------------------------------------------


def _allow(demo, folder: str) -> None:
    """Let the page play the takes of a project opened from outside the studio's folder."""
    resolved = str(Path(folder).resolve())
    if demo.allowed_paths is not None and resolved not in demo.allowed_paths:
        demo.allowed_paths.append(resolved)


def _mode_choices(lg: str) -> list[tuple[str, str]]:
    return [(t(f"mode_{m}", lg), m) for m in ("auto", "news", "knowledge", "story")]


def _field_choices(lg: str) -> list[tuple[str, str]]:
    from kinora.timeline.edits import OBJECT_FIELDS

    return [(t(f"field_{k}", lg), k) for k in OBJECT_FIELDS]


def _value_choices(field: str, lg: str) -> list[tuple[str, str]]:
    from kinora.plan.messages import word
    from kinora.world.spec import COLORS, MATERIALS, SHAPES, SIZES

    values = {"color": COLORS, "shape": SHAPES, "size": SIZES, "material": MATERIALS}.get(field, {})
    return [(word(v, lg) if lg == "zh" else {"sphere": "ball"}.get(v, v), v) for v in values]


def _op_choices(lg: str) -> list[tuple[str, str]]:
    return [(t(f"op_{o}", lg), o) for o in OPS]


def _job_headers(lg: str) -> list[str]:
    return [t(k, lg) for k in ("job_id", "col_kind", "col_state", "col_progress", "col_message", "col_created")]


def _shot_choices(doc, lg: str) -> list[tuple[str, int]]:
    return [(f"{t('shot_n', lg, n=n)} · {s.prompt[:40]}", n) for n, s in enumerate(doc.shots, 1)]


def _takes_of(folder: str, doc, n: int) -> tuple:
    """The take dropdown (every take of shot n, the active one chosen) and the active take's video."""
    if not 1 <= n <= len(doc.shots):
        return gr.update(choices=[], value=None), None
    s = doc.shots[n - 1]
    choices = [(f"{tk.id} · {tk.edit.get('kind', '')} · seed {tk.seed}" + (" ✓" if tk.id == s.active else ""), tk.id)
               for tk in s.takes]
    video = str(Path(folder) / s.active_take().preview) if s.active else None
    return gr.update(choices=choices, value=s.active), video


def _frame_for_region(folder: str, doc, n: int):
    """The active take's middle frame, enlarged, as the canvas to draw an edit region on."""
    import numpy as np

    from kinora.timeline.edits import take_frames
    from kinora.timeline.project import Project

    s = doc.shots[n - 1]
    if not s.active:
        return None
    try:
        frames = take_frames(Project.load(folder), s.active_take())
    except KinoraError:
        return None
    frame = frames[len(frames) // 2]
    k = max(1, 256 // max(frame.shape[:2]))
    return np.repeat(np.repeat(frame, k, 0), k, 1)


def region_box(editor_value) -> tuple[float, float, float, float] | None:
    """The bounding box (fractions x0, y0, x1, y1) of what was drawn on the region canvas, or None."""
    import numpy as np

    if not editor_value or not editor_value.get("layers"):
        return None
    layer = np.asarray(editor_value["layers"][0])
    if layer.ndim != 3 or layer.shape[2] < 4:
        return None
    ys, xs = np.nonzero(layer[..., 3] > 0)
    if len(xs) == 0:
        return None
    h, w = layer.shape[:2]
    return (round(xs.min() / w, 4), round(ys.min() / h, 4), round((xs.max() + 1) / w, 4), round((ys.max() + 1) / h, 4))


def _edit_args(project: str | None, n, op: str, v: dict) -> dict:
    """The edit panel's fields as the arguments of an "edit" job (kinora.jobs.kinds.EDITS)."""
    from kinora.defaults import MAX_SECONDS
    if not project:
        raise KinoraError("no project is open; open a project folder or make a film first")
    if n is None:
        raise KinoraError("choose a shot first")
    args = {"project": project, "op": op, "shot": int(n)}
    used = OP_FIELDS[op]
    seed = str(v.get("seed") or "").strip()
    if "seed" in used and seed:
        if not seed.isdigit():
            raise KinoraError(f"seed {seed!r} is not a whole number; leave it empty for a new one")
        args["seed"] = int(seed)
    if "prompt" in used and (v.get("prompt") or "").strip():
        args["prompt"] = v["prompt"].strip()
    if op == "change":
        args.update(object=str(v.get("object") or "1").strip(), field=v.get("field"),
                    value=(v.get("value") or "").strip())
    if op == "region":
        box = region_box(v.get("region"))
        if box is None and (v.get("box") or "").strip():
            try:
                box = tuple(float(x) for x in v["box"].split(","))
            except ValueError:
                raise KinoraError(f"the region {v['box']!r} is not x0,y0,x1,y1 (fractions, e.g. 0.5,0,1,1)") from None
        args["box"] = list(box) if box else None
        start, end = float(v.get("start") or 0.0), float(v.get("end") or 0.0)  # an empty or 0 end: to the end
        if start or end:
            args["span"] = [start, end or MAX_SECONDS]
    if op == "trim":
        args.update(start=float(v.get("start") or 0.0), end=float(v["end"]) if v.get("end") else None)
    if op in ("extend", "bridge", "loop", "crossfade"):
        args["seconds"] = float(v.get("seconds") or 0.0)
    if op == "extend":
        args["backward"] = bool(v.get("backward"))
    if op == "restyle":
        args["strength"] = float(v.get("strength") or 0.6)
    if op == "split":
        args["at"] = float(v.get("at") or 0.0)
    return args


# ---------------------------------------------------------------------------------
# Serving
# ---------------------------------------------------------------------------------


def _warm_checks() -> None:
    from kinora.jobs.kinds import check

    with contextlib.suppress(KinoraError):
        check("shot", {"prompt": "a red ball bounces"})


def serve(host: str = "127.0.0.1", port: int = 7860, project: str | None = None, workdir: str | os.PathLike =
          "out/studio", workers: int | None = None, model: str | None = None, on_ready=None, block: bool = True,
          backend: str = "kinora"):
    """Start the workers and the page; `on_ready(url)` is called once it is served. Returns
    (demo, pool, url) when `block` is False; else serves until interrupted."""
    from kinora.jobs import JobStore
    from kinora.jobs.pool import WorkerPool

    if project:
        from kinora.timeline.project import Project

        Project.load(project)  # a bad --project fails before anything starts
    if not 1 <= port <= 65535:
        raise KinoraError(f"--port {port} is out of range; use 1 to 65535")
    workdir = Path(workdir).resolve()
    store = JobStore(workdir / "jobs")
    if backend != "kinora":
        from kinora.pipelines.adapters import check_folder

        check_folder(backend, model)  # a bad --backend / --model-dir fails before anything starts (not loaded here)
    pool = WorkerPool(store, workers=workers, model=model, backend=backend).start()
    studio = Studio(workdir=workdir, store=store, project=project, model=model, backend=backend, workers=pool.size,
                    pool=pool)
    _warm_checks()  # what the first click checks (the reader, torch) is imported before the address is printed
    demo = build(studio)
    demo.queue(default_concurrency_limit=None)
    theme = gr.themes.Default(font=["Noto Sans CJK SC", "Noto Sans", "system-ui", "sans-serif"],
                              font_mono=["Noto Sans Mono", "monospace"])  # system fonts: nothing fetched
    allowed = [str(workdir)] + ([str(Path(project).resolve())] if project else [])
    try:
        _, url, _ = demo.launch(server_name=host, server_port=port, share=False, prevent_thread_lock=True,
                                quiet=True, theme=theme, css=views.CSS, allowed_paths=allowed, footer_links=[],
                                show_error=False, ssr_mode=False, mcp_server=False, pwa=False,
                                i18n=gr.I18n(**GRADIO_WORDS))
    except OSError as err:
        pool.stop()
        raise KinoraError(f"cannot serve on {host}:{port} ({err}); choose another --port") from None
    url = url or f"http://{host}:{port}/"
    if on_ready:
        on_ready(url)
    if not block:
        return demo, pool, url
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close(verbose=False)
        pool.stop()
    return None
