"""Tokens: a prompt's words looked up in the lexicons, longest phrase first.

The text is first normalised character by character, so every offset still points into
the original prompt: full-width letters, digits and punctuation become their ASCII forms
(NFKC of one character, kept only when it stays one character), and traditional Chinese
characters the lexicon uses become simplified (a small table: a 1:1 character map is all
a closed vocabulary needs, and it keeps spans exact; a segmenter such as jieba would add
a dictionary load and segmentation guesses for compounds the lexicon already names).
An English word the lexicon does not know but that is one slip of the keyboard from a
word it does (a letter missing, added, changed or two swapped) is read as that word, with
a warning that names both.

English text is split into words (`EN_TOKEN`) and the longest run of words that is a
lexicon entry becomes one token per item of that entry; Chinese text, which has no
spaces, is matched character by character against the longest entry, with runs of
characters it does not know kept together as one unknown word and English words inside
a Chinese prompt read as English. Every token keeps its span in the prompt, so
provenance can point at the words that said something.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kinora.plan.lexicon import CJK, EN_LEX, EN_MAX, EN_TOKEN, NO_SUCH_COLOR, ZH_LEX, ZH_MAX


@dataclass
class Tok:
    cat: str
    value: Any
    start: int
    end: int
    text: str
    asked: str | None = None  # a value the world lacks, read as the nearest one it has ("orange")
    typo: tuple[int, int, str] | None = None  # (start, end) of a misspelled word and the known word it was read as


# Traditional forms of the characters the lexicon uses, with their simplified forms.
_TRAD = ("車來兩飛紅後為個倆們紋馬時隻衹許終側從陸處頂動乾視將這鳥現魚場給絲陽畫幾間開進圍經裏傾過運當幹會較塊圓漸緊"
         "綠遠對輕颱臺團與製輪緩樣彈擊質請衝墜膠駛鋼噹積頻頭機樹隨環擱縮還顆壓擺檯繞轉鏡鏇邊穩離嚮繼藍麵糰"
         "襬攝續鐵屬體讓湊搖別著橫並內貓靜滾沒裡黃疊於錐盤蛋瓶罐磚筒塔滑撞倒淺紫靑綠層蘋籃鋁銀歐")
_SIMP = ("车来两飞红后为个俩们纹马时只只许终侧从陆处顶动干视将这鸟现鱼场给丝阳画几间开进围经里倾过运当干会较块圆渐紧"
         "绿远对轻台台团与制轮缓样弹击质请冲坠胶驶钢当积频头机树随环搁缩还颗压摆台绕转镜旋边稳离向继蓝面团"
         "摆摄续铁属体让凑摇别着横并内猫静滚没里黄叠于锥盘蛋瓶罐砖筒塔滑撞倒浅紫青绿层苹篮铝银欧")
_TO_SIMPLE = str.maketrans(_TRAD, _SIMP)


def normalize(text: str) -> str:
    """The prompt with full-width forms made ASCII and traditional characters simplified,
    character for character (same length, so spans into it are spans into the prompt)."""
    out = []
    for ch in text:
        n = unicodedata.normalize("NFKC", ch)
        out.append(n if len(n) == 1 else ch)
    return "".join(out).translate(_TO_SIMPLE)


def _toks(items: list[tuple], s: int, e: int, text: str, typo: tuple[int, int, str] | None = None) -> list[Tok]:
    return [Tok(cat, val[0] if val else None, s, e, text[s:e], asked=val[1] if len(val) > 1 else None, typo=typo)
            for cat, *val in items]


# Words a misspelling may be read as: those that say something about the shot.
# Not numbers ("nice" is not "nine"), not the things the world lacks, not unrenderable things.
_TYPO_CATS = {"shape", "color", "size", "material", "motion", "effect", "dir", "speed", "camverb", "cam", "relverb",
              "unit", "opposite", "mutual"}
_KNOWN_EN = {w for key in EN_LEX for w in key} | {w for w in NO_SUCH_COLOR if w.isascii()}
_TYPO_TARGETS = sorted({key[0] for key, items in EN_LEX.items()
                        if len(key) == 1 and key[0].isalpha() and len(key[0]) >= 3 and items[0][0] in _TYPO_CATS
                        and len(items[0]) < 3}
                       | {"the", "and", "into", "onto", "towards", "toward", "camera", "back", "across", "away"})
_TARGETS_BY_LEN: dict[int, list[str]] = {}
for _w in _TYPO_TARGETS:
    _TARGETS_BY_LEN.setdefault(len(_w), []).append(_w)


def _osa(a: str, b: str, limit: int) -> int:
    """Edit distance with adjacent swaps (optimal string alignment), capped at limit + 1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


