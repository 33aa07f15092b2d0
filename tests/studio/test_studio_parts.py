"""The studio's parts without a browser: both languages complete, library errors in Chinese,
the edit panel's fields as job arguments, a drawn region as a box, the views of real results."""

import re

import numpy as np
import pytest

from kinora.errors import KinoraError
from kinora.studio.app import OP_FIELDS, OPS, _edit_args, region_box
from kinora.studio.strings import ERRORS_ZH, S, error_text, language_of, t


def test_every_string_has_both_languages_with_the_same_blanks():
    for key, (en, zh) in S.items():
        assert en.strip() and zh.strip(), key
        assert re.findall(r"\{(\w+)", en) == re.findall(r"\{(\w+)", zh), key  # the same {n}, {mode}, ...
        if key not in ("title",):
            assert re.search(r"[\u4e00-\u9fff]", zh), f"{key}: no Chinese in {zh!r}"


def test_language_follows_the_browser():
    assert language_of("zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert language_of("zh-TW") == "zh"
    assert language_of("en-US,en;q=0.9,zh;q=0.5") == "en"
    assert language_of(None) == "en" and language_of("") == "en"


def _library_error(fn) -> str:
    with pytest.raises(KinoraError) as e:
        fn()
    return str(e.value)


def test_the_common_library_errors_read_in_chinese():
    from kinora.pipelines.film import plan_text
    from kinora.pipelines.generate import GenerateRequest, check_request

    cases = {
        "提示词是空的": _library_error(lambda: check_request(GenerateRequest(prompt=" "))),
        "时长 700 秒超出范围": _library_error(lambda: check_request(GenerateRequest(prompt="a ball", seconds=700))),
        "画幅 30x30 不受支持": _library_error(lambda: check_request(GenerateRequest(prompt="a", size=(30, 30)))),
        "微世界": _library_error(lambda: plan_text("天气很好。")),
    }
    for zh, en in cases.items():
        assert zh in error_text(en, "zh"), en
        assert error_text(en, "en") == f"Cannot do that: {en}"
    # an error with no Chinese keeps its English line after a Chinese lead-in, never hidden
    assert error_text("something new went wrong", "zh") == "无法执行：something new went wrong"
    assert all(re.compile(p) for p, _ in ERRORS_ZH)


def test_edit_panel_fields_become_job_arguments():
    blank = {"seed": "", "prompt": "", "object": "1", "field": "color", "value": "green", "region": None, "box": "",
             "start": 0, "end": 0, "seconds": 1.0, "backward": False, "strength": 0.6, "at": 1.0}
    assert set(OPS) == set(OP_FIELDS)
    assert _edit_args("p", 2, "regenerate", blank) == {"project": "p", "op": "regenerate", "shot": 2}
    assert _edit_args("p", 1, "regenerate", {**blank, "seed": "7"})["seed"] == 7
    assert _edit_args("p", 1, "trim", {**blank, "end": 1.5}) == {"project": "p", "op": "trim", "shot": 1,
                                                                  "start": 0.0, "end": 1.5}
    assert _edit_args("p", 1, "trim", blank)["end"] is None  # 0 or empty: to the end
    region = _edit_args("p", 1, "region", {**blank, "box": "0.5,0,1,1", "start": 1, "prompt": "a blue cube"})
    assert region["box"] == [0.5, 0.0, 1.0, 1.0] and region["span"][0] == 1.0 and region["prompt"] == "a blue cube"
    assert "span" not in _edit_args("p", 1, "region", {**blank, "box": "0,0,1,1"})
    assert _edit_args("p", 1, "change", blank) == {"project": "p", "op": "change", "shot": 1, "object": "1",
                                                   "field": "color", "value": "green"}
    assert _edit_args("p", 1, "restyle", {**blank, "strength": 0.3})["strength"] == 0.3
    with pytest.raises(KinoraError, match="not a whole number"):
        _edit_args("p", 1, "regenerate", {**blank, "seed": "seven"})
    with pytest.raises(KinoraError, match="no project is open"):
        _edit_args(None, 1, "trim", blank)
    with pytest.raises(KinoraError, match="is not x0,y0,x1,y1"):
        _edit_args("p", 1, "region", {**blank, "box": "left half"})


def test_a_drawn_region_is_its_bounding_box():
    layer = np.zeros((100, 200, 4), np.uint8)
    layer[20:40, 100:150, 3] = 255  # a stroke in the right half, upper part
    assert region_box({"layers": [layer]}) == (0.5, 0.2, 0.75, 0.4)
    assert region_box({"layers": [np.zeros((10, 10, 4), np.uint8)]}) is None
    assert region_box(None) is None and region_box({"layers": []}) is None


def test_views_of_a_real_previs_and_project(tmp_path):
    import json

    from kinora.jobs.store import Job
    from kinora.pipelines.film import make_previs
    from kinora.studio import views

    r = make_previs("A red ball rolls left. Then a blue cube falls.", tmp_path / "b")
    plan = json.loads(r.plan_json.read_text(encoding="utf-8"))
    html = views.storyboard_grid(plan, [[r.folder / k for k in ks] for ks in r.keyframes], "zh")
    assert html.count("class='k-card previs'") == 2 and "data-shots='2'" in html
    assert "镜头 1" in html and "预演" in html and html.count("<img") == 6
    bar = views.progress_bar(Job(id="j1", kind="film", args={}, state="running", progress=0.5,
                                 message="shot 1/2 · sampling"), "zh")
    assert "data-progress='50.0'" in bar and "影片" in bar and "运行中" in bar and "width:50.0%" in bar
    failed = views.progress_bar(Job(id="j2", kind="shot", args={}, state="failed",
                                    error="the prompt is empty; describe the shot"), "zh")
    assert "失败" in failed and "提示词是空的" in failed
    assert t("queued_ahead", "en", n=2) in views.progress_bar(Job(id="j3", kind="shot", args={}), "en", ahead=2)
