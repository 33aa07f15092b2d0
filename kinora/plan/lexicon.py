"""The lexicons: every English and Chinese word or phrase the prompt reader knows.

An entry maps a word or phrase to one or more items (category, value). The tables are
built from `kinora.world.captions` (which extends the vocabulary of `kinora.world.spec`),
so every word a caption writes is here, plus the synonyms ordinary prompts use. A word
for something the micro-world lacks (a pyramid, an orange ball) is matched to the nearest
thing it has (`nearest_known`), which the reader's warnings name. `kinora.plan.tokens`
looks words up here, longest phrase first.
"""

from __future__ import annotations

import difflib
import re

from kinora.world import captions as C
from kinora.world.spec import COLORS, SHAPES

# categories: det (indef|def|another|other), count (n), vague (n), one, size, color,
# material, shape ((shape, plural)), motion, effect (bounce|no_bounce|glide), dir, speed,
# cam, camverb ((kind, dir|None)), rel (target|on|off|from), relverb (target), post,
# scenery, pron, which, bound (sentence|clause), and, known, stop, de

EN_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+|[^\sA-Za-z\d]")
CJK = re.compile(r"[\u3400-\u9fff]")


# Colours the world lacks, as sRGB; each maps to the palette colour of nearest hue (a
# colour wheel distance, not a spelling one: orange is nearer yellow than red). Colours
# without a hue (white, black, grey) have no nearest colour: see NO_SUCH_COLOR.
OFF_PALETTE_RGB: dict[str, tuple[int, int, int]] = {
    "orange": (255, 165, 0), "amber": (255, 191, 0), "ochre": (204, 119, 34), "tan": (210, 180, 140),
    "beige": (245, 245, 220), "khaki": (240, 230, 140), "peach": (255, 218, 185), "olive": (128, 128, 0),
    "mustard": (225, 173, 1), "cream": (255, 253, 208), "pink": (255, 192, 203), "brown": (165, 42, 42),
    "maroon": (128, 0, 0), "burgundy": (128, 0, 32), "coral": (255, 127, 80), "salmon": (250, 128, 114),
    "rose": (255, 0, 127), "hot pink": (255, 105, 180), "rust": (183, 65, 14), "copper": (184, 115, 51),
    "bronze": (205, 127, 50), "indigo": (75, 0, 130), "sky blue": (135, 206, 235), "sky-blue": (135, 206, 235),
    "mint": (152, 255, 152), "chartreuse": (127, 255, 0), "pinkish": (255, 192, 203), "orangey": (255, 165, 0),
    "orangish": (255, 165, 0), "brownish": (165, 42, 42),
    "橙色": (255, 165, 0), "橙": (255, 165, 0), "橘色": (255, 165, 0), "橘黄色": (255, 165, 0), "橙黄色": (255, 165, 0),
    "米色": (245, 245, 220), "卡其色": (240, 230, 140), "粉色": (255, 192, 203), "粉红色": (255, 192, 203),
    "粉红": (255, 192, 203), "粉": (255, 192, 203), "棕色": (165, 42, 42), "褐色": (165, 42, 42),
    "咖啡色": (111, 78, 55), "栗色": (128, 0, 0), "酒红色": (128, 0, 32), "靛蓝色": (75, 0, 130),
    "靛青色": (75, 0, 130),
    "天蓝色": (135, 206, 235), "薄荷绿": (152, 255, 152), "薄荷色": (152, 255, 152), "橄榄色": (128, 128, 0),
    "橄榄绿": (128, 128, 0),
}


def _hue(rgb) -> float:
    import colorsys

    return colorsys.rgb_to_hsv(*rgb)[0] * 360.0


def nearest_palette_color(rgb: tuple[float, float, float]) -> str:
    """The palette colour whose hue is nearest on the colour wheel (rgb in 0..1)."""
    h = _hue(rgb)
    return min(COLORS, key=lambda c: min(abs(_hue(COLORS[c]["rgb"]) - h), 360 - abs(_hue(COLORS[c]["rgb"]) - h)))


OFF_PALETTE: dict[str, str] = {w: nearest_palette_color(tuple(v / 255 for v in rgb))
                               for w, rgb in OFF_PALETTE_RGB.items()}

