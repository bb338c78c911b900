"""Per stream, the SR model that suits its input: one trained for clean frames or one for compressed.

A network trained on a mix of clean and H.264-compressed input learns to smooth blocking, and
pays for it on clean input; one trained on clean frames alone sharpens further but keeps the
blocks of compressed input. Which one a stream needs can be read from its frames: decoded
block-based video (H.264, HEVC, MPEG-2, MJPEG) keeps steps at the 8-pixel grid of its
transform blocks, so luma differences across grid lines are larger than elsewhere, while clean
frames show no grid. `blockiness` is that ratio (about 1.0 on clean frames; 1.13 to 1.5 and
more at H.264 CRF 30 to 36 on the training photos). A coded source downscaled by 2 or 4 (a
phone's or a camera's video at half size) is clean at the size the model sees, but its grid
lands on every second or fourth pixel and so also on the 8-px lines; `coding_level` reads such
frames as clean (`grid_over_odd_lines`). Two consecutive frames say more: a coder skips the
macroblocks of a still scene, so whole 16-px blocks repeat exactly; when it coded at this size
they repeat as aligned 16-px blocks (H.264 on a static, plain scene keeps too little grid to
read, but its skipped macroblocks give it away), when it coded a larger source they repeat as
lone 8-px blocks (`unchanged_blocks`). Where it is clear, what the coder's quantiser leaves
inside its blocks overrules both: the fine detail (high frequencies of the 8x8 DCT) it rounds
away is missing from blocks on its grid, and not from blocks straddling it
(`grid_aligned_zeros`); a clean frame, or one coded at a larger size, shows no such difference.

`InputChoice` measures it on the stream's frames (every `every` frames, decayed, with a
hysteresis band so it does not flicker between models), runs the chosen model, and when the
choice changes fades from one model's output to the other's over `fade` frames, so there is
no visible jump. It has the Engine interface of its models (same card I/O), so a stage runs it
like any engine; the stage calls `observe` with each input frame and `reset` at a new stream.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]

BLOCK = 8
# `NAME-auto` (sr2x-auto) names the choice between `NAME-clean` and `NAME`; both must be installed.
AUTO_SUFFIX = "-auto"
CLEAN_SUFFIX = "-clean"
# Chosen on the train split (photos and clip frames, area- and bicubic-downscaled x2, clean
# against libx264 CRF 26..36): clean frames stayed under 1.10, CRF 30 and harder above 1.12;
# between the two the stream keeps the model it has.
CLEAN_BELOW = 1.10
COMPRESSED_ABOVE = 1.12
# A grid coded at this size steps more on its 8-px lines than on the odd lines between them (2,
# 4 and 6 px into each block); a source coded at twice or four times the size steps alike on
# all of them. With a 4 % margin the choice's loss to its oracle (choice_report, mean over the
# five inputs) falls from 0.103 to 0.078 dB on the selection split and rises from 0.025 to 0.026
# on the train split; the selection split, which holds such sources, decided.
OWN_SIZE_ABOVE = 1.04
# Two consecutive frames (`unchanged_blocks`): a block is unchanged when no luma value moved by
# half a level. Skipped at this size: over 30 % of the aligned 16-px blocks unchanged, and under
# 10 % of the unchanged 8-px blocks lone (inside a 16-px block that changed); the level then
# reads SKIPPED_LEVEL (compressed). A larger source's skips: over half the 8-px blocks unchanged
# and over 20 % of them lone; the grid then reads clean. A frame repeated whole says nothing.
# Chosen on the train split; `choice_report`, the choice's loss to its oracle (mean over five
# inputs): train 0.026 -> 0.019 dB (367 items), selection 0.078 -> 0.036 (44 items).
UNCHANGED_BELOW = 0.5
OWN_SKIPS_ABOVE = 0.3
OWN_LONE_BELOW = 0.1
LARGER_SKIPS_ABOVE = 0.5
LARGER_LONE_ABOVE = 0.2
SKIPPED_LEVEL = 1.2
# `grid_aligned_zeros`: the share of near-zero high-frequency DCT coefficients (under one level)
# in 8x8 blocks on the grid, minus the share in blocks offset by half a block. At most
# ZEROS_CLEAN_UPTO the frame reads clean whatever its grid; above ZEROS_COMPRESSED_ABOVE it reads
# compressed whatever its grid; between, the grid and the unchanged blocks decide. Fitted on the
# train split (`choice_report`'s items, a grid of both thresholds): the choice's loss to its
# oracle, mean over five inputs, 0.019 -> 0.015 dB at the train optimum (0.007) and 0.0165 at
# 0.006, which the selection split chose among the train split's near-best (0.036 -> 0.007 dB
# there, against 0.012 at 0.007, where more H.264 items of plain scenes read clean).
ZEROS_CLEAN_UPTO = 0.006
ZEROS_COMPRESSED_ABOVE = 0.065
ZEROS_MIN_DETAIL = 1.0  # a coefficient under this (luma levels, orthonormal DCT) counts as zero
_HALF = BLOCK // 2
_k = np.arange(BLOCK)
# the orthonormal DCT-II matrix of an 8-px block, and the coefficients counted as fine detail
_DCT = (np.cos(np.pi * (2 * _k[None, :] + 1) * _k[:, None] / (2 * BLOCK)) * np.sqrt(2 / BLOCK)).astype(np.float32)
_DCT[0] /= np.sqrt(2)
_HIGH = np.add.outer(_k, _k) >= _HALF


def choice_members(name: str) -> tuple[str, str] | None:
    """(clean model, compressed model) that `NAME-auto` chooses between; None for any other name."""
    if not name.endswith(AUTO_SUFFIX) or name == AUTO_SUFFIX:
        return None
    base = name.removesuffix(AUTO_SUFFIX)
    return base + CLEAN_SUFFIX, base


def luma(frame: Image) -> npt.NDArray[np.float32]:
    """The frame's luma (BT.601 weights) as float32, for the block-grid measures."""
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY).astype(np.float32)


