"""A source that changes resolution mid-stream: stages are reconfigured and caps renegotiated."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ganstream.stream import Pipeline
from ganstream.stream.stages import ResampleStage


def write_mixed_sizes(folder: Path) -> None:
    folder.mkdir()
    for i in range(6):
        h, w = (20, 30) if i < 3 else (24, 41)
        assert cv2.imwrite(str(folder / f"{i:04d}.png"), np.full((h, w, 3), i * 10, np.uint8))


def test_resolution_change_reconfigures_the_chain(tmp_path: Path) -> None:
    write_mixed_sizes(tmp_path / "in")
    frames = list(Pipeline(str(tmp_path / "in" / "%04d.png"), [ResampleStage(2)], sink=None).frames(20))
    assert [f.pixels.shape for f in frames] == [(40, 60, 3)] * 3 + [(48, 82, 3)] * 3
    assert [int(f.pixels[0, 0, 0]) for f in frames] == [0, 10, 20, 30, 40, 50]


def test_resolution_change_reaches_the_sink(tmp_path: Path) -> None:
    write_mixed_sizes(tmp_path / "in")
    Pipeline(str(tmp_path / "in" / "%04d.png"), [ResampleStage(2)], str(tmp_path / "out" / "%04d.png")).run(20)
    shapes = [cv2.imread(str(p)).shape for p in sorted((tmp_path / "out").glob("*.png"))]
    assert shapes == [(40, 60, 3)] * 3 + [(48, 82, 3)] * 3
