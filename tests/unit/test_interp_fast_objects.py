"""The synthetic fast-object clips: static background, discs moving at the asked speed."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ganstream.training.errors import DataError
from ganstream.training.interp.fast_objects import write_clips


def _photos(folder: Path) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        img = cv2.resize(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8), (160, 120), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / f"p{i}.png"), img)
    return folder


def _centroid_of_change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    moving = cv2.absdiff(a, b).max(axis=2) > 30
    ys, xs = np.nonzero(moving)
    return np.array([xs.mean(), ys.mean()])


def test_one_disc_moves_at_the_asked_speed_over_a_still_background(tmp_path: Path) -> None:
    folders = write_clips(_photos(tmp_path / "photos"), tmp_path / "out", [8.0], frames=5, size=(320, 240))
    assert [f.name for f in folders] == ["speed8_discs1", "speed8_discs2"]
    frames = [cv2.imread(str(p)) for p in sorted(folders[0].glob("*.png"))]
    assert len(frames) == 5 and frames[0].shape == (240, 320, 3)
    # Away from the disc, consecutive frames differ by sensor noise only.
    still = cv2.absdiff(frames[1], frames[2]).max(axis=2) <= 12
    assert still.mean() > 0.9
    # The changed region's centre moves by about the speed per frame (bounces aside).
    c1, c2 = _centroid_of_change(frames[0], frames[2]), _centroid_of_change(frames[2], frames[4])
    assert 10.0 < float(np.linalg.norm(c2 - c1)) < 22.0


def test_an_empty_photo_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "none").mkdir()
    with pytest.raises(DataError, match="no photos"):
        write_clips(tmp_path / "none", tmp_path / "out", [8.0])
