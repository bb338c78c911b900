"""Flows from time t by forward projection: the motion of objects that move further than their own size.

The Super SloMo approximation (`ganstream.engines.flow.intermediate_flows`) reads the flows at the
in-between pixel itself. Where a small object moved further than its own size between the two
frames, the pixel it crosses at t shows background in both frames, so the approximation finds no
motion there and the object vanishes from the in-between frame (or leaves two faint copies). Forward
projection carries each pixel's motion to where that pixel is at t instead, as DAIN's flow
projection (Bao et al., 2019) and softmax splatting (Niklaus and Liu, 2020) do:

- pixel p of frame0 with flow F01(p) is at p + t F01(p) at time t, so there F_t0 = -t F01(p) and
  F_t1 = (1 - t) F01(p); pixel p of frame1 with flow F10(p) likewise with 1 - t;
- where several pixels land on one, a pixel whose flow the other direction confirms beats one it
  does not (an occluded pixel's flow is a guess), then the larger motion wins (with a static
  camera, what moves is in front of what does not);
- a moving pixel also covers the 2x2 pixels around its place at t (no cracks in a moving
  object); pixels nothing lands on keep the approximation.

The projection runs at half the flow's size (a quarter of the pixels; the flows are smooth) and
its result is median-filtered (3x3) against single stray vectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from ganstream.engines.flow import Flow, intermediate_flows

CONSISTENT_PX = 1.0  # forward-backward mismatch allowed, plus 10 % of the motion
CONSISTENT_SHARE = 0.1
MOTION_LEVELS = 4000  # motion priority in 1/16 px, capped below the consistency bonus
CONSISTENT_BONUS = 5000
# Below this motion (frame pixels, either axis) only objects smaller than it could have left
# their own outline; the projection is skipped (a still scene costs nothing more).
SMALL_MOTION_PX = 4.0


class FlowProjector:
    """Forward projection of a pair of DIS flows to the flows from t (with cached pixel grids)."""

    def __init__(self) -> None:
        self._grid: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None = None

    def _xy(self, height: int, width: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        if self._grid is None or self._grid[0].shape != (height, width):
            ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
            self._grid = (xs, ys)
        return self._grid

    def _consistent(self, fa: Flow, fb: Flow) -> npt.NDArray[np.bool_]:
        """Pixels whose flow `fa` the reverse flow `fb` at their destination sends back."""
        xs, ys = self._xy(*fa.shape[:2])
        where = np.dstack((xs + fa[..., 0], ys + fa[..., 1]))
        back = cv2.remap(fb, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # type: ignore[call-overload]
        mismatch = cv2.magnitude(*cv2.split(cv2.add(fa, back)))
        return np.asarray(mismatch <= CONSISTENT_PX + CONSISTENT_SHARE * cv2.magnitude(fa[..., 0], fa[..., 1]))

    def ranks(self, flow01: Flow, flow10: Flow) -> tuple[Ranks, Ranks]:
        """Each pixel's rank in a conflict and whether it moves, per direction: the same for every t."""
        out = []
        for flow, back in ((flow01, flow10), (flow10, flow01)):
            motion = cv2.magnitude(flow[..., 0], flow[..., 1]).ravel()
            priority = np.minimum(motion * 16.0, MOTION_LEVELS).astype(np.int64) + 1
            priority += CONSISTENT_BONUS * self._consistent(flow, back).ravel()
            out.append(Ranks(priority, np.flatnonzero(motion >= 0.5)))
        return out[0], out[1]

    def at(self, flow01: Flow, flow10: Flow, t: float, ranks: tuple[Ranks, Ranks] | None = None) -> tuple[Flow, Flow]:
        """(F_t0, F_t1) at the flows' size: projected where a pixel lands, the approximation elsewhere.
        `ranks` (from `ranks`) saves recomputing them for each t of one pair of flows."""
        h, w = flow01.shape[:2]
        n = h * w
        xs, ys = self._xy(h, w)
        targets, keys, to0, to1 = [], [], [], []
        pair_ranks = ranks or self.ranks(flow01, flow10)
        for k, (flow, s) in enumerate(((flow01, t), (flow10, 1.0 - t))):
            x, y = (xs + s * flow[..., 0]).ravel(), (ys + s * flow[..., 1]).ravel()
            priority, moving = pair_ranks[k].priority, pair_ranks[k].moving
            index = np.arange(k * n, (k + 1) * n, dtype=np.int64)
            # Every pixel lands where it is at t, rounded. A moving one also lands on the rest of
            # the 2x2 pixels around that place, one rank lower: with rounding alone a motion of
            # 7.5 px fills every other column and the still background shows through the cracks.
            qx, qy = np.rint(x).astype(np.int64), np.rint(y).astype(np.int64)
            inside = (qx >= 0) & (qx < w) & (qy >= 0) & (qy < h)
            keys.append((priority * 2 + 1) * (2 * n) + index)  # ties: the source index, not numpy's order
            targets.append(np.where(inside, qy * w + qx, -1))
            fx, fy = np.floor(x[moving]).astype(np.int64), np.floor(y[moving]).astype(np.int64)
            for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
                cx, cy = fx + dx, fy + dy
                inside = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
                keys.append(priority[moving] * 2 * (2 * n) + index[moving])
                targets.append(np.where(inside, cy * w + cx, -1))
            f = flow.reshape(-1, 2)
            near, far = -s * f, (1.0 - s) * f  # back to the pixel's own frame, on to the other one
            to0.append(near if k == 0 else far)
            to1.append(far if k == 0 else near)
        target, key = np.concatenate(targets), np.concatenate(keys)
        landed = target >= 0
        best = np.full(n, -1, np.int64)
        np.maximum.at(best, target[landed], key[landed])
        covered = best >= 0
        source = best[covered] % (2 * n)  # k * n + the pixel's index in its frame
        ft0, ft1 = (np.ascontiguousarray(f.reshape(-1, 2)) for f in intermediate_flows(flow01, flow10, t))
        ft0[covered] = np.concatenate(to0)[source]
        ft1[covered] = np.concatenate(to1)[source]
        return (
            np.asarray(cv2.medianBlur(ft0.reshape(h, w, 2), 3), dtype=np.float32),
            np.asarray(cv2.medianBlur(ft1.reshape(h, w, 2), 3), dtype=np.float32),
        )

    def prepare(self, flow01: Flow, flow10: Flow, height: int, width: int) -> Projection | None:
        """The projection of a pair of flows (at their working size) for frames of (height, width):
        every other pixel, ranked once for all t; None when nothing moves `SMALL_MOTION_PX` or more
        (the approximation holds, nothing to add)."""
        scale = max(width / flow01.shape[1], height / flow01.shape[0])
        if max(float(np.abs(flow01).max()), float(np.abs(flow10).max())) * scale < SMALL_MOTION_PX:
            return None
        f01 = np.ascontiguousarray(flow01[::2, ::2]) * 0.5
        f10 = np.ascontiguousarray(flow10[::2, ::2]) * 0.5
        return Projection(self, f01, f10, self.ranks(f01, f10), height, width)


