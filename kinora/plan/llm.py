"""An optional LLM planner behind the story planner's interface: any OpenAI-compatible endpoint.

    planner = llm_planner("http://127.0.0.1:8000/v1", "qwen2.5-7b-instruct")
    plan = planner(text, mode=None, seconds_per_shot=4, seed=0)      # a StoryPlan, like plan_story's

The offline planner (kinora.plan.story) stays the default and needs no network; this one
sends the text once to `POST {base_url}/chat/completions` (the OpenAI chat API that
vLLM, llama.cpp's server, Ollama and others serve) asking for JSON of the shape in
SCHEMA_PROMPT, and trusts nothing it gets back: the answer must be JSON, every shot's
`spec` must validate as a ShotSpec (kinora.world.spec), every shot's `sentence` must be
words of the text (that is its source span), and an entity keeps the look of its first
shot in every later one. Anything else is refused with one line naming what is wrong.

The LLM's values are not taken on trust either: each one (shape, colour, size, material,
motion, direction, speed, camera move) must be stated by the words of its sentence as the
offline reader reads them, and then carries that span; a value the words do not state is
what the mode makes of an unstated one (kinora.plan.truth: in news the neutral convention,
marked unstated; in knowledge filled in; in a story invented). The content type is still
detected by kinora.plan.modes.
"""

from __future__ import annotations

import json
import os
import random
import urllib.error
import urllib.request

from kinora.errors import KinoraError

SCHEMA_PROMPT = """You plan films for a micro-world of balls, cubes and cylinders.
Answer with JSON only: {"shots": [{"sentence": "<exact words copied from the text>", "scene": 1,
"seconds": 4, "spec": {"objects": [{"id": "e1", "shape": "sphere|cube|cylinder",
"color": "red|yellow|green|cyan|blue|purple", "size": "small|large", "material": "rubber|wood|metal|ice",
"motion": "still|fall|roll|slide|push|topple", "direction": "left|right|forward|backward|null",
"speed": "slow|normal|fast", "target": "<id for push>|null", "on": "<id for topple>|null"}],
"camera": {"motion": "static|pan_left|pan_right|orbit_left|orbit_right|zoom_in|zoom_out"}}}]}
Use one id per thing for the whole text, so a thing keeps its id in every shot. Only sentences
the camera can see become shots. Never add things the text does not mention."""
TIMEOUT_S = 120


def _post(url: str, body: dict, api_key: str | None, timeout: float) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode("utf-8"), method="POST",
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {api_key}"} if api_key else {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
    except urllib.error.HTTPError as e:
        raise KinoraError(f"the LLM planner at {url} answered HTTP {e.code}; check --base-url and --model") \
            from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise KinoraError(f"cannot reach the LLM planner at {url} ({reason}); start the server, or drop "
                          f"--planner to use the offline planner") from None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise KinoraError(f"the LLM planner at {url} did not answer with JSON") from None


def _content(answer: dict) -> dict:
    try:
        content = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise KinoraError("the LLM planner's answer has no choices[0].message.content (is the endpoint "
                          "OpenAI-compatible?)") from None
    text = content.strip()
    if text.startswith("```"):  # a fenced block: the JSON inside it
        text = text.strip("`").removeprefix("json").strip()
    try:
        plan = json.loads(text)
    except json.JSONDecodeError as e:
        raise KinoraError(f"the LLM planner's answer is not valid JSON ({e.msg} at line {e.lineno}); "
                          f"try another model, or the offline planner") from None
    if not isinstance(plan, dict) or not isinstance(plan.get("shots"), list) or not plan["shots"]:
        raise KinoraError("the LLM planner's answer has no \"shots\" list; it must follow the schema "
                          "{\"shots\": [{\"sentence\", \"spec\"}]}")
    return plan


