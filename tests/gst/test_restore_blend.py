"""`ganstream run --restore` on a noisy still camera: the temporal filter runs in the real pipeline,
removes more noise than the model alone, and `--temporal-blend off` turns it off."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from tests.helpers import run_cli

FRAMES = 20


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-9))


def test_restore_blends_a_noisy_still_stream_and_can_be_turned_off(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    small = rng.integers(40, 216, (9, 11, 3), dtype=np.uint8)
    scene = np.asarray(cv2.resize(small, (176, 144), interpolation=cv2.INTER_CUBIC), dtype=np.uint8)
    src = tmp_path / "in"
    src.mkdir()
    for i in range(FRAMES):  # a still camera with sensor noise of sigma 15, lossless PNGs
        noisy = np.clip(scene + rng.normal(0, 15, scene.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(src / f"{i:04d}.png"), noisy)
    scores, summaries = {}, {}
    for mode in ("on", "off"):
        out = tmp_path / mode
        proc = run_cli(
            "run", "--source", str(src / "%04d.png"), "--restore", "--temporal-blend", mode,
            "--sink", str(out / "%04d.png"), "--no-audio", check=True,
        )  # fmt: skip
        summaries[mode] = proc.stdout + proc.stderr
        written = sorted(out.glob("*.png"))
        assert len(written) == FRAMES, (mode, len(written))
        last = [cv2.imread(str(p)) for p in written[-5:]]
        scores[mode] = float(np.mean([_psnr(f, scene) for f in last]))
    held = re.search(r"temporal filter: .* (\d+\.\d) on the last frame", summaries["on"])
    assert held is not None, summaries["on"]
    assert float(held.group(1)) > 0.5  # most pixels averaged with earlier outputs
    assert "temporal filter" not in summaries["off"]
    assert scores["on"] > scores["off"] + 0.3, scores
