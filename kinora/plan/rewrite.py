"""Rewrites of the token stream that make ordinary constructions plain before reading.

The reader (`kinora.plan.reading`) understands one noun phrase per object and one verb
per motion. People also write lists with shared or distributed words, negated verbs and
durations; each rewrite here turns one such construction into the plain tokens the
reader knows, every new token keeping the span of the word that said it (so a colour
distributed over a list points at its own word in the list):

* durations: "for 3 seconds", "a 2.5-second shot", "three seconds", 3秒, 五秒钟 -> one
  `duration` token; "a second ball" is another ball, not a time;
* negation: "does not roll", "never moves", 没有滚动, 不会动 -> motion `still`;
  "does not bounce" -> effect `no_bounce`; "the camera doesn't pan" -> a static camera;
* lists: "a red and a blue cube", "red, green and blue balls", 红、绿、蓝三个球,
  一红一蓝两个方块 (attributes before a shared noun), "three balls, red, green and blue",
  "two cubes, one red and one blue", 三个球，分别是红色、绿色和蓝色 (after a counted noun)
  -> one noun phrase per item, joined by "and", so that what follows applies to all.

Each rewrite returns new tokens and the warnings it has (a count that disagrees with
its list).
"""

from __future__ import annotations

import re

from kinora.errors import KinoraError
from kinora.plan.tokens import Tok

_ZH_NUM = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_EN_NUM = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
           "ten": 10, "twenty": 20, "thirty": 30}
_DURATION = [
    re.compile(r"(?<![\d.])(\d*\.?\d+)\s*(?:-\s*)?(?:seconds?|secs?|s)\b", re.I),
    re.compile(r"\b(one|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty)\s*(?:-\s*)?(?:seconds?|secs?)\b",
               re.I),
    re.compile(r"(?<![\d.])(\d*\.?\d+)\s*(?:秒钟|秒)"),
    re.compile(r"([一二两三四五六七八九十]+)\s*(?:秒钟|秒)"),
]


def _zh_number(s: str) -> int | None:
    if s in _ZH_NUM:
        return _ZH_NUM[s]
    if len(s) == 2 and s[0] == "十":
        return 10 + _ZH_NUM.get(s[1], 0)
    if len(s) in (2, 3) and s[1] == "十" and s[0] in _ZH_NUM:
        return _ZH_NUM[s[0]] * 10 + (_ZH_NUM.get(s[2], 0) if len(s) == 3 else 0)
    return None


def durations(toks: list[Tok], text: str) -> list[Tok]:
    """Replace the tokens of each duration phrase by one `duration` token (seconds)."""
    spans = []
    for rx in _DURATION:
        for m in rx.finditer(text):
            g = m.group(1)
            v = float(g) if g[0] in "0123456789." else _EN_NUM.get(g.lower()) if g.isascii() else _zh_number(g)
            if v is not None and not any(a < m.end() and m.start() < b for a, b, _ in spans):
                if v <= 0:
                    raise KinoraError(f"'{m.group()}' is no length; give a duration of more than 0 seconds")
                spans.append((m.start(), m.end(), float(v)))
    if not spans:
        return [_ordinal(toks, k) for k in range(len(toks))]
    out: list[Tok] = []
    done: set[int] = set()
    for k, t in enumerate(toks):
        hit = next(((a, b, v) for a, b, v in spans if t.start < b and a < t.end), None)
        if hit is None:
            out.append(_ordinal(toks, k))
        elif hit[0] not in done:
            done.add(hit[0])
            out.append(Tok("duration", hit[2], hit[0], hit[1], text[hit[0]:hit[1]]))
    return out


def _ordinal(toks: list[Tok], k: int) -> Tok:
    """'second' after an article and before a noun phrase is 'another' ('a second ball')."""
    t = toks[k]
    if t.cat == "unit" and t.text.lower() == "second" and k > 0 and toks[k - 1].cat == "det":
        return Tok("det", "another", t.start, t.end, t.text)
    return t


_VERBS = {"motion", "effect", "relverb", "camverb"}
_SKIP = {"stop", "known", "speed", "pron", "de", "scenery"}


