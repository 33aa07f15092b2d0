"""The story planner: a text of any length into scenes, shots and a registry of entities.

    plan = plan_story("Once upon a time a brave little red ball named Pip lived on a blue cube. "
                      "One day Pip rolled off it. Then it rolled left.")
    plan.shots      # PlannedShot per visible sentence: a ShotSpec whose object ids are entity ids
    plan.entities   # Entity per thing: its look fixed once (shape, colour, size, material, name)
    plan.captions   # sentences that show nothing (feelings, dialogue, "until sunset") and why
    plan.mode       # kinora.plan.modes.ModeDecision: news, knowledge or story, with its cues

It follows the reader (`kinora.plan.parse`) sentence by sentence and adds what a text
longer than one prompt needs, in these steps:

1. Sentences and paragraphs, with their spans; dialogue in quotes becomes a caption.
2. A sentence's opening time words ("then", "one day", 最后, 随后, "earlier") are read and
   blanked: they order the shots, and "one day" / 第二天 or a new paragraph opens a scene.
3. Names ("a ball named Pip", 叫豆豆的小球) are tied to the thing they name, and a later
   name, "it", "they", 它, 它们 is read as a description of that entity (the rewrite keeps
   a map of offsets, so every span in the result still indexes the original text).
4. Each noun phrase is resolved against the registry: "a ..." is a new entity; "the ball",
   "the red one", 小球, 那个红色的 is the most recent entity it fits (every attribute it
   states agrees), else a new one.
5. Looks are fixed once per entity: stated attributes from their first statement, the rest
   by the mode (kinora.plan.truth: invented in a story, filled in for knowledge, the
   fixed neutral convention in news), and kept in every shot.
6. Shots: a sentence that introduces an entity, gives a motion, a relation or a camera
   move is a shot; one that says nothing visible is a caption of the shot before it; a
   thing the world cannot show is reported, never swapped. Within a scene the entities
   already there stay (held still, "carried"), and a shot after a static one continues
   from its last frame (`PlannedShot.continues`).

The planner is pure text work: no model, no simulator, well under a second for a page.
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass, field

from kinora.errors import KinoraError
from kinora.plan.modes import ModeDecision, detect_mode
from kinora.world.spec import COLORS, MAX_OBJECTS, SHAPES, CameraSpec, ObjectSpec, ShotSpec, validate

DEFAULT_SHOT_SECONDS = 4.0
MAX_TEXT_CHARS = 200_000  # a long chapter; a novel is planned chapter by chapter
LOOK = ("shape", "color", "size", "material")

# ---------------------------------------------------------------------------------
# 1. Sentences
# ---------------------------------------------------------------------------------

_OPEN, _CLOSE = "“「『‘", "”」』’"
_END = ".!?。！？；;…"


@dataclass
class Sentence:
    start: int
    end: int
    paragraph: int
    quotes: list[tuple[int, int]] = field(default_factory=list)  # dialogue spans inside it


def split_sentences(text: str) -> list[Sentence]:
    """Sentences with their spans and paragraph numbers; a terminator inside quotes does not end one."""
    out: list[Sentence] = []
    depth, straight, start, para, quotes, qstart = 0, False, 0, 0, [], 0
    i, n = 0, len(text)

    def flush(end: int) -> None:
        nonlocal start, quotes
        s, e = start, end
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s and re.search(r"\w", text[s:e]):
            out.append(Sentence(s, e, para, [q for q in quotes if s <= q[0] < e]))
        start, quotes = end, []

    while i < n:
        ch = text[i]
        if ch in _OPEN:
            if depth == 0:
                qstart = i
            depth += 1
        elif ch == "’" and 0 < i < n - 1 and text[i - 1].isalpha() and text[i + 1].isalpha():
            pass  # can’t: an apostrophe, not the end of a quote
        elif ch in _CLOSE and depth:
            depth -= 1
            if depth == 0:
                quotes.append((qstart, i + 1))
        elif ch == '"' and (straight or '"' in re.split(r"\n[ \t\r]*\n", text[i + 1:], maxsplit=1)[0]):
            straight = not straight  # (an opening quote never closed in its paragraph is plain text)
            if straight:
                qstart = i
            else:
                quotes.append((qstart, i + 1))
        elif ch == "\n" and re.match(r"\n[ \t\r]*\n", text[i:]):
            flush(i)
            para += 1
            depth, straight = 0, False
        elif ch in _END and depth == 0 and not straight:
            j = i + 1
            while j < n and (text[j] in _END or text[j] in _CLOSE or text[j] == '"'):
                j += 1
            if not (ch == "." and j < n and text[j].isalnum()):  # 1.5 m, e.g.
                flush(j)
                i = j
                continue
        i += 1
    flush(n)
    return out


# ---------------------------------------------------------------------------------
# 2. Time words
# ---------------------------------------------------------------------------------

# At a sentence's start (after quotes and commas): (pattern, kind). "scene" opens a new
# scene, "before" is a flashback (the shot goes before the one it follows), "after" just
# orders, "same" is simultaneous.
_TIME = [(re.compile(p, re.I), k) for p, k in (
    (r"once upon a time(?:,)?", "scene"), (r"(?:a )?long (?:long )?(?:time )?ago(?:,)?", "scene"),
    (r"one (?:day|morning|evening|night|afternoon)(?:,)?", "scene"),
    (r"the (?:next|following) (?:day|morning|evening|night|week)(?:,)?", "scene"),
    (r"(?:that|the same) (?:night|evening|afternoon|morning)(?:,)?", "scene"),
    (r"(?:later that (?:day|night)|years later|days later|weeks later|some time later|hours later)(?:,)?", "scene"),
    (r"(?:earlier|before that|previously|an hour earlier|moments earlier|minutes earlier)(?:,)?", "before"),
    (r"(?:meanwhile|at the same time|simultaneously)(?:,)?", "same"),
    (r"(?:and )?(?:then|after that|afterwards|next|later|soon|soon after|shortly after|moments later|"
     r"a moment later|seconds later|a few seconds later|minutes later|finally|at last|in the end|eventually|"
     r"suddenly|all of a sudden|first|firstly|second|secondly|third|lastly|now|immediately)(?:,)?", "after"),
    (r"(?:从前|很久很久以前|很久以前|古时候)[，,]?", "scene"),
    (r"(?:有一天|一天|某天|第二天|次日|隔天|那天晚上|当天晚上|几天后|多年以后|多年后|后来有一天)[，,]?", "scene"),
    (r"(?:之前|此前|在此之前|早些时候|更早的时候|事前)[，,]?", "before"), (r"(?:与此同时|同时)[，,]?", "same"),
    (r"(?:然后|随后|接着|紧接着|之后|后来|最后|最终|终于|突然|忽然|首先|先|其次|再|接下来|片刻之后|几秒钟后|几秒后|马上|立刻|"
     r"这时|此时|于是)[，,]?", "after"))]


def _time_word(text: str, s: int, e: int) -> tuple[str, int, int] | None:
    """The sentence's opening time phrase: (kind, start, end) in the text, or None."""
    j = s
    while j < e and (text[j].isspace() or text[j] in "\"'“「—-"):
        j += 1
    for pat, kind in _TIME:
        m = pat.match(text, j, e)
        if m and (m.end() == e or not text[m.end() - 1].isalnum() or not text[m.end()].isalnum()
                  or "\u3400" <= text[m.end() - 1] <= "\u9fff"):
            return kind, j, m.end()
    return None


