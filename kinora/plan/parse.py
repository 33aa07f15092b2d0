"""The prompt parser: English or Chinese text into a ShotSpec with provenance.

    r = parse("a big yellow ball rolls into a small purple cube while the camera pans left")
    r.spec        # ShotSpec: obj0 large yellow sphere push -> obj1 small purple cube, camera pan_left
    r.canonical   # 'a large yellow ball rolls into a small purple cube. the camera pans left.'
    r.language    # 'en'
    r.warnings    # [] ; an unknown content word gives "unknown word 'X'; nearest known word is 'Y'"

It is a small rule-based reader, not a grammar: words are looked up (longest phrase
first) in tables built from `kinora.world.captions` (which extends the vocabulary of
`kinora.world.spec`), noun phrases become objects ("two blue cubes" is two objects),
and everything else (motions, directions, speeds, camera moves, relations such as
"into the cube" or "从方块上") attaches to the subject of its clause. It reads every
caption `kinora.world.captions` writes (tests/world/test_captions.py checks the round
trip) and ordinary prompts in both languages.

Provenance, so news mode can forbid invention. Each object's `source` is the span of the
noun phrase that introduced it, {"start", "end", "text"}, plus "fields": for each of
shape, color, size, material, motion, direction, speed, target, on (and count for a
counted group) either the span of the words that said it or {"invented": true} where
the parser had to choose (a colour nobody gave, the default motion "still"). The
camera's `source` is the span of its phrase, or {"invented": true} when the text never
mentions it; its "fields" say the same for motion and speed. Offsets index `text`.
"""

from __future__ import annotations

import difflib
import random
import re
from dataclasses import dataclass, field
from typing import Any

from kinora.errors import KinoraError
from kinora.world import captions as C
from kinora.world.spec import (
    COLORS,
    MAX_OBJECTS,
    SHAPES,
    CameraSpec,
    ObjectSpec,
    ShotSpec,
    motion_allowed,
    validate,
)


@dataclass
class ParseResult:
    spec: ShotSpec
    canonical: str
    language: str  # "en" | "zh"
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------
# Lexicons. An entry maps a word or phrase to one or more items (category, value).
# ---------------------------------------------------------------------------------
# categories: det (indef|def|another|other), count (n), vague (n), one, size, color,
# material, shape ((shape, plural)), motion, effect (bounce|no_bounce|glide), dir, speed,
# cam, camverb ((kind, dir|None)), rel (target|on|off|from), relverb (target), post,
# scenery, pron, which, bound (sentence|clause), and, known, stop, de

_EN_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+|[^\sA-Za-z\d]")
_CJK = re.compile(r"[\u3400-\u9fff]")


def _en_key(phrase: str) -> tuple[str, ...]:
    return tuple(_EN_TOKEN.findall(phrase.lower().replace("’", "'")))


