"""Real clips as frame lists, cut into shots, and the leave-one-out triplets inside each shot.

A clip is a video file (mp4, avi, mkv, mov, webm, y4m) or a folder of numbered PNG/JPEG frames.
Frames are RGB uint8, downscaled to at most `max_width` (even sizes). Shots are split with the
live stage's own scene-cut rule, so no triplet straddles a cut.
"""

from __future__ import annotations

import gzip
import itertools
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from ganstream.stream.stages.interp_rules import is_scene_cut, thumbnail
from ganstream.training.errors import DataError

Image = npt.NDArray[np.uint8]
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".y4m", ".mp4.gz")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass
class Clip:
    name: str
    frames: list[Image]
    fps: float

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.frames[0].shape[:2]
        return w, h


def _is_frame_folder(folder: Path) -> bool:
    return folder.is_dir() and sum(1 for x in folder.iterdir() if x.suffix.lower() in FRAME_SUFFIXES) >= 3


def find_clips(paths: list[Path]) -> list[Path]:
    """Video files and frame folders under `paths` (files are taken as given), sorted."""
    found: list[Path] = []
    for p in paths:
        if not p.exists():
            raise DataError(f"{p}: no such file or folder (expected clips: video files or folders of frames)")
        if p.is_file() or _is_frame_folder(p):
            found.append(p)
            continue
        for f in sorted(p.rglob("*")):
            if (f.is_file() and f.name.lower().endswith(VIDEO_SUFFIXES)) or (
                f.is_dir() and len([x for x in f.iterdir() if x.suffix.lower() in FRAME_SUFFIXES]) >= 3
            ):
                found.append(f)
    if not found:
        raise DataError(f"no clips under {', '.join(map(str, paths))} (expected video files or folders of frames)")
    return found


def _fit(frame: Image, max_width: int) -> Image:
    h, w = frame.shape[:2]
    if w > max_width:
        h, w = round(h * max_width / w), max_width
        frame = np.asarray(cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA), dtype=np.uint8)
    h2, w2 = h - h % 2, w - w % 2
    return np.ascontiguousarray(frame[:h2, :w2])


def _read_video(path: Path, max_frames: int, max_width: int, start: int) -> tuple[list[Image], float]:
    tmp: Path | None = None
    if path.name.endswith(".gz"):
        with tempfile.NamedTemporaryFile(suffix=".mp4", delete=False) as out, gzip.open(path) as src:
            shutil.copyfileobj(src, out)
            tmp = Path(out.name)
    try:
        cap = cv2.VideoCapture(str(tmp or path))
        if not cap.isOpened():
            raise DataError(f"{path}: cannot be opened as a video")
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
        frames: list[Image] = []
        index = 0
        while len(frames) < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            if index >= start:
                frames.append(_fit(np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8), max_width))
            index += 1
        cap.release()
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return frames, fps


def load_clip(path: Path, max_frames: int = 10_000, max_width: int = 640, start: int = 0) -> Clip:
    if path.is_dir():
        files = sorted(x for x in path.iterdir() if x.suffix.lower() in FRAME_SUFFIXES)[start : start + max_frames]
        frames = []
        for f in files:
            bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if bgr is None:
                raise DataError(f"{f}: not a readable image")
            frames.append(_fit(np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8), max_width))
        fps = 25.0
    else:
        frames, fps = _read_video(path, max_frames, max_width, start)
    if len(frames) < 3:
        raise DataError(f"{path}: fewer than 3 frames")
    return Clip(path.name, frames, fps)


def shot_starts(frames: list[Image]) -> list[int]:
    """Index of the first frame of every shot (0 first)."""
    thumbs = [thumbnail(f) for f in frames]
    return [0] + [i for i in range(1, len(frames)) if is_scene_cut(thumbs[i - 1], thumbs[i])]


def same_shot_windows(frames: list[Image], span: int) -> Iterator[int]:
    """Start indices i such that frames i .. i + span all lie in one shot."""
    starts = [*shot_starts(frames), len(frames)]
    for a, b in itertools.pairwise(starts):
        yield from range(a, b - span)


def split_clip_files(data_dir: Path, split: str) -> list[Path]:
    """The source video files of one split of a `ganstream data fetch` folder (whole clips)."""
    from ganstream.training.fetch import load_manifest
    from ganstream.training.sources import canonical_split

    entries, _ = load_manifest(data_dir)
    split = canonical_split(split)
    files = dict.fromkeys(
        data_dir / "raw" / e.source_package / e.source_path for e in entries if e.kind == "frame" and e.split == split
    )
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise DataError(f"{missing[0]}: listed in {data_dir}'s manifest but missing (run `ganstream data fetch` again)")
    if not files:
        raise DataError(f"{data_dir}: the manifest lists no {split} clips")
    return list(files)
