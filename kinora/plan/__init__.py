"""Planning: text (English or Chinese) into ShotSpecs.

`parse` turns one prompt into one ShotSpec with the source span of every element;
the story planner (scenes, shots, entities, truth modes) builds on it.
"""

from kinora.plan.parse import ParseResult, parse

__all__ = ["ParseResult", "parse"]