# Things the micro-world cannot show at all: reported, never swapped for a ball.
UNRENDERABLE_EN = (
    "dog|dogs|puppy|puppies|cat|cats|kitten|kittens|bird|birds|fish|horse|horses|cow|cows|mouse|mice|rabbit|"
    "rabbits|animal|animals|pet|pets|person|people|man|men|woman|women|child|children|kid|kids|boy|boys|girl|"
    "girls|baby|player|players|someone|somebody|hand|hands|robot|robots|car|cars|bus|train|bike|bicycle|"
    "vehicle|plane|airplane|boat|ship|tree|trees|flower|flowers|grass|plant|plants|sun|moon|star|stars|cloud|"
    "clouds|house|houses|building|buildings|city|road|street|river|ocean|sea|mountain|mountains|water|fire|"
    "smoke|rain|snow|lamp|chair|table lamp|toy|toys|teddy bear|doll|dragon|monster|ghost|alien|elephant|"
    "lion|tiger|bear|duck|ducks|chicken|penguin|snake")
UNRENDERABLE_ZH = (
    "狗|小狗|猫|小猫|猫咪|鸟|小鸟|鱼|马|牛|老鼠|兔子|动物|宠物|人|男人|女人|小孩|孩子|小朋友|男孩|女孩|婴儿|宝宝|"
    "机器人|汽车|车|小车|公交车|火车|自行车|飞机|船|树|花|草|植物|太阳|月亮|星星|云|房子|建筑|城市|马路|河|海|山|"
    "水|火|烟|雨|雪|椅子|玩具|娃娃|龙|怪物|鬼|外星人|大象|狮子|老虎|熊|鸭子|小鸭|鸡|企鹅|蛇|手")


