"""The storyboard sheet as HTML and PDF (Chinese text in the PDF through the embedded Noto CJK font)."""

import pytest

from kinora.errors import KinoraError
from kinora.pipelines.film import keyframes, make_storyboard, previs
from kinora.plan.story import plan_story
from kinora.plan.storyboard import CJK_FONTS, Storyboard, highlights

TEXT = "从前，有一个叫豆豆的小红球。有一天，豆豆向左滚去。Then a big blue cube fell."


@pytest.fixture(scope="module")
def board():
    plan = plan_story(TEXT, seconds_per_shot=1)
    return Storyboard(plan, [keyframes(f) for f in previs(plan)], source="previs (simulator)")


def test_previs_continues_the_scene_and_gives_keyframes(board):
    assert [len(k) for k in board.keys] == [3, 3, 3]
    assert board.keys[0][0].shape == (64, 64, 3)


def test_html_highlights_the_source_words(board):
    html = board.html()
    assert html.count("<tr><td><b>") == 3
    assert "<mark>一个叫豆豆的小红球</mark>" in html and "豆豆" in html and "not generated yet (previs)" in html
    assert "data:image/png;base64," in html


def test_the_spans_are_inside_their_sentence(board):
    for shot in board.plan.shots:
        for a, b in highlights(shot):
            assert 0 <= a < b <= len(shot.source["text"])


@pytest.mark.skipif(not any(__import__("os").path.exists(f) for f in CJK_FONTS), reason="fonts-noto-cjk missing")
def test_pdf_has_the_chinese_text(board, tmp_path):
    pdfium = pytest.importorskip("pypdfium2")
    path = board.write(tmp_path / "board.pdf")
    doc = pdfium.PdfDocument(str(path))
    text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    assert "分镜" in text and "小红球" in text and "Then a big blue cube fell." in text


def test_storyboard_outputs_are_checked(tmp_path):
    out = make_storyboard("A red ball rolls left.", tmp_path / "b.html")
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    with pytest.raises(KinoraError, match="exists"):
        make_storyboard("A red ball rolls left.", out)
    with pytest.raises(KinoraError, match="PDF or HTML"):
        make_storyboard("A red ball rolls left.", tmp_path / "b.png")
    with pytest.raises(KinoraError, match="nothing the micro-world can film"):
        make_storyboard("The dog slept until sunset.", tmp_path / "c.html")
    assert not (tmp_path / "c.html").exists()
