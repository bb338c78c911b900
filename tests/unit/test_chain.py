"""Stage chaining: order, timing, and end-of-stream frames passing through later stages."""

from __future__ import annotations

import numpy as np

from ganstream.stream.chain import StageChain
from ganstream.stream.frame import Frame, VideoSpec
from ganstream.stream.stages import IdentityStage, ResampleStage


class HoldOne:
    """Emits each frame one step late; the last comes out on flush (like an interpolator)."""

    name = "hold"

    def __init__(self) -> None:
        self.held: Frame | None = None

    def configure(self, spec: VideoSpec) -> VideoSpec:
        return spec

    def process(self, frame: Frame) -> list[Frame]:
        out, self.held = ([self.held] if self.held else []), frame
        return out

    def flush(self) -> list[Frame]:
        out, self.held = ([self.held] if self.held else []), None
        return out

    def close(self) -> None:
        pass


def frame(i: int) -> Frame:
    return Frame(np.full((4, 6, 3), i, np.uint8), pts=i * 100, duration=100, seq=i, meta={"t_enter": i})


def test_chain_configures_in_order_and_flushes_through_later_stages() -> None:
    chain = StageChain([HoldOne(), ResampleStage(2, "nearest"), IdentityStage()])
    out_spec = chain.configure(VideoSpec(6, 4))
    assert (out_spec.width, out_spec.height) == (12, 8)
    outs = [f for i in range(3) for f in chain.process(frame(i))]
    outs += chain.flush()
    assert [f.seq for f in outs] == [0, 1, 2]
    assert all(f.pixels.shape == (8, 12, 3) for f in outs)
    assert [int(f.pixels[0, 0, 0]) for f in outs] == [0, 1, 2]
    assert set(chain.stats.stage_ms()) == {"hold", "sr", "identity"}
