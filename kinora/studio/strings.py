"""Every word the studio shows, in English and Chinese, and the language a browser asks for.

A key maps to (English, 中文). Library errors are English one-liners (kinora.errors); the
ones a studio user meets most are given in Chinese here by pattern, and any other keeps
its English line after a Chinese lead-in, so nothing is hidden.
"""

from __future__ import annotations

import re

from kinora.plan.messages import in_chinese

LANGS = ("en", "zh")

S: dict[str, tuple[str, str]] = {
    # --- frame ---
    "title": ("Kinora Studio", "Kinora 工作室"),
    "subtitle": ("Text to film on your own computer: shots, storyboards, takes and edits. Every video is labeled "
                 "AI生成.", "在自己的电脑上把文字变成影片：镜头、分镜、版本与剪辑。每段视频都带有“AI生成”标识。"),
    "language": ("Language", "界面语言"),
    "tab_shot": ("Shot", "镜头"),
    "tab_story": ("Story", "故事"),
    "tab_timeline": ("Timeline", "时间线"),
    "tab_jobs": ("Jobs", "任务"),
    "cancel": ("Cancel", "取消"),
    "seed": ("Seed", "随机种子"),
    "seconds": ("Seconds", "时长（秒）"),
    "downloads": ("Downloads", "下载"),
    # --- shot ---
    "prompt": ("Prompt (English or Chinese)", "提示词（中文或英文）"),
    "prompt_ph": ("a red ball bounces on the floor while a blue cube slides to the right",
                  "一个红色的球在地上弹跳，一个蓝色的方块向右滑动"),
    "size": ("Size (width × height)", "画幅（宽 × 高）"),
    "steps": ("Sampling steps (0 = the model's)", "采样步数（0 = 模型默认）"),
    "guidance": ("Guidance (0 = the model's)", "引导强度（0 = 模型默认）"),
    "physics": ("Physics from the simulator", "物理引擎驱动"),
    "physics_info": ("the physics engine runs the shot and guides the model", "由物理引擎模拟镜头并引导模型"),
    "strict": ("Refuse what the micro-world lacks", "拒绝微世界中没有的事物"),
    "generate": ("Generate", "生成"),
    "video": ("Video", "视频"),
    "warnings": ("What the reader noticed", "理解提示"),
    "no_warnings": ("The reader understood every word.", "每个词都已理解。"),
    "label_report": ("Label report", "标识检查"),
    # --- story ---
    "story_text": ("Story, news item or explanation", "故事、新闻或科普说明"),
    "story_ph": ("Once upon a time a brave little red ball named Pip lived on top of a big blue cube. ...",
                 "从前，有一个叫豆豆的红色小球，住在一个蓝色的大方块上。……"),
    "example_pip": ("Example: Pip (story, English)", "示例：Pip（英文故事）"),
    "example_doudou": ("Example: 豆豆 (story, Chinese)", "示例：豆豆（中文故事）"),
    "example_news": ("Example: a news item", "示例：新闻"),
    "mode": ("Truth mode", "真实性模式"),
    "mode_auto": ("detect", "自动识别"),
    "mode_news": ("news", "新闻"),
    "mode_knowledge": ("knowledge", "科普"),
    "mode_story": ("story", "故事"),
    "seconds_per_shot": ("Seconds per shot", "每个镜头的秒数"),
    "max_tries": ("Takes per shot before flagging", "每镜最多生成次数"),
    "storyboard": ("Storyboard (previs, seconds)", "分镜（预演，数秒）"),
    "film": ("Make the film", "生成影片"),
    "open_in_timeline": ("Open in the timeline", "在时间线中打开"),
    "detected": ("Detected: {mode} (confidence {conf:.0%})", "识别结果：{mode}（置信度 {conf:.0%}）"),
    "overridden": ("you chose {mode}; detected {detected}", "已手动选择：{mode}；自动识别为 {detected}"),
    "cues": ("Cues in the text", "文本中的线索"),
    "no_cues": ("no cues: story is the default", "没有线索：默认为故事"),
    "mode_explain_news": ("news: nothing invented, every element traced to the text, every shot verified",
                          "新闻：不虚构，每个元素都能追溯到原文，每个镜头都要核实"),
    "mode_explain_knowledge": ("knowledge: plausible and physics-checked", "科普：合理，并经物理检查"),
    "mode_explain_story": ("story: free invention, consistent across shots", "故事：可自由发挥，镜头之间保持一致"),
    "shot_n": ("Shot {n}", "镜头 {n}"),
    "scene_n": ("scene {n}", "场景 {n}"),
    "camera": ("camera", "机位"),
    "verified": ("verified", "已核实"),
    "flagged": ("flagged", "未通过核实"),
    "previs_only": ("previs", "预演"),
    "continues": ("continues", "接上一镜"),
    "shots_total": ("{n} shots, {s:g} s", "{n} 个镜头，共 {s:g} 秒"),
    # --- timeline ---
    "project": ("Project folder", "项目文件夹"),
    "open": ("Open", "打开"),
    "new_project": ("New project from prompts", "用提示词新建项目"),
    "prompts": ("One shot per line", "每行一个镜头"),
    "create": ("Create", "创建"),
    "no_project": ("No project is open. Make a film in the Story tab, or create one here from prompts.",
                   "尚未打开项目。请在“故事”页生成影片，或在此用提示词新建项目。"),
    "shot": ("Shot", "镜头"),
    "take": ("Take", "版本"),
    "use_take": ("Use this take in the film", "在影片中使用此版本"),
    "undo": ("Undo the last change", "撤销上一步"),
    "active": ("active", "使用中"),
    "takes": ("takes", "个版本"),
    "edit": ("Edit (every edit makes a new take; the old ones stay)", "编辑（每次编辑都生成新版本，旧版本保留）"),
    "edit_kind": ("Edit", "编辑方式"),
    "op_regenerate": ("regenerate (new seed)", "重新生成（换种子）"),
    "op_reprompt": ("re-prompt", "改提示词"),
    "op_change": ("change an attribute", "修改属性"),
    "op_region": ("region and time span", "局部与时段"),
    "op_extend": ("extend", "延长"),
    "op_trim": ("trim", "裁剪"),
    "op_bridge": ("bridge to the next shot", "过渡到下一镜"),
    "op_restyle": ("SDEdit (restyle)", "SDEdit 重绘"),
    "op_loop": ("loop", "循环"),
    "op_split": ("split", "拆分"),
    "op_crossfade": ("crossfade into the next shot", "与下一镜交叉淡化"),
    "new_prompt": ("Prompt", "提示词"),
    "edit_seed": ("Seed", "随机种子"),
    "edit_seed_ph": ("empty: one no take has used", "留空：自动选一个未用过的"),
    "object": ("Object (number or id)", "对象（序号或编号）"),
    "field": ("Attribute", "属性"),
    "value": ("New value", "新值"),
    "field_color": ("colour", "颜色"),
    "field_shape": ("shape", "形状"),
    "field_size": ("size", "大小"),
    "field_material": ("material", "材质"),
    "region": ("Draw the region on the frame", "在画面上画出区域"),
    "box": ("or the box as x0,y0,x1,y1 (fractions)", "或以 x0,y0,x1,y1（比例）给出区域"),
    "start": ("From (s)", "起点（秒）"),
    "end": ("To (s, empty = end)", "终点（秒，留空为结尾）"),
    "edit_seconds": ("Seconds", "秒数"),
    "backward": ("before the take", "加在前面"),
    "strength": ("SDEdit strength", "重绘强度"),
    "at": ("Split at (s)", "拆分位置（秒）"),
    "apply": ("Apply edit", "应用编辑"),
    "render": ("Render the film", "渲染影片"),
    "revision": ("revision {n}", "第 {n} 版"),
    # --- jobs ---
    "jobs_all": ("All jobs (every tab and window)", "全部任务（所有标签页与窗口）"),
    "job_id": ("Job", "任务"),
    "col_kind": ("kind", "类型"),
    "col_state": ("state", "状态"),
    "col_progress": ("progress", "进度"),
    "col_message": ("now", "当前"),
    "col_created": ("submitted", "提交时间"),
    "cancel_job": ("Cancel this job", "取消此任务"),
    "workers": ("{n} worker(s), one generation per core", "{n} 个工作进程，每个核心同时只生成一个"),
    # --- job states ---
    "state_queued": ("queued", "排队中"),
    "state_running": ("running", "运行中"),
    "state_done": ("done", "完成"),
    "state_failed": ("failed", "失败"),
    "state_cancelled": ("cancelled", "已取消"),
    "state_interrupted": ("interrupted", "已中断"),
    "queued_ahead": ("queued, {n} job(s) ahead", "排队中，前面还有 {n} 个任务"),
    "kind_shot": ("shot", "镜头"),
    "kind_storyboard": ("storyboard", "分镜"),
    "kind_film": ("film", "影片"),
    "kind_project": ("new project", "新建项目"),
    "kind_edit": ("edit", "编辑"),
    "kind_render": ("render", "渲染"),
    "idle": ("Nothing running.", "没有正在运行的任务。"),
    # --- label report ---
    "label_ok": ("Labeled: the visible mark and the GB 45438-2025 metadata are both present.",
                 "标识齐全：画面上的显式标识与 GB 45438-2025 元数据均已写入。"),
    "label_bad": ("Label problems: {p}", "标识有问题：{p}"),
    "label_visible": ("visible “{text}” {corner}, {pct:.1f} % of the short side, first {sec:g} s",
                      "显式标识“{text}”位于{corner}，高度占短边 {pct:.1f}%，持续前 {sec:g} 秒"),
    "label_meta": ("metadata label {label} ({meaning}), producer {producer}",
                   "隐式标识 {label}（{meaning}），生成者 {producer}"),
    "label_c2pa": ("C2PA manifest: {yes}", "C2PA 内容凭证：{yes}"),
    "yes": ("yes", "有"),
    "no": ("no", "无"),
    "video_facts": ("{frames} frames at {fps} fps ({sec:g} s), {w}×{h}; conditioned on “{caption}”",
                    "{frames} 帧，{fps} 帧/秒（{sec:g} 秒），{w}×{h}；模型读到的描述：“{caption}”"),
    # --- errors ---
    "error": ("Cannot do that: {msg}", "无法执行：{msg}"),
    "pick_shot": ("Choose a shot first.", "请先选择一个镜头。"),
}

