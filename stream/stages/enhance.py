"""`EnhanceStage`: one frame in, one frame out, through an engine (sr or restore models)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ganstream.stream.errors import StageError
from ganstream.stream.frame import Frame, VideoSpec


class EnhanceStage:
    """Runs an `Engine` (``ganstream.engines``) on every frame."""

    def __init__(self, engine: Any, name: str | None = None) -> None:
        card = engine.card
        if card.task not in ("sr", "restore"):
            raise StageError(f"model '{card.name}' is a {card.task} model; an enhance stage needs sr or restore")
        self.engine = engine
        self.scale = int(card.scale)
        self.name = name or card.task
        self.label = f"{card.name} {engine.backend} {engine.precision}"

    def configure(self, spec: VideoSpec) -> VideoSpec:
        problem = (
            self.engine.card.limits.check(spec.height, spec.width) if hasattr(self.engine.card, "limits") else None
        )
        if problem and not getattr(self.engine, "pads_input", False):
            raise StageError(f"model '{self.engine.card.name}': {problem}")
        return spec.with_size(spec.width * self.scale, spec.height * self.scale)

    def process(self, frame: Frame) -> list[Frame]:
        out = self.engine.infer(np.ascontiguousarray(frame.pixels[np.newaxis]))
        return [frame.with_pixels(np.ascontiguousarray(out[0]))]

    def flush(self) -> list[Frame]:
        return []

    def close(self) -> None:
        self.engine.close()
