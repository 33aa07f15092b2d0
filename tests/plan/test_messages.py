"""The library's notes in Chinese (kinora/plan/messages.py): every note the reader gives over
the bundled corpora, the planner's and the verifier's notes made for real, and the exact
Chinese of the ones whose wording matters most."""

import json
import re
from pathlib import Path

import pytest

import kinora
from kinora.errors import KinoraError
from kinora.plan.messages import in_chinese, say, word
from kinora.plan.parse import parse
from kinora.plan.story import plan_story
from kinora.verify.analyzer import analyze
from kinora.verify.compare import compare
from kinora.world.sim import simulate
from kinora.world.spec import CameraSpec, ObjectSpec, ShotSpec

CORPORA = Path(kinora.__file__).parent / "eval"


def _no_english(zh: str) -> bool:
    """Nothing English is left outside the user's own (quoted) words, track ids and Kinora's name."""
    rest = re.sub(r"“[^”]*”", "", zh).replace("Kinora", "")
    rest = re.sub(r"\bo\d+\b|\bobj\d+\b", "", rest)
    return not re.search(r"[A-Za-z]{2,}", rest)


def _prompts(every: int = 4) -> list[str]:
    out = []
    for f in sorted(CORPORA.rglob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            out.append(d.get("prompt") or d.get("text"))
    return out[::every]


def test_every_note_the_reader_gives_over_the_corpora_reads_in_chinese():
    seen, prompts = set(), _prompts()
    assert len(prompts) > 750
    for p in prompts:
        try:
            seen.update(parse(p).warnings)
        except KinoraError:
            continue  # too many objects: an error, not a note
    assert len(seen) > 300
    missing = [w for w in seen if in_chinese(w) is None]
    assert not missing, missing[:5]
    english = [(w, in_chinese(w)) for w in seen if not _no_english(in_chinese(w))]
    assert not english, english[:5]


@pytest.mark.parametrize("prompt,zh", [
    ("an orange ball rolls left", "微世界的调色板里没有“orange”；改用最接近的黄色"),
    ("a red ball rolls left for 3 seconds, for 5 seconds", "提示词给了两个时长；采用“5 seconds”"),
    ("two balls: a red one, a blue one and a green one", "“two”与列出的 3 个不符；生成 3 个"),
    ("the camera pans left", "提示词没有提到任何物体（球、方块或圆柱）；镜头里只有空地面"),
    ("the camera moves while a red ball falls", "“moves”没有说明镜头往哪里动；镜头保持不动"),
    ("a red cube rolls left", "方块不能滚动（“rolls”）；红色的方块改为滑动"),
    ("a dog chases a red ball", "无法表现“dog”（微世界只有球、方块和圆柱）；已略去"),
    ("一个白色的球向左滚", "不认识的颜色“白色”；微世界的颜色有红色、黄色、绿色、青色、蓝色、紫色"),
    ("Une balle rouge roule vers la gauche.", "提示词不是 Kinora 能读的语言（它读中文和英文）；镜头里只有空地面"),
])
def test_notes_made_by_the_reader_in_chinese(prompt, zh):
    warnings = parse(prompt).warnings
    assert zh in [say(w, "zh") for w in warnings], warnings


def test_the_story_planners_notes_in_chinese():
    plan = plan_story("A red ball rolls left. Then the red one stops. The other one rolls right.")
    assert [say(w, "zh") for w in plan.warnings] == [
        "第 3 句：“The other one”既没有提到球、方块或圆柱，也不指代前文的物体；已略去"]
    empty = plan_story("It was a quiet day. Nobody came.")
    assert [say(w, "zh") for w in empty.warnings] == ["文本里没有微世界能拍的东西（没有球、方块或圆柱）；影片会是空的"]
    assert say("the red cube is a cube: it slides instead of rolling", "zh") == "红色的方块是方块：它滑动而不滚动"


def test_the_verifiers_findings_in_chinese():
    spec = ShotSpec(objects=[ObjectSpec(id="o0", shape="sphere", color="red"),
                             ObjectSpec(id="o1", shape="cube", color="blue", size="large")],
                    camera=CameraSpec(motion="static"), duration=2.0, seed=3)
    a = analyze(simulate(spec).frames)
    wrong = ShotSpec.from_dict(spec.to_dict())
    wrong.objects[0].color = "green"
    wrong.objects.append(ObjectSpec(id="x", shape="cylinder", color="yellow"))
    wrong.camera.motion = "pan_left"
    found = {i.kind: say(i.message, "zh") for i in compare(a, wrong).issues}
    assert found["wrong_color"] == "o0（绿色的球）看起来是红色"
    assert found["missing"] == "视频里没有 x（黄色的圆柱）"
    assert found["wrong_count"] == "视频里有 2 个物体，计划中有 3 个"
    assert found["wrong_camera"] == "镜头应当向左摇，实际固定不动"
    fewer = ShotSpec.from_dict(spec.to_dict())
    fewer.objects = fewer.objects[:1]
    extra = next(i.message for i in compare(a, fewer).issues if i.kind == "extra")
    assert re.fullmatch(r"视频里多出一个计划中没有的蓝色的方块（轨迹 \d+）", say(extra, "zh"))
    flag = f"failed verification after 3 take(s): {extra}; 2 objects in the video, 1 in the spec"
    assert say(flag, "zh").startswith("3 个版本均未通过验证：视频里多出一个") and _no_english(say(flag, "zh"))


def test_strict_refusal_carries_the_note_in_chinese():
    with pytest.raises(KinoraError) as e:
        parse("an orange ball rolls left", strict=True)
    zh = in_chinese(str(e.value))
    assert zh.startswith("严格模式：提示词无法被准确读懂：微世界的调色板里没有“orange”；改用最接近的黄色")


def test_english_stays_and_an_unknown_line_is_kept_whole():
    line = "reading 'bal' as 'ball'"
    assert say(line, "en") == line and say(line, "zh") == "把“bal”读作“ball”"
    assert in_chinese("something new the library says") is None
    assert say("something  new", "zh") == "something new"
    assert word("pan_left", "zh") == "向左摇" and word("pan_left", "en") == "pan left"


def test_the_label_checks_findings_in_chinese(tmp_path):
    import numpy as np

    from kinora.io.video import write_mp4
    from kinora.label.inspect import inspect_video

    path = tmp_path / "plain.mp4"
    write_mp4(np.full((8, 64, 64, 3), 90, np.uint8), path, fps=8)  # no mark, no metadata
    problems = inspect_video(path)["problems"]
    assert "文件里没有 AIGC 隐式标识（GB 45438）" in [say(p, "zh") for p in problems]
    assert all(in_chinese(p) is not None for p in problems), problems


def test_the_pipelines_sampling_notes_in_chinese():
    # Made for real by the shipped (distilled) model: guidance asked on top, a negative prompt without guidance.
    import torch

    from kinora.pipelines.kinora import KinoraPipeline

    pipe = KinoraPipeline.from_pretrained()
    kw = dict(num_frames=5, num_inference_steps=1, generator=torch.Generator().manual_seed(0))
    on_top = pipe("a red ball rolls left", guidance_scale=2.0, **kw).warnings
    kw["generator"] = torch.Generator().manual_seed(0)
    negative = pipe("a red ball rolls left", negative_prompt="a blue cube", **kw).warnings
    assert [say(w, "zh") for w in on_top] == ["这个模型已把教师模型的引导（3）蒸馏进权重：引导强度 2 会叠加在其上；"
                                              "要用引导采样，请换用教师模型（--model kinora/weights/teacher）"]
    assert [say(w, "zh") for w in negative] == ["引导强度为 1（蒸馏模型不使用引导采样）：反向提示词不起作用"]