def negations(toks: list[Tok]) -> list[Tok]:
    """A negation and the verb it negates (within three words) -> what the world shows."""
    out: list[Tok] = []
    k = 0
    while k < len(toks):
        t = toks[k]
        if t.cat != "neg":
            out.append(t)
            k += 1
            continue
        j = k + 1
        while j < len(toks) and j <= k + 3 and toks[j].cat in _SKIP:
            j += 1
        v = toks[j] if j < len(toks) else None
        np_end = _negated_np(toks, k + 1)
        if np_end is not None:  # "there is no cube", "not a blue cube", 没有方块: nothing is made for it
            out.append(Tok("negnp", None, t.start, toks[np_end - 1].end, "", ))
            k = np_end
            continue
        if v is None or v.cat not in _VERBS:
            k += 1  # "not red": nothing the world shows
            continue
        span = (t.start, v.end)
        if v.cat == "effect" and v.value == "bounce":
            out.append(Tok("effect", "no_bounce", *span, f"{t.text} {v.text}"))
        else:  # "does not roll", "never moves", 不会动: still
            out.append(Tok("motion", "still", *span, f"{t.text} {v.text}"))
        out += toks[k + 1:j]  # the skipped words ("not roll quickly": the speed is still said)
        k = j + 1
    return out


_NP_WORDS = {"det", "count", "vague", "size", "color", "material", "one", "de"}


def _negated_np(toks: list[Tok], k: int) -> int | None:
    """After a negation at k - 1: the end of the noun phrase it negates ("no cube", "not a
    blue cube", 没有红色的方块), or None when no noun follows."""
    j = k
    while j < len(toks) and toks[j].cat in _NP_WORDS:
        j += 1
    return j + 1 if j < len(toks) and toks[j].cat == "shape" else None


def from_side(toks: list[Tok]) -> list[Tok]:
    """"from the left", 从左边: coming from a side is travelling towards the other one."""
    flip = {"left": "right", "right": "left", "forward": "backward", "backward": "forward"}
    out: list[Tok] = []
    k = 0
    while k < len(toks):
        t = toks[k]
        nxt = toks[k + 1] if k + 1 < len(toks) else None
        j = k + 1 + (nxt is not None and nxt.cat == "det")  # "from the left"
        side = toks[j] if j < len(toks) else None
        if t.cat == "rel" and t.value == "from" and side is not None and side.cat == "dir":
            out.append(Tok("dir", flip[side.value], t.start, side.end, f"{t.text} {side.text}"))
            k = j + 1
            continue
        out.append(t)
        k += 1
    return out


# ---------------------------------------------------------------------------------
# Lists
# ---------------------------------------------------------------------------------

_ATTR = {"size", "material", "color"}
_SEP_TEXT = {",", "、", "，", ";", "/"}
_OPEN = {":", "：", "—", "-", "--", "(", "（", "[", "in", "colored", "coloured", "分别是", "分别为", "分别", "是", "为",
         "先", "首先", "first",
         "namely", "颜色分别是", "颜色是", "colors", "colours", "the colors", "of", "with", "that are"}
_CLOSE = {")", "）", "]", "—", "-", "--", "respectively", "各一个", "各", "each"}


def _is_then(t: Tok) -> bool:
    return t.cat == "bound" and t.value == "then"


def _is_sep(t: Tok) -> bool:
    return t.cat == "and" or _is_then(t) or (t.cat == "bound" and t.value == "clause" and t.text in _SEP_TEXT) or (
        t.cat == "stop" and t.text.lower() in ("or", "或", "或者", "/"))


def _is_item_det(t: Tok) -> bool:
    return (t.cat == "det" and t.value == "indef") or t.cat == "one" or (t.cat == "stop" and t.text == "一")


def _participle(t: Tok, lang: str) -> bool:
    return t.cat in ("motion", "effect") and (lang == "zh" or t.text.lower().endswith("ing"))


def _mods(toks: list[Tok], m: int, lang: str, colours: bool = False) -> tuple[list[Tok], int]:
    """Words before a noun that every item shares: sizes, materials, participles (bouncing,
    正在掉落的, 往前滑的) and, after a Chinese count, colours (一大一小两个紫色方块)."""
    shared: list[Tok] = []
    kinds = _ATTR if colours else {"size", "material"}
    while m < len(toks):
        t = toks[m]
        if t.cat in kinds or _participle(t, lang) or (lang == "zh" and t.cat in ("dir", "speed", "de", "known")
                                                      and t.text not in ("，", ",")):
            if t.cat not in ("de", "known"):
                shared.append(t)
            m += 1
        else:
            break
    return shared, m


