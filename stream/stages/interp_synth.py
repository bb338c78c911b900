"""Synthesizers that follow motion: `FlowSynth` (classical, no model) and `NetSynth` (an interp model).

Both take the bidirectional DIS flow of ``ganstream.engines.flow``. `FlowSynth` warps both
frames to time t and averages them (``--model flow``). `NetSynth` runs an installed interp model
through its engine: a model whose card lists ``flow01`` / ``flow10`` inputs gets the classical
flow with the frames and learns the fusion and the detail on top of it; a model without them
(a RIFE-family network) gets the frames and t only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ganstream.engines.flow import FlowEstimator, FlowOptions, Warper, average_warped, intermediate_flows
from ganstream.stream.errors import StageError
from ganstream.stream.frame import Pixels
from ganstream.stream.stages.interp_rules import crop_to, pad_to_multiple

FLOW_INPUTS = ("flow01", "flow10")


class FlowSynth:
    """DIS flow + Super SloMo intermediate flows + backward warping + averaging."""

    name = "flow"

    def __init__(self, options: FlowOptions | None = None) -> None:
        self.flow = FlowEstimator(options)
        self.warper = Warper()

    def synthesize(self, frame0: Pixels, frame1: Pixels, ts: Sequence[float]) -> list[Pixels]:
        f01, f10 = self.flow.bidirectional(frame0, frame1)
        out: list[Pixels] = []
        for t in ts:
            ft0, ft1 = intermediate_flows(f01, f10, t)
            w0 = self.warper.warp(frame0, ft0)
            w1 = self.warper.warp(frame1, ft1)
            out.append(average_warped(w0, w1, t))  # type: ignore[arg-type]
        return out

    def close(self) -> None:
        pass


def flow_options_of(card: Any) -> FlowOptions:
    """The flow settings a model was trained with (its card's ``arch.params.flow``)."""
    params = (card.arch or {}).get("params", {}).get("flow", {})
    return FlowOptions(**params) if params else FlowOptions()


class NetSynth:
    """Runs an interp engine; feeds it the classical flow when its card asks for flows."""

    def __init__(self, engine: Any) -> None:
        card = engine.card
        if card.task != "interp":
            raise StageError(f"model '{card.name}' is a {card.task} model; the interpolate stage needs an interp model")
        self.engine = engine
        self.name = str(card.name)
        names = [s.name for s in card.inputs]
        self.wants_flow = all(n in names for n in FLOW_INPUTS)
        self.multiple = max(1, int(card.limits.multiple_of))
        self.flow = FlowEstimator(flow_options_of(card)) if self.wants_flow else None
        self._order = names

    def synthesize(self, frame0: Pixels, frame1: Pixels, ts: Sequence[float]) -> list[Pixels]:
        if not ts:
            return []
        h, w = frame0.shape[:2]
        feeds: dict[str, np.ndarray] = {}
        n = len(ts)
        # Pad here (frames and flows alike) so the engine's own frame padding has nothing to do.
        feeds["frame0"] = np.repeat(pad_to_multiple(frame0, self.multiple)[np.newaxis], n, axis=0)
        feeds["frame1"] = np.repeat(pad_to_multiple(frame1, self.multiple)[np.newaxis], n, axis=0)
        feeds["t"] = np.asarray(ts, dtype=np.float32).reshape(n, 1)
        if self.flow is not None:
            f01, f10 = self.flow.bidirectional(frame0, frame1)
            feeds["flow01"] = np.repeat(pad_to_multiple(f01, self.multiple)[np.newaxis], n, axis=0)
            feeds["flow10"] = np.repeat(pad_to_multiple(f10, self.multiple)[np.newaxis], n, axis=0)
        missing = [k for k in self._order if k not in feeds]
        if missing:
            raise StageError(f"model '{self.name}': its card asks for input(s) {', '.join(missing)} the stage lacks")
        out = self.engine.infer(*(feeds[k] for k in self._order))
        return [np.ascontiguousarray(crop_to(out[i], h, w)) for i in range(n)]

    def close(self) -> None:
        self.engine.close()