# ---------------------------------------------------------------------------------
# 3. A sentence rewritten for the reader, with its offset map
# ---------------------------------------------------------------------------------


class Rewrite:
    """A sentence with some pieces replaced; spans in the rewritten text map back to the text's."""

    def __init__(self, text: str, start: int, end: int):
        self.text, self.start, self.end = text, start, end
        self.repl: list[tuple[int, int, str, object]] = []  # (start, end, new, tag), global, non-overlapping

    def replace(self, s: int, e: int, new: str, tag=None) -> bool:
        if any(s < re_ and rs < e for rs, re_, _, _ in self.repl):
            return False
        self.repl.append((s, e, new, tag))
        return True

    def blank(self, s: int, e: int) -> bool:
        return self.replace(s, e, " " * (e - s))

    def build(self) -> tuple[str, list[tuple[int, int, int, int, object]]]:
        """The rewritten sentence and its pieces: (new_start, new_end, orig_start, orig_end, tag)."""
        out, pieces, pos, at = [], [], self.start, 0
        for s, e, new, tag in sorted(self.repl):
            if s > pos:
                out.append(self.text[pos:s])
                pieces.append((at, at + s - pos, pos, s, None))
                at += s - pos
            out.append(new)
            pieces.append((at, at + len(new), s, e, tag if tag is not None else "replaced"))
            at += len(new)
            pos = e
        out.append(self.text[pos:self.end])
        pieces.append((at, at + self.end - pos, pos, self.end, None))
        self.pieces = pieces
        return "".join(out), pieces

    def to_text(self, s: int, e: int) -> tuple[int, int, object]:
        """A span of the rewritten sentence as a span of the text, and the tag of a replaced
        piece it touches (the pronoun or name it stands for), or None."""
        lo, hi, tag = None, None, None
        for ns, ne, os_, oe, t in self.pieces:
            if ne <= s or ns >= e:
                if not (ns == ne == s):
                    continue
            if t is None:
                a, b = os_ + max(0, s - ns), os_ + min(ne, e) - ns
            else:
                a, b, tag = os_, oe, t
            lo = a if lo is None else min(lo, a)
            hi = b if hi is None else max(hi, b)
        if lo is None:
            return self.start, self.start, None
        return lo, hi, tag


# ---------------------------------------------------------------------------------
# 4. The registry
# ---------------------------------------------------------------------------------


@dataclass
class Entity:
    id: str  # "e1", "e2", ...: also the object's id in every shot's ShotSpec
    shape: str = "sphere"
    color: str = "red"
    size: str = "small"
    material: str = "rubber"
    name: str | None = None
    intro: dict = field(default_factory=dict)  # {"start", "end", "text"} of the phrase that introduced it
    fields: dict = field(default_factory=dict)  # look field -> its source span, or how it was chosen
    mentions: list[dict] = field(default_factory=list)  # every span that refers to it, with its shot
    stated: dict = field(default_factory=dict)  # look field -> value the text states
    chosen: dict = field(default_factory=dict)  # look field -> value the reader chose at the first mention

    def describe(self, lang: str = "en") -> str:
        if lang == "zh":
            return f"{COLORS[self.color]['zh']}的{SHAPES[self.shape]['zh']}"
        word = {"sphere": "ball", "cube": "cube", "cylinder": "cylinder"}[self.shape]
        return f"the {self.color} {word}"

    def to_dict(self) -> dict:
        return asdict(self)