def _build_en() -> dict[tuple[str, ...], list[tuple]]:
    lex: dict[tuple[str, ...], list[tuple]] = {}

    def add(words, *items):
        for w in words.split("|") if isinstance(words, str) else words:
            lex[_en_key(w)] = list(items)

    def table(main: dict, also: dict, cat: str):
        for value in main:
            add(list(main[value]) + list(also.get(value, ())), (cat, value))

    for shape in SHAPES:
        for w in C.EN_SHAPES[shape] + C.EN_SHAPES_ALSO[shape]:
            add([w], ("shape", (shape, False)))
            add([C.plural(w)], ("shape", (shape, True)))
    table(C.EN_COLORS, C.EN_COLORS_ALSO, "color")
    table(C.EN_SIZES, C.EN_SIZES_ALSO, "size")
    table(C.EN_MATERIALS, {"rubber": ("rubbery", "springy"), "wood": ("timber",), "ice": ("frozen",)}, "material")
    add("made of|made from|made out of", ("stop",))
    table(C.EN_DIRECTIONS, C.EN_DIRECTIONS_ALSO, "dir")
    table(C.EN_SPEEDS, C.EN_SPEEDS_ALSO, "speed")
    add("a|an", ("det", "indef"))
    add("the|this|that|these|those", ("det", "def"))
    add("another", ("det", "another"))
    add("other", ("det", "other"))
    add("one", ("one", False))
    add("ones", ("one", True))
    for n, w in list(C.EN_COUNTS.items()) + [(7, "seven"), (8, "eight"), (9, "nine"), (10, "ten")]:
        add([w, str(n)], ("count", n))
    add("a pair of|a couple of|pair of|couple of", ("count", 2))
    add("several|some|a few|few|many|multiple|a number of", ("vague", 3))
    add("both", ("det", "def"))

    add("sit|sits|sitting|sat|rest|rests|resting|rested|stand|stands|standing|stood|stay|stays|staying|stayed|"
        "lie|lies|lying|still|motionless|stationary|static|fixed|unmoving|immobile|at rest|remain|remains|remaining|"
        "does not move|do not move|doesn't move|don't move|not moving|stays put|stay put|sits tight|wait|waits|"
        "waiting|hold still|holds still|holding still|locked|locked off|locked-off|steady", ("motion", "still"))
    add("fall|falls|falling|fell|fallen|drop|drops|dropping|dropped|plunge|plunges|plunging|plummet|plummets|"
        "descend|descends|descending|sink|sinks|falls down|fall down|drops down|drop down|land|lands|landing|"
        "landed", ("motion", "fall"))
    add("roll|rolls|rolling|rolled|rolls over|roll over", ("motion", "roll"))
    add("slide|slides|sliding|slid|skid|skids|skidding|skidded|slip|slips|slipping|slipped|scoot|scoots",
        ("motion", "slide"))
    add("topple|topples|toppling|toppled|tumble|tumbles|tumbling|tumbled|tip over|tips over|tipping over|"
        "tipped over|falls over|fall over|fell over|tips|tip|tipping|tilts over|keels over|wobbles off",
        ("motion", "topple"))
    add("move|moves|moving|moved|head|heads|heading|headed|travel|travels|travelling|traveling|travelled|"
        "go|goes|going|went|race|races|racing|raced|run|runs|running|ran|drift|drifts|drifting|cross|crosses|"
        "crossing|shoot|shoots|speed|speeds|speeding|zip|zips|coast|coasts|coasting|advance|advances",
        ("motion", "move"))
    add("bounce|bounces|bouncing|bounced|rebound|rebounds|rebounding|bounces back|bounce back|bounces back up|"
        "bounce back up|bounces up|bounce up", ("effect", "bounce"))
    add("without bouncing|without a bounce|does not bounce|do not bounce|doesn't bounce|don't bounce|no bounce|"
        "never bounces|barely bounces|hardly bounces|without any bounce|dead|thud|thuds|with a thud",
        ("effect", "no_bounce"))
    add("glide|glides|gliding|glided|a long way|glides smoothly|long way", ("effect", "glide"))

    add("camera|view|shot|viewpoint|lens|cam|camera view|point of view", ("cam",))
    add("pan|pans|panning|panned|pans across|pan across", ("camverb", ("pan", None)))
    add("orbit|orbits|orbiting|orbited|circle|circles|circling|circled|circles around|circle around|revolve|"
        "revolves|revolving|arc|arcs|arcing|orbits around|orbit around", ("camverb", ("orbit", None)))
    # Camera moves only when the camera is what does them ("the ball turns" is not a pan).
    add("rotate|rotates|rotating|rotated", ("camverb", ("orbit", "cam")))
    add("swing|swings|swinging|turn|turns|turning|turned", ("camverb", ("pan", "cam")))
    add("zoom in|zooms in|zooming in|zoomed in|push in|pushes in|pushing in|pushed in|dolly in|dollies in|"
        "dollying in|dollied in|moves in|move in|moving in|closes in|close in|zoom closer|zooms closer",
        ("camverb", ("zoom_in", None)))
    add("zoom out|zooms out|zooming out|zoomed out|pull back|pulls back|pulling back|pulled back|pull out|"
        "pulls out|pulling out|pulled out|pull away|pulls away|dolly out|dollies out|dollying out|dollied out|"
        "zooms away|zoom away|backs away|backs up", ("camverb", ("zoom_out", None)))
    add("zoom|zooms|zooming|zoomed|dolly|dollies", ("camverb", ("zoom", None)))

    add("into|against|toward|towards|at", ("rel", "target"))
    add("hit|hits|hitting|strike|strikes|striking|struck|push|pushes|pushing|pushed|knock|knocks|knocking|"
        "knocked|bump|bumps|bumping|bumped|ram|rams|ramming|rammed|shove|shoves|shoving|shoved|collide with|"
        "collides with|colliding with|collided with|crash into|crashes into|crashing into|crashed into|"
        "bump into|bumps into|bumping into|bumped into|run into|runs into|running into|ran into|knock into|"
        "knocks into|knocking into|slam into|slams into|slamming into|smash into|smashes into|smashing into|"
        "crash|crashes|crashing|crashed|collide|collides|colliding|tap|taps|nudge|nudges|nudging|nudged|"
        "runs into|knocks over|knock over|pushes it along|pushing it away", ("relverb", "target"))
    add("is pushed by|is hit by|gets hit by|is struck by|is knocked by|is bumped by|pushed by|hit by|struck by|"
        "knocked by|bumped by|is rammed by|rammed by|gets pushed by|is pushed along by|is shoved by|shoved by",
        ("rel", "by"))
    add("on|onto|on top of|atop|upon|on to|on the top of|stacked on|stacked on top of|perched on|"
        "balanced on|resting on", ("rel", "on"))
    add("off|off of|from on top of|from the top of|off the top of", ("rel", "off"))
    add("top of|the top of|top", ("post",))
    add("from", ("rel", "from"))
    add("floor|ground|air|mid-air|midair|sky|above|scene|stage|surface|background|world|table|ground plane|"
        "grey floor|gray floor|white sky|distance|objects|picture|frame|screen|height|up high|overhead|"
        "the air|the floor", ("scenery",))
    add("it|they|them|itself|themselves", ("pron",))
    add("which", ("which",))
    add("one after another|one after the other|one by one|in turn|in sequence|in order", ("timing",))
    add("towards each other|toward each other|at each other|into each other|to each other|"
        "towards one another|toward one another", ("mutual",))
    add(".|!|?|\n", ("bound", "sentence"))
    add(",|;|:|—|–|and then|then|while|whilst|as|but|meanwhile|when|after|before|so|afterwards|"
        "at the same time|simultaneously|after that|next|finally|later|also", ("bound", "clause"))
    add("and|&", ("and",))
    add("across|along|stop|stops|stopped|stopping|comes to a stop|come to a stop|comes to rest|come to rest|"
        "halt|halts|smoothly|back|up|down|around|over|away from|hard|softly|gently down|"
        "far|straight|across the floor|through|past|by|onward|onwards|sideways|continues|continue|keeps|keep|"
        "starts|start|begins|begin|slightly|somewhat|suddenly|immediately|then stops|where|until|watches|"
        "watch|watching|looks|look|looking|seen|shows|shown|showing|see|appears|appear|there|here|"
        "clip|video|footage|scene|slow motion|gets|get|comes|come|sends|sending|sent|along the ground|"
        "nothing|happens|happen|happening|something|object|objects|thing|things|on its side|on their sides|"
        "on its side|on its end|upright|together|at once",
        ("known",))
    add("is|are|was|were|be|been|being|of|to|in|with|for|its|their|his|her|just|very|too|also|all|each|"
        "own|do|does|did|not|no|now|again|first|second|third|last|we|you|i|our|your|my|has|have|had|can|will|"
        "would|should|may|might|must|who|what|whose|whom|other's|same|such|than|like|s|'s|up to|out|about|"
        "within|inside|outside|near|next to|beside|behind|in front of|under|below|underneath|between|among|"
        "shot of|there's|it's|that's|let|lets|make|makes|please|show|render|generate|create|"
        "video of|clip of|image of|picture of|both of|one of|on its own|by itself", ("stop",))
    return lex


