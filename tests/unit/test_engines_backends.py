"""Every CPU backend against the onnxruntime fp32 reference, tiling, generic inputs, auto choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ganstream.engines import BackendUnavailableError, ShapeError, load_engine
from ganstream.engines.tiling import TiledEngine, tile_spans

pytest.importorskip("torch", reason="making a test model needs torch (the train extra)")
from ganstream.engines.backends.torch_engine import nvidia_gpu_present
from tests.helpers import SMALL_ARCH, make_small_model
from tests.helpers import random_frames as frames


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("store") / "small-sr2x"
    make_small_model(folder)
    return folder


def diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16))


def test_torch_fp32_on_cpu_matches_ort(model_dir: Path) -> None:
    x = frames(2, 20, 28, seed=3)
    ref = load_engine(model_dir, backend="ort").infer(x)
    out = load_engine(model_dir, backend="torch", precision="fp32", device="cpu").infer(x)
    d = diff(out, ref)
    assert d.max() <= 1 and d.mean() < 0.01


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_openvino_matches_ort(model_dir: Path, precision: str) -> None:
    from ganstream.engines.backends.openvino_engine import cpu_supports_bf16

    if precision == "bf16" and not cpu_supports_bf16():
        with pytest.raises(BackendUnavailableError, match="bf16"):
            load_engine(model_dir, backend="openvino", precision=precision)
        return
    x = frames(1, 24, 32, seed=4)
    ref = load_engine(model_dir, backend="ort").infer(x)
    eng = load_engine(model_dir, backend="openvino", precision=precision)
    assert eng.precision == precision
    d = diff(eng.infer(x), ref)
    # bf16 keeps 8 mantissa bits: a few levels at most on a random net, mostly exact.
    assert d.max() <= (1 if precision == "fp32" else 8)
    assert d.mean() < (0.01 if precision == "fp32" else 1.0)


def test_openvino_compiles_once_per_shape(model_dir: Path) -> None:
    eng = load_engine(model_dir, backend="openvino", precision="fp32", shapes=[(16, 16)])
    assert len(eng._requests) == 1  # type: ignore[union-attr]
    eng.infer(frames(1, 16, 16))
    eng.infer(frames(1, 16, 24))
    eng.infer(frames(1, 16, 24, seed=5))
    assert len(eng._requests) == 2  # type: ignore[union-attr]


def test_auto_picks_a_cpu_backend_without_a_gpu(model_dir: Path) -> None:
    eng = load_engine(model_dir)
    if nvidia_gpu_present():
        assert eng.backend in ("trt", "torch")
    else:
        assert eng.backend == "openvino"
    assert eng.backend in eng.summary() and eng.precision in eng.summary()


def test_tile_spans_partition_the_axis() -> None:
    for length, tile, overlap in [(100, 40, 8), (64, 64, 8), (65, 64, 4), (257, 50, 10)]:
        spans = tile_spans(length, tile, overlap)
        kept = [k for _, _, k0, k1 in spans for k in range(k0, k1)]
        assert kept == list(range(length))
        for t0, t1, k0, k1 in spans:
            assert 0 <= t0 <= k0 < k1 <= t1 <= length and t1 - t0 == min(tile, length)
            assert k0 == 0 or k0 - t0 >= overlap
            assert k1 == length or t1 - k1 >= overlap
    with pytest.raises(ShapeError):
        tile_spans(100, 10, 8)


def test_aligned_tile_spans_start_on_the_models_phase_and_still_partition() -> None:
    """A body behind a pixel-unshuffle sees every tile at the frame's own phase."""
    cases = [(104, 40, 8, 8), (256, 48, 10, 8), (1000, 512, 16, 8), (72, 32, 8, 8), (40, 16, 2, 8), (204, 64, 16, 4)]
    for length, tile, overlap, align in cases:
        spans = tile_spans(length, tile, overlap, align)
        kept = [k for _, _, k0, k1 in spans for k in range(k0, k1)]
        assert kept == list(range(length))
        for t0, t1, k0, k1 in spans:
            assert t0 % align == 0 and 0 <= t0 <= k0 < k1 <= t1 <= length and t1 - t0 == min(tile, length)
            assert k0 == 0 or k0 - t0 >= overlap
            assert k1 == length or t1 - k1 >= overlap
    with pytest.raises(ShapeError, match="multiples"):
        tile_spans(100, 40, 8, 8)


def test_tiled_output_matches_untiled(model_dir: Path) -> None:
    x = frames(1, 70, 90, seed=6)
    untiled = load_engine(model_dir, backend="ort").infer(x)
    tiled_engine = load_engine(model_dir, backend="ort", tile=32, tile_overlap=8)
    assert isinstance(tiled_engine, TiledEngine)
    tiled = tiled_engine.infer(x)
    assert tiled.shape == untiled.shape
    d = diff(tiled, untiled)
    assert d.max() <= 1 and d.mean() < 0.01


def test_tiling_without_overlap_shows_seams(model_dir: Path) -> None:
    """The overlap is what hides seams: with none, tile borders differ from the untiled output."""
    x = frames(1, 64, 64, seed=7)
    untiled = load_engine(model_dir, backend="ort").infer(x)
    seamy = load_engine(model_dir, backend="ort", tile=32, tile_overlap=0).infer(x)
    assert diff(seamy, untiled).max() > 1


def test_auto_tiling_runs_frames_beyond_the_limits(model_dir: Path, tmp_path: Path) -> None:
    from ganstream.engines.card import ModelCard, ShapeLimits

    folder = tmp_path / "m"
    folder.mkdir()
    for f in model_dir.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    card = ModelCard.load(folder)
    card.limits = ShapeLimits(max_height=48, max_width=48)
    card.save(folder)
    x = frames(1, 100, 80, seed=8)
    plain = load_engine(folder, backend="ort")
    assert plain.size_problem(100, 80) is not None and plain.size_problem(48, 40) is None
    with pytest.raises(ShapeError, match="tile"):
        plain.infer(x)
    tiled = load_engine(folder, backend="ort", tile="auto")
    assert tiled.size_problem(100, 80) is None and tiled.size_problem(8, 8) is not None
    out = tiled.infer(x)
    ref = load_engine(model_dir, backend="ort").infer(x)
    assert diff(out, ref).max() <= 1


def test_per_channel_prelu_rewrite_keeps_the_output(model_dir: Path) -> None:
    import openvino as ov

    from ganstream.engines.backends.openvino_graph import rewrite_prelu_slopes

    core = ov.Core()
    x = frames(1, 24, 32, seed=9)
    outs = []
    for rewrite in (False, True):
        model = core.read_model(str(model_dir / "model.onnx"))
        if rewrite:
            assert rewrite_prelu_slopes(model) == SMALL_ARCH["params"]["num_conv"] + 1  # type: ignore[index]
            assert rewrite_prelu_slopes(model) == 0  # already per-channel: nothing left to change
        compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        outs.append(np.array(compiled({"input": x})[0]))
    assert diff(outs[0], outs[1]).max() <= 1