_INDEF_EN = re.compile(r"^(?:a|an|one|another|some|several|two|three|four|five|six|\d+|a second|a third|a new|"
                       r"a pair of|a couple of|there (?:was|were|is|are) an?)\b", re.I)
_INDEF_ZH = re.compile(r"^(?:一|两|二|三|四|五|六|几|另|又|有一|有两|有个|有)")
_PRON_EN = re.compile(r"\b(it|they|them|he|she|him|her)\b", re.I)
_PRON_ZH = re.compile(r"(它们|他们|她们|它|他|她)")
_PLURAL = {"they", "them", "它们", "他们", "她们"}
_NAMED_EN = re.compile(r"\b(?:named|called)\s+([A-Z][a-z]+)\b")
_APPOS_EN = re.compile(r"\b([A-Z][a-z]{1,15}),\s+(?:a|an|the)\s")
_TITLE_EN = re.compile(r"\b([A-Z][a-z]{1,15}) the (?:(?:big|small|little|large|tiny|red|yellow|green|cyan|blue|"
                       r"purple|rubber|wooden|metal|ice) )*(?:ball|cube|cylinder|block|sphere|box)\b")
_NAMED_ZH = re.compile(r"(?:叫做|叫作|名叫|名字叫|叫)([\u4e00-\u9fff]{2,3}?)(?=的|，|,|。|$)")


# Attribution: the source of a report, not a thing in the shot.
_ATTRIBUTION = [re.compile(p, re.I) for p in (
    r"\baccording to [^,.;]{1,60}[,]?", r"[,]?\s*(?:an? |the )?(?:[a-z]+ ){0,3}(?:officials?|witnesses|witness|staff|"
    r"technicians?|engineers?|researchers?|organi[sz]ers?|investigators?|sources?|operators?|spokes(?:man|woman|"
    r"person)|authorities|police|reporters?|log|report|records?|logs)\s+(?:said|say|says|reported|report|reports|"
    r"confirmed|told [a-z]+|stated|states|noted|announced|added|show|shows|showed)(?: that)?[,.]?",
    r"\b(?:the|a) (?:lab(?:oratory)?'?s? )?(?:log|report|record|statement|bulletin)s? (?:says|said|states|stated|"
    r"shows|showed)(?: that)?,?", r"据[^，。]{0,20}(?:报道|消息|通报|介绍|统计|了解|透露|称|显示)[，,]?",
    r"(?:记者|目击者|工作人员|技术人员|负责人|研究人员|官方|知情人士|现场人员)[^，。]{0,8}(?:表示|称|说|介绍|证实|透露)[，,:：]?",
    r"(?:日志|记录|监控|报告)显示[，,]?", r"本报讯|据悉[，,]?|获悉[，,]?",
    r"\b(?:the |its |a |lab'?s |test |daily |official )+log(?: entry| book)?\b|\blog (?:entry|book|shows?|says?)\b")]


# Clock times, dates and measures: "six centimetres" is no six things, "13:47" no count.
_NUM = r"(?:\d+(?:[.,]\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|a few|" \
       r"several|some|a couple of|half a|a|an)"
_MEASURES = [re.compile(p, re.I) for p in (
    r"\b\d{1,2}[:.]\d{2}(?:\s*(?:a\.?m\.?|p\.?m\.?))?|\b\d{1,2}\s*(?:a\.?m\.?|p\.?m\.?)(?![a-z])",
    r"\b(?:19|20)\d{2}\b", r"\b(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december)\s+\d{1,2}(?:st|nd|rd|th)?\b|\b\d{1,2}(?:st|nd|rd|th)\b",
    rf"\b{_NUM}\s+(?:more\s+)?(?:cm|mm|km|centimet(?:er|re)s?|millimet(?:er|re)s?|met(?:er|re)s?|m|inch(?:es)?|feet|"
    rf"foot|kilograms?|kg|grams?|g|percent|per cent|%|times|degrees?|frames?|hours?|minutes?|days?|weeks?|"
    rf"months?|years?|bounces?|spins?|turns?|revolutions?)\b",
    r"\b(?:a|one) (?:hundred|thousand)\b|\b\d+(?:[.,]\d+)?\s*%",
    r"\b(?:room|hall|bay|lab|bench|station|table|zone|area|floor|test|trial|run|shot|take|frame|camera|no\.?|"
    r"number|#|day|week|episode|chapter|part|step)\s*\d+\b|\d+号|第[一二三四五六七八九十\d]+(?:天|次|步|号|个)",
    r"\b(?:the |a |three-block |block |two-block )?(?:tower|stack|pile)s?\b",
    r"\d+月\d+日|\d{4}年|[上下]午\s*\d+[时点](?:\d+分)?|\d+[时点]\d+分|\d+[:：]\d+|凌晨\d+[时点]|晚上\d+[时点]",
    r"(?:\d+(?:\.\d+)?|[一二两三四五六七八九十百几半]+)\s*(?:厘米|毫米|公里|米|公斤|千克|克|度|圈|次|帧|小时|分钟|天|周|个月|年|%|％)")]


_CAMERA_WORDS = re.compile(r"camera|lens|the view|the shot|zoom|pan(?:s|ned|ning)?\b|orbit|"
                           r"镜头|画面|视角|摄像|推近|拉远|平移|环绕", re.I)


