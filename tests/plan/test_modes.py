"""Content type detection: news, knowledge or story, with cues, in both languages."""

import pytest

from kinora.errors import KinoraError
from kinora.plan.modes import detect_mode


@pytest.mark.parametrize("text, mode", [
    ("BERLIN — A red ball fell in Hall B at 10:05 on Tuesday, officials said.", "news"),
    ("According to the lab's log, a blue cube slid two metres on Monday.", "news"),
    ("据本台记者报道，12月1日上午10时，一个蓝色方块向右滑动。", "news"),
    ("Why does a rubber ball bounce higher than a wooden one? Imagine dropping both: rubber is elastic.", "knowledge"),
    ("为什么冰方块滑得更远？因为冰的摩擦力很小。", "knowledge"),
    ("Once upon a time a shy little ball named Pip wanted a friend.", "story"),
    ("从前，有一个叫豆豆的小红球，它很害怕。", "story"),
])
def test_types_in_both_languages(text, mode):
    d = detect_mode(text)
    assert d.mode == mode and d.detected == mode and not d.overridden
    assert d.confidence > 0.5
    assert d.cues and all(text[c["start"]:c["end"]].strip() == c["text"] for c in d.cues)


def test_no_cue_is_a_story_at_one_third():
    d = detect_mode("a red ball")
    assert d.mode == "story" and d.confidence == pytest.approx(1 / 3, abs=1e-3)


def test_override_is_recorded_with_the_detection():
    d = detect_mode("Once upon a time a ball named Pip rolled away.", override="news")
    assert (d.mode, d.detected, d.overridden) == ("news", "story", True)
    assert "--mode" in d.why
    with pytest.raises(KinoraError, match="unknown mode"):
        detect_mode("a ball", override="poem")
