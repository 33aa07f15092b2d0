"""What a labeled video records (`Provenance`) and how it is labeled (`LabelConfig`).

Both are typed dataclasses that check themselves on construction: a bad value is a
`KinoraError`, never a silent fix. `LabelConfig` has no switch that turns a label off:
every field only chooses *how* the visible label, the metadata label and the optional
C2PA manifest look, and `__post_init__` refuses values that would break the rules
(GB 45438-2025: text height >= 5 % of the shortest side, shown >= 2 s at the start).

The defaults below are the one visible place where the label's defaults live.
"""

from __future__ import annotations

import dataclasses
import hashlib
import numbers
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kinora.errors import KinoraError

# The visible text. "AI生成" is what GB 45438 asks for ("AI" + "生成"); it is always shown.
CHINESE_TEXT = "AI生成"
ENGLISH_TEXT = "AI-generated"
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
# "start": the first `seconds`; "start_end": the first and the last `seconds`;
# "whole": every frame. A video shorter than `seconds` is labeled on every frame.
DURATIONS = ("start", "start_end", "whole")
TRUTH_MODES = ("news", "knowledge", "story")

MIN_TEXT_HEIGHT = 0.05  # GB 45438-2025: text height >= 5 % of the frame's shortest side
MAX_TEXT_HEIGHT = 0.15  # beyond this the label hides the picture; inspect searches up to here
MIN_SECONDS = 2.0  # GB 45438-2025: shown for at least 2 s at normal speed

# Metadata values: ASCII, printable, without space, double quote or backslash.
_METADATA_VALUE = re.compile(r'^[!#-\[\]-~]*$')
_TASK = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,31}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def check_metadata_value(name: str, value: str, allow_empty: bool = True) -> str:
    """Return `value` if it may stand in the AIGC JSON; raise KinoraError otherwise."""
    if not isinstance(value, str):
        raise KinoraError(f"{name} must be a string, got {type(value).__name__}")
    if not value and not allow_empty:
        raise KinoraError(f"{name} must not be empty")
    if len(value) > 256 or not _METADATA_VALUE.match(value):
        raise KinoraError(
            f"{name}={value!r} is not allowed: use at most 256 printable ASCII characters "
            "without space, double quote or backslash")
    return value