_COMMON = set("the a an it its then one once there finally suddenly earlier meanwhile later yesterday today tonight "
              "however instead still now soon first next again also so but and yes no well oh then afterwards "
              "eventually slowly quickly here everyone nobody someone something nothing this that these those "
              "when while after before because if".split())


def _not_a_name(word: str) -> bool:
    """A capitalised word that is an ordinary word ("Finally, a red ball ..."), not a name."""
    from kinora.plan.lexicon import EN_LEX

    return word.lower() in _COMMON or (word.lower(),) in EN_LEX


# Speech and thought are no motion: the reader would read "said" as a misspelt "slid".
_SPEECH = [re.compile(r"\b(?:said|says|say|asked|asks|replied|replies|cried|shouted|whispered|told|answered|"
                      r"yelled|exclaimed|muttered|laughed|sighed|smiled|thought|wondered|sang|called out)\b", re.I),
           re.compile(r"说道|问道|喊道|叫道|答道|说|问|喊|笑着|想着|心想")]
_NOT_SHOWN = _ATTRIBUTION + _MEASURES + _SPEECH


def blank_not_shown(rw: "Rewrite") -> None:
    """Blank what is not in the picture: who reports or says it, and when (same length, so spans still hold)."""
    for pat in _NOT_SHOWN:
        for m in pat.finditer(rw.text, rw.start, rw.end):
            rw.blank(m.start(), m.end())


def plain(text: str) -> str:
    """`text` as the planner's reader reads it: blank_not_shown applied, the same length."""
    rw = Rewrite(text, 0, len(text))
    blank_not_shown(rw)
    return rw.build()[0]


def _indefinite(np_text: str) -> bool:
    t = np_text.strip()
    return bool(_INDEF_ZH.match(t) if re.match(r"[\u3400-\u9fff]", t) else _INDEF_EN.match(t))


# ---------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------


@dataclass
class PlannedShot:
    number: int  # 1, 2, ... in film order
    scene: int
    spec: ShotSpec  # object ids are entity ids; every element's source indexes the whole text
    source: dict  # the sentence: {"start", "end", "text"}
    seconds: float
    time: dict | None = None  # the opening time word: {"kind", "start", "end", "text"}
    continues: bool = False  # starts from the last frame of the shot before (same scene, static camera)
    entities: list[str] = field(default_factory=list)  # mentioned in this sentence
    carried: list[str] = field(default_factory=list)  # there from earlier in the scene, held still
    captions: list[dict] = field(default_factory=list)  # sentences after it that show nothing
    warnings: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # news: what the shot cannot show as the text states it

    def to_dict(self) -> dict:
        d = asdict(self)
        d["spec"] = self.spec.to_dict()
        return d


@dataclass
class StoryPlan:
    text: str
    language: str  # "en" | "zh" (the text's main one)
    mode: ModeDecision
    shots: list[PlannedShot]
    entities: list[Entity]
    captions: list[dict] = field(default_factory=list)  # every sentence that made no shot, and why
    unrendered: list[dict] = field(default_factory=list)  # things the world cannot show, with spans
    warnings: list[str] = field(default_factory=list)
    planner: str = "offline"

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.shots)

    def entity(self, eid: str) -> Entity:
        for e in self.entities:
            if e.id == eid:
                return e
        raise KinoraError(f"no entity {eid!r}")

    def to_dict(self) -> dict:
        return {"planner": self.planner, "language": self.language, "mode": self.mode.to_dict(),
                "seconds": self.seconds, "shots": [s.to_dict() for s in self.shots],
                "entities": [e.to_dict() for e in self.entities], "captions": self.captions,
                "unrendered": self.unrendered, "warnings": self.warnings}


# ---------------------------------------------------------------------------------
# The planner
# ---------------------------------------------------------------------------------


def _span(text: str, s: int, e: int) -> dict:
    return {"start": s, "end": e, "text": text[s:e]}


@dataclass
class _Read:
    """One sentence as read: its parse, the entity of each object, and what it says."""

    sentence: Sentence
    rw: Rewrite
    parse: object  # kinora.plan.parse.ParseResult of the rewritten sentence
    objs: list[tuple[ObjectSpec, str]]  # (parsed object, entity id)
    new: list[str]
    time: dict | None
    stated_motion: bool
    camera_stated: bool
    seconds_stated: bool