def _build_zh() -> dict[str, list[tuple]]:
    lex: dict[str, list[tuple]] = {}

    def add(words, *items):
        for w in words.split("|") if isinstance(words, str) else words:
            lex[w] = list(items)

    def table(main: dict, also: dict, cat: str):
        for value in main:
            add(list(main[value]) + list(also.get(value, ())), (cat, value))

    for shape in SHAPES:
        add(list(C.ZH_SHAPES[shape]) + list(C.ZH_SHAPES_ALSO[shape]), ("shape", (shape, False)))
    # 小球 is also 小 + 球: keep it a plain noun here, 小 as a size is read before it when separate.
    lex.pop("小球", None)
    table(C.ZH_COLORS, C.ZH_COLORS_ALSO, "color")
    table(C.ZH_SIZES, C.ZH_SIZES_ALSO, "size")
    table(C.ZH_MATERIALS, {"rubber": ("橡皮", "弹力"), "metal": ("铁制", "钢制", "金属制"), "wood": ("木制的", "木头做的")},
          "material")
    table(C.ZH_DIRECTIONS, C.ZH_DIRECTIONS_ALSO, "dir")
    for d, side in C.ZH_SIDES.items():
        for pre in ("向", "朝", "往", "朝着", "向着"):
            lex.setdefault(pre + side, [("dir", d)])
    table(C.ZH_SPEEDS, C.ZH_SPEEDS_ALSO, "speed")
    measures = "个只颗块根枚件粒团"
    nums = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
    for ch, n in nums.items():
        for m in measures:
            add([ch + m], ("det", "indef") if n == 1 else ("count", n))
    for m in measures:
        add(["那" + m, "这" + m], ("det", "def"))
        add(["另一" + m, "另外一" + m, "其中一" + m], ("det", "another"))
    add("一些|几个|若干|好几个|许多|很多|一堆", ("vague", 3))
    add("那些|这些|它们俩|两者", ("det", "def"))
    add("的", ("de",))

    add("静止|静止不动|一动不动|不动|静静地|静静|停在原地|待在原地|放着|摆着|立着|停着|静置|保持静止|保持不动|固定|"
        "固定不动|纹丝不动|没有移动|原地不动|稳稳地|停留|静止着", ("motion", "still"))
    add("停在|停留在|静止在|待在", ("motion", "still"), ("rel", "on"))
    add("放在|叠放在|叠在|摆在|立在|站在|搁在|压在|堆在|位于", ("rel", "on"))
    add("落下|掉下|下落|坠落|掉落|落到|掉到|落了下来|掉了下来|掉下来|落下来|跌落|下坠|落|掉|落地|坠下|砸下|砸落|"
        "摔下|摔落|滚落|翻落|掉了|落了", ("motion", "fall"))
    add("滚动|滚|滚去|滚过|滚来|滚过去|滚了过去|滚着", ("motion", "roll"))
    add("滑动|滑|滑去|滑行|滑过|滑来|滑过去|滑了过去|滑着|滑移", ("motion", "slide"))
    add("翻倒|倾倒|倒下|翻下|跌下|翻倒落下|倾覆|翻滚下来|歪倒|倒了下来|翻", ("motion", "topple"))
    add("移动|运动|冲|冲去|前进|行进|跑|飞奔|驶|走|移|冲过去", ("motion", "move"))
    add("弹起|弹跳|反弹|弹起来|弹了起来|弹了几下|弹几下|跳起|蹦|弹|蹦起|弹了一下", ("effect", "bounce"))
    add("没有弹起|没有反弹|不反弹|没弹起|没有弹跳|不会弹起|不弹|没有弹|不会反弹|几乎不反弹", ("effect", "no_bounce"))
    add("滑出很远|滑得很远|滑了很远|滑很远|滑出老远|一路滑行|滑出去很远", ("effect", "glide"))

    add("镜头|摄像机|相机|画面|视角|机位|摄影机|摄像头|视野", ("cam",))
    add("平移|摇动|摇|横摇|摇镜头|平摇|移镜", ("camverb", ("pan", None)))
    add("左摇|左移", ("camverb", ("pan", "left")))
    add("右摇|右移", ("camverb", ("pan", "right")))
    add("环绕|环绕拍摄|绕|绕着|环拍|围绕|环视|绕行", ("camverb", ("orbit", None)))
    add("旋转", ("camverb", ("orbit", "cam")))
    add("转动|转|转向", ("camverb", ("pan", "cam")))
    add("推近|拉近|推进|放大|推镜头|靠近|凑近|拉到近处", ("camverb", ("zoom_in", None)))
    add("拉远|缩小|后拉|拉开|拉镜头|远离|拉到远处", ("camverb", ("zoom_out", None)))

    add("撞上|撞向|撞到|撞击|撞|碰到|碰上|推动|推|推着|推开|撞在|撞进|砸向|碰撞|撞开|冲向|撞倒|顶着|碰", ("relverb", "target"))
    add("向|朝|往|朝着|向着|把|对着", ("rel", "target"))
    add("被", ("rel", "by"))
    add("在", ("rel", "on"))
    add("从", ("rel", "from"))
    add("上|上面|顶上|上方|之上|顶部|上边|顶端", ("post",))
    add("冰块|冰方块|冰立方体", ("material", "ice"), ("shape", ("cube", False)))
    add("地上|地面|地板|空中|半空|半空中|高处|天上|天空|场景|原地|地面上|地板上|空中中|远处|场地|桌上|桌面|舞台", ("scenery",))
    add("它|它们|其", ("pron",))
    add("相向|相对|互相|彼此|迎面", ("mutual",))
    add("，|。|；|：|！|？|、|,|.|;|:|!|?", ("bound", "clause"))
    for p in "。！？.!?":
        lex[p] = [("bound", "sentence")]
    add("并|并且|然后|接着|随后|同时|的同时|与此同时|而|之后|后来|而且|此时|这时|接下来|紧接着|最后|随即|便", ("bound", "clause"))
    add("和|与|跟|以及|及", ("and",))
    add("依次|先后|陆续|一个接一个|轮流", ("timing",))
    add("停了下来|停下来|停下|停住|停止|几乎|又|后|一路|原本|起来|下来|过去|拍摄|逐渐|开始|正在|一起|都|也|就|还|再|"
        "很|非常|轻轻地|一下|慢慢停下|最终|渐渐|缓缓停下|稳稳|落地后|着地|一段距离|距离|持续|继续|然后停下|穿过|经过|越过",
        ("known",))
    add("地|了|着|过|得|是|有|之|一|个|这|那|里|中|内|边|面|旁边|旁|附近|其中|们|只|些|我们|看到|可以|出现|"
        "视频|一段|展示|生成|请|画|场面|时|当|中间|所有|每个|各自|分别|同样|已经|突然|立刻|马上|正|不|没有|会|能|要|"
        "去|来|出|到|做|成|为|给|让|使|将|用|起|下|把它", ("stop",))
    return lex


_EN_LEX = _build_en()
_ZH_LEX = _build_zh()
_EN_MAX = max(len(k) for k in _EN_LEX)
_ZH_MAX = max(len(k) for k in _ZH_LEX)

# Words that are not in the micro-world, with the nearest thing it has. A warning names it.
_NEAR_EN = {
    "pyramid": "cube", "cone": "cylinder", "disc": "cylinder", "disk": "cylinder", "coin": "cylinder",
    "pipe": "cylinder", "rod": "cylinder", "pole": "cylinder", "bottle": "cylinder", "cup": "cylinder",
    "egg": "ball", "marble": "ball", "bead": "ball", "planet": "ball", "bubble": "ball", "apple": "ball",
    "dice": "cube", "die": "cube", "crate": "cube", "book": "cube", "brick": "cube", "tetrahedron": "cube",
    "orange": "red", "pink": "red", "brown": "red", "maroon": "red", "indigo": "blue", "olive": "green",
    "beige": "yellow", "tan": "yellow",
    "medium": "small", "average": "small", "enormous": "large", "massive": "large", "wee": "small",
    "jump": "bounce", "jumps": "bounce", "hop": "bounce", "hops": "bounce", "leap": "bounce", "leaps": "bounce",
    "spin": "roll", "spins": "roll", "spinning": "roll", "twirl": "roll", "wobble": "topple", "wobbles": "topple",
    "flip": "topple", "flips": "topple", "fly": "fall", "flies": "fall", "float": "still", "floats": "still",
    "rise": "fall", "rises": "fall", "hover": "still", "hovers": "still",
    "glass": "ice", "plastic": "rubber", "stone": "metal", "rock": "metal", "paper": "wood", "foam": "rubber",
    "tilt": "pan", "tilts": "pan", "tracks": "pan", "tracking": "pan", "truck": "pan", "trucks": "pan",
    "crane": "zoom", "shake": "static", "shakes": "static", "follow": "pan", "follows": "pan", "following": "pan",
    "heavy": "metal", "light": "wood", "shiny": "metal", "hard": "metal", "soft": "rubber", "round": "ball",
    "square": "cube", "cubic": "cube", "spherical": "ball", "cylindrical": "cylinder", "tall": "large",
}
_NEAR_ZH = {
    "金字塔": "方块", "锥": "圆柱", "圆锥": "圆柱", "锥体": "圆柱", "圆盘": "圆柱", "硬币": "圆柱", "管子": "圆柱",
    "瓶子": "圆柱", "杯子": "圆柱", "鸡蛋": "球", "蛋": "球", "弹珠": "球", "玻璃球": "球", "苹果": "球", "骰子": "方块",
    "砖": "方块", "砖块": "方块", "书": "方块", "橙色": "红色", "橙": "红色", "粉色": "红色", "粉红色": "红色",
    "棕色": "红色", "褐色": "红色", "跳": "弹起", "跳跃": "弹起", "蹦跳": "弹起", "飞": "落下", "飘": "静止",
    "漂浮": "静止", "升起": "落下", "上升": "落下", "玻璃": "冰", "塑料": "橡胶", "石头": "金属", "纸": "木头",
    "俯仰": "平移", "倾斜": "平移", "跟拍": "平移", "升降": "推近", "中等": "小", "中号": "小",
}
_NO_SUCH_COLOR = {"white", "black", "grey", "gray", "silver", "白色", "黑色", "灰色", "银色", "白", "黑", "灰"}


