"""What Kinora tells a user about a plan and a take, in Chinese as well as English.

The reader, the story planner and the verifier write their notes as one English line each
(kept in specs, provenance and reports, where tests and tools read them). `say(line, lang)`
gives the line in the user's language: for Chinese it matches the line against the
templates below, one per kind of note the library writes, and rebuilds it in Chinese. The
user's own words (quoted in the note) are kept as written, in Chinese quotes; the world's
words (colours, shapes, motions, camera moves) and the object labels ("the cyan ball")
are translated through the world's vocabulary (kinora.world.spec). A line no template knows
comes back in English: `in_chinese` returns None for it, which the tests check never
happens for what the reader says over the bundled corpora.

Follows the notes' wording in kinora/plan/reading.py, building.py, rewrite.py, parse.py,
story.py, llm.py, kinora/verify/compare.py, kinora/pipelines/film.py and kinora/label/inspect.py; a change of
wording there needs its template changed here (tests/plan/test_messages.py triggers each).
"""

from __future__ import annotations

import re

from kinora.world.spec import COLORS, MATERIALS, SHAPES

# The world's words, as the English notes write them -> Chinese.
WORDS_ZH: dict[str, str] = {
    **{c: v["zh"] for c, v in COLORS.items()},
    **{s: v["zh"] for s, v in SHAPES.items()}, **{v["en"]: v["zh"] for v in SHAPES.values()},
    "small": "小号", "large": "大号",
    **{m: v["zh"] for m, v in MATERIALS.items()},
    "still": "静止", "fall": "下落", "roll": "滚动", "slide": "滑动", "push": "推动", "topple": "倾倒",
    "move": "移动", "bounce": "弹跳",
    "left": "向左", "right": "向右", "forward": "向前", "backward": "向后", "up": "向上", "down": "向下",
    "slow": "慢速", "normal": "正常速度", "fast": "快速",
    "static": "固定不动", "pan_left": "向左摇", "pan_right": "向右摇", "orbit_left": "向左环绕",
    "orbit_right": "向右环绕", "zoom_in": "推近", "zoom_out": "拉远", "pan": "摇镜", "orbit": "环绕",
    "zoom": "变焦", "appeared": "凭空出现", "vanished": "凭空消失", "flickered": "时隐时现",
}

_OBJ = r"the (\w+) (ball|cube|cylinder)"  # an object label, as building.py and story.py write it


def _w(word: str) -> str:
    """A world word in Chinese (unknown words as they are)."""
    return WORDS_ZH.get(word, word)


def _obj(color: str, shape: str) -> str:
    return f"{_w(color)}的{_w(shape)}"


def _q(text: str) -> str:
    return f"“{text}”"


def _quoted_list(text: str) -> str:
    """"'a', 'b'" (the user's words) -> “a”、“b”."""
    return "、".join(_q(m) for m in re.findall(r"'([^']*)'", text)) or text


def _word_list(text: str) -> str:
    """"slide, roll" or "'left', 'right'" (world words) -> 滑动、滚动."""
    return "、".join(_w(w.strip().strip("'\"")) for w in text.split(","))


def _what(text: str) -> str:
    """The subject of a "conflicting ..." note."""
    m = re.fullmatch(r"(hints at the material|directions|speeds) (?:of|for) " + _OBJ, text)
    if m:
        return _obj(m[2], m[3]) + {"hints at the material": "的材质线索", "directions": "的方向",
                                   "speeds": "的速度"}[m[1]]
    return {"camera directions": "镜头的方向", "camera speeds": "镜头的速度"}.get(text, text)


