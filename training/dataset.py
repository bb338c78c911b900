"""Training batches and validation sets from the fetched data.

Every training sample is a pair of consecutive frames (for photos: the same crop shifted by a
pixel or two, as a slow camera pan), so the temporal loss applies to all of it. Batch k of a
run is a pure function of (seed, k, rank): resuming at step k reproduces the same batches,
whatever happened before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch

from ganstream.training.degrade import DegradeConfig, code_ground_truth, degrade_batch, soften_ground_truth
from ganstream.training.errors import DataError
from ganstream.training.fetch import Entry, load_manifest
from ganstream.training.sources import canonical_split

Image = npt.NDArray[np.uint8]


def read_rgb(path: Path) -> Image:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(f"{path}: missing or not an image (re-run `ganstream data fetch`)")
    return np.ascontiguousarray(img[..., ::-1])


@dataclass
class Pool:
    """Decoded ground truth of one split: photos, and clips as lists of consecutive-frame runs."""

    photos: list[Image]
    runs: list[list[Image]]
    names: list[str]


def load_pool(data_dir: Path, split: str, min_side: int = 0) -> tuple[Pool, str]:
    """The decoded files of one split only (the trainer asks for train and selection, never test)."""
    entries, manifest_sha = load_manifest(data_dir)
    split = canonical_split(split)
    chosen = [e for e in entries if e.split == split]
    if not chosen:
        raise DataError(f"{data_dir}: the manifest has no {split!r} files")
    photos: list[Image] = []
    names: list[str] = []
    runs: dict[tuple[str, int], list[tuple[int, Entry]]] = {}
    for e in chosen:
        if e.kind == "photo":
            img = read_rgb(data_dir / e.file)
            if min(img.shape[:2]) >= min_side:
                photos.append(img)
                names.append(e.group)
        else:
            runs.setdefault((e.group, e.sequence), []).append((e.index, e))
    run_imgs: list[list[Image]] = []
    for (group, seq), items in sorted(runs.items()):
        frames = [read_rgb(data_dir / e.file) for _, e in sorted(items, key=lambda t: t[0])]
        if len(frames) >= 2 and min(frames[0].shape[:2]) >= min_side:
            run_imgs.append(frames)
            names.append(f"{group}#{seq}")
    return Pool(photos, run_imgs, names), manifest_sha


def _augment(pair: list[Image], flip: bool, rot: int) -> list[Image]:
    out = []
    for img in pair:
        if flip:
            img = img[:, ::-1]
        out.append(np.ascontiguousarray(np.rot90(img, rot)))
    return out


def sample_pair(pool: Pool, crop: int, rng: np.random.Generator, clip_prob: float = 0.5) -> Image:
    """(2, crop, crop, 3): two consecutive frames of a clip or a shifted pair from a photo."""
    if pool.runs and (not pool.photos or rng.random() < clip_prob):
        run = pool.runs[int(rng.integers(len(pool.runs)))]
        t = int(rng.integers(len(run) - 1))
        a, b = run[t], run[t + 1]
        h, w = a.shape[:2]
        y, x = int(rng.integers(h - crop + 1)), int(rng.integers(w - crop + 1))
        pair = [a[y : y + crop, x : x + crop], b[y : y + crop, x : x + crop]]
    else:
        img = pool.photos[int(rng.integers(len(pool.photos)))]
        h, w = img.shape[:2]
        m = 2  # the simulated pan, in pixels
        y, x = int(rng.integers(m, h - crop - m + 1)), int(rng.integers(m, w - crop - m + 1))
        dy, dx = (int(v) for v in rng.integers(-m, m + 1, size=2))
        pair = [img[y : y + crop, x : x + crop], img[y + dy : y + dy + crop, x + dx : x + dx + crop]]
    return np.stack(_augment(pair, bool(rng.random() < 0.5), int(rng.integers(4))))


def make_batch(
    pool: Pool, batch: int, crop: int, scale: int, cfg: DegradeConfig, seed: int, step: int, rank: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(lr, hr) float tensors (B, 2, 3, h, w) in [0, 1] for training step `step`."""
    rng = np.random.default_rng([seed, step, rank])
    hr = np.stack([sample_pair(pool, crop, rng) for _ in range(batch)])
    hr = code_ground_truth(soften_ground_truth(hr, cfg, rng), cfg, rng)
    lr = degrade_batch(hr, scale, cfg, rng)

    def to_t(a: Image) -> torch.Tensor:
        return torch.from_numpy(a).permute(0, 1, 4, 2, 3).float().div_(255.0)

    return to_t(lr), to_t(hr)


class BatchStream(torch.utils.data.IterableDataset[tuple[torch.Tensor, torch.Tensor]]):
    """Batches for steps start, start+1, ... (used through DataLoader workers so degradation overlaps training)."""

    def __init__(
        self, pool: Pool, batch: int, crop: int, scale: int, cfg: DegradeConfig, seed: int, start: int, rank: int
    ) -> None:
        self.args = (pool, batch, crop, scale, cfg, seed)
        self.start, self.rank = start, rank

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        pool, batch, crop, scale, cfg, seed = self.args
        # Several DataLoader workers each get every n-th step (the loader takes them in turn), so
        # the batches arrive in step order, as with one worker, and none is made twice.
        info = torch.utils.data.get_worker_info()
        first, stride = (info.id, info.num_workers) if info is not None else (0, 1)
        step = self.start + first
        while True:
            yield make_batch(pool, batch, crop, scale, cfg, seed, step, self.rank)
            step += stride


def validation_crops(pool: Pool, size: int, limit: int = 24) -> list[Image]:
    """Centre crops (size x size) of validation photos and of the first frame of each clip run."""
    imgs = pool.photos + [r[0] for r in pool.runs]
    return [_centre_crop(img, size) for img in imgs[:limit]]


def validation_clip_crops(pool: Pool, size: int, frames: int = 6, limit: int = 24) -> list[list[Image]]:
    """The same centre crop of the first `frames` frames of clip runs, at most `limit` runs taken
    from every clip in turn (its first run, then its second, ...): short clips to code as a camera
    does, for validation on predicted frames."""
    names = pool.names[len(pool.photos) :]
    order = list(range(len(pool.runs)))
    if len(names) == len(order):  # names "clip#run": each clip's first run before any second one
        order.sort(key=lambda i: (int(names[i].rpartition("#")[2] or 0), names[i]))
    return [[_centre_crop(img, size) for img in pool.runs[i][:frames]] for i in order[:limit]]


def _centre_crop(img: Image, size: int) -> Image:
    h, w = img.shape[:2]
    s = min(size, h - h % 4, w - w % 4)
    y, x = (h - s) // 2, (w - s) // 2
    return np.ascontiguousarray(img[y : y + s, x : x + s])
