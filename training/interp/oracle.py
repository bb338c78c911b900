"""The measured-t oracle: where the real left-out frame sits in time between its neighbours.

Real capture is not evenly timed (dropped and duplicated frames, rolling exposure): the frame
left out between i - 1 and i + 1 is often not halfway through the motion. Measured with DIS
flows from the true middle frame to each neighbour, its effective time is
t = |F_m0| / (|F_m0| + |F_m1|) over the pixels that move. Interpolating at that t sees the
answer, so it is an upper bound for what timing costs, reported beside the methods (the
``oracle-t`` baseline of ``ganstream eval interp``), never a method that can ship.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ganstream.engines.flow import FlowEstimator, FlowOptions

MOVING_PX = 0.5  # summed flow magnitude below this is noise, not motion
MIN_MOVING_SHARE = 0.01  # fewer moving pixels than this: no timing to measure, t = 1/2
T_RANGE = (0.05, 0.95)


class MeasuredTime:
    def __init__(self, options: FlowOptions | None = None) -> None:
        self.flow = FlowEstimator(options or FlowOptions(preset="medium"))

    def t(self, frame0: npt.NDArray[np.uint8], middle: npt.NDArray[np.uint8], frame1: npt.NDArray[np.uint8]) -> float:
        gm = self.flow.grey(middle)
        m0 = np.linalg.norm(self.flow.calc(gm, self.flow.grey(frame0)), axis=2)
        m1 = np.linalg.norm(self.flow.calc(gm, self.flow.grey(frame1)), axis=2)
        total = m0 + m1
        moving = total > MOVING_PX
        if moving.mean() < MIN_MOVING_SHARE:
            return 0.5
        t = float(m0[moving].sum() / total[moving].sum())
        return float(np.clip(t, *T_RANGE))