def _en_key(phrase: str) -> tuple[str, ...]:
    return tuple(EN_TOKEN.findall(phrase.lower().replace("’", "'")))


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
    add("both|both of the|both the", ("det", "both"))

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
    add(",|;|:|—|–|while|whilst|as|but|meanwhile|when|before|so|at the same time|simultaneously|also",
        ("bound", "clause"))
    add("and then|then|afterwards|after that|next|finally|later|after this|soon after|shortly after|a moment later|"
        "after|followed by|and after that|eventually", ("bound", "then"))
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
        "own|do|does|did|no|now|again|third|last|we|you|i|our|your|my|has|have|had|can|will|"
        "would|should|may|might|must|who|what|whose|whom|other's|same|such|than|like|s|'s|up to|out|about|"
        "within|inside|outside|near|next to|beside|behind|in front of|under|below|underneath|between|among|"
        "shot of|there's|it's|that's|let|lets|make|makes|please|show|render|generate|create|"
        "video of|clip of|image of|picture of|both of|one of|on its own|by itself", ("stop",))

    # Words people use that captions do not: more synonyms, read without a warning.
    for shape, words in {"sphere": "marble|bead", "cube": "die|dice|cuboid|brick",
                         "cylinder": "can|tin|tower|post|cylinders"}.items():
        for w in words.split("|"):
            add([w], ("shape", (shape, w in ("dice", "cylinders"))))
            if w not in ("dice", "cylinders"):
                add([C.plural(w)], ("shape", (shape, True)))
    add("fuchsia|plum|orchid", ("color", "purple"))
    add("wee|itty-bitty|teeny|teensy|miniature|small-sized", ("size", "small"))
    add("enormous|massive|oversized|large-sized|big-sized|hefty|jumbo|gigantic", ("size", "large"))
    add("single|a single|one single|lone|a lone|just one|only one|one lone", ("det", "indef"))
    # Values the world lacks: the nearest one it has, and the word that was asked for.
    for w, color in OFF_PALETTE.items():
        if not CJK.search(w):
            add([w], ("color", color, w))
    for shape, words in {"cube": "pyramid|pyramids|tetrahedron|prism|wedge",
                         "cylinder": "cone|cones|disc|discs|disk|disks|coin|coins|plate|plates|bottle|bottles|"
                                     "cup|cups|mug|mugs|wheel|wheels|pipe|pipes|rod|rods|pole|poles|log|logs",
                         "sphere": "egg|eggs|apple|apples|bubble|bubbles|planet|planets|globe-shaped"}.items():
        for w in words.split("|"):
            add([w], ("shape", (shape, w.endswith("s") and not w.endswith("ss")), w))
    for mat, words in {"ice": "glass|glassy|crystal", "rubber": "plastic|foam|silicone",
                       "metal": "stone|rock|concrete|marble-stone|granite", "wood": "paper|cardboard|bamboo"}.items():
        for w in words.split("|"):
            add([w], ("material", mat, w))
    add("medium|medium-sized|mid-sized|average-sized|moderate", ("size", "small", "medium"))
    add("jump|jumps|jumping|jumped|hop|hops|hopping|hopped|leap|leaps|leaping|leapt", ("effect", "bounce", "jump"))
    add("fly|flies|flying|flew|float|floats|floating|floated|hover|hovers|hovering|spin|spins|spinning|spun|"
        "rise|rises|rising|levitate|levitates|levitating|twirl|twirls|twirling|dance|dances|dancing|"
        "explode|explodes|exploding|melt|melts|melting|shrink|shrinks|grow|grows|growing|vanish|vanishes|"
        "disappear|disappears", ("nomotion",))
    for w in UNRENDERABLE_EN.split("|"):
        add([w], ("thing", w))
    add("not|never|doesn't|don't|didn't|won't|isn't|aren't|wasn't|can't|cannot|no longer|does not|do not|no|"
        "there is no|there's no|there are no|there isn't any|there aren't any|without any|without a|"
        "did not|will not|is not|are not|won't be|refuses to|fails to|neither|nor", ("neg",))
    add("nothing moves|nothing is moving|nothing else moves|nothing moving|nothing else is moving|no movement|"
        "no motion|no one moves|everything is still|everything stays still|everything stays put|"
        "everything is motionless|everything remains still|all is still|all still|nothing stirs|nothing happens|"
        "none of them move|none of them moves|none move|none moves|neither moves|neither of them moves|"
        "they all stay still|all stay still|all stay put|all of them stay still|all remain still|"
        "all of them are still|all motionless|everything stays motionless|nothing is in motion",
        ("allstill",))
    add("in opposite directions|opposite directions|in opposite ways|opposite ways|in different directions|"
        "different directions|away from each other|away from one another|apart|in opposing directions|"
        "opposing directions|one left and one right|one to the left and one to the right|opposite|opposite ways|"
        "opposite sides|opposite way", ("opposite",))
    add("second|seconds|sec|secs|s long|seconds long|second long|second-long", ("unit",))
    add("track|tracks|tracking|tracked|truck|trucks|trucking|sweep|sweeps|sweeping|swept|a tracking shot|"
        "tracking shot|a pan|whip pan|crab|crabs", ("camverb", ("pan", None)))
    add("moves closer|move closer|moving closer|comes closer|come closer|coming closer|gets closer|get closer|"
        "creeps in|creeps closer|pushes closer|goes in|approaches|approach|approaching|push-in|dolly-in|zoom-in",
        ("camverb", ("zoom_in", None)))
    add("moves away|move away|moving away|moves back|move back|moving back|backs off|pulls away|pull-out|"
        "pullback|pull-back|dolly-out|zoom-out|widens|widens out|widening|goes wide", ("camverb", ("zoom_out", None)))
    add("arcs around|arc around|goes around|go around|going around|moves around|move around|circles round|"
        "swings around|swings round|wraps around|orbital|an orbit|a circle", ("camverb", ("orbit", None)))
    add("static shot|a static shot|locked-off shot|still camera|fixed camera|stationary camera|static camera|"
        "fixed shot|locked camera|tripod shot|on a tripod|a locked-off shot|a fixed shot|static wide shot|"
        "static view|a static view|fixed view|a still shot|still shot", ("cam",), ("motion", "still"))
    add("stays fixed|holds steady|held steady|stays locked", ("motion", "still"))
    add("first|at first|to begin with|to start", ("first",))
    add("all|all of them|they all|all three|all four|all five|all six|each of them|every one of them|"
        "both of them|all together|all at once|together", ("all",))
    add("eleven|twelve|thirteen|fourteen|fifteen|twenty|thirty|a dozen|dozen|dozens|a hundred|hundred|"
        "hundreds", ("count", 12))
    for n, w in ((7, "seven"), (8, "eight"), (9, "nine"), (10, "ten")):
        add([w, str(n)], ("count", n))
    for n in range(11, 100):
        add([str(n)], ("count", n))
    add("0|zero", ("count", 0))  # refused by the reader: no object
    add("swift|swiftly|briskly|brisk|hurriedly|speedy|zippy|zoomy|at full speed|full speed|in a hurry|in a rush",
        ("speed", "fast"))
    add("+|plus|along with|together with|as well as|alongside", ("and",))
    # Words that carry no picture: requests, hedges, filler
    add("can you|can i|can we|could you|could i|could we|would you|will you|i'd like|i would like|i want|"
        "i wanna|i need|we need|give me|gimme|let's see|let me see|i'd love|show me|make me|kind of|sort of|"
        "kinda|sorta|a bit|a little bit|a little|pretty|rather|fairly|quite|really|super|nice and|um|uh|umm|"
        "hmm|erm|uhh|like|okay|ok|want|wanna|need|see|get|got|give|could|would|maybe|perhaps|thanks|"
        "thank you|hey|hi|hello|yeah|yes|well|actually|basically|literally|i think|i guess|i mean|you know|"
        "something like|somewhere|thx|pls|plz|u|ur|idk|lol|cool|nice|awesome|great|cute|neat|simple|just a|"
        "short|little clip|a clip|a video|shows|showing|have|having|in which|in it|ideally|exactly|precisely|"
        "clearly", ("stop",))
    add("coloured|colored|colour|color|hued|tinted|toned|shaded|-coloured|-colored|-", ("np_skip",))
    add("opens on|open on|focuses on|focus on|focused on|centers on|centres on|centered on|centred on|"
        "fades in on|fade in on|shows|features|featuring",
        ("stop",))
    add("none of them moving|none of them is moving|none moving|with none of them moving|none of which move|"
        "none of which moves|nothing in the shot moves|nothing in the scene moves|nothing in the frame moves|"
        "no object moves|no objects move|none of the objects move|none of the objects moves", ("allstill",))
    add("the whole time|the entire time|throughout|the whole shot|the whole clip|all the time|the entire shot|"
        "the whole way|all the way|the entire clip|during the shot|during the clip|meanwhile the", ("known",))
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
    table(C.ZH_MATERIALS,
          {"rubber": ("橡皮", "弹力"), "metal": ("铁制", "钢制", "金属制"), "wood": ("木制的", "木头做的")},
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

    add("撞上|撞向|撞到|撞击|撞|碰到|碰上|推动|推|推着|推开|撞在|撞进|砸向|碰撞|撞开|冲向|撞倒|顶着|碰",
        ("relverb", "target"))
    add("向|朝|往|朝着|向着|对着", ("rel", "target"))
    add("把|将", ("ba",))  # 把紫球放在方块上: what follows is what the verb moves
    add("被", ("rel", "by"))
    add("在", ("rel", "on"))
    add("从", ("rel", "from"))
    add("上|上面|顶上|上方|之上|顶部|上边|顶端", ("post",))
    add("冰块|冰方块|冰立方体", ("material", "ice"), ("shape", ("cube", False)))
    add("地上|地面|地板|空中|半空|半空中|高处|天上|天空|场景|原地|地面上|地板上|空中中|远处|场地|桌上|桌面|舞台",
        ("scenery",))
    add("它|它们|其", ("pron",))
    add("相向|相对|互相|彼此|迎面", ("mutual",))
    add("，|。|；|：|！|？|、|,|.|;|:|!|?", ("bound", "clause"))
    for p in "。！？.!?":
        lex[p] = [("bound", "sentence")]
    add("并|并且|同时|的同时|与此同时|而|而且|此时|这时|便|一边|边", ("bound", "clause"))
    add("和|与|跟|以及|及", ("and",))
    add("依次|先后|陆续|一个接一个|轮流", ("timing",))
    add("停了下来|停下来|停下|停住|停止|几乎|又|后|一路|原本|起来|下来|过去|拍摄|逐渐|开始|正在|一起|都|也|就|还|再|"
        "很|非常|轻轻地|一下|慢慢停下|最终|渐渐|缓缓停下|稳稳|落地后|着地|一段距离|距离|持续|继续|然后停下|穿过|经过|越过",
        ("known",))
    add("地|了|着|过|得|是|有|之|一|个|这|那|里|中|内|边|面|旁边|旁|附近|其中|们|只|些|我们|看到|可以|出现|"
        "视频|一段|展示|生成|请|画|场面|时|当|中间|所有|每个|各自|分别|同样|已经|突然|立刻|马上|正|会|能|要|"
        "去|来|出|到|做|成|为|给|让|使|将|用|起|下|把它", ("stop",))

    # Words people use that captions do not: more synonyms, read without a warning.
    for shape, words in {"sphere": "弹珠|圆珠|珠子|小圆球|皮球|球儿",
                         "cube": "砖块|砖头|骰子|方盒子|木块|方形块|方箱|正方块",
                         "cylinder": "罐子|易拉罐|罐|圆罐|柱|圆柱子|石柱|塔|圆塔|管|筒"}.items():
        add(words, ("shape", (shape, False)))
    add("木块", ("material", "wood"), ("shape", ("cube", False)))
    add("铁球|钢球|金属球", ("material", "metal"), ("shape", ("sphere", False)))
    add("皮球|橡胶球|弹力球", ("material", "rubber"), ("shape", ("sphere", False)))
    add("紅|紅色", ("color", "red"))
    add("迷你|小巧|小小的|袖珍|微型", ("size", "small"))
    add("硕大|超大|巨型|庞大|大大的|特大", ("size", "large"))
    add("单独一个|仅一个|只有一个|唯一一个", ("det", "indef"))  # 一个, 一只 ...: the measure words above
    for w, color in OFF_PALETTE.items():
        if CJK.search(w):
            add([w], ("color", color, w))
    for shape, words in {"cube": "金字塔|棱锥|三棱柱|楔子",
                         "cylinder": "圆锥|锥体|圆盘|硬币|盘子|瓶子|杯子|轮子|管子|棍子|木棍",
                         "sphere": "鸡蛋|蛋|苹果|泡泡|气泡|星球"}.items():
        for w in words.split("|"):
            add([w], ("shape", (shape, False), w))
    for mat, words in {"ice": "玻璃|玻璃做的|水晶", "rubber": "塑料|泡沫|硅胶", "metal": "石头|石|岩石|水泥|大理石",
                       "wood": "纸|纸板|竹子|竹"}.items():
        for w in words.split("|"):
            add([w], ("material", mat, w))
    add("中等|中号|中等大小|中型|不大不小", ("size", "small", "中等"))
    add("跳|跳跃|蹦跳|跳起来|跳动|跳来跳去", ("effect", "bounce", "跳"))
    add("飞|飞起|飞起来|飞行|飘|漂浮|悬浮|旋转着|自转|上升|升起|飞走|爆炸|融化|消失|变大|变小|跳舞", ("nomotion",))
    for w in UNRENDERABLE_ZH.split("|"):
        add([w], ("thing", w))
    add("不|没|没有|未|别|不会|并不|从不|没能|不要|不再", ("neg",))
    add("都不动|都没动|都没有动|都静止|都静止不动|全都不动|全部静止|全都静止|一切静止|一切都静止|什么都不动|什么也不动|"
        "什么都没动|没有东西在动|没有任何东西移动|没有东西移动|谁都不动|都一动不动|全都一动不动|都停着|都保持静止|都保持不动|"
        "均静止|均不动|都纹丝不动|都待在原地|都不移动|画面静止|一切不动|一切都不动", ("allstill",))
    add("朝相反方向|朝相反的方向|向相反方向|向相反的方向|往相反方向|往相反的方向|相反方向|相反的方向|反方向|背向|"
        "背道而驰|分别朝相反方向|各自朝相反方向|一左一右|分开|向两边|朝两边|往两边", ("opposite",))
    add("互相靠近|彼此靠近|相对而行|迎面而来|相向而行|向对方|朝对方|朝彼此|向彼此|相互靠近", ("mutual",))
    add("依次|先后|陆续|一个接一个|一个接着一个|轮流|逐个|一个一个地|一个一个|挨个|相继|接连", ("timing",))
    add("然后|接着|随后|之后|后来|紧接着|最后|随即|再|接下来|过了一会儿|过一会儿|不久|稍后", ("bound", "then"))
    add("先|首先|起初|一开始|开始时", ("first",))
    add("秒|秒钟|秒的|秒长", ("unit",))
    add("做的|制的|制成的|材质的|质的|做成的|材料的", ("de",))
    add("都|全都|全部|统统|均|一起|全|一同|通通", ("all",))
    for m in "个只颗块根枚粒":
        add([f"一{m}接一{m}", f"一{m}接着一{m}", f"一{m}一{m}地", f"一{m}一{m}"], ("timing",))
    add("嗯|呃|啊|哦|嘛|呀|吧|呢|拜托|拜托了|麻烦|麻烦你|大概|就是|差不多|那种|的话|好的|谢谢|帮我|给我|我想要|我想|想要|"
        "想看|我要|能不能|可以吗|好吗|随便|感觉|好像|应该|最好|来一段|来个|弄一个|整一个|要一个|看看|一下子|哈|嘿|喂|请问|"
        "能否|可不可以|做一个|拍一个|生成一段|做个|帮忙|一段视频|视频里|画面里|画面中|镜头里", ("stop",))
    add("横移|横摇|摇摄|跟拍|跟随|跟着|移动镜头|横向移动|左右平移|扫过|扫", ("camverb", ("pan", None)))
    add("向左平移|往左平移|朝左平移|左摇|向左摇", ("camverb", ("pan", "left")))
    add("向右平移|往右平移|朝右平移|右摇|向右摇", ("camverb", ("pan", "right")))
    add("推近|拉近|推进|推上去|推向|靠近|凑近|贴近|逼近|推镜|镜头推进|镜头拉近|放大画面|特写",
        ("camverb", ("zoom_in", None)))
    add("拉远|后拉|后退|拉开|拉出|往后拉|缩小画面|远离|退后|拉镜", ("camverb", ("zoom_out", None)))
    add("环绕|环绕拍摄|绕|绕着|环拍|围绕|环视|绕行|转圈|绕圈|兜圈|环绕着|绕着转|绕一圈|360度环绕|盘旋",
        ("camverb", ("orbit", None)))
    add("固定镜头|镜头固定|镜头不动|镜头静止|镜头保持不动|镜头保持静止|静止镜头|机位固定|固定机位|定镜|镜头一动不动",
        ("cam",), ("motion", "still"))
    return lex


EN_LEX = _build_en()
ZH_LEX = _build_zh()
EN_MAX = max(len(k) for k in EN_LEX)
ZH_MAX = max(len(k) for k in ZH_LEX)

# Hints for unknown words: a related word the lexicon has (a warning names it). Words the world lacks
# but people use (pyramid, orange, glass, jump) are lexicon entries with their nearest value.
_NEAR_EN = {
    "book": "cube", "average": "small", "wobble": "topple", "wobbles": "topple", "flip": "topple", "flips": "topple",
    "tilt": "pan", "tilts": "pan", "crane": "zoom", "shake": "static", "shakes": "static", "follow": "pan",
    "follows": "pan", "following": "pan", "heavy": "metal", "light": "wood", "shiny": "metal", "soft": "rubber",
    "round": "ball", "square": "cube", "cubic": "cube", "spherical": "ball", "cylindrical": "cylinder",
    "tall": "large",
}
_NEAR_ZH = {
    "锥": "圆柱", "玻璃球": "球", "砖": "方块", "书": "方块", "俯仰": "平移", "倾斜": "平移", "升降": "推近",
}
NO_SUCH_COLOR = {"white", "black", "grey", "gray", "silver", "白色", "黑色", "灰色", "银色", "白", "黑", "灰"}


def _content_words(lang: str, cats: tuple[str, ...] | None = None) -> list[str]:
    cats = set(cats or ("shape", "color", "size", "material", "motion", "effect", "dir", "speed", "cam", "camverb",
                        "relverb"))
    if lang == "en":
        return sorted({k[0] for k, v in EN_LEX.items() if len(k) == 1 and v[0][0] in cats})
    return sorted({k for k, v in ZH_LEX.items() if v[0][0] in cats})


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
