"""Synthesizers that follow motion: `FlowSynth` (classical, no model) and `NetSynth` (an interp model).

Both start from the bidirectional DIS flow of ``ganstream.engines.flow`` and warp both frames to
time t. `FlowSynth` averages the two warps and mixes in the cross-fade where they disagree
(``--model flow``). `NetSynth` runs an installed interp model through its engine, which fuses
the warps and adds the detail they lost (``interp``); a model that finds motion itself (no flow
inputs in its card) gets the frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ganstream.engines.flow import (
    Fallback,
    FlowEstimator,
    FlowOptions,
    IntermediateFlows,
    Warper,
    fuse_warped,
    intermediate_flows,
)
from ganstream.engines.flow_projection import FlowProjector, pick_agreeing
from ganstream.stream.errors import StageError
from ganstream.stream.frame import Pixels
from ganstream.stream.stages.interp_rules import crop_to, pad_to_multiple

if TYPE_CHECKING:
    from ganstream.engines.block_search import BlockSearch

# Inputs of a flow-fed interp model (``interp``): both frames warped to t by the classical
# flow, t, and the flows from t back to each frame; the source frames too in current models
# (older ones fused the warps only). Warping happens here with cv2.remap, which is ~30x
# faster on a CPU than an in-graph GridSample in onnxruntime.
FLOW_FED_INPUTS = ("warped0", "warped1", "t", "flow_t0", "flow_t1")
FLOW_FED_WITH_FRAMES = ("frame0", "frame1", *FLOW_FED_INPUTS)
# Inputs of a model that finds the motion itself (a RIFE-family ``interp-rife``).
FRAME_INPUTS = ("frame0", "frame1", "t")
# `flow`'s DIS settings: the ultrafast preset on full frames, down to the pyramid level of half
# the frame size (the preset stops at a quarter). Chosen on the ten clips of the train and
# selection splits (leave-one-out, luma PSNR; the test split decides nothing): +0.19 dB over the
# preset's own level, every clip better (docs/interpolation.md), at about twice the flow's time.
CLASSICAL_FLOW = FlowOptions("ultrafast", 1, finest_scale=1)
# `flow-refined`: the same pyramid level reached from half-size frames (the same in-between
# frames to 0.01 dB on every selection clip, without DIS's full-size level), plus one variational
# refinement iteration per level: +0.06 dB on the selection split at about 1.2x `flow`'s time,
# which puts it at minterpolate's 3x floor on two cores (docs/interpolation.md, *Results*), so it
# is opt-in.
REFINED_FLOW = FlowOptions("ultrafast", 2, finest_scale=0, refine_iters=1)


def _block_search() -> BlockSearch:
    # Imported when asked for: with one more module imported eagerly, GStreamer's plugin scan
    # crashed in a fresh registry (the elements import this module; docs/gstreamer-elements.md).
    from ganstream.engines.block_search import BlockSearch

    return BlockSearch()


class FlowSynth:
    """DIS flow + Super SloMo intermediate flows + backward warping + averaging, with the
    cross-fade mixed in where the two warps disagree (`Fallback`). `flow-refined` is the same with
    `REFINED_FLOW`.

    `large_motion` (``--model flow-large``) adds the flows from t found by forward projection
    (``ganstream.engines.flow_projection``) and keeps, per pixel, the pair of warps that agree
    better: small objects that move further than their own size between frames stay in the
    in-between frame, at about twice the synthesis time. With it comes the block search
    (``ganstream.engines.block_search``; `block_search` None follows `large_motion`): where DIS
    lost an object too small and fast for its coarse levels, a template match finds it first.
    """

    def __init__(
        self,
        options: FlowOptions | None = None,
        fixed_point_warp: bool = True,
        cubic_warp: bool = True,
        fallback: Fallback | None = None,
        large_motion: bool = False,
        block_search: bool | None = None,
        name: str | None = None,
    ) -> None:
        self.warper = Warper(fixed_point=fixed_point_warp, cubic=cubic_warp)
        self.fallback = fallback or Fallback()  # Fallback(share=0): the plain average of the warps
        self.projector = FlowProjector() if large_motion else None
        # The block search goes with the projection unless asked otherwise: it finds the motion
        # that the projection then carries to t (`ganstream.engines.block_search`).
        self.search = _block_search() if (large_motion if block_search is None else block_search) else None
        self.flow = FlowEstimator(options or CLASSICAL_FLOW)
        self.name = name or ("flow-large" if large_motion else "flow")

    def synthesize(self, frame0: Pixels, frame1: Pixels, ts: Sequence[float]) -> list[Pixels]:
        if not ts:
            return []
        h, w = frame0.shape[:2]
        if self.search is None:
            flows = self.flow.working(frame0, frame1)
        else:  # the search reads the same grey frames as DIS
            g0, g1 = self.flow.grey(frame0), self.flow.grey(frame1)
            flows = self.flow.working_from_grey(g0, g1, h, w)
            flow01, flow10 = self.search.refine_pair(g0, g1, flows.flow01, flows.flow10)
            flows = IntermediateFlows(flow01, flow10, h, w)
        projection = self.projector.prepare(flows.flow01, flows.flow10, h, w) if self.projector else None
        out: list[Pixels] = []
        for t in ts:
            ft0, ft1 = flows.at(t)
            w0 = self.warper.warp(frame0, ft0)
            w1 = self.warper.warp(frame1, ft1)
            if projection is not None:
                p0, p1 = projection.at(t)
                w0, w1 = pick_agreeing((w0, w1), (self.warper.warp(frame0, p0), self.warper.warp(frame1, p1)))
            out.append(fuse_warped(w0, w1, frame0, frame1, t, self.fallback))
        return out

    def close(self) -> None:
        pass


# The classical interpolators `--model` offers (besides `blend`), each built by `classical_flow_synth`.
CLASSICAL_FLOW_SYNTHS = ("flow", "flow-refined", "flow-large")


def classical_flow_synth(name: str) -> FlowSynth:
    """`flow`, `flow-refined` or `flow-large` by name, as `ganstream run` and `ganstream eval` build them."""
    if name == "flow":
        return FlowSynth()
    if name == "flow-refined":
        return FlowSynth(REFINED_FLOW, name="flow-refined")
    if name == "flow-large":
        return FlowSynth(large_motion=True)
    raise ValueError(
        f"not a classical flow interpolator: {name!r} (expected one of {', '.join(CLASSICAL_FLOW_SYNTHS)})"
    )


def flow_options_of(card: Any) -> FlowOptions:
    """The flow settings a model was trained with (its card's ``arch.flow``)."""
    params = (card.arch or {}).get("flow", {})
    return FlowOptions(**params) if params else FlowOptions()


class NetSynth:
    """Runs an interp engine: a flow-fed model gets the warped frames, t and the flows from t;
    a model that finds motion itself gets the two frames and t."""

    def __init__(self, engine: Any) -> None:
        card = engine.card
        if card.task != "interp":
            raise StageError(f"model '{card.name}' is a {card.task} model; the interpolate stage needs an interp model")
        self.engine = engine
        self.name = str(card.name)
        self._order = tuple(s.name for s in card.inputs)
        if set(self._order) in (set(FLOW_FED_INPUTS), set(FLOW_FED_WITH_FRAMES)):
            self.flow: FlowEstimator | None = FlowEstimator(flow_options_of(card))
        elif set(self._order) == set(FRAME_INPUTS):
            self.flow = None
        else:
            raise StageError(
                f"model '{self.name}': inputs {', '.join(self._order)} are neither "
                f"{', '.join(FLOW_FED_INPUTS)} nor {', '.join(FRAME_INPUTS)}"
            )
        # the kernel the network was trained with (cards from before the field: bilinear)
        self.warper = Warper(cubic=(card.arch or {}).get("warp") == "cubic")
        self.multiple = max(1, int(card.limits.multiple_of))

    def synthesize(self, frame0: Pixels, frame1: Pixels, ts: Sequence[float]) -> list[Pixels]:
        if not ts:
            return []
        h, w = frame0.shape[:2]
        m = self.multiple
        feeds: dict[str, list[np.ndarray]] = {k: [] for k in self._order if k != "t"}
        if "frame0" in feeds:
            feeds["frame0"] = [pad_to_multiple(frame0, m)] * len(ts)
            feeds["frame1"] = [pad_to_multiple(frame1, m)] * len(ts)
        if self.flow is not None:
            f01, f10 = self.flow.bidirectional(frame0, frame1)
            for t in ts:
                ft0, ft1 = intermediate_flows(f01, f10, t)
                feeds["warped0"].append(pad_to_multiple(self.warper.warp(frame0, ft0), m))
                feeds["warped1"].append(pad_to_multiple(self.warper.warp(frame1, ft1), m))
                feeds["flow_t0"].append(pad_to_multiple(ft0, m))
                feeds["flow_t1"].append(pad_to_multiple(ft1, m))
        batch = {k: np.stack(v) for k, v in feeds.items()}
        batch["t"] = np.asarray(ts, dtype=np.float32).reshape(len(ts), 1)
        out = self.engine.infer(*(batch[k] for k in self._order))
        return [np.ascontiguousarray(crop_to(out[i], h, w)) for i in range(len(ts))]

    def close(self) -> None:
        self.engine.close()
