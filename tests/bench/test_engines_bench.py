"""The CPU benchmark of the engines: every CPU backend and precision side by side in one run.

Prints ms/frame, the ratio to onnxruntime fp32 measured in the same run and the PSNR of each
variant against fp32 on real frames. Asserts what it reports, never an absolute time. The full
figures (default tiny SR x2 at 320x180) come from ``ganstream engines bench sr2x``; this test
runs the same code on a small model so the suite stays fast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="making a test model needs torch (the train extra)")
from ganstream.engines.bench import bench_variants, cpu_report
from ganstream.engines.card import ModelCard
from ganstream.engines.variants import cpu_variants
from tests.helpers import make_small_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("store") / "small-sr2x"
    make_small_model(folder)
    return folder


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Frames written as images; the sample clip is used instead when it is installed."""
    import cv2

    from ganstream.engines.calib import default_clip

    found = default_clip()
    if found is not None:
        return found
    folder = tmp_path_factory.mktemp("frames")
    rng = np.random.default_rng(0)
    for i in range(4):
        img = cv2.GaussianBlur(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), (7, 7), 2)
        cv2.imwrite(str(folder / f"{i}.png"), img)
    return folder


def test_cpu_benchmark_prints_every_backend_with_ratio_and_psnr(model_dir: Path, clip: Path) -> None:
    text = cpu_report(model_dir, 24, 32, iters=3, clip=clip)
    print(text)
    variants, skipped = cpu_variants(ModelCard.load(model_dir), model_dir)
    for v in variants:
        assert v.label in text
    assert "1.00x" in text  # the onnxruntime fp32 baseline row
    assert len(variants) + len(skipped) == 7


def test_isolated_and_in_process_measure_the_same_outputs(model_dir: Path, clip: Path) -> None:
    variants, _ = cpu_variants(ModelCard.load(model_dir), model_dir)
    fp32 = [v for v in variants if v.precision == "fp32"]
    rows = bench_variants(model_dir, fp32, 24, 32, iters=2, clip=clip, quality_frames=3, isolate=False)
    assert [r.variant for r in rows] == [v.label for v in fp32]
    for r in rows:
        assert not r.note and r.ms_per_frame > 0
        assert r.psnr_vs_fp32_db > 45.0  # fp32 backends agree with the reference to rounding


def test_the_edges_ablation_adds_an_uncut_row_per_reduced_precision() -> None:
    from ganstream.engines.variants import Variant, edges_ablation

    rows = edges_ablation([Variant("ort", "fp32"), Variant("openvino", "fp32"), Variant("openvino", "bf16")])
    assert [v.label for v in rows] == ["ort fp32", "openvino fp32", "openvino bf16", "openvino bf16 uncut"]
    assert dict(rows[-1].options)["f32_edges"] is False