def _item(toks: list[Tok], k: int) -> tuple[list[Tok], int] | None:
    """One list item from k: [det] attributes [的] [one]; (its tokens, the next index)."""
    j = k
    got: list[Tok] = []
    if j < len(toks) and _is_item_det(toks[j]):
        got.append(toks[j])
        j += 1
    seen: set[str] = set()
    while j < len(toks) and toks[j].cat in _ATTR and toks[j].cat not in seen:  # 红绿蓝: a new colour, a new item
        got.append(toks[j])
        seen.add(toks[j].cat)
        j += 1
    if not seen:
        return None
    if j < len(toks) and toks[j].cat == "de":
        j += 1
    if j < len(toks) and toks[j].cat == "one" and toks[j].value is False:  # "a red one"
        j += 1
    return got, j


def _items(toks: list[Tok], k: int, adjacent: bool) -> tuple[list[list[Tok]], int, list[Tok]]:
    """Items separated by commas, 、, and, or, then; with `adjacent` also without any (红绿蓝)."""
    items: list[list[Tok]] = []
    seps: list[Tok] = []
    j = k
    while True:
        it = _item(toks, j)
        if it is None:
            break
        items.append(it[0])
        j = it[1]
        m = j
        while m < len(toks) and _is_sep(toks[m]):  # ", and", "、和"
            m += 1
        if m > j and _item(toks, m) is not None:
            seps.append(next((t for t in toks[j:m] if _is_then(t)), toks[m - 1]))
            j = m
        elif adjacent and _item(toks, j) is not None and {t.cat for t in _item(toks, j)[0]} & {
                t.cat for t in items[-1] if t.cat in _ATTR}:
            seps.append(toks[j])  # 红绿蓝: the next item says the same kind of thing (not 紫色的小方块)
        else:
            break
    return items, j, seps


def _distributive(items: list[list[Tok]]) -> bool:
    """Do the items share a kind of attribute that they differ in ("a big and a small", "red, green")?"""
    kinds = [{t.cat for t in it if t.cat in _ATTR} for it in items]
    return bool(set.intersection(*kinds))


def _split_shared(items: list[list[Tok]]) -> tuple[list[list[Tok]], list[Tok]]:
    """Attributes of the last item that no other item has are shared: "a big and a small green cylinder"."""
    last = items[-1]
    others = {t.cat for it in items[:-1] for t in it if t.cat in _ATTR}
    shared = [t for t in last if t.cat in _ATTR and t.cat not in others]
    return items[:-1] + [[t for t in last if t not in shared]], shared


def _np(item: list[Tok], shared: list[Tok], shape: Tok) -> list[Tok]:
    first = item[0]
    det = Tok("det", "indef", first.start, first.end, first.text)
    attrs = [t for t in item if t.cat in _ATTR]
    own = {t.cat for t in attrs}
    noun = Tok("shape", (shape.value[0], False), shape.start, shape.end, shape.text, asked=shape.asked,
               typo=shape.typo)
    mods = [t for t in shared if t.cat not in _ATTR]  # participles: "bouncing", 正在弹跳(的)
    if mods and mods[0].text and any(c >= "\u3400" for c in mods[0].text):
        mods = mods + [Tok("de", None, mods[-1].end, mods[-1].end, "")]
    return [det] + mods + attrs + [t for t in shared if t.cat in _ATTR and t.cat not in own] + [noun]


def _joined(nps: list[list[Tok]], seps: list[Tok]) -> list[Tok]:
    """The phrases joined by "and"; joined by "then" ("red, then green, then blue") they
    are one subject too, started in the order written (a `timing` token after them)."""
    out: list[Tok] = []
    thens = [s for s in seps if _is_then(s)]
    for n, np in enumerate(nps):
        if n:
            s = seps[n - 1] if n - 1 < len(seps) else np[0]
            out.append(Tok("and", None, s.start, s.end, s.text))
        out += np
    if thens:
        out.append(Tok("timing", None, thens[0].start, thens[-1].end, thens[0].text))
    return out


def _count_warning(count: Tok | None, n: int, text: str, warnings: list[str]) -> None:
    if count is not None and count.cat == "count" and count.value != n:
        warnings.append(f"'{text[count.start:count.end]}' does not match the {n} listed; making {n}")


