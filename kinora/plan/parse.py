"""The prompt parser: English or Chinese text into a ShotSpec with provenance.

    r = parse("a big yellow ball rolls into a small purple cube while the camera pans left")
    r.spec        # ShotSpec: obj0 large yellow sphere push -> obj1 small purple cube, camera pan_left
    r.canonical   # 'a large yellow ball rolls into a small purple cube. the camera pans left.'
    r.language    # 'en'
    r.warnings    # [] ; an unknown content word gives "unknown word 'X'; nearest known word is 'Y'"
    r.substitutions  # [] ; "an orange ball" gives [{"field": "color", "asked": "orange", "used": "yellow", ...}]

It is a small rule-based reader, not a grammar: words are looked up (longest phrase
first) in tables built from `kinora.world.captions` (which extends the vocabulary of
`kinora.world.spec`), noun phrases become objects ("two blue cubes" is two objects),
and everything else (motions, directions, speeds, camera moves, relations such as
"into the cube" or "从方块上") attaches to the subject of its clause. It reads every
caption `kinora.world.captions` writes (tests/world/test_captions.py checks the round
trip) and ordinary prompts in both languages: lists with distributed attributes,
negation, participles, relations, sequences, synonyms, typos, full-width and traditional
characters (docs/UNDERSTANDING.md has the conventions; `kinora eval --understanding`
measures them on the paraphrase suite). What the micro-world lacks is never replaced
silently: the nearest value is used with a warning naming both and recorded in
`substitutions` and in the field's source ("asked", "used"), or with `strict=True`
refused; a thing it cannot show at all (a dog) goes into `spec.unrendered`. A prompt in
a language it does not read (Russian, Japanese, Arabic, Korean, French: see
`language_is_read`) gets one warning that says so, and an empty floor.

The steps live in their own modules: `kinora.plan.lexicon` (the words),
`kinora.plan.tokens` (text into tokens), `kinora.plan.rewrite` (lists, negations and
durations made plain), `kinora.plan.reading` (tokens into objects and a camera) and
`kinora.plan.building` (those into ObjectSpecs and a CameraSpec, with provenance: each
object's and the camera's `source` says which words gave each field, or that the parser
invented it; see that module). This one is the entry point.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from kinora.defaults import DEFAULT_SECONDS
from kinora.errors import KinoraError
from kinora.plan.building import build
from kinora.plan.lexicon import CJK, EN_LEX, nearest_known
from kinora.plan.reading import Reader
from kinora.plan.rewrite import rewrite
from kinora.plan.tokens import Tok, normalize, tokens_en, tokens_zh
from kinora.world import captions as C
from kinora.world.spec import ShotSpec, validate

__all__ = ["ParseResult", "Tok", "detect_language", "language_is_read", "nearest_known", "parse"]


@dataclass
class ParseResult:
    spec: ShotSpec
    canonical: str
    language: str  # "en" | "zh"
    warnings: list[str] = field(default_factory=list)
    # Values the world lacks, read as the nearest it has: {"field", "asked", "used", "start", "end"}.
    substitutions: list[dict] = field(default_factory=list)


def detect_language(text: str) -> str:
    return "zh" if CJK.search(text) else "en"  # also traditional characters: they are in the same block


NOT_READ = ("the prompt is not in a language Kinora reads (it reads English and Chinese); "
            "the shot shows an empty floor")


# Common words of languages written in Latin letters that are not English words: a prompt
# with more of them than English words the reader knows is in one of those languages.
_LATIN_FOREIGN = set(
    "une un le la les des du est et vers sur dans avec roule roulent tombe tombent balle balles boule rouge bleu "
    "bleue vert verte jaune gauche droite caméra camera très petit petite grand grande cube cubes "
    "el los las una y hacia cae caen rueda ruedan pelota roja azul verde amarilla izquierda derecha cámara "
    "der das ein eine und ist nach rollt fällt fallen ball rote roter blaue blauer grüne links rechts kamera "
    "il lo gli della verso cade rotola palla rossa sinistra destra "
    "o um uma para rola bola vermelha esquerda direita".split())
_EN_LIKE = {"ball", "cube", "cubes", "camera", "il", "o", "a", "die", "rote"}  # also English (or close enough)


def _latin_foreign(text: str) -> bool:
    words = [w.lower() for w in re.findall(r"[^\W\d_]+", text)]
    foreign = sum(w in _LATIN_FOREIGN and w not in _EN_LIKE for w in words)
    english = sum((w,) in EN_LEX and w not in _LATIN_FOREIGN for w in words)
    return foreign >= 2 and foreign > english


def language_is_read(text: str) -> bool:
    """False when most of the prompt's words are in a script other than the two Kinora
    reads, Latin (English) and Chinese characters: Russian, Japanese kana, Arabic, Korean.

    A word is a run of letters (and their marks); one with a letter of another script is
    foreign. A run of Chinese characters counts one word per character, Chinese writing
    no spaces. A mostly-English or mostly-Chinese prompt with a foreign word is read as
    usual; a language written in Latin letters (French) cannot be told from English with
    unknown words this way, so common words of French, Spanish, German, Italian and
    Portuguese are counted against the English words the lexicon knows.
    """
    read = foreign = 0
    word: list[str] = []
    for ch in text + " ":
        if unicodedata.category(ch)[0] in "LM":
            word.append(ch)
            continue
        if word:
            letters = [c for c in word if unicodedata.category(c)[0] == "L"]
            if not letters:
                pass  # marks alone
            elif any(not CJK.match(c) and "LATIN" not in unicodedata.name(c, "") for c in letters):
                foreign += 1
            elif all(CJK.match(c) for c in letters):
                read += len(letters)
            else:
                read += 1
            word = []
    return foreign <= read and not (not CJK.search(text) and _latin_foreign(text))


def parse(text: str, duration: float | None = None, fps: int = 8, width: int = 64, height: int = 64,
          seed: int = 0, encoder=None, strict: bool = False) -> ParseResult:
    """Read a prompt (English or Chinese) into a ShotSpec; see the module docstring.

    `duration` (seconds) wins over a length the text gives ("for 3 seconds", 3秒); without
    either the shot is defaults.DEFAULT_SECONDS long. `strict` refuses (KinoraError) a
    prompt that cannot be read exactly (anything the reader would warn about: a value the
    world lacks, a thing it cannot show, a misspelling, a guess) instead of going on.
    `encoder` (optional, a kinora.models.text.TextEncoder) lets warnings about unknown words
    name the nearest known word by meaning rather than by spelling.
    """
    if not isinstance(text, str):
        raise KinoraError(f"the prompt must be text, got {type(text).__name__}")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, (int, float))):
        raise KinoraError(f"duration must be a number of seconds, got {duration!r}")
    if not text.strip():
        raise KinoraError("the prompt is empty; describe the shot, e.g. 'a red ball rolls left'")
    lang = detect_language(text)
    read = language_is_read(text)
    # A prompt in a language Kinora does not read is not read word by word (a warning per
    # letter it does not know): it gets one warning, and an empty floor.
    norm = normalize(text)  # same length as text: every span below indexes the prompt itself
    raw = (tokens_zh(norm) if lang == "zh" else tokens_en(norm)) if read else []
    toks, notes = rewrite(raw, lang, norm)
    reader = Reader(text, toks, lang, encoder, raw=raw)
    for note in notes:
        reader.warn(note)
    reader.run()
    if duration is None:
        duration = reader.duration[0] if reader.duration else DEFAULT_SECONDS
    objects, camera = build(reader, text, seed, duration)
    if not read:
        reader.warn(NOT_READ)
    elif not objects:
        reader.warn("the prompt names no object (a ball, cube or cylinder); the shot shows an empty floor")
    if strict and reader.warnings:
        # Strict: nothing replaced, dropped or guessed. Every warning is one of those.
        more = f" (and {len(reader.warnings) - 1} more)" if len(reader.warnings) > 1 else ""
        raise KinoraError(f"strict: the prompt cannot be read exactly: {reader.warnings[0]}{more}; rephrase it, "
                          "or drop --strict to let Kinora use the nearest thing the micro-world has")
    spec = ShotSpec(objects=objects, camera=camera, duration=duration, fps=fps, width=width, height=height,
                    seed=seed, text=text, unrendered=reader.unrendered)
    validate(spec, "parsed prompt")
    return ParseResult(spec=spec, canonical=C.canonical_caption(spec), language=lang, warnings=reader.warnings,
                       substitutions=reader.substitutions)
