"""Tokens: a prompt's words looked up in the lexicons, longest phrase first.

English text is split into words (`EN_TOKEN`) and the longest run of words that is a
lexicon entry becomes one token per item of that entry; Chinese text, which has no
spaces, is matched character by character against the longest entry, with runs of
characters it does not know kept together as one unknown word and English words inside
a Chinese prompt read as English. Every token keeps its span in the prompt, so
provenance can point at the words that said something.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kinora.plan.lexicon import CJK, EN_LEX, EN_MAX, EN_TOKEN, ZH_LEX, ZH_MAX


@dataclass
class Tok:
    cat: str
    value: Any
    start: int
    end: int
    text: str


def tokens_en(text: str) -> list[Tok]:
    words = [(m.group().lower().replace("’", "'"), m.start(), m.end()) for m in EN_TOKEN.finditer(text)]
    out: list[Tok] = []
    i = 0
    while i < len(words):
        for n in range(min(EN_MAX, len(words) - i), 0, -1):
            key = tuple(w for w, _, _ in words[i:i + n])
            if key in EN_LEX:
                s, e = words[i][1], words[i + n - 1][2]
                out += [Tok(cat, val[0] if val else None, s, e, text[s:e])
                        for cat, *val in EN_LEX[key]]
                i += n
                break
        else:
            w, s, e = words[i]
            if w.endswith("'s") and (w[:-2],) in EN_LEX:  # the ball's
                out += [Tok(cat, val[0] if val else None, s, e - 2, text[s:e - 2]) for cat, *val in EN_LEX[(w[:-2],)]]
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
            out += [Tok(t.cat, t.value, t.start + i, t.end + i, t.text) for t in tokens_en(m.group())]
            i += m.end()
            continue
        for L in range(min(ZH_MAX, n - i), 0, -1):
            w = text[i:i + L]
            if w in ZH_LEX:
                flush(i)
                out += [Tok(cat, val[0] if val else None, i, i + L, w) for cat, *val in ZH_LEX[w]]
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
