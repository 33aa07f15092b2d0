"""The story planner: sentences, scenes, entities across sentences, captions, truth-mode marks."""

import pytest

from kinora.errors import KinoraError
from kinora.plan.story import plan_story, split_sentences
from kinora.plan.truth import count_invented

STORY = ('Once upon a time a brave little red ball named Pip lived on a big blue cube. Pip was afraid of heights.\n'
         'One day Pip rolled off the cube. "Help!" it cried. Then it rolled left while the camera panned right.')
ZH = ("从前，有一个叫豆豆的小红球，它住在一个大蓝方块上。豆豆很害怕。有一天，豆豆从方块上掉了下来。"
      "随后它向左滚去，镜头向右平移。")
NEWS = ("BERLIN — A red ball fell from a shelf in Hall B at 10:05 on Tuesday, officials said. According to the lab "
        "log, the ball then rolled left and hit a cube. No one was hurt.")


def spans(plan):
    """Every span in the plan, with the text it claims."""
    for s in plan.shots:
        yield s.source
        for o in s.spec.objects:
            yield o.source
            yield from (f for f in o.source["fields"].values() if "start" in f)
    for e in plan.entities:
        yield e.intro
        yield from e.mentions


def test_sentences_keep_quotes_and_numbers_whole():
    text = 'It said "Stop! Now." and left. It moved 1.5 m. 然后它停了。'
    got = [text[s.start:s.end] for s in split_sentences(text)]
    assert got == ['It said "Stop! Now." and left.', "It moved 1.5 m.", "然后它停了。"]


@pytest.mark.parametrize("text", [STORY, ZH])
def test_names_and_pronouns_are_one_entity_with_one_look(text):
    p = plan_story(text)
    assert [(e.shape, e.color, e.size) for e in p.entities] == [("sphere", "red", "small"), ("cube", "blue", "large")]
    pip = p.entities[0]
    assert pip.name in ("Pip", "豆豆")
    assert len(pip.mentions) >= 4  # introduced, named again, "it" / 它
    # the same look in every shot it is in, and the shot where it falls off the cube
    assert all(o.color == "red" and o.shape == "sphere" for s in p.shots for o in s.spec.objects if o.id == pip.id)
    assert [o.motion for s in p.shots for o in s.spec.objects if o.id == pip.id] == ["still", "topple", "roll"]
    assert p.shots[-1].spec.camera.motion == "pan_right"


def test_every_span_indexes_the_original_text():
    for text in (STORY, ZH, NEWS):
        p = plan_story(text)
        for sp in spans(p):
            assert text[sp["start"]:sp["end"]] == sp["text"]


def test_scenes_captions_and_continuity():
    p = plan_story(STORY)
    assert [s.scene for s in p.shots] == [1, 2, 2]
    assert [s.continues for s in p.shots] == [False, False, True]  # shot 3 starts where shot 2 ended
    assert p.shots[2].carried == ["e2"]  # the cube is still there, though the sentence does not name it
    whys = {c["text"]: c["why"] for c in p.captions}
    assert "dialogue" in whys['"Help!"']
    assert "nothing the camera can see" in whys["Pip was afraid of heights."]


def test_what_the_world_cannot_show_is_reported_not_swapped():
    p = plan_story("A red ball rolls left. The dog watched it. Then a blue cube fell.")
    assert [u["text"] for u in p.unrendered] == ["dog"]
    assert any(c["text"] == "The dog watched it." for c in p.captions)
    assert all(o.shape in ("sphere", "cube") for s in p.shots for o in s.spec.objects)


def test_a_flashback_goes_before_the_shot_it_follows():
    p = plan_story("A red ball rolled left. Earlier, a blue cube fell.")
    assert [s.source["text"] for s in p.shots] == ["Earlier, a blue cube fell.", "A red ball rolled left."]
    assert not any(s.continues for s in p.shots)


def test_times_measures_and_sources_are_not_things():
    p = plan_story("At 13:47 on Tuesday a green cube slid six centimetres to the right in Room 9, staff said.")
    assert [(e.shape, e.color) for e in p.entities] == [("cube", "green")]


def test_counted_groups_refer_back():
    p = plan_story("一个绿色的球掉下来，砸中了另一个绿色球。两颗球都弹开了。")
    assert len(p.entities) == 2


def test_news_invents_nothing_and_marks_the_convention():
    p = plan_story(NEWS)
    assert p.mode.mode == "news"
    assert sum(len(count_invented(s.spec.to_dict())) for s in p.shots) == 0
    cube = next(e for e in p.entities if e.shape == "cube")
    assert cube.fields["color"]["unstated"] and cube.color == "yellow"  # first palette colour nobody has
    assert plan_story(NEWS).to_dict() == p.to_dict()  # no random draw anywhere


def test_modes_mark_unstated_elements_differently():
    text = "A ball rolls left."
    story = plan_story(text, mode="story").shots[0].spec.objects[0].source["fields"]
    know = plan_story(text, mode="knowledge").shots[0].spec.objects[0].source["fields"]
    news = plan_story(text, mode="news").shots[0].spec.objects[0].source["fields"]
    assert story["color"] == {"invented": True}
    assert know["color"]["filled"] and news["color"]["unstated"]
    assert "start" in story["direction"]  # stated: "left"


@pytest.mark.parametrize("bad, msg", [("", "empty"), ("   ", "empty"), ("x" * 200_001, "characters"),
                                      ("Мяч катится влево.", "language")])
def test_bad_texts_are_refused_in_one_line(bad, msg):
    with pytest.raises(KinoraError, match=msg):
        plan_story(bad)


def test_seconds_per_shot_and_a_stated_length():
    p = plan_story("A red ball rolls left. Then a blue cube slides right for 3 seconds.", seconds_per_shot=6)
    assert [s.seconds for s in p.shots] == [6.0, 3.0]
    with pytest.raises(KinoraError, match="seconds-per-shot"):
        plan_story("A red ball.", seconds_per_shot=0)