def plan_from_json(text: str, plan: dict, mode: str | None = None, seconds_per_shot: float | None = None,
                   seed: int = 0, fps: int = 8, width: int = 64, height: int = 64):
    """A StoryPlan from the LLM's JSON, validated (module docstring); KinoraError on anything wrong."""
    from kinora.plan.modes import detect_mode
    from kinora.plan.parse import detect_language
    from kinora.plan.story import DEFAULT_SHOT_SECONDS, LOOK, Entity, PlannedShot, StoryPlan
    from kinora.plan.truth import choose_look, mark_motion
    from kinora.world.spec import ShotSpec

    decision = detect_mode(text, override=mode)
    entities: dict[str, Entity] = {}
    taken: dict[str, set[str]] = {}  # colours fixed so far, per shape (kinora.plan.truth.choose_look)
    shots, warnings, cursor = [], [], 0
    for i, item in enumerate(plan["shots"], 1):
        where = f"the LLM planner's shot {i}"
        if not isinstance(item, dict) or not isinstance(item.get("sentence"), str) or "spec" not in item:
            raise KinoraError(f"{where} needs \"sentence\" (words of the text) and \"spec\" (a ShotSpec)")
        sentence = item["sentence"].strip()
        start = text.find(sentence, cursor) if sentence else -1
        start = text.find(sentence) if start < 0 and sentence else start
        if start < 0:
            raise KinoraError(f"{where}: its sentence {sentence[:60]!r} is not in the text; every shot must come "
                              f"from the text's own words")
        cursor = start + len(sentence)
        span = {"start": start, "end": start + len(sentence), "text": sentence}
        raw = dict(item["spec"]) if isinstance(item["spec"], dict) else item["spec"]
        if isinstance(raw, dict):
            seconds = item.get("seconds") or seconds_per_shot or DEFAULT_SHOT_SECONDS
            raw = {**raw, "duration": seconds_per_shot or seconds, "fps": fps, "width": width, "height": height,
                   "seed": seed + i, "text": sentence}
            for o in raw.get("objects", []) if isinstance(raw.get("objects"), list) else []:
                if isinstance(o, dict):
                    for k in ("direction", "target", "on"):
                        if o.get(k) in ("null", ""):
                            o[k] = None
        spec = ShotSpec.from_dict(raw, where=where)
        said, camera_said = _stated_in(sentence, start)
        for o in spec.objects:
            ent = entities.get(o.id)
            if ent is None:  # its look: what the words of its first shot state, the rest by the mode
                traced = {f: _traced(getattr(o, f), f, said, span) for f in LOOK}
                ent = Entity(id=o.id, intro=span, fields={f: t for f, t in traced.items() if t},
                             stated={f: getattr(o, f) for f in LOOK if traced[f]},
                             chosen={f: getattr(o, f) for f in LOOK})
                choose_look(ent, decision.mode, taken, random.Random(seed * 31 + len(entities) + 1),
                            list(entities.values()))
                taken.setdefault(ent.shape, set()).add(ent.color)
                entities[o.id] = ent
            elif any(getattr(ent, f) != getattr(o, f) for f in LOOK):
                warnings.append(f"shot {i}: the LLM changed the look of {o.id}; it keeps the look of its first shot")
            for f in LOOK:
                setattr(o, f, getattr(ent, f))
            ent.mentions.append({**span, "shot": i})
            # what its words do not state is invented here, and mark_motion makes of it what the mode does
            motion = {f: {} if getattr(o, f) is None else _traced(getattr(o, f), f, said, span) or {"invented": True}
                      for f in ("motion", "direction", "speed")}
            o.source = {**span, "entity": o.id, "fields": {**{f: dict(ent.fields[f]) for f in LOOK}, **motion}}
        cam = spec.camera
        if cam.motion in camera_said:
            cam.source = {**span, "fields": {"motion": {"planner": "llm", **camera_said[cam.motion]}}}
        else:
            cam.source = {"invented": True, "fields": {"motion": {"invented": True}, "speed": {"invented": True}}}
        mark_motion(spec, decision.mode)  # an untraced camera: by the mode (news: static, marked unstated)
        scene = item.get("scene") if isinstance(item.get("scene"), int) else 1
        shots.append(PlannedShot(number=i, scene=scene, spec=spec, source=span, seconds=float(spec.duration),
                                 entities=[o.id for o in spec.objects]))
    for k, s in enumerate(shots):
        prev = shots[k - 1] if k else None
        s.continues = bool(prev and prev.scene == s.scene and prev.spec.camera.motion == "static")
    return StoryPlan(text=text, language=detect_language(text), mode=decision, shots=shots,
                     entities=list(entities.values()), warnings=warnings, planner="llm")


def _stated_in(sentence: str, offset: int) -> tuple[dict, dict]:
    """What the offline reader finds stated in a sentence: field -> {value: span}, camera motion -> span."""
    from kinora.plan.parse import parse
    from kinora.plan.story import plain

    try:
        r = parse(plain(sentence))  # who reported it and when are no things ("said" is no "slid")
    except KinoraError:
        return {}, {}
    said: dict[str, dict] = {}
    for o in r.spec.objects:
        for f, src in o.source.get("fields", {}).items():
            if "start" in src:
                said.setdefault(f, {})[getattr(o, f)] = {"start": src["start"] + offset, "end": src["end"] + offset,
                                                         "text": src["text"]}
    cam = r.spec.camera.source
    camera = {r.spec.camera.motion: {"start": cam["start"] + offset, "end": cam["end"] + offset,
                                     "text": cam["text"]}} if "start" in cam else {}
    return said, camera


def _traced(value, f: str, said: dict, sentence: dict) -> dict | None:
    """The words of its sentence that state an LLM value (as the offline reader finds them), or None."""
    if value in said.get(f, {}):
        return {"planner": "llm", "sentence": sentence, **said[f][value]}
    return None


def llm_planner(base_url: str, model: str, api_key: str | None = None, timeout: float = TIMEOUT_S):
    """A planner with plan_story's signature that asks the endpoint at `base_url` (…/v1)."""
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise KinoraError(f"--base-url {base_url!r} must be an http(s) URL such as http://127.0.0.1:8000/v1")
    if not model:
        raise KinoraError("--planner openai needs --model NAME (the model the endpoint serves)")
    api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
    url = base_url.rstrip("/") + "/chat/completions"

    def planner(text: str, mode: str | None = None, seconds_per_shot: float | None = None, seed: int = 0,
                fps: int = 8, width: int = 64, height: int = 64):
        if not isinstance(text, str) or not text.strip():
            raise KinoraError("the text is empty; write a story, a news item or an explanation to film")
        body = {"model": model, "temperature": 0, "seed": seed, "response_format": {"type": "json_object"},
                "messages": [{"role": "system", "content": SCHEMA_PROMPT}, {"role": "user", "content": text}]}
        return plan_from_json(text, _content(_post(url, body, api_key, timeout)), mode, seconds_per_shot, seed,
                              fps, width, height)

    planner.__name__ = f"llm:{model}"
    return planner
