"""`EnhanceStage`: one frame in, one frame out, through an engine (sr or restore models)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ganstream.engines.residual_gain import ResidualGain
from ganstream.stream.errors import StageError
from ganstream.stream.frame import Frame, VideoSpec


def residual_gain_for(engine: Any, run: Any, enabled: bool) -> ResidualGain | None:
    """A stream's residual strength for an SR engine (None for restore models or when disabled)."""
    card = engine.card
    return ResidualGain(run, int(card.scale)) if enabled and card.task == "sr" and int(card.scale) > 1 else None


class EnhanceStage:
    """Runs an `Engine` (``ganstream.engines``) on every frame.

    SR models keep only as much of their correction over bicubic as the stream's own frames
    say helps (``ganstream.engines.residual_gain``); ``residual_gain=False`` passes the raw output.
    """

    def __init__(self, engine: Any, name: str | None = None, residual_gain: bool = True) -> None:
        card = engine.card
        if card.task not in ("sr", "restore"):
            raise StageError(f"model '{card.name}' is a {card.task} model; an enhance stage needs sr or restore")
        self.engine = engine
        self.scale = int(card.scale)
        self.name = name or card.task
        self.label = f"{card.name} {engine.backend} {engine.precision}"
        self.gain = residual_gain_for(engine, self._run_one, residual_gain)

    def _run_one(self, pixels: Any) -> Any:
        return self.engine.infer(np.ascontiguousarray(pixels[np.newaxis]))[0]

    def configure(self, spec: VideoSpec) -> VideoSpec:
        problem = (
            self.engine.card.limits.check(spec.height, spec.width) if hasattr(self.engine.card, "limits") else None
        )
        if problem and not getattr(self.engine, "pads_input", False):
            raise StageError(f"model '{self.engine.card.name}': {problem}")
        if self.gain is not None:
            self.gain.reset()  # a new stream or a new size: measure afresh
        return spec.with_size(spec.width * self.scale, spec.height * self.scale)

    def process(self, frame: Frame) -> list[Frame]:
        out = self._run_one(frame.pixels)
        if self.gain is not None:
            self.gain.observe(frame.pixels)
            out = self.gain.apply(frame.pixels, out)
        return [frame.with_pixels(np.ascontiguousarray(out))]

    def flush(self) -> list[Frame]:
        return []

    def close(self) -> None:
        self.engine.close()
