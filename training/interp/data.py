"""Training samples for the synthesis network, precomputed once with the runtime's own flow code.

A sample is a window of frames inside one shot of a real clip: (i, i+1, i+2) gives the middle
frame at t = 1/2, (i, ..., i+3) gives t = 1/3 and 2/3 (arbitrary timesteps). The classical flow
between the window's ends, the flows from t and both warped frames are computed exactly as
`NetSynth` computes them live, then a few crops per sample are kept (the most moving ones and
random ones), so training never runs DIS again. Flips and time reversal are applied per batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ganstream.engines.flow import FlowEstimator, FlowOptions, Warper, intermediate_flows
from ganstream.training.errors import DataError
from ganstream.training.interp.clips import Clip, find_clips, load_clip, same_shot_windows
from ganstream.training.interp.oracle import MeasuredTime
from ganstream.training.sources import clip_start

log = logging.getLogger(__name__)


@dataclass
class CropBank:
    """N crops: uint8 (N, 5, h, w, 3) = frame0, frame1, warped0, warped1, target;
    float16 (N, h, w, 4) = flow_t0, flow_t1; float32 (N,) = t."""

    images: npt.NDArray[np.uint8]
    flows: npt.NDArray[np.float16]
    t: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return int(self.t.shape[0])


@dataclass
class FullSample:
    """A whole-frame validation sample (leave-one-out at t = 1/2)."""

    frame0: npt.NDArray[np.uint8]
    frame1: npt.NDArray[np.uint8]
    warped0: npt.NDArray[np.uint8]
    warped1: npt.NDArray[np.uint8]
    flow_t0: npt.NDArray[np.float32]
    flow_t1: npt.NDArray[np.float32]
    target: npt.NDArray[np.uint8]
    t: float


def _windows(clip: Clip, stride2: int, stride3: int) -> list[tuple[int, int, float]]:
    """(first, last, t) per sample; the target is first + t * (last - first)."""
    out: list[tuple[int, int, float]] = []
    out += [(i, i + 2, 0.5) for i in same_shot_windows(clip.frames, 2) if i % stride2 == 0]
    if stride3 <= 0:  # t = 1/2 only
        return out
    for i in same_shot_windows(clip.frames, 3):
        if i % stride3 == 0:
            out += [(i, i + 3, 1 / 3), (i, i + 3, 2 / 3)]
    return out


def warp_sample(
    f0: npt.NDArray[np.uint8], f1: npt.NDArray[np.uint8], t: float, flow: FlowEstimator, warper: Warper
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    f01, f10 = flow.bidirectional(f0, f1)
    ft0, ft1 = intermediate_flows(f01, f10, t)
    return warper.warp(f0, ft0), warper.warp(f1, ft1), ft0, ft1


def build_crop_bank(
    data: list[Path],
    crop: int = 128,
    crops_per_sample: int = 3,
    stride2: int = 2,
    stride3: int = 4,
    max_width: int = 640,
    max_frames: int = 600,
    flow_options: FlowOptions | None = None,
    seed: int = 0,
    hard_share: float = 0.0,
    measured_t: bool = False,
    cubic_warp: bool = True,
) -> CropBank:
    """Crops of every window of every clip. With `measured_t`, each window's t is the time its
    target frame was really captured at, measured from the target (``oracle.MeasuredTime``),
    and the warps are made at that t: real capture is unevenly timed, and a target that is not
    where t says makes the network learn to hedge instead of to correct."""
    rng = np.random.default_rng(seed)
    flow, warper = FlowEstimator(flow_options), Warper(cubic=cubic_warp)
    timing = MeasuredTime() if measured_t else None
    images: list[npt.NDArray[np.uint8]] = []
    flows: list[npt.NDArray[np.float16]] = []
    ts: list[float] = []
    for path in find_clips(data):
        clip = load_clip(path, max_frames=max_frames, max_width=max_width)
        h, w = clip.frames[0].shape[:2]
        if h < crop or w < crop:
            log.warning("%s: %dx%d is smaller than the %d px crops; skipped", clip.name, w, h, crop)
            continue
        windows = _windows(clip, stride2, stride3)
        for first, last, t in windows:
            f0, f1 = clip.frames[first], clip.frames[last]
            target = clip.frames[first + round(t * (last - first))]
            if timing is not None:
                t = timing.t(f0, target, f1)
            w0, w1, ft0, ft1 = warp_sample(f0, f1, t, flow, warper)
            stack = np.stack((f0, f1, w0, w1, target))
            fl = np.concatenate((ft0, ft1), axis=2)
            # `hard_share` of the crops where the warps disagree most (occlusions, fast motion), the
            # rest anywhere, so the network also sees the easy pixels that dominate whole frames.
            cand = [(int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))) for _ in range(12)]
            err = [
                float(np.abs(w0[y : y + crop, x : x + crop].astype(np.int16) - w1[y : y + crop, x : x + crop]).mean())
                for y, x in cand
            ]
            n_hard = round(crops_per_sample * hard_share)
            hard = [cand[k] for k in np.argsort(err)[::-1][:n_hard]]
            chosen = hard + cand[len(cand) - (crops_per_sample - n_hard) :]
            for y, x in chosen:
                images.append(stack[:, y : y + crop, x : x + crop])
                flows.append(fl[y : y + crop, x : x + crop].astype(np.float16))
                ts.append(t)
        log.info("%s: %d samples from %d frames", clip.name, len(windows), len(clip.frames))
    if not images:
        raise DataError(f"no training samples in {', '.join(map(str, data))}")
    return CropBank(np.stack(images), np.stack(flows), np.asarray(ts, dtype=np.float32))


def build_validation(
    data: list[Path],
    max_frames: int = 31,
    max_width: int = 640,
    flow_options: FlowOptions | None = None,
    cubic_warp: bool = True,
) -> list[FullSample]:
    """Leave-one-out samples (odd frames at t = 1/2) of the validation clips, whole frames, from
    each listed clip's start as `ganstream eval interp` takes them (a still opening says nothing)."""
    flow, warper = FlowEstimator(flow_options), Warper(cubic=cubic_warp)
    out: list[FullSample] = []
    for path in find_clips(data):
        clip = load_clip(path, max_frames=max_frames, max_width=max_width, start=clip_start(path))
        for i in same_shot_windows(clip.frames, 2):
            if (i + 1) % 2 == 1:
                f0, f1 = clip.frames[i], clip.frames[i + 2]
                w0, w1, ft0, ft1 = warp_sample(f0, f1, 0.5, flow, warper)
                out.append(FullSample(f0, f1, w0, w1, ft0, ft1, clip.frames[i + 1], 0.5))
    return out