@lru_cache(maxsize=4096)
def typo_fix(word: str) -> str | None:
    """The one known word `word` is a slip away from (one edit up to 7 letters, two from
    8), or None when there is none or more than one. Short words must keep their first
    letter: 'hat' is not 'hit'."""
    if len(word) < 3 or not word.isalpha() or word in _KNOWN_EN:
        return None
    limit = 1 if len(word) < 8 else 2
    best: list[tuple[int, str]] = []
    for n in range(len(word) - limit, len(word) + limit + 1):
        for cand in _TARGETS_BY_LEN.get(n, ()):
            if len(word) <= 4 and cand[0] != word[0]:
                continue
            if len(word) == 3 and (len(cand) != 4 or not _subsequence(word, cand)):
                continue  # three letters: only a dropped letter ("bal"); "hat" is a word
            d = _osa(word, cand, limit)
            if d <= limit:
                best.append((d, cand))
    if not best:
        return None
    d0 = min(d for d, _ in best)
    close = sorted(c for d, c in best if d == d0)
    if len(close) > 1:
        # "rols": rolls, roll or rods; the most similar spelling when one stands out
        ratio = {c: difflib.SequenceMatcher(None, word, c).ratio() for c in close}
        top = max(ratio.values())
        close = [c for c in close if ratio[c] == top]
        if len({tuple(EN_LEX[(c,)][0][:2]) for c in close}) > 1:
            return None
    return close[0]


def _subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


def tokens_en(text: str) -> list[Tok]:
    words = [(m.group().lower().replace("’", "'"), m.start(), m.end()) for m in EN_TOKEN.finditer(text)]
    typos: dict[int, str] = {}
    for k, (w, s, e) in enumerate(words):
        fix = typo_fix(w) if w.isalpha() and w not in _KNOWN_EN else None
        if fix is not None:
            typos[k] = (s, e, fix)
            words[k] = (fix, s, e)
    out: list[Tok] = []
    i = 0
    while i < len(words):
        for n in range(min(EN_MAX, len(words) - i), 0, -1):
            key = tuple(w for w, _, _ in words[i:i + n])
            if key in EN_LEX:
                s, e = words[i][1], words[i + n - 1][2]
                typo = next((typos[k] for k in range(i, i + n) if k in typos), None)
                out += _toks(EN_LEX[key], s, e, text, typo)
                i += n
                break
        else:
            w, s, e = words[i]
            if w.endswith("'s") and (w[:-2],) in EN_LEX:  # the ball's
                out += _toks(EN_LEX[(w[:-2],)], s, e - 2, text)
            elif not w.isalpha():
                out.append(Tok("stop", None, s, e, text[s:e]))
            else:
                out.append(Tok("unknown", w, s, e, text[s:e]))
            i += 1
    return out


def tokens_zh(text: str) -> list[Tok]:
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
        m = re.match(r"(\d+(?:\.\d+)?)\s*(秒钟|秒)", text[i:])
        if m:  # 3秒: a duration
            flush(i)
            out.append(Tok("duration", float(m.group(1)), i, i + m.end(), m.group()))
            i += m.end()
            continue
        m = re.match(r"(\d+)\s*([个只颗块根枚件粒团])", text[i:])
        if m:
            flush(i)
            k = int(m.group(1))
            out.append(Tok("det", "indef", i, i + m.end(), m.group()) if k == 1 else
                       Tok("count", k, i, i + m.end(), m.group()))
            i += m.end()
            continue
        if re.match(r"[A-Za-z]", ch):  # English inside a Chinese prompt: the whole run, read as English
            flush(i)
            m = re.match(r"[A-Za-z](?:[A-Za-z'\- ]*[A-Za-z])?", text[i:])
            out += [dataclasses.replace(t, start=t.start + i, end=t.end + i,
                                        typo=None if t.typo is None else (t.typo[0] + i, t.typo[1] + i, t.typo[2]))
                    for t in tokens_en(m.group())]
            i += m.end()
            continue
        for L in range(min(ZH_MAX, n - i), 0, -1):
            w = text[i:i + L]
            if w in ZH_LEX:
                flush(i)
                out += _toks(ZH_LEX[w], i, i + L, text)
                i += L
                break
        else:
            if CJK.match(ch):
                if unknown_start is None:
                    unknown_start = i
            else:
                flush(i)
                out.append(Tok("stop", None, i, i + 1, ch))
            i += 1
    flush(n)
    return out