@dataclass(frozen=True)
class Provenance:
    """Where a generated video came from. The prompt is kept only as its SHA-256."""

    model: str  # model preset or name, e.g. "kinora-tiny"
    checkpoint_sha256: str  # SHA-256 of the weights file, 64 hex digits
    seed: int
    prompt: str  # the prompt text; only `prompt_sha256` is written to the file
    truth_mode: str  # one of TRUTH_MODES
    task: str  # t2v, i2v, extend, edit, storyboard, ... (lower-case identifier)
    kinora_version: str = ""  # filled from kinora.__version__ when empty
    # How it was made, so it can be made again: steps, guidance, sampler, size, frames and
    # the torch thread count (float sums round differently on another count).
    settings: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.model, str) or not self.model.strip():
            raise KinoraError("provenance.model must be a non-empty string")
        if not isinstance(self.checkpoint_sha256, str) or not _SHA256.match(self.checkpoint_sha256):
            raise KinoraError(
                f"provenance.checkpoint_sha256 must be 64 lower-case hex digits, got {self.checkpoint_sha256!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral):
            raise KinoraError(f"provenance.seed must be an integer, got {self.seed!r}")
        object.__setattr__(self, "seed", int(self.seed))  # numpy integers become JSON-able ints
        if not isinstance(self.prompt, str):
            raise KinoraError("provenance.prompt must be a string")
        if self.truth_mode not in TRUTH_MODES:
            raise KinoraError(f"provenance.truth_mode must be one of {', '.join(TRUTH_MODES)}, got {self.truth_mode!r}")
        if not isinstance(self.task, str) or not _TASK.match(self.task):
            raise KinoraError(f"provenance.task must be a short lower-case identifier like 't2v', got {self.task!r}")
        if not isinstance(self.kinora_version, str):
            raise KinoraError("provenance.kinora_version must be a string")
        if not isinstance(self.settings, dict):
            raise KinoraError("provenance.settings must be a dict")
        if not self.kinora_version:
            from kinora import __version__

            object.__setattr__(self, "kinora_version", __version__)

    @property
    def prompt_sha256(self) -> str:
        return hashlib.sha256(self.prompt.encode("utf-8")).hexdigest()

    def to_record(self) -> dict[str, Any]:
        """The JSON-able record written to the file (no prompt text)."""
        return {
            "model": self.model,
            "checkpoint_sha256": self.checkpoint_sha256,
            "seed": self.seed,
            "prompt_sha256": self.prompt_sha256,
            "truth_mode": self.truth_mode,
            "task": self.task,
            "kinora_version": self.kinora_version,
            **({"settings": dict(self.settings)} if self.settings else {}),
        }


@dataclass(frozen=True)
class LabelConfig:
    """How Kinora labels generated video. There is deliberately no way to switch a label off.

    content_producer: GB 45438 ContentProducer, the producer's name or code (ASCII).
    english: also show "AI-generated" under "AI生成" (the Chinese text is always shown).
    corner: where the label sits, one of CORNERS.
    duration: which frames carry it, one of DURATIONS; `seconds` (>= 2) for start/end.
    text_height: height of the "AI生成" ink as a fraction of the shortest side (>= 0.05).
    min_text_px: the label's text is never drawn shorter than this many pixels.
    min_display_size: frames whose shortest side is smaller are upscaled by a whole
        factor (bicubic) until it is at least this, before the label is stamped, so
        the label stays legible (see kinora.label.visible).
    c2pa_cert, c2pa_key: PEM certificate chain (leaf first, then its CA; not
        self-signed) and private key; when both are given the file is C2PA-signed.
    """

    content_producer: str = "Kinora"
    english: bool = True
    corner: str = "top-left"
    duration: str = "start"
    seconds: float = MIN_SECONDS
    text_height: float = 0.06
    min_text_px: int = 16
    min_display_size: int = 256
    c2pa_cert: str | None = None
    c2pa_key: str | None = None

    def __post_init__(self):
        check_metadata_value("content_producer", self.content_producer, allow_empty=False)
        if not isinstance(self.english, bool):
            raise KinoraError(f"english must be true or false, got {self.english!r}")
        if self.corner not in CORNERS:
            raise KinoraError(f"corner must be one of {', '.join(CORNERS)}, got {self.corner!r}")
        if self.duration not in DURATIONS:
            raise KinoraError(f"duration must be one of {', '.join(DURATIONS)}, got {self.duration!r}")
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)) or not (
                MIN_SECONDS <= self.seconds <= 3600):
            raise KinoraError(f"seconds must be a number of at least {MIN_SECONDS}, got {self.seconds!r}")
        if isinstance(self.text_height, bool) or not isinstance(self.text_height, (int, float)) or not (
                MIN_TEXT_HEIGHT <= self.text_height <= MAX_TEXT_HEIGHT):
            raise KinoraError(
                f"text_height must be between {MIN_TEXT_HEIGHT} and {MAX_TEXT_HEIGHT} of the shortest side, "
                f"got {self.text_height!r}")
        if isinstance(self.min_text_px, bool) or not isinstance(self.min_text_px, int) or not (
                12 <= self.min_text_px <= 200):
            raise KinoraError(f"min_text_px must be a whole number from 12 to 200, got {self.min_text_px!r}")
        if isinstance(self.min_display_size, bool) or not isinstance(self.min_display_size, int) or not (
                128 <= self.min_display_size <= 2160):
            raise KinoraError(
                f"min_display_size must be a whole number from 128 to 2160, got {self.min_display_size!r}")
        if self.min_text_px > MAX_TEXT_HEIGHT * self.min_display_size:
            raise KinoraError(
                f"min_text_px={self.min_text_px} is too tall for min_display_size={self.min_display_size}: "
                f"raise min_display_size to at least {int(self.min_text_px / MAX_TEXT_HEIGHT) + 1}")
        if (self.c2pa_cert is None) != (self.c2pa_key is None):
            raise KinoraError("C2PA signing needs both c2pa_cert and c2pa_key (PEM files), or neither")
        for name in ("c2pa_cert", "c2pa_key"):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, (str, Path)):
                    raise KinoraError(f"{name} must be a path to a PEM file")
                object.__setattr__(self, name, str(value))

    @property
    def signs_c2pa(self) -> bool:
        return self.c2pa_cert is not None

    @classmethod
    def from_dict(cls, d: Any) -> "LabelConfig":
        """Build from a JSON object; unknown keys are errors."""
        if not isinstance(d, dict):
            raise KinoraError(f"a label config must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise KinoraError(f"unknown label option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