def _before_noun(toks: list[Tok], k: int, lang: str, text: str, warnings: list[str]):
    """A. [count] item, item and item [的] [count] [attrs] noun: "red, green and blue balls"."""
    zh = lang == "zh"
    lead, k = _mods(toks, k, lang) if _participle(toks[k], lang) else ([], k)  # 在滚动的红色和紫色圆柱
    if k >= len(toks):
        return None
    count = toks[k] if toks[k].cat == "count" else None
    items, j, seps = _items(toks, k + (count is not None), adjacent=zh)
    if len(items) < 2 or not _distributive(items):
        return None
    m = j
    if m < len(toks) and toks[m].cat == "de":
        m += 1
    count2 = None
    if m < len(toks) and toks[m].cat == "count":
        count2 = toks[m]
        m += 1
    if m < len(toks) and toks[m].cat == "de":
        m += 1
    shared, m = _mods(toks, m, lang, colours=True)
    if m >= len(toks) or toks[m].cat != "shape":
        return None
    noun = toks[m]
    plain = [t for t in seps if t.cat == "and" or _is_then(t) or t.text in ("、", "或", "或者", "or", "/")]
    if not (plain or zh or len(items) >= 3 or noun.value[1]):
        return None  # "a red, shiny ball" is one ball
    items, last_shared = _split_shared(items)
    _count_warning(count or count2, len(items), text, warnings)
    return _joined([_np(it, lead + shared + last_shared, noun) for it in items], seps), m + 1


def _after_noun(toks: list[Tok], k: int, lang: str, text: str, warnings: list[str]):
    """B. a counted or plural noun, then its items: "three balls, red, green and blue"."""
    zh = lang == "zh"
    m = k
    cnt = None
    if toks[m].cat in ("count", "vague"):
        cnt = toks[m]
        m += 1
    shared, m = _mods(toks, m, lang)
    if m >= len(toks) or toks[m].cat != "shape" or not (toks[m].value[1] or zh or cnt is not None):
        return None
    noun = toks[m]
    p = m + 1
    while p < len(toks) and (toks[p].text.lower() in _OPEN or (
            toks[p].cat == "bound" and toks[p].text in _SEP_TEXT | {".", "。", ":", "："})):
        p += 1
    items, j, seps = _items(toks, p, adjacent=True)
    if len(items) < 2 or not _distributive(items) or (p == m + 1 and not zh and len(items) < 3 and not all(
            _is_item_det(it[0]) for it in items) and not any(t.cat == "and" for t in seps)):
        return None  # "two balls red and blue" needs a pause after the noun, unless each item is "one ..."
    _count_warning(cnt, len(items), text, warnings)
    out = _joined([_np(it, shared, noun) for it in items], seps)
    # the list's closing words belong to it: what follows is the verb of all of them
    while j < len(toks) and toks[j].text.lower() in _CLOSE:
        j += 1
    if j < len(toks) and toks[j].cat == "bound" and toks[j].value == "clause" and toks[j].text in _SEP_TEXT:
        j += 1
    return out, j


def zh_progressive(toks: list[Tok], lang: str) -> list[Tok]:
    """在/正在 right before a motion is 'is doing' (在滚动的球), not 'on'."""
    if lang != "zh":
        return toks
    return [t for k, t in enumerate(toks)
            if not (t.text in ("在", "正在") and k + 1 < len(toks) and toks[k + 1].cat in ("motion", "effect", "dir"))]


def lists(toks: list[Tok], lang: str, text: str) -> tuple[list[Tok], list[str]]:
    warnings: list[str] = []
    out: list[Tok] = []
    k = 0
    while k < len(toks):
        got = _before_noun(toks, k, lang, text, warnings) or _after_noun(toks, k, lang, text, warnings)
        if got is not None:
            out += got[0]
            k = got[1]
            continue
        out.append(toks[k])
        k += 1
    return out, warnings


_NOUN_BEFORE = {"det", "count", "vague", "size", "color", "material", "one", "de", "speed"}


def verbs_not_nouns(toks: list[Tok]) -> list[Tok]:
    """'can' without an article or adjective before it is the verb ("can you show ..."), not a tin can."""
    out = []
    for k, t in enumerate(toks):
        if t.cat == "shape" and t.text.lower() in ("can", "tin") and (k == 0 or toks[k - 1].cat not in _NOUN_BEFORE
                                                                      and not _participle(toks[k - 1], "en")):
            out.append(Tok("stop", None, t.start, t.end, t.text))
        else:
            out.append(t)
    return out


def rewrite(toks: list[Tok], lang: str, text: str) -> tuple[list[Tok], list[str]]:
    """All rewrites, in order: durations, 'can', negations, lists."""
    toks = durations(toks, text)
    toks = verbs_not_nouns(toks)
    toks = zh_progressive(toks, lang)
    toks = from_side(toks)
    toks = negations(toks)
    return lists(toks, lang, text)
