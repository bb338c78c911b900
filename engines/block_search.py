"""Block search where DIS lost a small fast object: template matching over a wide window.

DIS finds motion coarse to fine. An object smaller than a few pixels at the coarse pyramid levels
is gone there, so a small object that moves further than its own size keeps the background's
motion (or a fraction of its own): the flow carries frame1's pixels to the wrong place and the
warped frame disagrees with frame0 on the object. ffmpeg's minterpolate finds such motion with
block matching (EPZS search, 16 px blocks); this module adds the same kind of search, but only
where the DIS flow failed, so it costs almost nothing on the frames where DIS is right:

1. at half size, the residual |frame0 - frame1 warped along the flow| per 8x8 block (16x16 frame
   pixels); blocks above `FAILED_LEVELS` that also changed between the frames are searched, the
   worst first (at most `MAX_BLOCKS`);
2. each searched block's failed pixels (with a margin of context) are matched in frame1 over
   +-`SearchOptions.search_px` frame pixels (OpenCV's `matchTemplate`, masked squared
   differences); the best whole-pixel vector is kept when its error is at most `ACCEPT_SHARE`
   of the error of staying put;
3. per pixel of a searched block, the block's vector replaces DIS's where it explains the pixel
   better (smoothed residual), so the background around a small object keeps DIS's flow;
4. `refine_pair` searches both directions and keeps a vector only where the other direction's
   flow sends it back: a patch matched one way only (occluded, resembling another) reverts.

The corrected pair of flows then goes through the same steps as DIS's own (flows from t, forward
projection, warps): `BlockSearch.refine_pair` is a drop-in between DIS and `IntermediateFlows`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from ganstream.engines.flow import Flow, Image, Warper

BLOCK = 8  # half-size pixels per block side (16 frame pixels, minterpolate's macroblock)
MARGIN = 4  # half-size pixels of context around a block in its template
FAILED_LEVELS = 12.0  # mean grey residual of a block along DIS's flow that counts as failed
CHANGED_LEVELS = 8.0  # mean grey difference between the frames: a block that did not change is not searched
ACCEPT_SHARE = 0.5  # the search's error must be at most this share of staying put's
MAX_BLOCKS = 256  # a bound on the work per frame pair (the worst blocks first)
CONSISTENT_PX = 2.0  # a searched vector is confirmed when the reverse flow returns within this
CONSISTENT_SHARE = 0.1  # ... plus this share of the motion


@dataclass(frozen=True)
class SearchOptions:
    """How far the block search looks (frame pixels between the two frames)."""

    search_px: int = 48

    def __post_init__(self) -> None:
        if not 4 <= self.search_px <= 256:
            raise ValueError(f"SearchOptions: search_px must be within 4..256, got {self.search_px}")


class BlockSearch:
    """Corrects a pair of DIS flows (at the frames' size) where a block search explains frame0 better."""

    def __init__(self, options: SearchOptions | None = None) -> None:
        self.options = options or SearchOptions()
        self._warper = Warper()  # float maps: the residual DIS's own flow leaves
        self.last_searched = 0  # blocks searched in the last call
        self.last_replaced = 0  # of them, blocks whose vector was kept

    def refine_pair(self, grey0: Image, grey1: Image, flow01: Flow, flow10: Flow) -> tuple[Flow, Flow]:
        """Both directions corrected (full-size grey frames and flows in frame pixels), keeping a
        searched vector only where the other direction's flow sends it back (a small object found
        both ways); a match found one way only (an occluded patch that resembles another) reverts."""
        a, taken_a = self._refine(grey0, grey1, flow01)
        searched, replaced = self.last_searched, self.last_replaced
        b, taken_b = self._refine(grey1, grey0, flow10)
        self.last_searched += searched
        self.last_replaced += replaced
        if taken_a is None and taken_b is None:
            return a, b
        return _confirmed(a, b, taken_a, flow01), _confirmed(b, a, taken_b, flow10)

    def refine(self, grey0: Image, grey1: Image, flow01: Flow) -> Flow:
        """`flow01` with the blocks DIS failed on searched and, where it explains frame0 better,
        replaced (one direction, unconfirmed: `refine_pair` checks both ways)."""
        return self._refine(grey0, grey1, flow01)[0]

    def _refine(self, grey0: Image, grey1: Image, flow01: Flow) -> tuple[Flow, npt.NDArray[np.intp] | None]:
        """The refined flow and the flat indices of the frame pixels whose vector was replaced."""
        self.last_searched = self.last_replaced = 0
        h0 = np.asarray(cv2.pyrDown(grey0), dtype=np.uint8)
        h1 = np.asarray(cv2.pyrDown(grey1), dtype=np.uint8)
        hh, hw = h0.shape[:2]
        rows, cols = hh // BLOCK, hw // BLOCK
        if rows < 1 or cols < 1:
            return flow01, None
        half = np.asarray(cv2.resize(flow01, (hw, hh), interpolation=cv2.INTER_AREA), dtype=np.float32) * 0.5
        residual = cv2.absdiff(h0, self._warper.warp(h1, half))
        area = (cols * BLOCK, rows * BLOCK)
        block_res = cv2.resize(residual[: area[1], : area[0]], (cols, rows), interpolation=cv2.INTER_AREA)
        block_chg = cv2.resize(cv2.absdiff(h0, h1)[: area[1], : area[0]], (cols, rows), interpolation=cv2.INTER_AREA)
        failed = np.flatnonzero(((block_res > FAILED_LEVELS) & (block_chg > CHANGED_LEVELS)).ravel())
        if failed.size == 0:
            return flow01, None
        failed = failed[np.argsort(-block_res.ravel()[failed])][:MAX_BLOCKS]
        reach = max(1, self.options.search_px // 2)
        # Only the pixels DIS failed on are matched: a block that holds a small object and the
        # background around it would otherwise match half of each.
        failing = np.asarray(residual > FAILED_LEVELS / 2, dtype=np.uint8)
        refined: Flow | None = None
        taken: list[npt.NDArray[np.intp]] = []
        for index in failed:
            by, bx = divmod(int(index), cols)
            y, x = by * BLOCK, bx * BLOCK
            self.last_searched += 1
            vector = self._search(h0, h1, failing, x, y, reach)
            if vector is None:
                continue
            # Per pixel, the block's vector only where it explains frame0 better than DIS's
            # (3x3 smoothed residuals): the background around a small object keeps DIS's flow.
            vx, vy = vector
            if not (x + vx >= 0 and x + vx + BLOCK <= hw and y + vy >= 0 and y + vy + BLOCK <= hh):
                continue
            moved = cv2.absdiff(h0[y : y + BLOCK, x : x + BLOCK], h1[y + vy : y + vy + BLOCK, x + vx : x + vx + BLOCK])
            better = cv2.blur(moved, (3, 3)) < cv2.blur(residual[y : y + BLOCK, x : x + BLOCK], (3, 3))
            if not better.any():
                continue
            if refined is None:
                refined = flow01.copy()
            ys, xs = np.nonzero(better)
            fy, fx = 2 * (ys + y), 2 * (xs + x)  # the 2x2 frame pixels of each half-size pixel
            fy = np.concatenate([fy, fy, fy + 1, fy + 1])
            fx = np.concatenate([fx, fx + 1, fx, fx + 1])
            inside = (fy < flow01.shape[0]) & (fx < flow01.shape[1])
            fy, fx = fy[inside], fx[inside]
            refined[fy, fx] = (2.0 * vx, 2.0 * vy)
            taken.append(fy * flow01.shape[1] + fx)
            self.last_replaced += 1
        if refined is None:
            return flow01, None
        return refined, np.concatenate(taken)

    def _search(self, h0: Image, h1: Image, failing: Image, x: int, y: int, reach: int) -> tuple[int, int] | None:
        """The best vector (whole half-size pixels) of the block at (x, y), or None if it is no better than staying."""
        hh, hw = h0.shape[:2]
        tx0, ty0 = max(0, x - MARGIN), max(0, y - MARGIN)
        tx1, ty1 = min(hw, x + BLOCK + MARGIN), min(hh, y + BLOCK + MARGIN)
        template = h0[ty0:ty1, tx0:tx1]
        mask = failing[ty0:ty1, tx0:tx1]
        if int(mask.sum()) < BLOCK:
            return None
        wx0, wy0 = max(0, tx0 - reach), max(0, ty0 - reach)
        wx1, wy1 = min(hw, tx1 + reach), min(hh, ty1 + reach)
        window = h1[wy0:wy1, wx0:wx1]
        if window.shape[0] < template.shape[0] or window.shape[1] < template.shape[1]:
            return None
        scores = cv2.matchTemplate(window, template, cv2.TM_SQDIFF, mask=mask)
        best, _, (mx, my), _ = cv2.minMaxLoc(scores)
        still = scores[ty0 - wy0, tx0 - wx0]
        if best > ACCEPT_SHARE * still:
            return None
        return wx0 + mx - tx0, wy0 + my - ty0


def _confirmed(flow: Flow, back: Flow, taken: npt.NDArray[np.intp] | None, original: Flow) -> Flow:
    """`flow`, with the searched vectors at `taken` that `back` does not send back reverted to `original`."""
    if taken is None:
        return flow
    h, w = flow.shape[:2]
    vectors = flow.reshape(-1, 2)[taken]
    ty, tx = np.divmod(taken, w)
    qx = np.clip(np.rint(tx + vectors[:, 0]).astype(np.intp), 0, w - 1)
    qy = np.clip(np.rint(ty + vectors[:, 1]).astype(np.intp), 0, h - 1)
    returned = back[qy, qx]
    mismatch = np.hypot(*(vectors + returned).T)
    allowed = CONSISTENT_PX + CONSISTENT_SHARE * np.hypot(*vectors.T)
    wrong = taken[mismatch > allowed]
    if wrong.size:
        flow.reshape(-1, 2)[wrong] = original.reshape(-1, 2)[wrong]
    return flow