def _content_words(lang: str, cats: tuple[str, ...] | None = None) -> list[str]:
    cats = set(cats or ("shape", "color", "size", "material", "motion", "effect", "dir", "speed", "cam", "camverb",
                        "relverb"))
    if lang == "en":
        return sorted({k[0] for k, v in _EN_LEX.items() if len(k) == 1 and v[0][0] in cats})
    return sorted({k for k, v in _ZH_LEX.items() if v[0][0] in cats})


def nearest_known(word: str, lang: str = "en", encoder=None, cats: tuple[str, ...] | None = None) -> str:
    """The known word nearest to an unknown one: a table of near concepts first, then a
    close spelling (a typo), then, given a MiniLM `encoder` (kinora.models.text.TextEncoder),
    embedding similarity, else the closest spelling. `cats` limits the candidates to some
    kinds of word (("shape",) for a word where a noun belongs)."""
    w = word.lower()
    near = _NEAR_EN if lang == "en" else _NEAR_ZH
    if w in near:
        return near[w]
    if lang == "en" and w.endswith("s") and w[:-1] in near:
        return near[w[:-1]]
    vocab = _content_words(lang, cats)
    if lang == "zh":
        for k, v in near.items():  # a known near word inside the unknown one: 大金字塔
            if k in w:
                return v
        shared = [(len(set(w) & set(k)), difflib.SequenceMatcher(None, w, k).ratio(), k) for k in vocab]
        best = max(shared)
        if best[0] > 0:
            return best[2]
    else:
        close = difflib.get_close_matches(w, vocab, n=1, cutoff=0.75)
        if close:
            return close[0]
    if encoder is not None:
        try:
            import torch

            states, mask = encoder([w] + vocab)
            m = mask.unsqueeze(-1).float()
            e = (states * m).sum(1) / m.sum(1)
            e = torch.nn.functional.normalize(e, dim=-1)
            return vocab[int((e[1:] @ e[0]).argmax())]
        except Exception:  # noqa: BLE001 - the encoder is a nicety; fall back to spelling
            pass
    return max(vocab, key=lambda k: difflib.SequenceMatcher(None, w, k).ratio())


# ---------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------


@dataclass
class Tok:
    cat: str
    value: Any
    start: int
    end: int
    text: str


def _tokens_en(text: str) -> list[Tok]:
    words = [(m.group().lower().replace("’", "'"), m.start(), m.end()) for m in _EN_TOKEN.finditer(text)]
    out: list[Tok] = []
    i = 0
    while i < len(words):
        for n in range(min(_EN_MAX, len(words) - i), 0, -1):
            key = tuple(w for w, _, _ in words[i:i + n])
            if key in _EN_LEX:
                s, e = words[i][1], words[i + n - 1][2]
                out += [Tok(cat, val[0] if val else None, s, e, text[s:e])
                        for cat, *val in _EN_LEX[key]]
                i += n
                break
        else:
            w, s, e = words[i]
            if w.endswith("'s") and (w[:-2],) in _EN_LEX:  # the ball's
                out += [Tok(cat, val[0] if val else None, s, e - 2, text[s:e - 2]) for cat, *val in _EN_LEX[(w[:-2],)]]
            elif not w.isalpha():
                out.append(Tok("stop", None, s, e, text[s:e]))
            else:
                out.append(Tok("unknown", w, s, e, text[s:e]))
            i += 1
    return out


def _tokens_zh(text: str) -> list[Tok]:
    out: list[Tok] = []
    i, n = 0, len(text)
    unknown_start = None

    def flush(upto: int):
        nonlocal unknown_start
        if unknown_start is not None:
            out.append(Tok("unknown", text[unknown_start:upto], unknown_start, upto, text[unknown_start:upto]))
            unknown_start = None

    while i < n:
        ch = text[i]
        if ch.isspace():
            flush(i)
            i += 1
            continue
        m = re.match(r"(\d+)\s*([个只颗块根枚件粒团])", text[i:])
        if m:
            flush(i)
            k = int(m.group(1))
            out.append(Tok("det", "indef", i, i + m.end(), m.group()) if k == 1 else
                       Tok("count", k, i, i + m.end(), m.group()))
            i += m.end()
            continue
        if re.match(r"[A-Za-z]", ch):  # an English word inside a Chinese prompt
            flush(i)
            m = re.match(r"[A-Za-z]+", text[i:])
            out += [Tok(t.cat, t.value, t.start + i, t.end + i, t.text) for t in _tokens_en(m.group())]
            i += m.end()
            continue
        for L in range(min(_ZH_MAX, n - i), 0, -1):
            w = text[i:i + L]
            if w in _ZH_LEX:
                flush(i)
                out += [Tok(cat, val[0] if val else None, i, i + L, w) for cat, *val in _ZH_LEX[w]]
                i += L
                break
        else:
            if _CJK.match(ch):
                if unknown_start is None:
                    unknown_start = i
            else:
                flush(i)
                out.append(Tok("stop", None, i, i + 1, ch))
            i += 1
    flush(n)
    return out


# ---------------------------------------------------------------------------------
# The reader
# ---------------------------------------------------------------------------------

Span = tuple[int, int]


@dataclass
class _Group:
    members: list["_Obj"]
    open: bool = True  # members still waiting to be told apart ("two balls: a red one ...")


@dataclass
class _Obj:
    span: Span
    fields: dict[str, tuple[Any, Span]] = field(default_factory=dict)
    motions: list[tuple[str, Span]] = field(default_factory=list)
    effects: list[tuple[str, Span]] = field(default_factory=list)
    dirs: list[tuple[str, Span]] = field(default_factory=list)
    speeds: list[tuple[str, Span]] = field(default_factory=list)
    target: tuple["_Obj", Span] | None = None
    on: tuple["_Obj", Span] | None = None
    off: Span | None = None
    group: _Group | None = None
    filled: bool = False
    mentioned: int = 0