CORNERS_ZH = {"top-left": "左上角", "top-right": "右上角", "bottom-left": "左下角", "bottom-right": "右下角"}

# The library's most common one-line errors, in Chinese (pattern on the English line -> Chinese with its groups).
ERRORS_ZH: list[tuple[str, str]] = [
    (r"^the prompt is empty", "提示词是空的。请描述镜头，例如“一个红色的球在地上弹跳”。"),
    (r"^the text is empty", "文本是空的。请粘贴一个故事、一则新闻或一段说明。"),
    (r"^the text shows nothing the micro-world can film",
     "文本里没有微世界能拍的东西（没有出现、运动或被镜头注视的球、方块或圆柱）。请写出镜头应该看到什么。"),
    (r"^--seconds (\S+) is out of range; use more than 0 and at most (\S+)",
     r"时长 \1 秒超出范围：应大于 0 且不超过 \2 秒。"),
    (r"^--size (\S+) is not supported", r"画幅 \1 不受支持：请用 16 的倍数，至少 16（模型以 64×64 训练）。"),
    (r"^--steps (\S+) is out of range; use 1 to (\S+)", r"采样步数 \1 超出范围：请用 1 到 \2。"),
    (r"^--guidance (\S+) is out of range; use 0 to (\S+)", r"引导强度 \1 超出范围：请用 0 到 \2。"),
    (r"^--seed (\S+) is out of range", r"随机种子 \1 超出范围：请用 0 到 2^63-1 之间的整数。"),
    (r"^seconds per shot (\S+) is out of range", r"每镜秒数 \1 超出范围：应大于 0 且不超过 60。"),
    (r"^there is no shot (\d+): the project has (\d+) shot", r"没有第 \1 个镜头：项目共有 \2 个镜头。"),
    (r"^another process is changing project", "另一个任务正在修改这个项目，请等它完成。"),
    (r"^no project at (.+?);", r"\1 处没有项目。"),
    (r"^(.+) is not a Kinora project", r"\1 不是 Kinora 项目。"),
    (r"^no project is open", "尚未打开项目：请先打开项目文件夹，或先生成一部影片。"),
    (r"^the new prompt is empty", "新的提示词是空的。请描述镜头，例如“一个蓝色的方块向右滑动”。"),
    (r"^draw the region on the frame", "请在画面上画出要重新生成的区域（或以 x0,y0,x1,y1 比例给出）。"),
    (r"^a project needs at least one shot", "项目至少需要一个镜头：每行写一个提示词。"),
    (r"^(.+) already holds (files|a project)", r"\1 里已有文件：请为新项目选择一个新文件夹。"),
    (r"^nothing to undo", "没有可撤销的操作：这是项目的第一版。"),
    (r"^cancelled", "已取消。"),
    (r"^the studio's workers could not start", "工作室的工作进程无法启动，请查看运行 kinora studio 的终端。"),
    (r"^seed '(.*)' is not a whole number", r"随机种子“\1”不是整数；留空则自动选择。"),
    (r"^the worker running this job stopped", "运行此任务的进程意外停止了，请重新运行。"),
    (r"^--physics simulates at the model's", "物理引擎按模型的帧率模拟，请不要更改帧率。"),
    (r"^unknown word", "有无法识别的词。"),
]


def t(key: str, lang: str, **fmt) -> str:
    en, zh = S[key]
    text = zh if lang == "zh" else en
    return text.format(**fmt) if fmt else text


def language_of(accept: str | None) -> str:
    """'zh' for a browser that asks for Chinese first (navigator.language or Accept-Language), else 'en'."""
    if not accept:
        return "en"
    first = accept.split(",")[0].strip().lower()
    return "zh" if first.startswith("zh") else "en"


def error_text(message: str, lang: str) -> str:
    """A library error line in the reader's language (the English line is kept where no Chinese is known)."""
    message = " ".join(str(message).split())
    if lang == "zh":
        for pattern, zh in ERRORS_ZH:
            m = re.search(pattern, message)
            if m:
                return m.expand(zh)
        zh = in_chinese(message)  # an error that carries one of the reader's notes (strict, a story's sentence)
        if zh is not None:
            return t("error", lang, msg=zh)
    return t("error", lang, msg=message)