class _Planner:
    def __init__(self, text: str, mode: ModeDecision, seconds: float | None, seed: int, fps: int, width: int,
                 height: int):
        self.text, self.mode, self.seconds, self.seed = text, mode, seconds, seed
        self.fps, self.width, self.height = fps, width, height
        self.entities: list[Entity] = []
        self.names: dict[str, str] = {}  # name -> entity id
        self.recent: list[list[str]] = []  # entity ids mentioned, sentence by sentence
        self.scene_entities: list[str] = []
        self.captions: list[dict] = []
        self.unrendered: list[dict] = []
        self.warnings: list[str] = []

    # --- step 3: names and pronouns -------------------------------------------------------
    def _names(self, sent: Sentence, rw: Rewrite) -> list[tuple[str, int, str]]:
        """Names this sentence introduces, blanked for the reader: (name, position, where the NP is)."""
        s, e, text = sent.start, sent.end, self.text
        found = []
        for pat, side in ((_NAMED_EN, "before"), (_APPOS_EN, "after"), (_TITLE_EN, "after"), (_NAMED_ZH, "auto")):
            for m in pat.finditer(text, s, e):
                name = m.group(1)
                if name in self.names or _not_a_name(name):
                    continue
                if pat is _NAMED_EN:
                    rw.blank(m.start(), m.end())
                elif pat is _NAMED_ZH:
                    rw.blank(m.start(), m.end(1))  # 叫 and the name
                else:
                    rw.blank(m.start(1), m.end(1) + (1 if pat is _APPOS_EN else 0))
                side_ = side if side != "auto" else ("after" if text[m.end():m.end() + 1] == "的" else "before")
                found.append((name, m.start(1), side_))
        return found

    def _antecedent(self, plural: bool) -> list[str]:
        for ids in reversed(self.recent):
            if ids:
                if plural:
                    return ids if len(ids) > 1 else (self.scene_entities if len(self.scene_entities) > 1 else ids)
                return ids[:1]
        return []

    def _references(self, sent: Sentence, rw: Rewrite, lang: str) -> None:
        """A name or a pronoun with no antecedent earlier in its sentence becomes the description of its entity."""
        from kinora.plan.tokens import tokens_en, tokens_zh

        s, e, text = sent.start, sent.end, self.text
        for name, eid in self.names.items():
            latin = not re.match(r"[\u3400-\u9fff]", name)  # Chinese writes no spaces: no word boundaries
            pat = rf"(?<!\w){re.escape(name)}(?!\w)" if latin else re.escape(name)
            for m in re.finditer(pat, text[s:e]):
                rw.replace(s + m.start(), s + m.end(), self.entity(eid).describe(lang), ("ref", [eid]))
        pron = _PRON_ZH if lang == "zh" else _PRON_EN
        for m in pron.finditer(text, s, e):
            if any(a <= m.start() < b for a, b in sent.quotes):
                continue
            before = text[s:m.start()]
            toks = tokens_zh(before) if lang == "zh" else tokens_en(before)
            if any(t.cat in ("shape", "one") for t in toks):
                continue  # the reader ties it to a noun of its own sentence
            if lang == "en" and m.group(1).lower() == "her" and re.match(r"\s+[a-z]", text[m.end():m.end() + 2]):
                continue  # "her friend": a possessive
            ids = self._antecedent(m.group(1).lower() in _PLURAL)
            if not ids:
                continue
            joiner = "和" if lang == "zh" else " and "
            rw.replace(m.start(), m.end(), joiner.join(self.entity(i).describe(lang) for i in ids), ("ref", ids))

    # --- step 4: resolution ----------------------------------------------------------------
    def entity(self, eid: str) -> Entity:
        return next(e for e in self.entities if e.id == eid)

    def _stated(self, o: ObjectSpec, rw: Rewrite) -> dict[str, tuple[str, dict]]:
        out = {}
        for f in LOOK:
            src = o.source.get("fields", {}).get(f, {})
            if "start" in src and not src.get("invented"):
                a, b, tag = rw.to_text(src["start"], src["end"])
                if tag is None or tag == "replaced":  # the reader's "asked"/"used" (a value the world lacks) go along
                    out[f] = (getattr(o, f), {**{k: v for k, v in src.items() if k in ("asked", "used")},
                                              **_span(self.text, a, b)})
        return out

    def _by_recency(self) -> list[str]:
        """Entity ids, the most recently mentioned first, then the rest newest first: who "the ball" is."""
        return list(dict.fromkeys([i for ids in reversed(self.recent) for i in ids] +
                                  [e.id for e in reversed(self.entities)]))

    def _counted_back(self, objects: list[ObjectSpec], rw: Rewrite) -> dict[str, str]:
        """Members of a counted group ("two balls", 三颗球) that refer back: object id -> entity id,
        when as many fitting entities are already there (most recent first) and the group is
        not introduced as new ("two more balls", 又来了两个球)."""
        groups: dict[tuple, list[ObjectSpec]] = {}
        for o in objects:
            src = o.source.get("fields", {}).get("count", {})
            if "start" in src:
                groups.setdefault((src["start"], src["end"]), []).append(o)
        out: dict[str, str] = {}
        order = self._by_recency()
        for (a, b), members in groups.items():
            oa, ob, _ = rw.to_text(a, b)
            before = self.text[max(0, oa - 12):oa].lower()
            if re.search(r"\b(?:another|more|new|other|extra)\s*$|又|再|新", before + self.text[ob:ob + 6].lower()):
                continue
            picked: list[str] = []
            for o in members:
                stated = self._stated(o, rw)
                eid = next((e for e in order if e not in picked and e not in out.values() and
                            all(self.entity(e).stated.get(f, v) == v for f, (v, _) in stated.items())), None)
                if eid is None:
                    break
                picked.append(eid)
            if len(picked) == len(members):
                out.update({o.id: eid for o, eid in zip(members, picked)})
        return out

    def _names_a_shape(self, o: ObjectSpec, rw: Rewrite) -> bool:
        """Whether the noun phrase has a shape word of its own ("some", "a few", a misspelling read as
        "barrel" do not: they name no thing the text means)."""
        from kinora.plan.tokens import tokens_en, tokens_zh

        a, b, tag = rw.to_text(o.source.get("start", 0), o.source.get("end", 0))
        if isinstance(tag, tuple):
            return True
        src = o.source.get("fields", {}).get("shape", {})
        if "start" in src:  # a member of a group ("two balls, one red ...") has its group's shape word
            a, b, tag = rw.to_text(src["start"], src["end"])
            if isinstance(tag, tuple):
                return True
        words = self.text[a:b]
        toks = tokens_zh(words) if re.search(r"[\u3400-\u9fff]", words) else tokens_en(words)
        return any(t.cat == "shape" and t.typo is None for t in toks)

    def _refers(self, o: ObjectSpec, rw: Rewrite) -> bool:
        """Whether a noun phrase without a shape word ("the red one") can refer to an entity already there."""
        a, b, tag = rw.to_text(o.source.get("start", 0), o.source.get("end", 0))
        if isinstance(tag, tuple):
            return True
        stated = self._stated(o, rw)
        return not _indefinite(self.text[a:b]) and any(
            all(e.stated.get(f, v) == v for f, (v, _) in stated.items()) for e in self.entities) and bool(stated)

    def _resolve(self, o: ObjectSpec, rw: Rewrite, used: set[str], shot: int) -> tuple[str, bool]:
        """The entity a parsed object refers to, and whether it is new."""
        a, b, tag = rw.to_text(o.source.get("start", 0), o.source.get("end", 0))
        stated = self._stated(o, rw)
        if isinstance(tag, tuple) and tag[0] == "ref":
            free = [i for i in tag[1] if i not in used]
            if free:
                ent = self.entity(free[0])
                ent.mentions.append({**_span(self.text, a, b), "shot": shot})
                return ent.id, False
        np_text = self.text[a:b]
        if not _indefinite(np_text):
            for eid in self._by_recency():
                ent = self.entity(eid)
                if eid in used:
                    continue
                if all(ent.stated.get(f, v) == v for f, (v, _) in stated.items()):
                    for f, (v, span) in stated.items():
                        if f not in ent.stated:
                            ent.stated[f], ent.fields[f] = v, span
                    ent.mentions.append({**_span(self.text, a, b), "shot": shot})
                    return eid, False
        ent = Entity(id=f"e{len(self.entities) + 1}", intro=_span(self.text, a, b))
        for f in LOOK:
            ent.chosen[f] = getattr(o, f)
        for f, (v, span) in stated.items():
            ent.stated[f], ent.fields[f] = v, span
        ent.mentions.append({**_span(self.text, a, b), "shot": shot})
        self.entities.append(ent)
        return ent.id, True

    # --- one sentence -------------------------------------------------------------------------
    def read(self, sent: Sentence, k: int, tw: tuple[str, int, int] | None) -> _Read | None:
        """Sentence k (with its opening time word `tw`, see _time_word) read against the registry."""
        from kinora.plan.parse import detect_language, parse

        text = self.text
        rw = Rewrite(text, sent.start, sent.end)
        for qs, qe in sent.quotes:
            rw.blank(qs, qe)
            self.captions.append({**_span(text, qs, qe), "why": "dialogue: shown as a caption, not a shot",
                                  "shot": None})
        blank_not_shown(rw)
        time = None
        if tw:
            kind, a, b = tw
            rw.blank(a, b)
            time = {"kind": kind, **_span(text, a, b)}
        lang = detect_language(text[sent.start:sent.end])
        names = self._names(sent, rw)
        self._references(sent, rw, lang)
        rewritten, _ = rw.build()
        if not re.search(r"\w", rewritten):
            return None
        try:
            r = parse(rewritten, duration=self.seconds, fps=self.fps, width=self.width, height=self.height,
                      seed=self.seed + k)
        except KinoraError as e:  # e.g. more things than the world holds: listed, never dropped silently
            self.warnings.append(f"sentence {k + 1}: {e}")
            self.captions.append({**_span(text, sent.start, sent.end), "why": f"cannot be filmed: {e}",
                                  "shot": None})
            return None
        for u in r.spec.unrendered:
            a, b, _ = rw.to_text(u.get("start", 0), u.get("end", 0))
            self.unrendered.append({**_span(text, a, b), "why": u.get("why", "the micro-world cannot show it"),
                                    "sentence": _span(text, sent.start, sent.end)})
        used: set[str] = set()
        objs, new = [], []
        back = self._counted_back(r.spec.objects, rw)
        for o in r.spec.objects:
            if o.id in back:  # "the two balls", 两颗球都…: the members are things already there
                eid = back[o.id]
                used.add(eid)
                objs.append((o, eid))
                self.entity(eid).mentions.append({**_span(text, *rw.to_text(o.source["start"], o.source["end"])[:2]),
                                                  "shot": k})
                continue
            if not self._names_a_shape(o, rw) and not self._refers(o, rw):
                # "no one", "the red one" with nothing before it: no thing to show is named
                self.warnings.append(f"sentence {k + 1}: {o.source.get('text', '')!r} names no ball, cube or "
                                     f"cylinder and refers to none; left out")
                continue
            eid, is_new = self._resolve(o, rw, used, k)
            used.add(eid)
            objs.append((o, eid))
            if is_new:
                new.append(eid)
        for name, pos, side in names:  # the name goes to the noun phrase beside it
            cands = [(o, eid) for o, eid in objs]
            if not cands:
                continue
            def dist(pair, pos=pos, side=side):
                a, b, _ = rw.to_text(pair[0].source.get("start", 0), pair[0].source.get("end", 0))
                if a <= pos < b:  # the name inside its noun phrase (一个叫豆豆的小红球)
                    return 0
                return (pos - b) if side == "before" and b <= pos else (a - pos) if side == "after" and a >= pos \
                    else 10 ** 6 + abs(a - pos)
            _, eid = min(cands, key=dist)
            if self.entity(eid).name is None:
                self.entity(eid).name = name
                self.names[name] = eid
        stated_motion = any(any("start" in o.source.get("fields", {}).get(f, {})
                                for f in ("motion", "direction", "speed", "target", "on")) for o, _ in objs)
        # A camera move counts only where the sentence speaks of the camera: a misspelling read as
        # "pan" ("slept" for "swept") is no camera move in a story.
        camera_stated = (not r.spec.camera.source.get("invented", False) and bool(r.spec.camera.source)
                         and bool(_CAMERA_WORDS.search(text, sent.start, sent.end)))
        seconds_stated = bool(re.search(r"(?:\d+(?:\.\d+)?|[一二两三四五六七八九十]+)\s*(?:seconds?|secs?|秒)",
                                        text[sent.start:sent.end]))
        r.rewrite = rw
        return _Read(sent, rw, r, objs, new, time, stated_motion, camera_stated, seconds_stated)

    # --- step 5: looks -------------------------------------------------------------------------
    def fix_looks(self) -> None:
        from kinora.plan.truth import choose_look

        taken: dict[str, set[str]] = {}
        for ent in self.entities:
            choose_look(ent, self.mode.mode, taken, random.Random(self.seed * 31 + int(ent.id[1:])),
                        [e for e in self.entities if e is not ent])
            taken.setdefault(ent.shape, set()).add(ent.color)

    # --- step 6: shots -------------------------------------------------------------------------
    def shot_spec(self, rd: _Read, carried: list[str], number: int, seconds: float) -> tuple[ShotSpec, list[str]]:
        from kinora.plan.truth import mark_motion

        text, rw = self.text, rd.rw
        ids = {o.id: eid for o, eid in rd.objs}
        objects, warnings, seen = [], [], set()
        for o, eid in rd.objs:
            if eid in seen:  # one thing named twice in a sentence is one object
                continue
            seen.add(eid)
            ent = self.entity(eid)
            a, b, _ = rw.to_text(o.source.get("start", 0), o.source.get("end", 0))
            fields = {}
            for f, src in o.source.get("fields", {}).items():
                if f in LOOK:
                    continue
                if "start" in src and not src.get("invented"):
                    sa, sb, _ = rw.to_text(src["start"], src["end"])
                    fields[f] = {**_span(text, sa, sb), **{k: v for k, v in src.items()
                                                           if k not in ("start", "end", "text")}}
                else:
                    fields[f] = dict(src)
            for f in LOOK:
                fields[f] = dict(ent.fields.get(f, {}))
                mention = _span(text, a, b)
                if "start" in fields[f] and (fields[f]["start"], fields[f]["end"]) != (a, b) and \
                        not (a <= fields[f]["start"] < b):
                    fields[f]["via"] = mention  # stated earlier, this mention refers back to it
            shape = ent.shape
            motion = o.motion
            if motion == "roll" and shape == "cube":
                motion = "slide"
                warnings.append(f"{ent.describe()} is a cube: it slides instead of rolling")
                fields["motion"] = {**fields.get("motion", {}), "asked": "roll", "used": "slide"}
            obj = ObjectSpec(id=eid, shape=shape, color=ent.color, size=ent.size, material=ent.material,
                             motion=motion, direction=o.direction, speed=o.speed,
                             target=ids.get(o.target) if o.target else None,
                             on=ids.get(o.on) if o.on else None, start=o.start,
                             source={**_span(text, a, b), "entity": eid, "fields": fields})
            if obj.motion in ("roll", "slide") and obj.direction is None:
                obj.direction = "right"
            objects.append(obj)
        for eid in carried[: max(0, MAX_OBJECTS - len(objects))]:
            ent = self.entity(eid)
            objects.append(ObjectSpec(id=eid, shape=ent.shape, color=ent.color, size=ent.size,
                                      material=ent.material, motion="still",
                                      source={**ent.intro, "entity": eid, "carried": True,
                                              "fields": {**{f: dict(ent.fields.get(f, {})) for f in LOOK},
                                                         "motion": {"carried": True,
                                                                    "note": "there from earlier in the scene"}}}))
        cam = rd.parse.spec.camera
        csrc = dict(cam.source)
        if "start" in csrc:
            a, b, _ = rw.to_text(csrc["start"], csrc["end"])
            csrc.update(_span(text, a, b))
            for f, src in csrc.get("fields", {}).items():
                if "start" in src:
                    sa, sb, _ = rw.to_text(src["start"], src["end"])
                    csrc["fields"][f] = {**src, **_span(text, sa, sb)}
        camera = CameraSpec(motion=cam.motion, speed=cam.speed, source=csrc)
        unrendered = []
        for u in rd.parse.spec.unrendered:
            a, b, _ = rw.to_text(u.get("start", 0), u.get("end", 0))
            unrendered.append({**u, **_span(text, a, b)})
        spec = ShotSpec(objects=objects, camera=camera, duration=seconds, fps=self.fps, width=self.width,
                        height=self.height, seed=self.seed + number, text=text[rd.sentence.start:rd.sentence.end],
                        unrendered=unrendered)
        mark_motion(spec, self.mode.mode)
        try:
            validate(spec, f"shot {number}")
        except KinoraError as e:  # a relation to an entity the shot lost: keep the motion, drop the relation
            warnings.append(str(e))
            for ob in spec.objects:
                if ob.motion in ("push", "topple") and (ob.target not in ids.values() and ob.on not in ids.values()):
                    ob.motion, ob.target, ob.on = "still", None, None
            validate(spec, f"shot {number}")
        return spec, warnings