@dataclass
class _Camera:
    spans: list[Span] = field(default_factory=list)
    moves: list[tuple[str, str | None, Span]] = field(default_factory=list)
    dirs: list[tuple[str, Span]] = field(default_factory=list)
    speeds: list[tuple[str, Span]] = field(default_factory=list)


@dataclass
class _NP:
    start: int
    end: int
    det: str | None = None
    other: bool = False
    count: tuple[int, Span] | None = None
    vague: bool = False
    attrs: dict[str, tuple[Any, Span]] = field(default_factory=dict)
    head: str | None = None  # "shape" | "one" | "unknown" | None
    unknowns: list[Tok] = field(default_factory=list)  # words it does not know ("a red pyramid")
    plural: bool = False
    mods: list[Tok] = field(default_factory=list)  # speed words inside ("a fast red ball")


_NP_START = {"det", "count", "vague", "size", "color", "material", "shape", "one"}
_ATTACH = {"motion", "effect", "dir", "speed", "camverb"}


class _Reader:
    """Reads tokens left to right, keeping the subject of the current clause.

    Noun phrases become objects (new, or ones already named); motion, direction, speed,
    effect and relation words attach to the clause's subject; words that come before
    any subject wait in `pending` ("Slowly, a ball rolls"; 地上放着一个方块), and a clause
    without a subject continues the previous one ("falls and bounces", "，又弹了起来").
    """

    def __init__(self, text: str, toks: list[Tok], lang: str, encoder=None):
        self.text, self.toks, self.lang, self.encoder = text, toks, lang, encoder
        self.objs: list[_Obj] = []
        self.cam = _Camera()
        self.warnings: list[str] = []
        self.subject: list[_Obj] | str | None = None  # objects, "camera", or None
        self.prev_subject: list[_Obj] | str | None = None
        self.clause_subject = False
        self.clause_attached = False
        self.clause_at_sentence_start = True
        self.pending: list[tuple] = []
        self.expect: Tok | None = None
        self.compound = False
        self.passive: _Obj | None = None
        self.last_np_shape: tuple[str, Span] | None = None
        self.counter = 0

    # -- helpers ----------------------------------------------------------------------
    def warn(self, msg: str) -> None:
        if msg not in self.warnings:
            self.warnings.append(msg)

    def mention(self, objs: list[_Obj]) -> None:
        for o in objs:
            self.counter += 1
            o.mentioned = self.counter

    def open_group(self, np: _NP) -> _Group | None:
        shape = np.attrs.get("shape", (None,))[0]
        for o in reversed(self.objs):
            g = o.group
            if g is None or not g.open:
                continue
            gshape = g.members[0].fields.get("shape", (None,))[0]
            if shape is not None and gshape is not None and shape != gshape:
                continue
            free = [m for m in g.members if not m.filled]
            if not free:
                continue
            m = free[0]
            if any(k in m.fields and m.fields[k][0] != v[0] for k, v in np.attrs.items()):
                continue
            return g
        return None

    # -- noun phrases -------------------------------------------------------------------
    def read_np(self, i: int) -> tuple[_NP | None, int]:
        toks = self.toks
        t0 = toks[i]
        np = _NP(start=t0.start, end=t0.end)
        j = i
        while j < len(toks):
            t = toks[j]
            nxt = toks[j + 1] if j + 1 < len(toks) else None
            if t.cat == "det" and not np.attrs and np.head is None:
                if t.value == "other":
                    np.other = True
                    np.det = np.det or "def"
                elif t.value == "another":
                    np.det, np.other = "another", True
                else:
                    np.det = np.det if np.det and t.value == "indef" else t.value
            elif t.cat in ("count", "vague") and not np.attrs and np.head is None:
                np.count = (t.value, (t.start, t.end))
                np.vague = t.cat == "vague"
                np.det = np.det or "count"
            elif t.cat == "one" and np.head is None and nxt is not None and nxt.cat in ("size", "color", "material",
                                                                                       "shape") and not np.attrs:
                np.det = np.det or "indef"  # "one red ball"
            elif t.cat in ("size", "color", "material"):
                if t.cat in np.attrs and np.attrs[t.cat][0] != t.value:
                    self.warn(f"'{np.attrs[t.cat][0]}' and '{t.value}' both describe one object; using '{t.value}'")
                np.attrs[t.cat] = (t.value, (t.start, t.end))
            elif t.cat == "de":
                if np.head is not None:
                    break
            elif t.cat == "shape" and np.head is None:
                np.attrs["shape"] = (t.value[0], (t.start, t.end))
                np.plural = t.value[1]
                np.head = "shape"
                np.end = t.end
                j += 1
                break
            elif t.cat == "one" and np.head is None:
                np.head, np.plural, np.end = "one", t.value, t.end
                j += 1
                break
            elif t.cat == "speed" and nxt is not None and nxt.cat in ("size", "color", "material", "shape"):
                np.mods.append(t)  # "a fast red ball"
            elif t.cat == "unknown" and (np.det or np.count or np.attrs) and np.head is None:
                np.unknowns.append(t)  # "a red pyramid", 一个粉色的金字塔: an object all the same
            else:
                break
            if t.cat != "de":
                np.end = t.end
            j += 1
        if np.head is None and np.unknowns:
            np.head = "unknown"
        if not np.attrs and np.head is None and np.count is None:
            return None, j if j > i else i + 1  # a lone article ("the floor", "a long way")
        if self.lang == "en" and np.plural and np.head == "shape" and np.count is None and np.det != "def":
            np.vague = True  # "balls roll left": how many?
        return np, j

    def np_objects(self, np: _NP, relation: bool) -> list[_Obj]:
        """Existing objects the phrase refers to, or new ones it introduces."""
        exclude = set()
        if relation or np.other:
            for s in (self.subject if isinstance(self.subject, list) else [],
                      self.prev_subject if isinstance(self.prev_subject, list) and not self.clause_subject else []):
                exclude |= {id(o) for o in s}
        n = np.count[0] if np.count else (2 if np.vague else 1)
        if np.vague:
            self.warn(f"'{self.text[np.start:np.end]}' does not say how many; assuming {n}")
        # 1. a member of a counted group waiting to be told apart ("two balls: a red one ...")
        if n == 1 and np.det != "def":
            g = self.open_group(np)
            if g is not None:
                m = next(x for x in g.members if not x.filled)
                m.filled = True
                m.span = (np.start, np.end)
                for k, v in np.attrs.items():
                    m.fields.setdefault(k, v)
                if all(x.filled for x in g.members):
                    g.open = False
                return [m]
        # 2. a definite or bare phrase names an object already there ("the red ball", 红球)
        # ("another" in a relation names one already there when there is one: 撞上另一个红球)
        if (np.det in ("def", None) and (np.det == "def" or self.lang == "zh" or not np.plural)) or (
                relation and np.det == "another"):
            want = {k: v[0] for k, v in np.attrs.items() if k in ("shape", "color", "size")}
            if np.head == "one" and "shape" not in want and self.last_np_shape and not want:
                want["shape"] = self.last_np_shape[0]
            cands = [o for o in self.objs if id(o) not in exclude
                     and all(o.fields.get(k, (None,))[0] == v for k, v in want.items())]
            if cands and want:
                cands.sort(key=lambda o: -o.mentioned)
                found = cands if np.plural and np.det == "def" else cands[:1]
                for o in found:  # "the icy purple cube": what the phrase adds
                    for k, v in np.attrs.items():
                        o.fields.setdefault(k, v)
                return found
        # 3. new objects
        attrs = dict(np.attrs)
        if "shape" not in attrs:
            if np.head == "one" or (np.det is not None and np.head is None):
                if self.last_np_shape is not None:
                    attrs["shape"] = self.last_np_shape
        objs = []
        group = _Group(members=objs) if n > 1 else None
        for _ in range(n):
            o = _Obj(span=(np.start, np.end), fields=dict(attrs), group=group)
            if np.count and n > 1:
                o.fields["count"] = (n, np.count[1])
            objs.append(o)
        self.objs.extend(objs)
        if len(self.objs) > MAX_OBJECTS:
            raise KinoraError(f"the prompt asks for {len(self.objs)} objects; the micro-world holds at most "
                              f"{MAX_OBJECTS}")
        return objs

    # -- attaching words to subjects ----------------------------------------------------
    def attach(self, item: tuple, to) -> None:
        kind = item[0]
        if kind == "camverb" or to == "camera":
            self.attach_camera(item)
            return
        for o in to:
            if o.group is not None and o.group.open and all(m in to for m in o.group.members):
                o.group.open = False  # the group acts as one ("two balls fall")
            if kind == "motion":
                o.motions.append((item[1], item[2]))
            elif kind == "effect":
                o.effects.append((item[1], item[2]))
            elif kind == "dir":
                o.dirs.append((item[1], item[2]))
            elif kind == "speed":
                o.speeds.append((item[1], item[2]))
            elif kind == "attr":
                name, value, span = item[1], item[2], item[3]
                if name in o.fields and o.fields[name][0] != value:
                    self.warn(f"'{o.fields[name][0]}' and '{value}' both describe one object; using '{value}'")
                o.fields[name] = (value, span)
            elif kind == "rel":
                self.relate(o, item[1], item[2], item[3])

    def attach_camera(self, item: tuple) -> None:
        kind = item[0]
        span = item[-1]
        self.cam.spans.append(span)
        if kind == "camverb":
            move, d = item[1]
            if d == "cam":
                d = None
            self.cam.moves.append((move, d, span))
        elif kind == "motion":
            if item[1] == "still":
                self.cam.moves.append(("static", None, span))
            elif item[1] == "move":
                self.cam.moves.append(("move", None, span))
            else:
                self.warn(f"the camera cannot {item[1]}; ignoring '{self.text[span[0]:span[1]]}'")
        elif kind == "dir":
            self.cam.dirs.append((item[1], span))
        elif kind == "speed":
            self.cam.speeds.append((item[1], span))
        elif kind in ("effect", "attr"):
            self.warn(f"'{self.text[span[0]:span[1]]}' does not apply to the camera; ignoring it")

    def relate(self, o: _Obj, kind: str, ref: _Obj, span: Span) -> None:
        if ref is o:
            return
        # Refuse loops (a pushes b pushes a) and stacks three high: resolve() cannot build them.
        chain, x = set(), ref
        while x is not None and id(x) not in chain:
            if x is o:
                self.warn(f"'{self.text[span[0]:span[1]]}' would make objects depend on each other in a circle; "
                          "ignoring it")
                return
            chain.add(id(x))
            x = (x.target or x.on or (None,))[0]
        if kind == "target":
            if o.target is None:
                o.target = (ref, span)
        else:
            if ref.on is not None:
                self.warn(f"stacks are at most two high; ignoring '{self.text[span[0]:span[1]]}'")
                return
            if o.on is None:
                o.on = (ref, span)
            if kind == "off":
                o.off = span

    def give(self, item: tuple) -> None:
        """Attach to the clause's subject, or hold until the clause has one."""
        if item[0] == "camverb" and item[1][1] == "cam" and self.subject != "camera":
            # "turns", 旋转: a camera move only when the camera is what turns
            span = item[2]
            word = self.text[span[0]:span[1]]
            self.warn(f"unknown word '{word}'; nearest known word is '{'滚动' if self.lang == 'zh' else 'roll'}'")
            return
        if item[0] == "camverb":
            self.subject = "camera"
            self.clause_subject = True
        if self.passive is not None and item[0] in ("dir", "speed"):
            self.attach(item, [self.passive])
        elif self.clause_subject and self.subject is not None:
            self.attach(item, self.subject)
            self.clause_attached = True
        else:
            self.pending.append(item)

    def set_subject(self, subj) -> None:
        if self.compound and isinstance(self.subject, list) and isinstance(subj, list):
            subj = self.subject + [o for o in subj if o not in self.subject]
        self.compound = False
        self.subject = subj
        self.clause_subject = True
        for item in self.pending:
            self.attach(item, subj)
        if self.pending:
            self.clause_attached = True
        self.pending = []

    def end_clause(self, sentence: bool) -> None:
        if self.expect is not None:
            self.unfilled_expect()
        if self.pending and not self.clause_subject:
            # "..., and bounces": the previous subject; "Slowly, a ball ...": the next one.
            if not self.clause_at_sentence_start and self.subject is not None:
                for item in self.pending:
                    self.attach(item, self.subject)
                self.pending = []
        if self.clause_subject:
            self.prev_subject = self.subject
        self.clause_subject = False
        self.clause_attached = False
        self.compound = False
        self.passive = None
        self.clause_at_sentence_start = sentence

    def unfilled_expect(self) -> None:
        t = self.expect
        self.expect = None
        if t.cat == "rel" and t.value == "off":  # "topples off." / "falls off"
            self.give(("motion", "topple", (t.start, t.end)))

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> None:
        toks = self.toks
        i = 0
        while i < len(toks):
            t = toks[i]
            if self.expect is not None and t.cat not in _NP_START | {"pron", "scenery", "stop", "de", "post",
                                                                      "unknown"}:
                self.unfilled_expect()
            if t.cat in _NP_START:
                np, j = self.read_np(i)
                if np is None:
                    i = j
                    continue
                self.handle_np(np)
                i = j
                continue
            if t.cat == "cam":
                self.set_subject("camera")
                self.cam.spans.append((t.start, t.end))
            elif t.cat in _ATTACH:
                self.give((t.cat, t.value, (t.start, t.end)))
            elif t.cat == "relverb":
                if self.passive is None:
                    self.give(("motion", "push", (t.start, t.end)))
                    self.expect = t
            elif t.cat == "rel":
                self.expect = t
            elif t.cat == "scenery":
                if self.expect is not None:
                    self.expect = None  # "from above", "on the floor", 从空中
            elif t.cat == "pron":
                if self.expect is not None and self.expect.value in ("target", "on", "off"):
                    self.expect = None  # "pushes it": already related
                elif not self.clause_subject and isinstance(self.subject, list):
                    self.set_subject(self.subject)  # "It bounces."
            elif t.cat == "which":
                others = [o for o in self.objs if not (isinstance(self.subject, list) and o in self.subject)]
                if others:
                    self.end_clause(False)
                    self.set_subject([max(others, key=lambda o: o.mentioned)])
            elif t.cat == "mutual":
                # "a red ball and a blue ball roll towards each other": from both sides to the middle
                pair = self.subject if isinstance(self.subject, list) else []
                if len(pair) == 2:
                    for o, d in zip(pair, ("right", "left")):
                        o.dirs.append((d, (t.start, t.end)))
                else:
                    self.warn(f"'{t.text}' needs two objects; ignoring it")
            elif t.cat == "timing":
                self.warn(f"every object starts moving at the start of the shot; ignoring '{t.text}'")
            elif t.cat == "bound":
                self.end_clause(t.value == "sentence")
            elif t.cat == "and":
                nxt = toks[i + 1] if i + 1 < len(toks) else None
                if (self.clause_subject and not self.clause_attached and isinstance(self.subject, list)
                        and nxt is not None and nxt.cat in _NP_START):
                    self.compound = True  # "a red ball and a blue cube fall"
                else:
                    self.end_clause(False)
            elif t.cat == "unknown":
                self.unknown(t)
            i += 1
        self.end_clause(True)
        if self.pending:
            if isinstance(self.subject, list) or self.subject == "camera":
                for item in self.pending:
                    self.attach(item, self.subject)
            else:
                words = ", ".join(f"'{self.text[it[-1][0]:it[-1][1]]}'" for it in self.pending)
                self.warn(f"{words} does not say which object it applies to; ignoring it")
            self.pending = []

    def handle_np(self, np: _NP) -> None:
        for k, t in enumerate(np.unknowns):
            # Last word of the phrase: a noun, so name the nearest shape; before it, an adjective.
            cats = ("shape",) if k == len(np.unknowns) - 1 and np.head == "unknown" else ("color", "size", "material")
            self.unknown(t, cats)
        if self.expect is not None and self.subject == "camera" and self.clause_subject:
            self.expect = None  # "zooms in on the red ball": the camera has no relations
        # Bare adjectives after a subject ("the ball is red", "made of rubber") describe it.
        if np.head is None and np.det is None and np.count is None and self.clause_subject and \
                isinstance(self.subject, list) and self.expect is None:
            for name, (value, span) in np.attrs.items():
                self.give(("attr", name, value, span))
            return
        if self.expect is not None:  # the object of "into", "on top of", "off", 从, 向, 被 ...
            rel = self.expect
            self.expect = None
            objs = self.np_objects(np, relation=True)
            self.mention(objs)
            span = (rel.start, np.end)
            if rel.value == "by":  # "the box is pushed by a ball", 方块被红球撞开: the other way round
                if isinstance(self.subject, list) and self.clause_subject:
                    self.passive = objs[0]  # 被红球推向左边: the words after it are the pusher's
                    objs[0].motions.append(("push", span))
                    for o in self.subject:
                        self.relate(objs[0], "target", o, span)
                else:
                    self.warn(f"'{self.text[span[0]:span[1]]}' does not say what is pushed; ignoring it")
            else:
                kind = {"target": "target", "on": "on", "off": "off", "from": "off"}[rel.value]
                self.give(("rel", kind, objs[0], span))
            if "shape" in np.attrs:
                self.last_np_shape = np.attrs["shape"]
            return
        objs = self.np_objects(np, relation=False)
        self.mention(objs)
        if "shape" in np.attrs:
            self.last_np_shape = np.attrs["shape"]
        if not self.compound and self.clause_subject:
            # A second subject in one clause without a boundary: a new clause begins.
            self.end_clause(False)
        self.set_subject(objs)
        for t in np.mods:
            self.give((t.cat, t.value, (t.start, t.end)))

    def unknown(self, t: Tok, cats: tuple[str, ...] | None = None) -> None:
        w = t.value
        if w.lower() in _NO_SUCH_COLOR:
            self.warn(f"unknown colour '{t.text}'; the micro-world's colours are {', '.join(COLORS)}")
            return
        near = nearest_known(w, self.lang, self.encoder, cats)
        self.warn(f"unknown word '{t.text}'; nearest known word is '{near}'")


