"""Generated video has exactly one way out: kinora.label.write_generated_video.

The unlabeled writer `kinora.io.video.write_mp4` (and encoding with PyAV directly)
is allowed only where the frames are not AI-generated: the simulator and its dataset
(computer graphics), the analyzer (which re-encodes frames it is given, to a temp
file), and the I/O and label modules themselves. Any other module that encodes video
would be a path that skips the labels, so this test names it.
"""

import re
from pathlib import Path

import kinora

ROOT = Path(kinora.__file__).resolve().parent
ALLOWED = ("io/", "label/", "world/", "verify/", "cli/world.py")
ENCODES = re.compile(r"\bwrite_mp4\b|\.add_stream\(")


def test_only_non_generative_modules_use_the_unlabeled_writer():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(ALLOWED) or rel in ALLOWED:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ENCODES.search(line) and not line.lstrip().startswith("#"):
                offenders.append(f"kinora/{rel}:{n}: {line.strip()}")
    assert not offenders, ("generated video must be written with kinora.label.write_generated_video, "
                           "not the unlabeled writer:\n" + "\n".join(offenders))


def test_no_command_or_function_removes_labels():
    words = re.compile(r"(remove|strip|delete|erase|drop)_?(label|aigc|watermark|c2pa)", re.I)
    hits = [p for p in ROOT.rglob("*.py") if words.search(p.read_text(encoding="utf-8"))]
    assert not hits, hits
