"""Sequences of consecutive frames for the recurrent models: whole real clips and photographs in motion.

The fetched data set keeps only short runs of each clip; recurrence needs longer ones, so the
clips of a split are decoded again from the unpacked packages ``data fetch`` left in
``DATA/raw`` (same sources, same split, same downscale). Photographs of the split add camera
motion: a crop window moving by whole pixels per frame (a static camera in a quarter of the
sequences, the surveillance case), which at x2 SR is half-pixel motion on the input grid. With
``subpixel`` the window moves by whole pixels of the photograph at twice the frame size and each
frame is then area-downscaled x2, so the frames move by half pixels and the x2 SR input by
quarter pixels: the sub-pixel shifts between frames that multi-frame SR takes its detail from,
without the blur an interpolating warp would put into the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from ganstream.training import sources
from ganstream.training.dataset import load_pool
from ganstream.training.errors import DataError

Image = npt.NDArray[np.uint8]


@dataclass
class SequencePool:
    """Ground truth of one split: clips as frame lists, photographs as still images."""

    clips: dict[str, list[Image]]
    photos: list[Image]


def clip_path(data_dir: Path, clip: sources.ClipSource) -> Path:
    src = data_dir / "raw" / clip.package / clip.path
    plain = src.with_suffix("") if clip.gzipped else src
    if not plain.is_file():
        raise DataError(f"{plain}: missing; run `ganstream data fetch --dir {data_dir}` (it unpacks the clips)")
    return plain


def read_clip(path: Path, max_frames: int, downscale: int = 1) -> list[Image]:
    """The first `max_frames` frames of a clip as RGB, downscaled by `downscale` (INTER_AREA)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise DataError(f"{path}: cannot open the clip")
    frames: list[Image] = []
    try:
        while len(frames) < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            if downscale > 1:
                h, w = bgr.shape[:2]
                bgr = cv2.resize(bgr, (w // downscale, h // downscale), interpolation=cv2.INTER_AREA)
            frames.append(np.ascontiguousarray(bgr[..., ::-1]))
    finally:
        cap.release()
    return frames


def load_sequences(data_dir: Path, split: str, max_frames: int, photos: bool = True) -> SequencePool:
    """The clips (and, with `photos`, the photographs) of one split."""
    split = sources.canonical_split(split)
    clips: dict[str, list[Image]] = {}
    for clip in sources.CLIPS:
        if clip.split != split:
            continue
        path = clip_path(data_dir, clip)
        frames = read_clip(path, max_frames, clip.downscale)
        if len(frames) >= 2:
            clips[clip.name or path.stem] = frames
    pictures = load_pool(data_dir, split)[0].photos if photos else []
    if not clips and not pictures:
        raise DataError(f"{data_dir}: no {split} clips or photos")
    return SequencePool(clips, pictures)


def _from_clip(frames: list[Image], length: int, crop: int, rng: np.random.Generator) -> Image | None:
    stride = 2 if rng.random() < 0.2 else 1  # now and then faster motion
    span = (length - 1) * stride + 1
    h, w = frames[0].shape[:2]
    if len(frames) < span or h < crop or w < crop:
        return None
    t0 = int(rng.integers(len(frames) - span + 1))
    y, x = int(rng.integers(h - crop + 1)), int(rng.integers(w - crop + 1))
    seq = [frames[t0 + k * stride][y : y + crop, x : x + crop] for k in range(length)]
    if rng.random() < 0.5:
        seq.reverse()
    return np.stack(seq)


def _from_photo(img: Image, length: int, crop: int, rng: np.random.Generator, subpixel: bool = False) -> Image | None:
    if subpixel:
        big = _from_photo(img, length, 2 * crop, rng)
        if big is None:
            return None
        return np.stack([cv2.resize(f, (crop, crop), interpolation=cv2.INTER_AREA) for f in big])
    h, w = img.shape[:2]
    static = rng.random() < 0.25
    vy, vx = (0.0, 0.0) if static else (float(v) for v in rng.uniform(-3.0, 3.0, size=2))
    travel_y, travel_x = abs(vy) * (length - 1) + 2, abs(vx) * (length - 1) + 2
    if h < crop + 2 * travel_y + 1 or w < crop + 2 * travel_x + 1:
        return None
    cy = int(rng.integers(int(travel_y) + 1, int(h - crop - travel_y)))
    cx = int(rng.integers(int(travel_x) + 1, int(w - crop - travel_x)))
    seq = []
    for k in range(length):
        jitter = (0, 0) if static else (int(v) for v in rng.integers(-1, 2, size=2))
        jy, jx = jitter
        y, x = cy + round(vy * k) + jy, cx + round(vx * k) + jx
        seq.append(img[y : y + crop, x : x + crop])
    return np.stack(seq)


def sample_sequence(
    pool: SequencePool,
    length: int,
    crop: int,
    rng: np.random.Generator,
    clip_prob: float = 0.6,
    subpixel_share: float = 0.0,
) -> Image:
    """(length, crop, crop, 3) consecutive ground-truth frames, flipped / rotated at random; a
    `subpixel_share` of the photographs' sequences move by half pixels (see the module's note)."""
    names = sorted(pool.clips)
    for _ in range(100):
        if names and (not pool.photos or rng.random() < clip_prob):
            seq = _from_clip(pool.clips[names[int(rng.integers(len(names)))]], length, crop, rng)
        else:
            img = pool.photos[int(rng.integers(len(pool.photos)))]
            subpixel = subpixel_share > 0 and rng.random() < subpixel_share
            seq = _from_photo(img, length, crop, rng, subpixel)
        if seq is not None:
            if rng.random() < 0.5:
                seq = seq[:, :, ::-1]
            return np.ascontiguousarray(np.rot90(seq, int(rng.integers(4)), axes=(1, 2)))
    raise DataError(f"no clip or photo is large enough for {length} frames of {crop}x{crop}")
