"""Synthetic static-camera clips with large, fast objects: a diagnostic for interpolation.

The test split's static-camera lesson clips are where `flow` loses most to minterpolate, and no
real train or selection clip shows the same loss. These clips reproduce it from training photos
alone: a sharp static background, one or two textured discs (radius 14-35 px) bouncing across it
at a fixed speed, motion-blurred over half a frame's exposure, with mild sensor noise. At 20 px
or more per source frame (40 per left-out pair) `flow` falls well under minterpolate
(docs/interpolation.md). They show where the classical path breaks; they are never a selection
split (synthetic motion chose wrongly before).

    python -m ganstream.training.interp.fast_objects --photos data/photos/train --out clips/
    ganstream eval interp --clips clips/ --model flow --baseline blend,minterpolate
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from ganstream.training.errors import DataError

Image = npt.NDArray[np.uint8]
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
EXPOSURE_STEPS = 6  # sub-frame renders averaged into one frame: the motion blur of half a frame
NOISE_SIGMA = 1.5


@dataclass(frozen=True)
class Disc:
    radius: int
    texture: npt.NDArray[np.float32]  # (2r, 2r, 3)
    alpha: npt.NDArray[np.float32]  # (2r, 2r), soft edge
    start: npt.NDArray[np.float64]  # centre at frame 0, (x, y)
    velocity: npt.NDArray[np.float64]  # px per frame, (x, y)

    def centre(self, time: float, width: int, height: int) -> tuple[int, int]:
        """Centre at `time` (frames), bouncing off the frame's edges."""
        span = np.array([width - 2 * self.radius, height - 2 * self.radius], np.float64)
        q = (self.start + self.velocity * time - self.radius) % (2 * span)
        p = np.where(q > span, 2 * span - q, q) + self.radius
        x, y = np.rint(p).astype(int)
        return int(x), int(y)


def _photo(path: Path, width: int, height: int) -> npt.NDArray[np.float32]:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(f"{path}: not a readable image")
    rgb = cv2.cvtColor(cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    return np.asarray(rgb, np.float32)


def make_clip(
    photos: list[Path], speed: float, discs: int, frames: int, size: tuple[int, int], rng: np.random.Generator
) -> list[Image]:
    """`frames` RGB frames of `discs` discs moving at `speed` px per frame over a static photo."""
    width, height = size
    background = _photo(photos[int(rng.integers(len(photos)))], width, height)
    objects = []
    for _ in range(discs):
        r = int(rng.integers(14, 36))
        alpha = np.zeros((2 * r, 2 * r), np.float32)
        cv2.circle(alpha, (r, r), r, 1.0, -1)
        angle = rng.uniform(0.0, 2.0 * np.pi)
        objects.append(
            Disc(
                r,
                _photo(photos[int(rng.integers(len(photos)))], 2 * r, 2 * r),
                np.asarray(cv2.GaussianBlur(alpha, (3, 3), 0), np.float32),
                np.array([rng.uniform(r, width - r), rng.uniform(r, height - r)]),
                speed * np.array([np.cos(angle), np.sin(angle)]),
            )
        )
    out = []
    for f in range(frames):
        acc = np.zeros_like(background)
        for s in range(EXPOSURE_STEPS):
            frame = background.copy()
            for d in objects:
                x, y = d.centre(f + 0.5 * s / EXPOSURE_STEPS, width, height)
                roi = frame[y - d.radius : y + d.radius, x - d.radius : x + d.radius]
                a = d.alpha[..., None]
                roi[:] = roi * (1.0 - a) + d.texture * a
            acc += frame / EXPOSURE_STEPS
        acc += rng.normal(0.0, NOISE_SIGMA, acc.shape)
        out.append(np.clip(acc + 0.5, 0, 255).astype(np.uint8))
    return out


def write_clips(
    photo_dir: Path, out: Path, speeds: list[float], frames: int = 41, size: tuple[int, int] = (480, 360), seed: int = 2
) -> list[Path]:
    """Two clips per speed (one disc, two discs) as folders of PNG frames under `out`."""
    photos = sorted(p for p in photo_dir.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES) if photo_dir.is_dir() else []
    if not photos:
        raise DataError(f"{photo_dir}: no photos (expected a folder of .png/.jpg files, e.g. data/photos/train)")
    rng = np.random.default_rng(seed)
    folders = []
    for speed in speeds:
        for discs in (1, 2):
            folder = out / f"speed{speed:g}_discs{discs}"
            folder.mkdir(parents=True, exist_ok=True)
            for i, frame in enumerate(make_clip(photos, speed, discs, frames, size, rng)):
                cv2.imwrite(str(folder / f"f{i:04d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            folders.append(folder)
    return folders


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m ganstream.training.interp.fast_objects", description=(__doc__ or "").split("\n")[0]
    )
    p.add_argument("--photos", type=Path, default=Path("data/photos/train"), help="background and texture photos")
    p.add_argument("--out", type=Path, required=True, help="folder for the clips (one folder of frames each)")
    p.add_argument("--speeds", default="6,12,20,30", help="px per source frame, comma-separated")
    p.add_argument("--frames", type=int, default=41)
    p.add_argument("--seed", type=int, default=2)
    args = p.parse_args(argv)
    speeds = [float(s) for s in args.speeds.split(",") if s.strip()]
    for folder in write_clips(args.photos, args.out, speeds, args.frames, seed=args.seed):
        print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