def too_small_for_grid(g: npt.NDArray[np.float32]) -> bool:
    """Fewer than four blocks across: too few grid lines to read."""
    return min(g.shape) < 4 * BLOCK


def luma_steps(frame: Image) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None:
    """Absolute luma steps between neighbouring columns and rows; None when the frame has too few
    grid lines to read."""
    return _steps_of(luma(frame))


def _steps_of(g: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None:
    if too_small_for_grid(g):
        return None
    return np.abs(np.diff(g, axis=1)), np.abs(np.diff(g, axis=0))


def step_on_lines(dx: npt.NDArray[np.float32], dy: npt.NDArray[np.float32], offset: int) -> float:
    """Mean step across the lines `offset` + 1 px into each 8-px block, columns plus rows
    (offset BLOCK - 1: the block grid itself)."""
    return float(dx[:, offset::BLOCK].mean() + dy[offset::BLOCK, :].mean())


def _over_anywhere(dx: npt.NDArray[np.float32], dy: npt.NDArray[np.float32]) -> float:
    anywhere = float(dx.mean() + dy.mean())
    return step_on_lines(dx, dy, BLOCK - 1) / anywhere if anywhere > 0.5 else 1.0  # a flat frame says nothing


def _over_odd_lines(dx: npt.NDArray[np.float32], dy: npt.NDArray[np.float32]) -> float:
    between = sum(step_on_lines(dx, dy, k) for k in (1, 3, 5)) / 3
    return step_on_lines(dx, dy, BLOCK - 1) / between if between > 0.5 else 1.0


def blockiness(frame: Image) -> float:
    """Mean luma step across the 8-px block grid over the mean step anywhere (1.0: no grid)."""
    steps = luma_steps(frame)
    return 1.0 if steps is None else _over_anywhere(*steps)


def grid_over_odd_lines(frame: Image) -> float:
    """Mean luma step across the 8-px grid lines over the mean step across the lines 2, 4 and 6 px
    into each block (both axes): above 1 where the grid was coded at this size, about 1 where
    every second pixel steps alike (a coded source at twice the size) and on clean frames."""
    steps = luma_steps(frame)
    return 1.0 if steps is None else _over_odd_lines(*steps)


def _zero_share(g: npt.NDArray[np.float32], offset: int) -> float:
    """The share of high-frequency DCT coefficients under ZEROS_MIN_DETAIL in the 8x8 blocks
    starting `offset` px into the frame (both axes)."""
    h, w = (g.shape[0] - offset) // BLOCK * BLOCK, (g.shape[1] - offset) // BLOCK * BLOCK
    tiles = g[offset : offset + h, offset : offset + w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK)
    coefficients = _DCT @ tiles.transpose(0, 2, 1, 3) @ _DCT.T
    return float((np.abs(coefficients[..., _HIGH]) < ZEROS_MIN_DETAIL).mean())


def grid_aligned_zeros(frame: Image) -> float:
    """How much more fine detail is missing inside the 8-px grid's blocks than in blocks offset by
    half a block: the quantiser's trace (near 0 on clean frames and on a larger source's grid;
    0.011 to 0.093 for the middle 90 % of the train split's H.264 CRF 30 items). 0.0 on a frame
    too small to read."""
    return _zeros_of(luma(frame))


def _zeros_of(g: npt.NDArray[np.float32]) -> float:
    return 0.0 if too_small_for_grid(g) else _zero_share(g, 0) - _zero_share(g, _HALF)


def _unchanged(diff: npt.NDArray[np.float32], size: int) -> npt.NDArray[np.bool_]:
    """Per aligned `size`-px block of a frame difference: no pixel moved by UNCHANGED_BELOW."""
    h, w = diff.shape[0] // size * size, diff.shape[1] // size * size
    return np.asarray(diff[:h, :w].reshape(h // size, size, w // size, size).max(axis=(1, 3)) < UNCHANGED_BELOW)


def unchanged_blocks(frame: Image, previous: Image) -> tuple[float, float, float]:
    """Between two consecutive frames: the share of 8-px blocks unchanged, the share of aligned
    16-px blocks unchanged, and the share of the unchanged 8-px blocks that are lone (their
    16-px block changed). A coder that skips macroblocks at this size leaves few lone ones."""
    return _unchanged_of(luma(frame), luma(previous))


def _unchanged_of(g: npt.NDArray[np.float32], g_previous: npt.NDArray[np.float32]) -> tuple[float, float, float]:
    diff = np.abs(g - g_previous)
    small, large = _unchanged(diff, BLOCK), _unchanged(diff, 2 * BLOCK)
    small_in_large = small[: 2 * large.shape[0], : 2 * large.shape[1]]
    parent = np.repeat(np.repeat(large, 2, axis=0), 2, axis=1)
    lone = int(np.sum(small_in_large & ~parent))
    return float(small.mean()), float(large.mean()), lone / max(1, int(small_in_large.sum()))


def coding_level(frame: Image, previous: Image | None = None) -> float:
    """What the choice reads: the quantiser's trace where it is clear (`grid_aligned_zeros` above
    ZEROS_COMPRESSED_ABOVE: at least SKIPPED_LEVEL; at most ZEROS_CLEAN_UPTO: at most 1.0), else
    `grid_level`. The frame's luma is computed once for all of it."""
    g = luma(frame)
    return with_trace(_grid_level(g, frame, previous), _zeros_of(g))


def with_trace(
    level: float, zeros: float, clean_upto: float = ZEROS_CLEAN_UPTO, compressed_above: float = ZEROS_COMPRESSED_ABOVE
) -> float:
    """A grid `level` overruled by the quantiser's trace `zeros` where it is clear (the thresholds
    are parameters so `choice_report` can sweep them)."""
    if zeros > compressed_above:
        return max(level, SKIPPED_LEVEL)
    if zeros <= clean_upto:
        return min(level, 1.0)
    return level


def grid_level(frame: Image, previous: Image | None = None) -> float:
    """The block-grid ratio, or at most 1.0 (clean) where the grid is not this size's own
    (`grid_over_odd_lines` at most OWN_SIZE_ABOVE). With the `previous` frame, unchanged blocks
    overrule the grid: macroblocks skipped at this size read at least SKIPPED_LEVEL, a larger
    source's skips at most 1.0. 1.0 on a frame too small to read."""
    return _grid_level(luma(frame), frame, previous)


def _grid_level(g: npt.NDArray[np.float32], frame: Image, previous: Image | None) -> float:
    steps = _steps_of(g)
    if steps is None:
        return 1.0
    level = _over_anywhere(*steps)
    if _over_odd_lines(*steps) <= OWN_SIZE_ABOVE:
        level = min(level, 1.0)
    if previous is None or previous.shape != frame.shape:
        return level
    small, large, lone = _unchanged_of(g, luma(previous))
    if small == 1.0:  # a repeated frame (a frozen source, a duplicate) says nothing of a coder
        return level
    if large > OWN_SKIPS_ABOVE and lone < OWN_LONE_BELOW:
        return max(level, SKIPPED_LEVEL)
    if small > LARGER_SKIPS_ABOVE and lone > LARGER_LONE_ABOVE:
        return min(level, 1.0)
    return level


class StreamChoice:
    """Which of two models ("clean" or "compressed") a stream runs, read from its input frames.

    Every `every`-th frame is measured with the frame before it (`coding_level`, averaged with
    `decay`); a hysteresis band keeps the choice from flickering. After a switch, `mix` gives the
    new model's share of the output for `fade` frames, so the change has no visible jump. It
    holds no engines: the single-stream engine below and serve's per-camera stage both decide
    with it.
    """

    def __init__(self, every: int = 25, decay: float = 0.7, fade: int = 25) -> None:
        self.every, self.decay, self.fade = max(1, every), decay, max(1, fade)
        self.frames = {"clean": 0, "compressed": 0}
        self.switches = 0
        self.reset()

    def reset(self) -> None:
        """A new stream: measure afresh, no fade in progress."""
        self.current = ""  # decided on the first observed frame
        self.previous = ""
        self.faded = self.fade  # frames into the current fade; == fade: none running
        self.level = 0.0
        self._sum = self._weight = 0.0
        self._seen = 0
        self._settled = False  # the opening pair has been read
        self._due = False  # the next frame is read with the one before it
        self._before: Image | None = None  # the frame before the next measured one
        self._before_seq: int | None = None

    def observe(self, frame: Image, seq: int | None = None) -> str:
        """Read one input frame of the stream (`seq`: its number in the stream, where known); the
        model now chosen.

        The first frame is read alone and picks the opening model; the first pair of frames is
        read together and settles it at once (before the viewer sees a settled picture, so no
        fade); from then on every `every`-th frame is read with the one before it, averaged with
        `decay`, and a change past the hysteresis band fades over `fade` frames. A pair with a
        gap between (frames dropped before the stage: `seq` jumps) is not read, since the skipped
        frames' changes would hide the coder's skips; the next pair is read instead."""
        if self.faded < self.fade:
            self.faded += 1  # a fade moves on by one frame per input frame
        # frames without numbers (seq left at 0) count as consecutive; only a jump forward is a gap
        consecutive = seq is None or self._before_seq is None or seq <= self._before_seq + 1
        if self._seen == 0:
            self._read(coding_level(frame))
            self.current = self._side(self.level)
        elif self._due and self._before is not None and consecutive:
            opening = not self._settled
            if opening:  # the opening pair supersedes the lone first frame
                self._sum = self._weight = 0.0
            self._read(coding_level(frame, self._before))
            self._due = False
            if opening:
                self.current = self._side(self.level)
                self._settled = True
            elif self.current == "clean" and self.level > COMPRESSED_ABOVE:
                self._switch("compressed")
            elif self.current == "compressed" and self.level < CLEAN_BELOW:
                self._switch("clean")
        self._seen += 1
        # the next frame is measured every `every` frames (each frame when every == 1), and at
        # once after a pair that could not be read
        self._due = self._due or self._seen % self.every == 1 % self.every or not self._settled
        # keep only the frame a measurement pairs with (a copy: sources may reuse their buffers)
        self._before = frame.copy() if self._due else None
        self._before_seq = seq
        self.frames[self.current] += 1
        return self.current

    def _read(self, reading: float) -> None:
        self._sum = self.decay * self._sum + reading
        self._weight = self.decay * self._weight + 1.0
        self.level = self._sum / self._weight

    @staticmethod
    def _side(level: float) -> str:
        return "compressed" if level > (CLEAN_BELOW + COMPRESSED_ABOVE) / 2 else "clean"

    def _switch(self, to: str) -> None:
        self.previous, self.current = self.current, to
        self.faded = 0
        self.switches += 1

    @property
    def fading(self) -> bool:
        """The previous model's output is still mixed in."""
        return self.faded < self.fade and bool(self.previous)

    def mix(self, out: Image, old: Image) -> Image:
        """The current model's `out` faded in over the previous model's `old` on the same frame."""
        w = (self.faded + 1) / (self.fade + 1)  # the new model's share, rising frame by frame
        return np.asarray(
            np.clip(w * out.astype(np.float32) + (1.0 - w) * old.astype(np.float32) + 0.5, 0, 255), dtype=np.uint8
        )

    def summary(self, clean: str, compressed: str) -> str:
        return (
            f"  input choice: {clean} on {self.frames['clean']} frames, {compressed} on "
            f"{self.frames['compressed']} (coding level {self.level:.2f}; {self.switches} switches)"
        )


class InputChoice:
    """Runs `clean` or `compressed` (two engines of one task, scale and I/O) as the stream's frames say."""

    def __init__(self, clean: Any, compressed: Any, every: int = 25, decay: float = 0.7, fade: int = 25) -> None:
        check_members(clean.card, compressed.card)
        self.engines = {"clean": clean, "compressed": compressed}
        self.card = compressed.card
        self.backend, self.precision = compressed.backend, compressed.precision
        self.pads_input = getattr(compressed, "pads_input", False) and getattr(clean, "pads_input", False)
        self.state = StreamChoice(every, decay, fade)

    def reset(self) -> None:
        """A new stream: measure afresh, no fade in progress."""
        self.state.reset()

    def observe(self, frame: Image, seq: int | None = None) -> str:
        """Read one input frame of the stream (`seq`: its number, where known); the model now chosen."""
        return self.state.observe(frame, seq)

    def infer(self, *inputs: Any) -> Any:
        chosen = self.engines[self.state.current or "compressed"]
        out = chosen.infer(*inputs)
        if not self.state.fading:
            return out
        return self.state.mix(out, self.engines[self.state.previous].infer(*inputs))

    def summary(self) -> str:
        return self.state.summary(self.engines["clean"].card.name, self.engines["compressed"].card.name)

    def close(self) -> None:
        for e in self.engines.values():
            e.close()


def check_members(clean: Any, compressed: Any) -> None:
    """Two cards a choice can switch between: single-frame models of one task and scale."""
    a, b = clean, compressed
    if (a.task, int(a.scale)) != (b.task, int(b.scale)) or a.recurrent or b.recurrent:
        raise ValueError(f"InputChoice: {a.name!r} and {b.name!r} must be single-frame models of one task and scale")