# (pattern on the whole English line, builder of the Chinese line from the match)
_TEMPLATES: list[tuple[str, object]] = [
    # -- the reader (kinora/plan/reading.py, parse.py, rewrite.py) --
    (r"'(.+)' is not a colour in the world's palette; using (\w+) \(the nearest hue\)",
     lambda m: f"微世界的调色板里没有{_q(m[1])}；改用最接近的{_w(m[2])}"),
    (r"'(.+)' is not a shape the world has; using a (\w+)",
     lambda m: f"微世界没有{_q(m[1])}这种形状；改用{_w(m[2])}"),
    (r"'(.+)' is not a material the world has; using (\w+)",
     lambda m: f"微世界没有{_q(m[1])}这种材质；改用{_w(m[2])}"),
    (r"'(.+)' is not a size the world has; using (\w+)",
     lambda m: f"微世界没有{_q(m[1])}这种大小；改用{_w(m[2])}"),
    (r"'(.+)' is not a motion the world has; using a bounce",
     lambda m: f"微世界没有{_q(m[1])}这种运动；改为弹跳"),
    (r"'(.+)' is not in the world; using (.+)", lambda m: f"微世界里没有{_q(m[1])}；改用{_w(m[2])}"),
    (r"reading '(.+)' as '(.+)'", lambda m: f"把{_q(m[1])}读作{_q(m[2])}"),
    (r"'(.+)' and '(.+)' both describe one object; using '(.+)'",
     lambda m: f"{_q(_w(m[1]))}和{_q(_w(m[2]))}描述的是同一个物体；采用{_q(_w(m[3]))}"),
    (r"'(.+)' does not say how many; assuming (\d+)", lambda m: f"{_q(m[1])}没有说明数量；按 {m[2]} 个处理"),
    (r"the camera cannot (\w+); ignoring '(.+)'", lambda m: f"镜头不能{_w(m[1])}；忽略{_q(m[2])}"),
    (r"'(.+)' does not apply to the camera; ignoring it", lambda m: f"{_q(m[1])}不适用于镜头；已忽略"),
    (r"'(.+)' would make objects depend on each other in a circle; ignoring it",
     lambda m: f"{_q(m[1])}会让物体互相依赖、形成循环；已忽略"),
    (r"stacks are at most two high; ignoring '(.+)'", lambda m: f"物体最多只能叠两层；忽略{_q(m[1])}"),
    (r"unknown word '(.+)'; nearest known word is '(.+)'",
     lambda m: f"不认识的词{_q(m[1])}；最接近的已知词是{_q(m[2])}"),
    (r"'(.+)' needs several moving objects; ignoring it", lambda m: f"{_q(m[1])}需要多个运动的物体；已忽略"),
    (r"('.*') does not say which object it applies to; ignoring it",
     lambda m: f"{_quoted_list(m[1])}没有说明指的是哪个物体；已忽略"),
    (r"the prompt gives two lengths; using '(.+)'", lambda m: f"提示词给了两个时长；采用{_q(m[1])}"),
    (r"'(.+)' cannot be shown \(the micro-world has balls, cubes and cylinders\); it is left out",
     lambda m: f"无法表现{_q(m[1])}（微世界只有球、方块和圆柱）；已略去"),
    (r"'(.+)' is not a motion the micro-world has \(it has still, fall, roll, slide, push, topple\); ignoring it",
     lambda m: f"微世界没有{_q(m[1])}这种运动（只有静止、下落、滚动、滑动、推动、倾倒）；已忽略"),
    (r"'(.+)' needs two objects; ignoring it", lambda m: f"{_q(m[1])}需要两个物体；已忽略"),
    (r"'(.+)' says there is none; nothing is made for it", lambda m: f"{_q(m[1])}表示没有这样东西；不为它生成物体"),
    (r"'(.+)' does not say what is pushed; ignoring it", lambda m: f"{_q(m[1])}没有说明推的是什么；已忽略"),
    (r"unknown colour '(.+)'; the micro-world's colours are (.+)",
     lambda m: f"不认识的颜色{_q(m[1])}；微世界的颜色有{_word_list(m[2])}"),
    (r"'(.+)' does not match the (\d+) listed; making (\d+)",
     lambda m: f"{_q(m[1])}与列出的 {m[2]} 个不符；生成 {m[3]} 个"),
    (r"the prompt is not in a language Kinora reads \(it reads English and Chinese\); the shot shows an empty floor",
     lambda m: "提示词不是 Kinora 能读的语言（它读中文和英文）；镜头里只有空地面"),
    (r"the prompt names no object \(a ball, cube or cylinder\); the shot shows an empty floor",
     lambda m: "提示词没有提到任何物体（球、方块或圆柱）；镜头里只有空地面"),
    # -- building the spec (kinora/plan/building.py) --
    (r"conflicting (.+): (.+); using '(.+)'", lambda m: f"{_what(m[1])}相互矛盾（{_word_list(m[2])}）；采用{_w(m[3])}"),
    (_OBJ + r" cannot be made to land on another object; it falls beside it",
     lambda m: f"{_obj(m[1], m[2])}无法落到另一个物体上；它落在旁边"),
    (_OBJ + r" stands on another object, so it stays still there",
     lambda m: f"{_obj(m[1], m[2])}立在另一个物体上，所以保持静止"),
    (_OBJ + r" pushes nothing that the prompt names; it moves on its own",
     lambda m: f"提示词没有说{_obj(m[1], m[2])}推的是什么；它独自运动"),
    (_OBJ + r" has nothing to topple off; it falls instead",
     lambda m: f"{_obj(m[1], m[2])}下面没有可以翻落的物体；改为下落"),
    (_OBJ + r" is given several motions \((.+)\); using '(.+)'",
     lambda m: f"{_obj(m[1], m[2])}被指定了多个运动（{_word_list(m[3])}）；采用{_w(m[4])}"),
    (r"a (\w+) cannot (\w+)(?: \('(.+)'\))?; " + _OBJ + r" slides instead",
     lambda m: f"{_w(m[1])}不能{_w(m[2])}" + (f"（{_q(m[3])}）" if m[3] else "")
     + f"；{_obj(m[4], m[5])}改为滑动"),
    (_OBJ + r" is (\w+), which does not match '(.+)'; using (\w+)",
     lambda m: f"{_obj(m[1], m[2])}是{_w(m[3])}的，与{_q(m[4])}不符；采用{_w(m[5])}"),
    (r"'(.+)' has no effect on " + _OBJ + r", which does not travel",
     lambda m: f"{_q(m[1])}对{_obj(m[2], m[3])}不起作用：它不移动"),
    (r"the camera is given several moves; using '(.+)'", lambda m: f"镜头被指定了多个运动；采用{_q(m[1])}"),
    (r"'(.+)' does not say where the camera moves; it stays static",
     lambda m: f"{_q(m[1])}没有说明镜头往哪里动；镜头保持不动"),
    (r"'(.+)' does not say in or out; zooming in", lambda m: f"{_q(m[1])}没有说明推近还是拉远；按推近处理"),
    (r"'(.+)' does not say left or right; using left", lambda m: f"{_q(m[1])}没有说明向左还是向右；按向左处理"),
    # -- the story planner (kinora/plan/story.py, llm.py) --
    (r"sentence (\d+): (.+)", lambda m: f"第 {m[1]} 句：{say(m[2], 'zh')}"),
    (r"['\"](.*)['\"] names no ball, cube or cylinder and refers to none; left out",
     lambda m: f"{_q(m[1])}既没有提到球、方块或圆柱，也不指代前文的物体；已略去"),
    (_OBJ + r" is a cube: it slides instead of rolling", lambda m: f"{_obj(m[1], m[2])}是方块：它滑动而不滚动"),
    (r"the text shows nothing the micro-world can film \(no ball, cube or cylinder\); the film would be empty",
     lambda m: "文本里没有微世界能拍的东西（没有球、方块或圆柱）；影片会是空的"),
    (r"shot (\d+): the LLM changed the look of (\S+); it keeps the look of its first shot",
     lambda m: f"第 {m[1]} 个镜头：语言模型改变了 {m[2]} 的外观；保留它在第一个镜头里的样子"),
    (r"strict: the prompt cannot be read exactly: (.+?)(?: \(and (\d+) more\))?; rephrase it, or drop --strict "
     r"to let Kinora use the nearest thing the micro-world has",
     lambda m: f"严格模式：提示词无法被准确读懂：{say(m[1], 'zh')}" + (f"（另有 {m[2]} 条）" if m[2] else "")
     + "。请改写提示词，或关闭严格模式，让 Kinora 使用微世界里最接近的东西"),
    # -- the verifier (kinora/verify/compare.py) and the film (kinora/pipelines/film.py) --
    (r"(\S+) \((\w+) (\w+)\) appears (\w+)", lambda m: f"{m[1]}（{_obj(m[2], m[3])}）看起来是{_w(m[4])}"),
    (r"(\S+) \((\w+) (\w+)\) looks like a (\w+)", lambda m: f"{m[1]}（{_obj(m[2], m[3])}）看起来像{_w(m[4])}"),
    (r"(\S+) \((\w+) (\w+)\) should move (\w+) but moves (\w+)",
     lambda m: f"{m[1]}（{_obj(m[2], m[3])}）应当{_w(m[4])}运动，实际{_w(m[5])}"),
    (r"(\S+) \((\w+) (\w+)\) is not in the video", lambda m: f"视频里没有 {m[1]}（{_obj(m[2], m[3])}）"),
    (r"a (\w+) (\w+) \(track (\d+)\) that the spec does not have",
     lambda m: f"视频里多出一个计划中没有的{_obj(m[1], m[2])}（轨迹 {m[3]}）"),
    (r"(\d+) objects in the video, (\d+) in the spec", lambda m: f"视频里有 {m[1]} 个物体，计划中有 {m[2]} 个"),
    (r"camera should be (\w+) but is (\w+)", lambda m: f"镜头应当{_w(m[1])}，实际{_w(m[2])}"),
    (r"the (\w+) object (\w+) without cause at frame (\d+)",
     lambda m: f"{_w(m[1])}的物体在第 {m[3]} 帧无故{_w(m[2])}"),
    (r"the motion departs from the simulator's rollout of the shot by ([\d.]+) px on average \(tolerance ([\d.]+)\)",
     lambda m: f"运动与物理引擎对该镜头的模拟平均相差 {m[1]} 像素（容差 {m[2]}）"),
    (r"failed verification after (\d+) take\(s\): (.+)",
     lambda m: f"{m[1]} 个版本均未通过验证：" + "；".join(say(x, "zh") for x in m[2].split("; "))),
    # -- the pipeline's sampling notes (kinora/pipelines/kinora.py) --
    (r"guidance is 1 \(a distilled model samples without guidance\): the negative prompt has no effect",
     lambda m: "引导强度为 1（蒸馏模型不使用引导采样）：反向提示词不起作用"),
    (r"this model has its teacher's guidance \(([\d.]+)\) folded in: guidance ([\d.]+) applies on top of it; "
     r"for guided sampling use the teacher \(--model kinora/weights/teacher\)",
     lambda m: f"这个模型已把教师模型的引导（{m[1]}）蒸馏进权重：引导强度 {m[2]} 会叠加在其上；"
     "要用引导采样，请换用教师模型（--model kinora/weights/teacher）"),
    # -- the label check (kinora/label/inspect.py) --
    (r"the visible label is missing from the first frame \(first seen in frame (\d+)\)",
     lambda m: f"第一帧没有显式标识（从第 {m[1]} 帧才出现）"),
    (r"the visible label shows for only ([\d.]+) s at the start; it needs ([\d.]+) s",
     lambda m: f"显式标识在开头只显示了 {m[1]} 秒；需要 {m[2]} 秒"),
    (r"the visible label's text is (\d+) px, under 5 % of the shortest side \(([\d.]+) px\)",
     lambda m: f"显式标识的文字高 {m[1]} 像素，不到短边的 5%（{m[2]} 像素）"),
    (r"no visible \"AI生成\" label found in any corner of the (\d+) frames",
     lambda m: f"{m[1]} 帧的四个角都没有找到显式标识“AI生成”"),
    (r"no AIGC metadata label \(GB 45438\) in the file", lambda m: "文件里没有 AIGC 隐式标识（GB 45438）"),
    (r"the C2PA manifest is invalid \(the file changed after it was signed\): (.*)",
     lambda m: f"C2PA 内容凭证无效（签名后文件被改动过）：{m[1]}"),
    (r"not verified: (.+)", lambda m: "未通过验证：" + "；".join(say(x, "zh") for x in m[1].split("; "))),
]
_COMPILED = [(re.compile(p), build) for p, build in _TEMPLATES]


def in_chinese(line: str) -> str | None:
    """The note in Chinese, or None where no template matches it."""
    line = " ".join(str(line).split())
    for pattern, build in _COMPILED:
        m = pattern.fullmatch(line)
        if m:
            return build(m)
    return None


def word(value: str, lang: str) -> str:
    """One of the world's words ('pan_left', 'rubber') in `lang`."""
    return WORDS_ZH.get(value, value) if lang == "zh" else value.replace("_", " ")


def say(line: str, lang: str) -> str:
    """The note in `lang` ('zh' or 'en'); English where no Chinese is known."""
    if lang == "zh":
        zh = in_chinese(line)
        if zh is not None:
            return zh
    return " ".join(str(line).split())
