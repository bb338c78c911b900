"""``ganstream eval recurrent``: recurrent models on long runs of whole clips, as a camera feeds them.

`ganstream eval` scores clips as 6-frame runs, each a fresh stream, so one frame in six has no
memory and a recurrent model's steady state is never reached. Here each clip of a split is one
stream of `frames` frames (centre-cropped to at most `side` px), degraded as `ganstream eval`
degrades it (restore: seeded Gaussian noise sigma 15, and libx264 CRF 30; sr: x2 area
downscale, clean and through CRF 30), and every model runs through the runtime's engine loader
in the same run: recurrent ones with their memory carried across the whole clip, single-frame
ones frame by frame. Figures are mean luma PSNR per clip, with the differences to the first
model named (the reference, usually the single-frame model the recurrent one started from).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from ganstream.training.codec import h264_roundtrip
from ganstream.training.errors import ConfigError
from ganstream.training.evaluate import (
    EVAL_H264_CRF,
    NOISE_SIGMA,
    Runner,
    check_eval_mode,
    load_runner,
    scored_runners,
)
from ganstream.training.metrics import psnr_y
from ganstream.training.temporal.data import load_sequences

Image = npt.NDArray[np.uint8]
SEED = 2024


@dataclass
class LongRunResult:
    task: str
    sets: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # set -> clip -> model -> dB

    def means(self, set_name: str) -> dict[str, float]:
        clips = self.sets[set_name]
        models = next(iter(clips.values())).keys()
        return {m: float(np.mean([c[m] for c in clips.values()])) for m in models}


def _crop(frames: Image, side: int, multiple: int) -> Image:
    _, h, w, _ = frames.shape
    ch, cw = min(h, side) // multiple * multiple, min(w, side) // multiple * multiple
    y, x = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(frames[:, y : y + ch, x : x + cw])


def degraded_sets(gt: Image, task: str, rng: np.random.Generator) -> dict[str, Image]:
    """The inputs of one clip, named as `ganstream eval` names its sets."""
    if task == "restore":
        noisy = np.clip(gt.astype(np.float64) + rng.normal(0, NOISE_SIGMA, gt.shape) + 0.5, 0, 255).astype(np.uint8)
        return {
            f"noise sigma {NOISE_SIGMA:g}": noisy,
            f"H.264 CRF {EVAL_H264_CRF:g}": h264_roundtrip(gt, EVAL_H264_CRF),
        }
    _, h, w, _ = gt.shape
    lr = np.stack([cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA) for f in gt])
    return {"clean (area)": lr, f"H.264 CRF {EVAL_H264_CRF:g}": h264_roundtrip(lr, EVAL_H264_CRF)}


def run_long(
    data_dir: Path,
    split: str,
    models: list[Path],
    frames: int = 48,
    side: int = 480,
    backend: str = "openvino",
    residual_gain: str = "auto",
    temporal_blend: str = "auto",
) -> LongRunResult:
    """Each whole clip of `split` as one stream per model. `residual_gain`: "auto" with the stream's
    measured strength (as `ganstream run`), "off" the bare network, "both" each twice;
    `temporal_blend` the same for restore models' temporal filter."""
    if split == "train":
        raise ConfigError("eval recurrent: the train split scores nothing; use selection or test")
    check_eval_mode(residual_gain, "residual_gain")
    check_eval_mode(temporal_blend, "temporal_blend")
    runners: dict[str, Runner] = {}
    tasks, scales = set(), set()
    for folder in models:
        card, runner, _ = load_runner(folder, backend=backend)
        runners.update(scored_runners(card, runner, residual_gain, temporal_blend))
        tasks.add(card.task)
        scales.add(card.scale)
    if len(tasks) != 1 or len(scales) != 1 or (tasks == {"sr"} and scales != {2}):
        raise ConfigError("eval recurrent: give models of one task and scale (restore, or sr x2)")
    task = tasks.pop()
    multiple = 8 if task == "sr" else 4
    pool = load_sequences(data_dir, split, frames, photos=False)
    rng = np.random.default_rng(SEED)
    result = LongRunResult(task)
    for clip in sorted(pool.clips):
        gt = _crop(np.stack(pool.clips[clip]), side, multiple)
        for set_name, x in degraded_sets(gt, task, rng).items():
            row = result.sets.setdefault(set_name, {}).setdefault(clip, {})
            for name, runner in runners.items():
                whole = getattr(runner, "whole_run", False)  # a stream runner takes the clip at once
                out = runner(x) if whole else np.stack([runner(f[None])[0] for f in x])
                row[name] = float(np.mean([psnr_y(o, g) for o, g in zip(out, gt, strict=True)]))
    return result


def format_long(result: LongRunResult) -> str:
    lines = []
    for set_name, clips in result.sets.items():
        models = list(next(iter(clips.values())))
        ref = models[0]
        means = result.means(set_name)
        lines.append(f"{set_name}: mean PSNR-Y dB " + ", ".join(f"{m} {means[m]:.2f}" for m in models))
        for m in models[1:]:
            deltas = [c[m] - c[ref] for c in clips.values()]
            below = sum(d < 0 for d in deltas)
            lines.append(
                f"  {m} - {ref}: {means[m] - means[ref]:+.2f} dB (clips {min(deltas):+.2f}..{max(deltas):+.2f}, "
                f"{below} of {len(deltas)} below)"
            )
        for clip, row in clips.items():
            lines.append(f"    {clip}: " + " ".join(f"{m}={v:.2f}" for m, v in row.items()))
    return "\n".join(lines)
