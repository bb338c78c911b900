"""Real frames for calibration (int8) and quality checks, read from a clip or a folder of images."""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ganstream.engines.errors import ModelNotFoundError

Frame = npt.NDArray[np.uint8]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def default_clip() -> Path | None:
    """The sample clip shipped with the runtime package, located without importing it."""
    spec = importlib.util.find_spec("ganstream.stream")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        clip = Path(loc) / "data" / "sample.mp4"
        if clip.is_file():
            return clip
    return None


def read_frames(source: Path, count: int = 32, size: tuple[int, int] | None = None) -> list[Frame]:
    """Up to `count` RGB frames spread evenly over a clip, or from a folder of images.

    `size` (height, width) resizes with area averaging, as a camera's scaler would.
    """
    import cv2

    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        picks = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in files[: max(count, 0)]]
        bgr = [p for p in picks if p is not None]
    elif source.is_file():
        cap = cv2.VideoCapture(str(source))
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or count
        wanted = set(np.linspace(0, max(total - 1, 0), num=min(count, total)).astype(int).tolist())
        bgr = []
        index = 0
        while len(bgr) < len(wanted):
            ok, img = cap.read()
            if not ok:
                break
            if index in wanted:
                bgr.append(img)
            index += 1
        cap.release()
    else:
        raise ModelNotFoundError(f"{source}: no such clip or image folder for calibration")
    if not bgr:
        raise ModelNotFoundError(f"{source}: no decodable frames (expected a video file or a folder of images)")
    out: list[Frame] = []
    for img in bgr:
        if size is not None and img.shape[:2] != size:
            img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        out.append(np.ascontiguousarray(img[:, :, ::-1]))
    return out


def iter_frames(clip: Path, size: tuple[int, int]) -> Iterator[Frame]:
    """The RGB frames of `clip` from its start, one after another as they are decoded, resized to
    `size` (width, height) with area averaging: real motion between neighbours, for the benchmarks."""
    import cv2

    cap = cv2.VideoCapture(str(clip))
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            rgb = cv2.cvtColor(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
            yield np.ascontiguousarray(rgb)
    finally:
        cap.release()


def consecutive_frames(clip: Path, count: int, size: tuple[int, int]) -> list[Frame]:
    """Up to `count` consecutive frames from the start of `clip` (`iter_frames`)."""
    return list(itertools.islice(iter_frames(clip, size), count))


def downscale(frames: list[Frame], scale: int) -> list[Frame]:
    """Low-resolution inputs for an SR model whose outputs are compared with `frames`."""
    import cv2

    out: list[Frame] = []
    for f in frames:
        h, w = f.shape[0] // scale, f.shape[1] // scale
        small = cv2.resize(f[: h * scale, : w * scale], (w, h), interpolation=cv2.INTER_AREA)
        out.append(np.asarray(small, dtype=np.uint8))
    return out


# A restore model is calibrated and checked on what it is for: noisy frames (clipped Gaussian
# noise of this sigma, a fixed seed), not on clean ones it would pass through unchanged.
RESTORE_CALIB_SIGMA = 15.0


def add_noise(frames: list[Frame], sigma: float = RESTORE_CALIB_SIGMA, seed: int = 0) -> list[Frame]:
    """Frames with clipped Gaussian noise, reproducible under `seed`."""
    rng = np.random.default_rng(seed)
    out: list[Frame] = []
    for f in frames:
        noisy = f.astype(np.float32) + rng.normal(0.0, sigma, f.shape).astype(np.float32)
        out.append(np.clip(np.rint(noisy), 0, 255).astype(np.uint8))
    return out


def model_inputs(frames: list[Frame], task: str, scale: int) -> list[Frame]:
    """Inputs whose ideal output is `frames`: downscaled for sr, noisy for restore."""
    if task == "restore":
        return add_noise(frames)
    return downscale(frames, scale) if scale > 1 else frames


def psnr(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images (inf when identical)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))