def plan_story(text: str, mode: str | None = None, seconds_per_shot: float | None = None, seed: int = 0,
               fps: int = 8, width: int = 64, height: int = 64) -> StoryPlan:
    """Plan a text (a sentence to a chapter, English, Chinese or mixed) into shots; see the module docstring.
    `mode` overrides the detected content type; `seconds_per_shot` is each shot's length unless its
    sentence says one ("for 3 seconds"), default DEFAULT_SHOT_SECONDS."""
    if not isinstance(text, str):
        raise KinoraError(f"the story must be text, got {type(text).__name__}")
    if not text.strip():
        raise KinoraError("the text is empty; write a story, a news item or an explanation to film")
    if len(text) > MAX_TEXT_CHARS:
        raise KinoraError(f"the text is {len(text):,} characters; plan at most {MAX_TEXT_CHARS:,} at a time "
                          f"(split a novel into chapters)")
    if seconds_per_shot is not None and (isinstance(seconds_per_shot, bool) or not (
            isinstance(seconds_per_shot, (int, float)) and 0 < seconds_per_shot <= 60)):
        raise KinoraError(f"--seconds-per-shot {seconds_per_shot!r} is out of range; use more than 0 and at most 60")
    from kinora.plan.parse import detect_language, language_is_read

    decision = detect_mode(text, override=mode)
    lang = detect_language(text)
    if not language_is_read(text):
        raise KinoraError("the text is not in a language Kinora reads; write it in English or Chinese")
    p = _Planner(text, decision, None, seed, fps, width, height)
    sentences = split_sentences(text)
    reads: list[_Read] = []
    last_para = 0
    scene = 1
    scene_of: list[int] = []
    for k, sent in enumerate(sentences):
        tw = _time_word(text, sent.start, sent.end)
        if reads and (sent.paragraph != last_para or (tw and tw[0] == "scene")):
            scene += 1
            p.scene_entities = []
            p.recent.append([])
        last_para = sent.paragraph
        rd = p.read(sent, k, tw)
        if rd is None:
            p.recent.append([])
            continue
        ids = [eid for _, eid in rd.objs]
        p.recent.append(ids)
        p.scene_entities += [i for i in ids if i not in p.scene_entities]
        reads.append(rd)
        scene_of.append(scene)
    p.fix_looks()

    shots: list[PlannedShot] = []
    present: list[str] = []
    last_scene = None
    for rd, sc in zip(reads, scene_of):
        text_span = _span(text, rd.sentence.start, rd.sentence.end)
        visible = rd.new or rd.stated_motion or rd.camera_stated
        if not visible:
            why = ("only things the micro-world cannot show" if rd.parse.spec.unrendered and not rd.objs
                   else "says nothing the camera can see (no new thing, motion or camera move)")
            cap = {**text_span, "why": why, "shot": shots[-1].number if shots else None}
            p.captions.append(cap)
            if shots:
                shots[-1].captions.append(cap)
            continue
        if sc != last_scene:
            present = []
        last_scene = sc
        mentioned = [eid for _, eid in rd.objs]
        carried = [eid for eid in present if eid not in mentioned]
        number = len(shots) + 1
        seconds = rd.parse.spec.duration if rd.seconds_stated else (seconds_per_shot or DEFAULT_SHOT_SECONDS)
        spec, warnings = p.shot_spec(rd, carried, number, seconds)
        shot = PlannedShot(number=number, scene=sc, spec=spec, source=text_span, seconds=float(seconds),
                           time=rd.time, entities=mentioned, carried=carried[: MAX_OBJECTS - len(mentioned)],
                           warnings=list(rd.parse.warnings) + warnings)
        if decision.mode == "news":
            from kinora.plan.truth import substitutions

            # what the shot cannot show as the text says it: a value the world lacks, a motion it refuses
            shot.flags += substitutions(spec) + [w for w in rd.parse.warnings if "instead" in w]
        if rd.time and rd.time["kind"] == "before" and shots and shots[-1].scene == sc:
            shots.insert(len(shots) - 1, shot)  # a flashback goes before the shot it follows in the text
        else:
            shots.append(shot)
        present += [e for e in mentioned if e not in present]
    for n, s in enumerate(shots, 1):
        s.number = n
        s.spec.seed = seed + n
        prev = shots[n - 2] if n > 1 else None
        s.continues = bool(prev and prev.scene == s.scene and prev.spec.camera.motion == "static"
                           and not (s.time and s.time["kind"] == "before")
                           and not (prev.time and prev.time["kind"] == "before"))
    for c in p.captions:
        c.setdefault("shot", None)
    if not shots:
        p.warnings.append("the text shows nothing the micro-world can film (no ball, cube or cylinder); "
                          "the film would be empty")
    used = {o.id for s in shots for o in s.spec.objects}
    entities = [e for e in p.entities if e.id in used or e.mentions]
    return StoryPlan(text=text, language=lang, mode=decision, shots=shots, entities=entities,
                     captions=sorted(p.captions, key=lambda c: c["start"]), unrendered=p.unrendered,
                     warnings=p.warnings)