# ---------------------------------------------------------------------------------
# From what was read to a ShotSpec
# ---------------------------------------------------------------------------------


def _src(text: str, span: Span) -> dict:
    return {"start": span[0], "end": span[1], "text": text[span[0]:span[1]]}


_INVENTED = {"invented": True}


def _first(values: list[tuple[str, Span]], what: str, warn) -> tuple[str, Span] | None:
    if not values:
        return None
    distinct = list(dict.fromkeys(v for v, _ in values))
    if len(distinct) > 1:
        warn(f"conflicting {what}: {', '.join(repr(v) for v in distinct)}; using {distinct[0]!r}")
    return values[0]


def _build(reader: _Reader, text: str, seed: int) -> tuple[list[ObjectSpec], CameraSpec]:
    rng = random.Random(seed)
    warn = reader.warn
    ids = {id(o): f"obj{i}" for i, o in enumerate(reader.objs)}
    used_colors = {o.fields["color"][0] for o in reader.objs if "color" in o.fields}
    out: list[ObjectSpec] = []
    for o in reader.objs:
        f: dict[str, dict] = {}
        vals: dict[str, Any] = {}

        def take(name, got, default):
            if got is None:
                vals[name], f[name] = default, dict(_INVENTED)
            else:
                vals[name], f[name] = got[0], _src(text, got[1])

        take("shape", o.fields.get("shape"), "sphere")
        free = [c for c in COLORS if c not in used_colors] or list(COLORS)
        take("color", o.fields.get("color"), rng.choice(free))
        used_colors.add(vals["color"])
        take("size", o.fields.get("size"), "small")  # the spec's default; small things crowd the floor less
        if "count" in o.fields:
            f["count"] = _src(text, o.fields["count"][1])
        label = f"the {vals['color']} {C.EN_SHAPES[vals['shape']][0]}"

        # Motion: a relation decides it, then the verbs, then the effect words.
        moves = [(m, s) for m, s in o.motions if m != "push"]
        pushes = [(m, s) for m, s in o.motions if m == "push"]
        effects = o.effects
        motion: tuple[str, Span] | None = None
        if o.target is not None:
            motion = ("push", (pushes or [("push", o.target[1])])[0][1])
        elif o.on is not None and o.off is None and any(m == "fall" for m, _ in moves) and not any(
                m == "topple" for m, _ in moves):
            # "falls onto the cylinder": a fall cannot be aimed at an object in this world
            warn(f"{label} cannot be made to land on another object; it falls beside it")
            o.on = None
            motion = next((m, s) for m, s in moves if m == "fall")
        elif o.on is not None:
            falls = [(m, s) for m, s in moves if m in ("fall", "topple")]
            if o.off is not None or falls:
                motion = ("topple", (falls[0][1] if falls else o.off))
            else:
                if any(m in ("roll", "slide", "move") for m, _ in moves):
                    warn(f"{label} stands on another object, so it stays still there")
                still = [s for m, s in moves if m == "still"]
                motion = ("still", still[0] if still else o.on[1])
        else:
            if pushes:
                warn(f"{label} pushes nothing that the prompt names; it moves on its own")
            named = [(m, s) for m, s in moves if m not in ("move", "still")]
            if any(m == "topple" for m, _ in named):
                warn(f"{label} has nothing to topple off; it falls instead")
                named = [("fall" if m == "topple" else m, s) for m, s in named]
            if named:
                if len({m for m, _ in named}) > 1:
                    warn(f"{label} is given several motions ({', '.join(dict.fromkeys(m for m, _ in named))}); "
                         f"using '{named[0][0]}'")
                motion = named[0]
            elif any(e in ("bounce", "no_bounce") for e, _ in effects):
                motion = ("fall", next(s for e, s in effects if e in ("bounce", "no_bounce")))
            elif any(e == "glide" for e, _ in effects):
                motion = ("slide", next(s for e, s in effects if e == "glide"))
            elif any(m == "move" for m, _ in moves) or pushes:
                span = next(s for m, s in moves + pushes if m in ("move", "push"))
                motion = ("roll" if vals["shape"] in ("sphere", "cylinder") else "slide", span)
            elif moves:
                motion = moves[0]
        take("motion", motion, "still")
        if not motion_allowed(vals["shape"], vals["motion"]):
            warn(f"a {C.EN_SHAPES[vals['shape']][0]} cannot {vals['motion']}; {label} slides instead")
            vals["motion"] = "slide"

        # Material: named outright, else told by its effect (bounces: rubber; glides: ice).
        by_effect = {"bounce": "rubber", "no_bounce": "ice", "glide": "ice"}
        mat = o.fields.get("material")
        eff = _first([(by_effect[e], s) for e, s in effects], f"hints at the material of {label}", warn)
        if mat is not None and eff is not None and mat[0] != eff[0]:
            warn(f"{label} is {mat[0]}, which does not match '{text[eff[1][0]:eff[1][1]]}'; using {mat[0]}")
        take("material", mat or eff, "wood")

        d = _first(o.dirs, f"directions for {label}", warn)
        if vals["motion"] in ("roll", "slide"):
            take("direction", d, rng.choice(["left", "right"]))
        elif vals["motion"] == "push":
            take("direction", d, None)
            if d is None:
                f["direction"] = {"invented": True, "note": "chosen by resolve()"}
        else:
            if d is not None:
                warn(f"'{text[d[1][0]:d[1][1]]}' has no effect on {label}, which does not travel")
            vals["direction"], f["direction"] = None, {}
        take("speed", _first(o.speeds, f"speeds for {label}", warn), "normal")
        vals["target"] = ids[id(o.target[0])] if o.target and vals["motion"] == "push" else None
        vals["on"] = ids[id(o.on[0])] if o.on else None
        if o.target:
            f["target"] = _src(text, o.target[1])
        if o.on:
            f["on"] = _src(text, o.on[1])
        source = {**_src(text, o.span), "fields": f}
        out.append(ObjectSpec(id=ids[id(o)], source=source, **vals))

    cam = reader.cam
    cs: dict[str, Any] = {}
    moves = cam.moves
    d = _first(cam.dirs, "camera directions", warn)
    motion = None
    if moves:
        kind, md, span = moves[0]
        if len({m for m, _, _ in moves}) > 1:
            warn(f"the camera is given several moves; using '{text[span[0]:span[1]]}'")
        dd = md or (d[0] if d else None)
        dspan = span if md else (d[1] if d else None)
        if kind == "move":
            kind = {"left": "pan", "right": "pan", "forward": "zoom_in", "backward": "zoom_out"}.get(dd, "static")
            if kind == "static":
                warn(f"'{text[span[0]:span[1]]}' does not say where the camera moves; it stays static")
        if kind == "zoom":
            kind = {"forward": "zoom_in", "backward": "zoom_out"}.get(dd)
            if kind is None:
                warn(f"'{text[span[0]:span[1]]}' does not say in or out; zooming in")
                kind, dspan = "zoom_in", None
        if kind in ("pan", "orbit"):
            if dd not in ("left", "right"):
                warn(f"'{text[span[0]:span[1]]}' does not say left or right; using left")
                dd, dspan = "left", None
            kind = f"{kind}_{dd}"
        full = (min(span[0], dspan[0]), max(span[1], dspan[1])) if dspan else span
        motion = (kind, full if kind not in ("zoom_in", "zoom_out", "static") or dspan else span)
    elif d is not None:
        kind = {"left": "pan_left", "right": "pan_right", "forward": "zoom_in", "backward": "zoom_out"}[d[0]]
        motion = (kind, d[1])
    camera = CameraSpec()
    if motion is not None:
        camera.motion, cs["motion"] = motion[0], _src(text, motion[1])
    else:
        cs["motion"] = dict(_INVENTED)
    sp = _first(cam.speeds, "camera speeds", warn)
    if sp is not None:
        camera.speed, cs["speed"] = sp[0], _src(text, sp[1])
    else:
        cs["speed"] = dict(_INVENTED)
    if cam.spans:
        lo, hi = min(s for s, _ in cam.spans), max(e for _, e in cam.spans)
        camera.source = {**_src(text, (lo, hi)), "fields": cs}
    else:
        camera.source = {"invented": True, "fields": cs}
    return out, camera


