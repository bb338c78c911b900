"""A camera's per-stream model choice (`sr2x-auto`) inside `serve`, on engines shared by all cameras.

`ganstream run` wraps the two models in one engine (``engines.input_choice.InputChoice``). In
`serve` the models are shared and batched across cameras, so each camera keeps its own
decision (`StreamChoice`) and sends each frame to the shared engine of the model it chose: a
camera with clean frames batches with the other clean cameras on `sr2x-clean`, an H.264 camera
with the other H.264 cameras on `sr2x`. While a switch fades, the frame runs on both.
"""

from __future__ import annotations

from ganstream.engines.input_choice import StreamChoice, check_members
from ganstream.stream.batching import SharedEnhanceStage
from ganstream.stream.frame import Frame, VideoSpec


class SharedChoiceStage:
    """One camera's choice between two shared-engine stages of one task and scale."""

    def __init__(self, clean: SharedEnhanceStage, compressed: SharedEnhanceStage, label: str) -> None:
        check_members(clean.engine.card, compressed.engine.card)
        self.stages = {"clean": clean, "compressed": compressed}
        self.choice = StreamChoice()
        self.name = compressed.name
        self.scale = compressed.scale
        self.label = label

    def configure(self, spec: VideoSpec) -> VideoSpec:
        self.choice.reset()  # a new stream or a new size: measure afresh
        self.stages["clean"].configure(spec)
        return self.stages["compressed"].configure(spec)

    def process(self, frame: Frame) -> list[Frame]:
        current = self.choice.observe(frame.pixels, frame.seq)
        (out,) = self.stages[current].process(frame)  # one frame in flight per camera: depth 1
        if not self.choice.fading:
            return [out]
        (old,) = self.stages[self.choice.previous].process(frame)
        return [out.with_pixels(self.choice.mix(out.pixels, old.pixels))]

    def flush(self) -> list[Frame]:
        return []

    def summary_line(self) -> str:
        clean, compressed = (s.engine.card.name for s in self.stages.values())
        lines = [self.choice.summary(str(clean), str(compressed))]
        lines += [s.summary_line() for s in self.stages.values()]
        return "\n".join(line for line in lines if line)

    def close(self) -> None:
        for s in self.stages.values():
            s.close()
