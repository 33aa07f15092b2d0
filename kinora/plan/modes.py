"""Content type: is a text news, knowledge or a story? Detected from its wording, overridable.

The three truth modes (ROADMAP, "Truthfulness modes") need to know what kind of text they
plan from: news must show nothing the text does not state, knowledge must be plausible
and physically right, a story may invent freely but must hold together. `detect_mode`
reads the cues each kind of writing leaves, in English and Chinese:

* news: reporting verbs and sources ("according to", "officials said", 据…报道, 记者,
  通报), dates, clock times and places ("on Tuesday at 3 pm", 12月1日上午10时, 本报讯),
  figures with units, wire datelines ("BERLIN —", 新华社…电);
* knowledge: explanation and hypotheticals ("why", "how", "imagine", "suppose", "this is
  because", 为什么, 原理, 想象一下, 假如, 科普), general statements ("a ball always ...",
  "objects fall", 物体), the vocabulary of physics (friction, gravity, 摩擦力, 重力);
* story: narrative markers ("once upon a time", 从前, 有一天), characters with names and
  feelings ("named Pip", "was afraid", 叫豆豆, 害怕), dialogue in quotes, the past tense of
  a tale ("lived", "decided").

Each cue is a pattern with a weight; a type's score is the sum of its cues' weights,
counted once per pattern plus a little per repeat. The decision is the highest score,
its confidence the score's share of all three (a text with no cue at all is a story at
confidence 1/3: free invention is the mode that claims least about the world), and the
cues that decided it are returned with their spans, so the storyboard and provenance can
say why. The weights were set on the dev part of `kinora/eval/film/*.jsonl` only; the
held-out part measures them (`kinora eval --film`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

MODES = ("news", "knowledge", "story")

# (pattern, weight); patterns are case-insensitive regular expressions.
_EN: dict[str, list[tuple[str, float]]] = {
    "news": [
        (r"\baccording to\b", 3.0), (r"\b(?:officials?|spokes(?:man|woman|person)|witness(?:es)?|staff|technicians?|"
                                     r"engineers?|researchers?|organi[sz]ers?|investigators?|police|sources?|"
                                     r"operators?|authorities)\b[^.]{0,40}\b(?:said|say|says|reported|confirmed|told|"
                                     r"stated|noted|announced|added)\b", 3.0),
        (r"\b(?:reported|confirmed|announced|stated|told reporters)\b", 1.2), (r"\bsaid\b", 0.6),
        (r"\b(?:reports?|reported|reporting|reporters?|journalists?|press|news|bulletin|update|breaking|"
         r"headline|correction|corrected|statement|briefing|log shows?|logs? show|record(?:ed)? show)\b", 1.4),
        (r"\b(?:on|last|this) (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", 2.0),
        (r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", 0.8),
        (r"\b\d{1,2}(?::\d{2})\s*(?:a\.?m\.?|p\.?m\.?)?|\b\d{1,2}\s*(?:a\.?m\.?|p\.?m\.?)\b", 2.0),
        (r"\b(?:january|february|march|april|may|june|july|august|september|october|november|december)\s+\d", 2.0),
        (r"\b(?:19|20)\d{2}\b", 1.0),
        (r"^(?-i:[A-Z][A-Z .]{2,})(?:—|--| - )", 3.0), (r"\((?:AP|Reuters|AFP|Xinhua)\)", 3.0),
        (r"\b(?:hall|lab(?:oratory)?|room|site|facility|arena|track|test bay|bay|bench|station)"
         r"\s+(?-i:[A-Z0-9]+)\b", 1.5),
        (r"^(?-i:[A-Z][A-Z']+(?: [A-Z']+)+)[.!:]", 2.5),
        (r"^(?:briefly|update|breaking|correction|in brief|brief|note|alert)\s*[:—-]", 2.5),
        (r"(?:^|[.:]\s+)(?-i:(?:(?:Big|Small|Large|Little|Tiny) [a-z]+|Red|Yellow|Green|Cyan|Blue|Purple) (?:ball|"
         r"cube|cylinder|block)s? [a-z]+s)\b", 2.0),
        (r"\b(?:log entry|the log says|logs? (?:say|says|said)|recording|footage|the camera (?:recorded|captured)|"
         r"was filmed|were filmed|on record|the lab's|staff|organi[sz]ers|observers?)\b", 1.5),
        (r"\b(?:log|logs|record|records|data)\b[^.]{0,25}\b(?:shows?|showed|indicates?)\b", 1.5),
        (r"\b\d+(?:\.\d+)?\s*(?:cm|centimet(?:er|re)s?|met(?:er|re)s?|m|seconds?|s|minutes?|percent|%)\b", 0.8),
        (r"\b(?:yesterday|this morning|this afternoon|earlier today|today|tonight|on monday)\b", 1.2),
        (r"\b(?:no (?:one was|injuries)|investigation|incident|event took place|was recorded|were recorded|"
         r"officially|preliminary|the test|the trial|during (?:a|the) (?:test|demonstration|trial|experiment))\b",
         1.2),
        (r"\b(?:live|latest|developing|update \d|\d+ ?(?:am|pm) update)\b", 1.0),
    ],
    "knowledge": [
        (r"\b(?:why|how)\b[^.?]{0,60}\?", 2.5), (r"^\s*(?:why|how|what happens|what would happen)\b", 2.5),
        (r"\bimagine\b", 1.0),
        (r"\b(?:imagine|suppose|picture this|let'?s say|consider|think about|what if|what happens if|"
         r"what would happen)\b", 2.5),
        (r"\b(?:because|this is because|that is why|which is why|the reason|therefore|thus|as a result|"
         r"explains?|explained|explanation|in other words|for example|for instance)\b", 1.3),
        (r"\b(?:physics|physical|gravity|gravitational|friction|momentum|energy|inertia|force|forces|mass|"
         r"acceleration|velocity|elastic|elasticity|restitution|centre of mass|center of mass|equilibrium|"
         r"kinetic|potential|newton'?s?|law|laws|principle|scientists?|experiment shows)\b", 1.5),
        (r"\b(?:always|usually|generally|tends? to|in general|typically|whenever|any (?:ball|cube|object)|"
         r"objects?|things)\b", 1.0),
        (r"\b(?:if (?:you|we|a|an|the)|when (?:you|we|a|an))\b", 1.0),
        (r"\b(?:lesson|learn|students?|class|textbook|science|scientific|fact|facts|q:|a:|faq|did you know|"
         r"exhibit|museum|diagram|demonstrates?|illustrates?|shows? (?:that|how|why))\b", 1.8),
        (r"\b(?:you|we)\b (?:can|will|would|might|should|see|notice)\b", 1.0),
        (r"\b(?:will|would)\b", 0.4), (r"\b(?:is|are)\b (?:called|known as)\b", 1.2),
        (r"(?:^|[.:;]\s+)(?:(?:balls|cubes|cylinders|objects|things|spheres|blocks)\s+(?:are|do|can|roll|slide|fall|"
         r"bounce|tend|need|have)|an? (?:\w+ ){0,2}(?:ball|cube|cylinder|sphere|block|object)\s+(?:is|has|does|can|"
         r"will|sits|behaves|needs|cannot|can't|doesn't|does not|only|always|never))\b", 1.8),
        (r"\b(?:depends? on|behaves? like|rule of thumb|versus|compare|comparison|definition|defined|means|stable|"
         r"stability|springy|heavier|lighter|faster than|slower than|further|the same (?:way|reason|time|speed)|"
         r"in short|the reason|reason why|like a|either way|whereas|on the other hand|unless)\b", 1.3),
    ],
    "story": [
        (r"\bonce upon a time\b", 5.0), (r"\b(?:long ago|a long time ago|one day|one morning|one night|"
                                         r"the end|happily ever after|the next day|the next morning)\b", 2.2),
        (r"\b(?:named|called)\s+(?-i:[A-Z][a-z]+)", 2.5),
        (r"(?-i:\b[A-Z][a-z]+ the (?:\w+ ){0,2}(?:ball|cube|cylinder|block|sphere|squirrel|mouse))\b", 2.0),
        (r"\b(?:brave|shy|happy|sad|lonely|afraid|scared|frightened|angry|proud|curious|excited|worried|nervous|"
         r"grumpy|cheerful|friendly|little friend|friends?|best friend|smiled|laughed|cried|giggled|sighed|wished|"
         r"dreamed|dreamt|hoped|wanted|loved|liked|felt|feel|feels|heart|tears|joy|fear|brave)\b", 1.5),
        (r"[\"“][^\"”]{2,}[\"”]\s*(?:,\s*)?(?:said|asked|cried|shouted|whispered|replied|called)?", 1.5),
        (r"\b(?:asked|whispered|shouted|replied|exclaimed|cried out|said to|muttered|yelled)\b", 1.8),
        (r"\b(?:lived|decided|wondered|realized|realised|thought|knew|remembered|learned that|"
         r"mom|mother|father|dad|grandma|king|queen|princess|dragon|kingdom|village|journey|adventure|magic|"
         r"moral|dear diary|diary)\b", 1.4),
        (r"\b(?:I|my|me)\b", 0.6), (r"\b(?:he|she|his|her|him)\b", 0.9),
        (r"\b(?:I'm|I am|I think|I feel|I wish|I hope|I was|we were)\b", 1.5),
        (r"\b(?:story|tale|ghost|fairy|wizard|wand|witch|hello|goodbye|sorry|thank you|hooray|oh no|wow|"
         r"worth it|breath|pleased|grinned|winked)\b", 1.5),
    ],
}

_ZH: dict[str, list[tuple[str, float]]] = {
    "news": [
        (r"据[^，。]{0,20}(?:报道|消息|通报|介绍|统计|了解|透露|称|显示)", 3.5),
        (r"据悉|获悉|记者|本报讯|本台消息|快讯|简讯|通讯员|发布会|通报|新闻|消息称|电讯|更正|声明|官方|头条|最新消息|播报|"
         r"特别报道|实录|直播|现场报道", 3.0),
        (r"市民|居民|[张王李赵刘陈杨黄周吴][先女]士|[先女]士(?:说|称|表示)|场内|场馆|展厅", 1.5),
        (r"[A-Z0-9]+号(?:厅|馆|实验室|场地)", 1.5),
        (r"(?:新华社|中新社|人民网|央视)[^，。]{0,10}电", 3.5), (r"表示|称|介绍说|证实|宣布|回应|目击者", 1.4),
        (r"\d+月\d+日|\d{4}年|周[一二三四五六日]|星期[一二三四五六日天]", 1.6),
        (r"[上下]午\s*\d+[时点:：]|\d+[时点:：]\d+|\d+时|凌晨|傍晚\d", 2.0),
        (r"实验室|试验|测试|现场|工作人员|技术人员|负责人|研究人员|调查|记录显示|日志显示|监控", 1.2),
        (r"\d+(?:\.\d+)?\s*(?:厘米|米|秒|分钟|公斤|%|％)", 0.8), (r"今天|昨日|昨天|今日|近日|日前|当天|此前", 1.0),
        (r"报道|报告|发布|公布|数据|结果显示", 1.4),
    ],
    "knowledge": [
        (r"为什么|为何|怎样|如何|怎么会|是什么|什么原因", 2.4),
        (r"科普|原理|知识|小知识|你知道吗|知道吗|课堂|老师|同学|教材|课本|实验表明|说明牌|展品|讲解", 2.2),
        (r"想象一下|想象|假如|假设|如果|设想|试想|要是", 2.5),
        (r"规律|惯性|就像|这告诉我们|告诉我们|说明了|稳定|就是(?:说|指)?|叫做|称为|秘诀|道理是|记住", 1.5),
        (r"因为|所以|因此|这是由于|由于|于是可见|也就是说|换句话说|例如|比如|可见", 1.3),
        (r"重力|引力|摩擦|惯性|动量|能量|弹性|质量|加速|速度|力|物理|牛顿|定律|重心|平衡|势能|动能|物体", 1.6),
        (r"总是|通常|一般|往往|任何|一旦|都会|会[^，。]{0,8}(?:吗|呢)", 1.0), (r"[？?]", 0.8),
        (r"我们(?:可以|会|能|看到)|你(?:会|可以|能)", 1.0),
    ],
    "story": [
        (r"从前|很久很久以前|很久以前|有一天|一天早上|一天晚上|第二天|从此|最后他们|童话", 3.0),
        (r"叫[\u4e00-\u9fff]{1,3}的|名叫|名字叫|取名", 2.5),
        (r"勇敢|害怕|开心|高兴|难过|伤心|孤单|孤独|生气|骄傲|好奇|兴奋|担心|紧张|害羞|快乐|哭|笑|心想|觉得|"
         r"朋友|伙伴|好朋友|梦想|希望|喜欢|爱|心里|眼泪|委屈|得意|调皮", 1.6),
        (r"[“「\"][^”」\"]{1,}[”」\"]", 1.0), (r"说道|问道|喊道|大喊|小声说|回答|嘀咕|叫道|说：|说:", 1.8),
        (r"叹了口气|不想|故意|孤零零|陪|待在|不理|特别的日子|多云|晴|奇怪的|聪明|我是|今天我|我想|我们俩|心情", 1.5),
        (r"决定|想着|原来|终于|妈妈|爸爸|奶奶|国王|公主|王国|村子|冒险|魔法|寓言|道理|日记", 1.4),
        (r"我", 0.5), (r"他|她", 0.8),
    ],
}

_COMPILED = {lang: {m: [(re.compile(p, re.I | re.M), w) for p, w in cues] for m, cues in table.items()}
             for lang, table in (("en", _EN), ("zh", _ZH))}
REPEAT_WEIGHT = 0.25  # each further match of a pattern adds this fraction of its weight (at most 3 more)


@dataclass
class ModeDecision:
    mode: str  # "news" | "knowledge" | "story"
    confidence: float  # the chosen type's share of the three scores, 1/3 .. 1
    scores: dict[str, float] = field(default_factory=dict)
    cues: list[dict] = field(default_factory=list)  # the chosen type's cues: {"text", "start", "end", "weight"}
    detected: str = ""  # what the text alone gave (differs from `mode` when overridden)
    overridden: bool = False
    why: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _scores(text: str) -> tuple[dict[str, float], dict[str, list[dict]]]:
    langs = ["zh", "en"] if re.search(r"[\u3400-\u9fff]", text) else ["en"]  # mixed text: both tables
    scores = {m: 0.0 for m in MODES}
    cues: dict[str, list[dict]] = {m: [] for m in MODES}
    for lang in langs:
        for mode, patterns in _COMPILED[lang].items():
            for pat, w in patterns:
                hits = list(pat.finditer(text))
                if not hits:
                    continue
                scores[mode] += w * (1 + REPEAT_WEIGHT * min(3, len(hits) - 1))
                cues[mode] += [{"text": h.group(0).strip(), "start": h.start(), "end": h.end(), "weight": w}
                               for h in hits[:3]]
    return scores, cues


def detect_mode(text: str, override: str | None = None) -> ModeDecision:
    """The text's content type with its confidence and cues; `override` (one of MODES) wins
    and is recorded as such, the detection kept beside it."""
    from kinora.errors import KinoraError

    if override is not None and override not in MODES:
        raise KinoraError(f"unknown mode {override!r}; use one of {', '.join(MODES)}")
    scores, cues = _scores(text)
    total = sum(scores.values())
    detected = max(MODES, key=lambda m: (scores[m], m == "story")) if total else "story"
    confidence = scores[detected] / total if total else 1 / 3
    top = sorted(cues[detected], key=lambda c: -c["weight"])[:6]
    if total:
        why = f"{detected}: " + ", ".join(f"'{c['text']}'" for c in top[:4])
    else:
        why = "no cue of any type: story (free invention, the mode that claims least about the world)"
    decision = ModeDecision(mode=override or detected, confidence=round(confidence, 3),
                            scores={m: round(v, 2) for m, v in scores.items()}, cues=top, detected=detected,
                            overridden=override is not None and override != detected, why=why)
    if override is not None:
        decision.why = f"{override}: chosen with --mode (the text reads as {why})"
    return decision