@dataclass(frozen=True)
class Ranks:
    """One direction's pixels: rank in a conflict (consistency, then motion) and which ones move."""

    priority: npt.NDArray[np.int64]
    moving: npt.NDArray[np.intp]


@dataclass(frozen=True)
class Projection:
    """A pair of half-size flows ready to be projected to any t (`FlowProjector.prepare`)."""

    projector: FlowProjector
    flow01: Flow
    flow10: Flow
    ranks: tuple[Ranks, Ranks]
    height: int
    width: int

    def at(self, t: float) -> tuple[Flow, Flow]:
        """(F_t0, F_t1) at the frames' size, in frame pixels."""
        ft0, ft1 = self.projector.at(self.flow01, self.flow10, t, self.ranks)
        sx, sy = self.width / ft0.shape[1], self.height / ft0.shape[0]
        size = (self.width, self.height)
        return tuple(  # type: ignore[return-value]
            np.asarray(
                cv2.multiply(cv2.resize(f, size, interpolation=cv2.INTER_NEAREST), (sx, sy, 0.0, 0.0)),  # type: ignore[call-overload]
                dtype=np.float32,
            )
            for f in (ft0, ft1)
        )


PICK_MARGIN = 2.0  # grey levels by which the projected warps must agree better
PICK_WINDOW = 7


def _disagreement(warped0: npt.NDArray[np.uint8], warped1: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    grey = cv2.cvtColor(cv2.absdiff(warped0, warped1), cv2.COLOR_RGB2GRAY)
    return np.asarray(cv2.blur(grey.astype(np.float32), (PICK_WINDOW, PICK_WINDOW)), dtype=np.float32)


def pick_agreeing(
    approx: tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]],
    projected: tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """Per pixel, the pair of warps (approximation or projection) that agree better with each other.

    Two warps to t along right flows show the same thing; where the approximation lost a fast
    object, its warps show background in one and a smear in the other, and the projection's agree.
    The projection must win by `PICK_MARGIN` levels (over 7x7 px), so noise keeps the approximation.
    """
    use = (_disagreement(*projected) + PICK_MARGIN < _disagreement(*approx))[..., None]
    return np.where(use, projected[0], approx[0]), np.where(use, projected[1], approx[1])
