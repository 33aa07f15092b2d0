"""`kinora film` and `kinora storyboard` as a user runs them, bad inputs included."""

import pytest

from kinora.cli import main


def test_storyboard_command(tmp_path, capsys):
    text = tmp_path / "story.txt"
    text.write_text("A red ball rolls left. 然后一个蓝色的方块掉下来。", encoding="utf-8")
    assert main(["storyboard", str(text), "-o", str(tmp_path / "b.html")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert (tmp_path / "b.html").stat().st_size > 1000


def test_film_command(tmp_path, tiny_weights, capsys):
    text = tmp_path / "s.txt"
    text.write_text("Once upon a time a red ball named Pip rolled left.", encoding="utf-8")
    rc = main(["film", str(text), "-o", str(tmp_path / "out"), "--seconds-per-shot", "1", "--max-tries", "1",
               "--weights", str(tiny_weights)])
    out = capsys.readouterr().out
    assert rc == 0 and "mode: story" in out and "shot 1:" in out
    assert (tmp_path / "out" / "film.mp4").exists()


@pytest.mark.parametrize("make, args, msg", [
    (None, ["film", "{d}/missing.txt", "-o", "{d}/o"], "text file not found"),
    ("", ["film", "{d}/t.txt", "-o", "{d}/o"], "is empty"),
    (b"\xff\xfe\x00bad", ["storyboard", "{d}/t.txt", "-o", "{d}/b.pdf"], "not UTF-8"),
    ("A red ball.", ["storyboard", "{d}/t.txt", "-o", "{d}/b.txt"], "PDF or HTML"),
    ("A red ball.", ["storyboard", "{d}/t.txt", "-o", "{d}/b.pdf", "--model", "x"], "--planner openai"),
    ("A red ball.", ["storyboard", "{d}/t.txt", "-o", "{d}/b.pdf", "--planner", "openai", "--base-url", "ftp://x",
                     "--model", "m"], "http"),
    ("A red ball.", ["storyboard", "{d}/t.txt", "-o", "{d}/b.pdf", "--seconds-per-shot", "-1"], "seconds-per-shot"),
    ("A red ball.", ["film", "{d}/t.txt", "-o", "{d}/o", "--mode", "poem"], "invalid choice"),
])
def test_bad_inputs_get_one_line(tmp_path, capsys, make, args, msg):
    if make is not None:
        (tmp_path / "t.txt").write_bytes(make if isinstance(make, bytes) else make.encode())
    rc = main([a.format(d=tmp_path) for a in args])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and msg in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists() and not (tmp_path / "b.pdf").exists()
