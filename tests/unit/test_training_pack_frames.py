"""Numbered frame sequences packed by `data fetch` read back frame for frame, losslessly."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ganstream.training.errors import DataError
from ganstream.training.pack_frames import numbered_frames, pack_frames


def _write_sequence(folder: Path, numbers: range | list[int], grey: bool = True) -> list[np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    frames = []
    for n in numbers:
        img = rng.integers(0, 256, (36, 48) if grey else (36, 48, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"image.{n:04d}.pgm" if grey else folder / f"image.{n:04d}.png"), img)
        frames.append(img)
    return frames


def test_a_grey_sequence_starting_at_one_reads_back_exactly(tmp_path: Path) -> None:
    frames = _write_sequence(tmp_path / "seq", range(1, 6))
    (tmp_path / "seq" / "image.notes.txt").write_text("not a frame")
    dest = pack_frames(tmp_path / "seq" / "image.%04d.pgm", tmp_path / "seq.mkv")
    cap = cv2.VideoCapture(str(dest))
    got = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        got.append(bgr)
    cap.release()
    assert len(got) == len(frames)
    for a, b in zip(got, frames, strict=True):
        assert np.array_equal(a[..., 1], b), "FFV1 is lossless: every pixel comes back"
    assert not list(tmp_path.glob("*.part*")), "no partial file is left behind"


def test_a_packed_file_is_kept_and_numbers_are_sorted(tmp_path: Path) -> None:
    _write_sequence(tmp_path / "seq", range(8, 12), grey=False)
    pattern = tmp_path / "seq" / "image.%04d.png"
    assert [n for n, _ in numbered_frames(pattern)] == [8, 9, 10, 11]
    dest = pack_frames(pattern, tmp_path / "seq.mkv")
    stamp = dest.stat().st_mtime_ns
    assert pack_frames(pattern, dest).stat().st_mtime_ns == stamp


def test_gaps_few_frames_and_bad_patterns_are_refused(tmp_path: Path) -> None:
    _write_sequence(tmp_path / "gap", [*range(1, 4), 5])
    with pytest.raises(DataError, match="gaps"):
        pack_frames(tmp_path / "gap" / "image.%04d.pgm", tmp_path / "gap.mkv")
    _write_sequence(tmp_path / "short", range(0, 2))
    with pytest.raises(DataError, match="at least 3"):
        pack_frames(tmp_path / "short" / "image.%04d.pgm", tmp_path / "short.mkv")
    with pytest.raises(DataError, match="%0Nd"):
        pack_frames(tmp_path / "short" / "image.pgm", tmp_path / "x.mkv")
    assert not (tmp_path / "gap.mkv").exists()