def detect_language(text: str) -> str:
    return "zh" if _CJK.search(text) else "en"


def parse(text: str, duration: float = 2.0, fps: int = 8, width: int = 64, height: int = 64, seed: int = 0,
          encoder=None) -> ParseResult:
    """Read a prompt (English or Chinese) into a ShotSpec; see the module docstring.

    `encoder` (optional, a kinora.models.text.TextEncoder) lets warnings about unknown words
    name the nearest known word by meaning rather than by spelling.
    """
    if not isinstance(text, str):
        raise KinoraError(f"the prompt must be text, got {type(text).__name__}")
    if not text.strip():
        raise KinoraError("the prompt is empty; describe the shot, e.g. 'a red ball rolls left'")
    lang = detect_language(text)
    toks = _tokens_zh(text) if lang == "zh" else _tokens_en(text)
    reader = _Reader(text, toks, lang, encoder)
    reader.run()
    objects, camera = _build(reader, text, seed)
    if not objects:
        reader.warn("the prompt names no object (a ball, cube or cylinder); the shot shows an empty floor")
    spec = ShotSpec(objects=objects, camera=camera, duration=duration, fps=fps, width=width, height=height,
                    seed=seed, text=text)
    validate(spec, "parsed prompt")
    return ParseResult(spec=spec, canonical=C.canonical_caption(spec), language=lang, warnings=reader.warnings)
